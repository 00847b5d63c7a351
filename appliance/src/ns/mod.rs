//! The namespace component: DFS-style namespaces (`vsa_namespace`), one logical tree of
//! folders and links over many file servers, the sites that say which servers are near a
//! client, and referrals. Noun `vsa ns`, routes `/ns` and `/ns-sites`, records in the
//! `namespace` column family; health probes of every target, configured by `[namespace]`;
//! the namespaces as Samba DFS roots (`vsa ns export-samba`, and smbd run by the daemon
//! with `[namespace.samba]`); the namespaces as FUSE mounts (`fuse/`); SMB credentials
//! per server for the appliance's own sessions.
//!
//! ```text
//!  mod.rs      the Component: open (records → namespaces and sites), start (the probes)
//!  service/    Namespaces: typed methods, each change stored before it is made
//!  probe.rs    whether a target answers (when added, and for the probes), with a timeout
//!  smb_share.rs  an SMB target's session, tree connect and directory (the probes' second half)
//!  credentials.rs  what the appliance logs on to each SMB server with
//!  migrate/    `vsa ns migrate`: a link's data copied to a new target, then the switch
//!  replicate/  `vsa ns replicate`: one target kept a copy of another (block deltas)
//!  fuse/       `vsa ns mount`: the namespace as one tree, over local and SMB targets
//!  wire.rs     the SMB2 NEGOTIATE and ONC RPC NULL bytes, and their answers' parsers
//!  health.rs   the probes: settings, hysteresis, events; `[namespace]` settings
//!  samba.rs    a namespace's msdfs tree written into a directory, kept current
//!  smbd.rs     `[namespace.samba]`: smbd's configuration, run and supervised
//!  model.rs    the keys of the records
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    NsError: codes and statuses
//!  cli.rs      `vsa ns ...`
//!  metrics.rs  vsa_ns_*
//! ```

pub mod api;
pub mod cli;
pub mod credentials;
pub mod error;
pub mod fuse;
pub mod health;
pub mod metrics;
pub mod migrate;
pub mod model;
pub mod probe;
pub mod replicate;
pub mod samba;
pub mod service;
pub mod smb_share;
pub mod smbd;
pub mod types;
pub mod wire;

use crate::core::endpoint::RouteInfo;
use crate::core::{
    BoxFuture, CliCtx, Component, ComponentConfig, ComponentError, ConfigError, Core, Running,
    Started,
};
use health::{NsConfig, ProbeSettings};
use metrics::ProbeCounters;
use service::Namespaces;
use service::{ProbeTarget, TargetKey};
use std::collections::HashSet;
use std::sync::Arc;

/// The global namespace.
#[derive(Debug, Clone, Copy, Default)]
pub struct NsComponent;

impl Component for NsComponent {
    fn name(&self) -> &'static str {
        "ns"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[model::CF_NAMESPACE]
    }

    fn config_keys(&self) -> &'static [&'static str] {
        &["namespace"]
    }

    fn check(&self, config: &ComponentConfig) -> Result<(), ConfigError> {
        let keys = config.parse::<NsConfig>()?.namespace;
        keys.probe_settings()?;
        keys.samba
            .as_ref()
            .map(smbd::SambaKeys::settings)
            .transpose()?;
        Ok(())
    }

    fn routes(&self) -> Vec<RouteInfo> {
        api::routes().into_table()
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![cli::command()]
    }

    fn run_command(&self, _: &str, m: &clap::ArgMatches, ctx: &CliCtx) -> anyhow::Result<()> {
        cli::run(ctx, m)
    }

    fn cli_examples(&self) -> &'static [&'static [&'static str]] {
        &[
            &["ns", "create", "corp"],
            &[
                "ns",
                "export-samba",
                "corp",
                "/srv/dfs/corp",
                "--share",
                "corp",
            ],
            &["ns", "list"],
            &["ns", "mount", "corp", "/mnt/corp"],
            &["ns", "umount", "/mnt/corp"],
            &["ns", "mounts"],
            &["ns", "show", "corp"],
            &["ns", "delete", "corp"],
            &["ns", "folder", "add", "corp", "eng"],
            &["ns", "folder", "remove", "corp", "eng"],
            &[
                "ns",
                "link",
                "add",
                "corp",
                "eng/docs",
                "smb://fs1/docs",
                "smb://fs2/docs",
                "--priority",
                "site-cost-high:1",
                "--site",
                "paris",
                "--stable",
                "--ttl",
                "600",
                "--in-site-only",
                "--failback",
                "--force",
            ],
            &["ns", "link", "remove", "corp", "eng/docs"],
            &[
                "ns",
                "target",
                "add",
                "corp",
                "eng/docs",
                "nfs://nas/docs",
                "--priority",
                "global-low",
                "--force",
            ],
            &[
                "ns",
                "target",
                "remove",
                "corp",
                "eng/docs",
                "nfs://nas/docs",
            ],
            &[
                "ns",
                "target",
                "enable",
                "corp",
                "eng/docs",
                "smb://fs1/docs",
            ],
            &[
                "ns",
                "target",
                "disable",
                "corp",
                "eng/docs",
                "smb://fs1/docs",
            ],
            &[
                "ns",
                "site",
                "add",
                "paris",
                "10.1.0.0/16",
                "--cost",
                "lyon=10",
            ],
            &["ns", "site", "list"],
            &["ns", "events"],
            &[
                "ns",
                "migrate",
                "corp",
                "eng/docs",
                "--to",
                "smb://fs3/docs",
                "--from",
                "smb://fs1/docs",
                "--no-wait",
            ],
            &["ns", "migrations"],
            &[
                "ns",
                "replicate",
                "corp",
                "eng/docs",
                "--from",
                "smb://fs1/docs",
                "--to",
                "smb://fs2/docs",
                "--every",
                "600",
                "--force",
            ],
            &["ns", "replications"],
            &[
                "ns",
                "replication",
                "show",
                "corp",
                "eng/docs",
                "smb://fs2/docs",
            ],
            &[
                "ns",
                "replication",
                "run",
                "corp",
                "eng/docs",
                "smb://fs2/docs",
            ],
            &[
                "ns",
                "replication",
                "remove",
                "corp",
                "eng/docs",
                "smb://fs2/docs",
            ],
            &["ns", "migration", "show", "corp", "eng/docs"],
            &["ns", "migration", "confirm", "corp", "eng/docs"],
            &["ns", "migration", "cancel", "corp", "eng/docs"],
            &[
                "ns",
                "credential",
                "set",
                "fs1",
                "--user",
                "CORP\\svc-vsa",
                "--secret",
                "example-only",
            ],
            &["ns", "credential", "list"],
            &["ns", "credential", "remove", "fs1"],
            &["ns", "events", "--namespace", "corp"],
            &["ns", "site", "remove", "paris"],
            &[
                "ns",
                "resolve",
                "corp",
                "eng/docs/a.txt",
                "--client",
                "10.1.2.3",
            ],
        ]
    }

    fn open(
        &self,
        core: &Arc<Core>,
        config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        let keys = config.parse::<NsConfig>()?.namespace;
        let samba = keys
            .samba
            .as_ref()
            .map(smbd::SambaKeys::settings)
            .transpose()?;
        Ok(Arc::new(NsRunning {
            namespaces: Arc::new(Namespaces::open(core.clone())?),
            metrics: metrics::NsMetrics::new(core.metrics())?,
            probes: keys.probe_settings()?,
            samba,
            samba_dir: core.data_dir().join("samba"),
            mounts: keys.mount,
        }))
    }
}

/// The open namespace component.
#[derive(Debug)]
struct NsRunning {
    namespaces: Arc<Namespaces>,
    metrics: metrics::NsMetrics,
    probes: ProbeSettings,
    /// `[namespace.samba]`: smbd run as the DFS root, its files under `samba_dir`.
    samba: Option<smbd::SambaSettings>,
    samba_dir: std::path::PathBuf,
    /// `[[namespace.mount]]`: mounted at start.
    mounts: Vec<health::MountKeys>,
}

impl Running for NsRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.namespaces.clone())
    }

    fn start(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<Started, ComponentError>> {
        let mut tasks = Vec::new();
        let mut lines = Vec::new();
        self.namespaces.start_replications();
        if let Some(s) = &self.samba {
            self.namespaces.serve_samba(s.trees.clone());
            lines.push(format!(
                "namespaces as DFS roots over SMB on {}:445 (smbd, {})",
                s.listen,
                self.samba_dir.join("smb.conf").display()
            ));
            tasks.push(tokio::spawn(smbd::supervise(
                self.namespaces.clone(),
                s.clone(),
                self.samba_dir.clone(),
                stop.clone(),
            )));
        }
        for m in &self.mounts {
            let body = types::MountBody {
                mountpoint: m.path.clone(),
            };
            match self.namespaces.mount(&m.namespace, body) {
                Ok(v) => lines.push(format!(
                    "namespace {} mounted on {}",
                    v.namespace, v.mountpoint
                )),
                Err(e) => {
                    tracing::error!(
                        namespace = m.namespace.as_str(),
                        path = m.path.as_str(),
                        "mount: {e}"
                    );
                    lines.push(format!(
                        "namespace {} NOT mounted on {}: {e}",
                        m.namespace, m.path
                    ));
                }
            }
        }
        // The mounts go when the daemon does (a FUSE mount without its daemon only
        // answers ENOTCONN).
        let (ns, mut stopped) = (self.namespaces.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            let _ = tokio::task::spawn_blocking(move || ns.umount_all()).await;
        }));
        tasks.push(tokio::spawn(probe_targets(
            self.namespaces.clone(),
            self.probes,
            self.metrics.probes.clone(),
            stop,
        )));
        Box::pin(async move { Ok(Started { lines, tasks }) })
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.namespaces);
    }

    fn stop(&self) {
        self.namespaces.stop_replications();
    }
}

/// The most checks running at once; targets beyond it wait for a later interval.
const MAX_IN_FLIGHT: usize = 256;

/// What woke the probe task.
enum Wake {
    Stop,
    Tick,
    Checked(Box<(ProbeTarget, Result<String, String>)>),
}

/// Checks every target each interval until the stop signal; the results go to
/// [`Namespaces::record_probe`] as they come.
async fn probe_targets(
    ns: Arc<Namespaces>,
    settings: ProbeSettings,
    counters: ProbeCounters,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(ProbeTarget, Result<String, String>)>();
    let mut in_flight: HashSet<TargetKey> = HashSet::new();
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = tokio::select! {
            _ = stop.wait_for(|s| *s) => Wake::Stop,
            _ = tick.tick() => Wake::Tick,
            Some(done) = rx.recv() => Wake::Checked(Box::new(done)),
        };
        match wake {
            Wake::Stop => return,
            Wake::Tick => {
                for t in ns.probe_targets() {
                    if in_flight.len() >= MAX_IN_FLIGHT {
                        break;
                    }
                    // A target still being checked waits for its answer or its timeout.
                    if in_flight.contains(&t.key) {
                        continue;
                    }
                    let tx = tx.clone();
                    let key = t.key.clone();
                    let timeout = settings.timeout;
                    let creds = ns.credentials().clone();
                    let spawned =
                        std::thread::Builder::new()
                            .name("ns-probe".into())
                            .spawn(move || {
                                let r = probe::probe(&t.url, timeout, &creds);
                                let _ = tx.send((t, r));
                            });
                    match spawned {
                        Ok(_) => {
                            in_flight.insert(key);
                        }
                        Err(e) => tracing::error!("cannot start a health probe: {e}"),
                    }
                }
            }
            Wake::Checked(done) => {
                let (t, result) = *done;
                in_flight.remove(&t.key);
                let n = ns.clone();
                let th = settings.thresholds;
                let recorded =
                    tokio::task::spawn_blocking(move || n.record_probe(&t, &result, th)).await;
                match recorded {
                    Ok(Ok(Some(outcome))) => counters.count(&outcome),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::error!("cannot record a target's health: {e}"),
                    Err(e) => tracing::error!("the health probe task failed: {e}"),
                }
            }
        }
    }
}
