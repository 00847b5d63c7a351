//! `vsa serve`: opens the data directory, starts the API and serves until SIGINT or
//! SIGTERM; then stops taking requests, stops background work, flushes the pools and
//! closes the database. A second signal exits at once.

use super::appliance::{Appliance, OpenOptions};
use super::component::Component;
use super::config::ConfigFile;
use super::files::{addr_path, write_atomic};
use anyhow::Context;
use clap::{Args, FromArgMatches};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `vsa serve`'s own flags (components add theirs, [`Component::serve_args`]).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A TOML configuration file declaring pools and settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address and port of the HTTP API (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8600")]
    pub api: String,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
}

/// The `serve` subcommand of a build with these components.
pub fn command(components: &[Box<dyn Component>]) -> clap::Command {
    let mut cmd = ServeArgs::augment_args(clap::Command::new("serve")).about("Run the daemon");
    for c in components {
        for a in c.serve_args() {
            cmd = cmd.arg(a);
        }
    }
    cmd
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in files or journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// Runs the daemon until it is told to stop.
pub fn run(
    components: Vec<Box<dyn Component>>,
    data_dir: PathBuf,
    args: clap::ArgMatches,
) -> anyhow::Result<()> {
    let serve = ServeArgs::from_arg_matches(&args)?;
    init_logging(serve.log_json);
    // Everything the daemon creates from here on (RocksDB's files included) is private to
    // its user; `Appliance::open` fixes what an earlier run left open.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(
        super::private::DAEMON_UMASK,
    ));
    raise_open_files();
    let config = match &serve.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let (app, report) = Appliance::open(
        components,
        OpenOptions {
            data_dir: data_dir.clone(),
            config,
            args,
        },
    )?;
    let app = Arc::new(app);
    let token = super::token::load_or_create(&data_dir).with_context(|| {
        format!(
            "cannot write the API token {}",
            super::token::path(&data_dir).display()
        )
    })?;
    for line in &report {
        println!("{line}");
        tracing::info!("{line}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vsa")
        .build()
        .context("cannot start the async runtime")?;
    let served = rt.block_on(serve_all(app.clone(), token, &serve, &data_dir));
    // Requests still on the blocking pool finish (bounded) before storage goes away.
    rt.shutdown_timeout(Duration::from_secs(10));
    tracing::info!("stopping the components");
    app.shutdown();
    drop(app);
    let _ = std::fs::remove_file(addr_path(&data_dir));
    tracing::info!("stopped");
    served
}

/// Raises the soft limit on open files to the hard one: every iSCSI connection, member
/// device and database file is a descriptor, and the common soft default (1024) is below
/// what the portal's default limits admit (see `[iscsi]`).
fn raise_open_files() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    // No hard limit: ask for as many as the kernel's default ceiling (fs.nr_open).
    let want = lim.maximum.unwrap_or(1 << 20);
    if lim.current.is_some_and(|c| c >= want) {
        return;
    }
    let new = Rlimit {
        current: Some(want),
        maximum: lim.maximum,
    };
    match setrlimit(Resource::Nofile, new) {
        Ok(()) => tracing::debug!(open_files = want, "raised the open-files limit"),
        Err(e) => tracing::warn!(
            open_files = ?lim.current,
            "cannot raise the open-files limit to {want}: {e}; many iSCSI connections may fail to be accepted"
        ),
    }
}

/// Resolves when the stop flag is raised.
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn serve_all(
    app: Arc<Appliance>,
    token: String,
    serve: &ServeArgs,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&serve.api)
        .await
        .with_context(|| format!("cannot listen on {} (--api)", serve.api))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = app
        .start(rx.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    write_atomic(&addr_path(data_dir), &format!("{addr}\n"))?;
    let router = super::http::router(app.clone(), token);
    let dir = data_dir.display();
    println!(
        "vsa {} serving data directory {dir}",
        env!("CARGO_PKG_VERSION")
    );
    println!("API:     http://{addr}/api/v1  (bearer token in {dir}/token)");
    for line in &started.lines {
        println!("{line}");
    }
    println!("metrics: http://{addr}/metrics");
    println!("CLI:     vsa --data-dir {dir} status");
    tracing::info!(%addr, "listening");
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let http = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped(rx))
    .await
    .context("the API server failed");
    for task in started.tasks {
        if http.is_err() {
            task.abort();
        }
        if let Err(e) = task.await {
            if !e.is_cancelled() {
                tracing::error!("a component's task failed: {e}");
            }
        }
    }
    http
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down; a second signal exits at once");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("second signal: exiting now");
        std::process::exit(130);
    });
}
