//! `vsa serve`: opens the data directory, starts the API and serves until SIGINT or
//! SIGTERM; then stops taking requests, stops background work, flushes the pools and
//! closes the database. A second signal exits at once.

use crate::appliance::{Appliance, OpenOptions};
use crate::config::ApplianceConfig;
use crate::metrics::Metrics;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What `vsa serve` was asked.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Configuration file.
    pub config: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub api: String,
    /// Address of the iSCSI portal.
    pub iscsi: String,
    /// Log JSON lines instead of text.
    pub log_json: bool,
    /// Member size of the embedded default pool.
    pub default_member_size: u64,
}

/// The file the daemon writes its API address to, for the CLI.
pub fn addr_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api.addr")
}

/// The file the daemon writes its iSCSI portal address to.
pub fn iscsi_addr_path(data_dir: &Path) -> PathBuf {
    data_dir.join("iscsi.addr")
}

/// Writes `text` to `path` through a temporary file, so readers never see half of it.
fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
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
pub fn run(opts: ServeOptions) -> anyhow::Result<()> {
    init_logging(opts.log_json);
    let config = match &opts.config {
        Some(p) => ApplianceConfig::load(p)?,
        None => ApplianceConfig::default(),
    };
    let data_dir = opts.data_dir.clone();
    let metrics = Arc::new(Metrics::new()?);
    let (app, report) = Appliance::open(OpenOptions {
        data_dir: data_dir.clone(),
        config,
        default_member_size: Some(opts.default_member_size),
        column_families: crate::component::column_families(),
        metrics: Some((*metrics).clone()),
    })?;
    let app = Arc::new(app);
    let token = crate::token::load_or_create(&data_dir).with_context(|| {
        format!(
            "cannot write the API token {}",
            crate::token::path(&data_dir).display()
        )
    })?;
    for line in &report.created {
        println!("created {line}");
        tracing::info!("created {line}");
    }
    for name in &report.opened {
        tracing::info!(pool = name.as_str(), "opened pool");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vsa")
        .build()
        .context("cannot start the async runtime")?;
    let served = rt.block_on(serve_all(app.clone(), token, metrics, &opts));
    app.targets().set_server(None);
    // Requests still on the blocking pool finish (bounded) before storage goes away.
    rt.shutdown_timeout(Duration::from_secs(10));
    tracing::info!("stopping background tasks and flushing pools");
    app.shutdown();
    drop(app);
    let _ = std::fs::remove_file(addr_path(&data_dir));
    let _ = std::fs::remove_file(iscsi_addr_path(&data_dir));
    tracing::info!("stopped");
    served
}

/// Resolves when the stop flag is raised.
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn serve_all(
    app: Arc<Appliance>,
    token: String,
    metrics: Arc<Metrics>,
    opts: &ServeOptions,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&opts.api)
        .await
        .with_context(|| format!("cannot listen on {} (--api)", opts.api))?;
    let addr = listener.local_addr()?;
    let portal: SocketAddr = opts.iscsi.parse().with_context(|| {
        format!(
            "--iscsi {} is not an address and port, e.g. 0.0.0.0:3260",
            opts.iscsi
        )
    })?;
    let registry = Arc::new(crate::target::live::Registry(app.clone()));
    let iscsi = vsa_iscsi::Server::bind(portal, registry, vsa_iscsi::ServerConfig::default())
        .await
        .with_context(|| {
            format!(
                "cannot listen for iSCSI on {portal} (--iscsi); is another target (tgtd, LIO) \
                 using the port? pick another with --iscsi ADDR:PORT"
            )
        })?;
    let iscsi_addr = iscsi.local_addr()?;
    app.targets().set_server(Some(iscsi.handle()));
    write_atomic(&iscsi_addr_path(&opts.data_dir), &format!("{iscsi_addr}\n"))?;
    write_atomic(&addr_path(&opts.data_dir), &format!("{addr}\n"))?;
    let router = crate::api::router(app, token, metrics)?;
    let dir = opts.data_dir.display();
    println!(
        "vsa {} serving data directory {dir}",
        env!("CARGO_PKG_VERSION")
    );
    println!("API:     http://{addr}/api/v1  (bearer token in {dir}/token)");
    println!("iSCSI:   {iscsi_addr}  (targets: vsa --data-dir {dir} target list)");
    println!("metrics: http://{addr}/metrics");
    println!("CLI:     vsa --data-dir {dir} status");
    tracing::info!(%addr, %iscsi_addr, "listening");
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let iscsi_task = tokio::spawn(iscsi.run(rx.clone()));
    let http = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped(rx))
    .await
    .context("the API server failed");
    if http.is_err() {
        iscsi_task.abort();
    }
    if let Err(e) = iscsi_task.await {
        if !e.is_cancelled() {
            tracing::error!("the iSCSI server task failed: {e}");
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
