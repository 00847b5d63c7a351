//! The iSCSI component: targets whose LUNs serve pool volumes over iSCSI (RFC 7143), with
//! ACLs, CHAP and persistent reservations. Noun `vsa target`, routes `/targets` and
//! `/sessions`, the `--iscsi` flag of `vsa serve`, records in the `target` column family,
//! and the iSCSI portal it listens on while the daemon runs; the portal also serves the
//! targets other components publish (`core::TargetNames`: a tape library's devices). It opens volumes through the
//! core and claims each one a LUN serves.
//!
//! ```text
//!  mod.rs      the Component: open (records → live targets), start (the portal), stop
//!  config.rs   [iscsi] in the configuration file: the portal's limits
//!  service.rs  Targets: typed methods over the records and the live targets
//!  model.rs    the durable records, names, CHAP rules, LUN identities
//!  live.rs     a vsa_scsi::Target per record, a unit per LUN
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    TargetError: codes and statuses
//!  cli.rs      `vsa target ...`
//!  metrics.rs  vsa_iscsi_*;  scsi_metrics.rs  vsa_scsi_* per LUN
//! ```

pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod live;
pub mod metrics;
pub mod model;
pub mod scsi_metrics;
pub mod service;
pub mod types;

use crate::core::endpoint::RouteInfo;
use crate::core::files::write_atomic;
use crate::core::{
    BoxFuture, CliCtx, Component, ComponentConfig, ComponentError, Core, Running, Started,
};
use config::{IscsiConfig, IscsiSettings};
use metrics::TargetMetrics;
use scsi_metrics::ScsiMetrics;
use service::Targets;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

const PORTAL_ARG: &str = "iscsi";

/// iSCSI targets: LUNs over volumes, ACLs, CHAP, sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct IscsiComponent;

/// The file the daemon writes its iSCSI portal address to.
pub fn portal_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("iscsi.addr")
}

impl Component for IscsiComponent {
    fn name(&self) -> &'static str {
        "iscsi"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[model::CF_TARGET]
    }

    fn config_keys(&self) -> &'static [&'static str] {
        &["iscsi"]
    }

    fn serve_args(&self) -> Vec<clap::Arg> {
        vec![clap::Arg::new(PORTAL_ARG)
            .long("iscsi")
            .value_name("ADDR:PORT")
            .default_value("0.0.0.0:3260")
            .help(
                "Address and port of the iSCSI portal (`127.0.0.1:0` picks a free port; the \
                 daemon writes the one it got to <data-dir>/iscsi.addr)",
            )]
    }

    fn check(&self, config: &ComponentConfig) -> Result<(), crate::core::ConfigError> {
        portal(config)?;
        settings(config).map(|_| ())
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
        const T: &str = "iqn.2026-01.com.example:t";
        const I: &str = "iqn.1994-05.com.redhat:x";
        &[
            &["target", "create", T, "--alias", "a"],
            &["target", "delete", T],
            &["target", "list"],
            &["target", "show", T],
            &["target", "lun", "add", T, "v", "--lun", "3"],
            &["target", "lun", "remove", T, "3"],
            &["target", "acl", "add", T, I],
            &["target", "acl", "remove", T, I],
            &[
                "target",
                "chap",
                "set",
                T,
                "--user",
                "u",
                "--secret",
                "twelve-chars",
            ],
            &["target", "chap", "clear", T],
            &["target", "sessions", T],
            &["target", "sessions"],
        ]
    }

    fn open(
        &self,
        core: &Arc<Core>,
        config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        let registry = &core.metrics().registry;
        let targets = Arc::new(Targets::open(core.clone(), ScsiMetrics::new(registry)?)?);
        Ok(Arc::new(IscsiRunning {
            portal: portal(config)?,
            server_config: settings(config)?.server_config(),
            metrics: TargetMetrics::new(core.metrics())?,
            targets,
            core: core.clone(),
        }))
    }
}

fn portal(config: &ComponentConfig) -> Result<SocketAddr, crate::core::ConfigError> {
    let text = config
        .arg::<String>(PORTAL_ARG)
        .unwrap_or_else(|| "0.0.0.0:3260".into());
    text.parse().map_err(|_| {
        crate::core::config::invalid(
            "--iscsi",
            format!("{text} is not an address and port, e.g. 0.0.0.0:3260"),
        )
    })
}

/// `[iscsi]` of the configuration file, checked.
fn settings(config: &ComponentConfig) -> Result<IscsiSettings, crate::core::ConfigError> {
    let settings = config.parse::<IscsiConfig>()?.iscsi;
    settings.validate()?;
    Ok(settings)
}

/// The iSCSI server's view of the targets.
#[derive(Debug)]
pub struct Registry(pub Arc<Targets>);

impl vsa_iscsi::Registry for Registry {
    fn target(&self, name: &str) -> Option<Arc<vsa_iscsi::TargetEntry>> {
        self.0
            .live_target(name)
            .map(|l| l.entry())
            .or_else(|| self.0.core().targets().published(name))
    }

    fn targets(&self) -> Vec<Arc<vsa_iscsi::TargetEntry>> {
        let mut all: Vec<_> = self.0.live().iter().map(|l| l.entry()).collect();
        all.extend(self.0.core().targets().all_published());
        all
    }
}

/// The open iSCSI component.
#[derive(Debug)]
struct IscsiRunning {
    targets: Arc<Targets>,
    metrics: TargetMetrics,
    portal: SocketAddr,
    server_config: vsa_iscsi::ServerConfig,
    core: Arc<Core>,
}

impl IscsiRunning {
    async fn listen(&self, stop: watch::Receiver<bool>) -> Result<Started, ComponentError> {
        let registry = Arc::new(Registry(self.targets.clone()));
        let config = self.server_config.clone();
        let server = vsa_iscsi::Server::bind(self.portal, registry, config)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen for iSCSI on {} (--iscsi): {e}; is another target (tgtd, \
                     LIO) using the port? pick another with --iscsi ADDR:PORT",
                    self.portal
                )
            })?;
        let addr = server.local_addr()?;
        self.targets.set_server(Some(server.handle()));
        write_atomic(&portal_path(self.core.data_dir()), &format!("{addr}\n"))?;
        tracing::info!(%addr, "iSCSI portal listening");
        let dir = self.core.data_dir().display();
        Ok(Started {
            lines: vec![format!(
                "iSCSI:   {addr}  (targets: vsa --data-dir {dir} target list)"
            )],
            tasks: vec![tokio::spawn(server.run(stop))],
        })
    }
}

impl Running for IscsiRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.targets.clone())
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.targets);
    }

    fn start(&self, stop: watch::Receiver<bool>) -> BoxFuture<'_, Result<Started, ComponentError>> {
        Box::pin(self.listen(stop))
    }

    fn stop(&self) {
        self.targets.set_server(None);
        let _ = std::fs::remove_file(portal_path(self.core.data_dir()));
    }
}
