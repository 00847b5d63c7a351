//! The pool component: RAID pools of member devices and the thin or thick volumes in them,
//! with snapshots and clones. Nouns `vsa pool` and `vsa volume`, routes `/pools` and
//! `/volumes`, the `[settings]` and `[[pool]]` sections of the configuration, and the
//! `--default-member-size` flag of `vsa serve`. Its records are the pool crate's own
//! column families (the metadata store always has them). It provides the core's volumes:
//! other components open volumes through `Core::volumes`.
//!
//! ```text
//!  mod.rs      the Component: configuration, open (pools, the default pool), metrics
//!  service.rs  PoolService: typed methods, the VolumeSource
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    codes, statuses and command hints of the pool crate's errors
//!  health.rs   a pool's health states and their precedence
//!  images/     disk images in and out (qemu-img, qemu-nbd and an NBD client)
//!  watch.rs    the background watcher that logs every change of a pool's health
//!  cli/        `vsa pool ...`, `vsa volume ...`
//!  config.rs   [settings] and [[pool]]
//!  metrics.rs  vsa_pool_* and vsa_volume_*_bytes
//! ```

pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod health;
pub mod images;
pub mod metrics;
pub mod service;
pub mod types;
pub mod watch;

use crate::core::cli::size_arg;
use crate::core::endpoint::{schema_of, RouteInfo};
use crate::core::{
    BoxFuture, CliCtx, Component, ComponentConfig, ComponentError, ConfigError, Core, Running,
    Started, StatusSection,
};
use config::PoolsConfig;
use metrics::PoolMetrics;
use service::{PoolService, DEFAULT_MEMBER_SIZE};
use std::sync::Arc;

/// Pools (RAID sets of member devices) and the volumes in them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolComponent;

const DEFAULT_MEMBER_SIZE_ARG: &str = "default_member_size";
const DISCARD_LOST_LOG_ARG: &str = "discard_lost_log";

impl Component for PoolComponent {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        &["settings", "pool"]
    }

    fn serve_args(&self) -> Vec<clap::Arg> {
        vec![
            clap::Arg::new(DEFAULT_MEMBER_SIZE_ARG)
                .long("default-member-size")
                .value_name("SIZE")
                .default_value("8G")
                .value_parser(size_arg)
                .help("Size of each of the 4 sparse member files of the default pool, made on first start"),
            clap::Arg::new(DISCARD_LOST_LOG_ARG)
                .long("discard-lost-log")
                .value_name("POOL")
                .action(clap::ArgAction::Append)
                .help("Open POOL without its log device if that is lost (missing, unreadable or another pool's): the pool forgets it and journals to a file in the data directory again; writes the log held that had not gone home are lost. A log device that is there is used as always. May be repeated"),
        ]
    }

    fn check(&self, config: &ComponentConfig) -> Result<(), ConfigError> {
        config.parse::<PoolsConfig>()?.validate()
    }

    fn routes(&self) -> Vec<RouteInfo> {
        api::routes().into_table()
    }

    fn status_section(&self) -> Option<StatusSection> {
        Some(StatusSection {
            key: "pools",
            schema: schema_of::<Vec<types::PoolSummary>>,
        })
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![cli::pool::command(), cli::volume::command()]
    }

    fn run_command(
        &self,
        noun: &str,
        matches: &clap::ArgMatches,
        ctx: &CliCtx,
    ) -> anyhow::Result<()> {
        match noun {
            "pool" => cli::pool::run(ctx, matches),
            _ => cli::volume::run(ctx, matches),
        }
    }

    fn cli_examples(&self) -> &'static [&'static [&'static str]] {
        &[
            &[
                "pool", "create", "p", "--raid", "5", "/a", "/b", "/c", "--chunk", "64K",
            ],
            &["pool", "list"],
            &["pool", "show", "p"],
            &["pool", "check", "p"],
            &["pool", "scrub", "p", "--no-repair"],
            &[
                "pool",
                "replace",
                "p",
                "/dev/a",
                "/new",
                "--create-size",
                "1G",
            ],
            &["pool", "fail", "p", "2"],
            &["pool", "spare", "p", "/s"],
            &["pool", "log", "add", "p", "/slog"],
            &["pool", "log", "remove", "p"],
            &["volume", "create", "v", "--size", "1G", "--thick"],
            &["volume", "list"],
            &["volume", "show", "v"],
            &["volume", "resize", "v", "2G", "--force"],
            &["volume", "delete", "v"],
            &["volume", "snapshot", "v", "s"],
            &["volume", "snapshots", "v"],
            &["volume", "clone", "v@s", "c"],
            &["volume", "rollback", "v@s"],
            &["volume", "delete-snapshot", "v@s"],
            &[
                "volume",
                "import",
                "/i/web.qcow2",
                "v",
                "--format",
                "qcow2",
                "--pool",
                "p",
                "--no-wait",
            ],
            &[
                "volume",
                "export",
                "v",
                "/i/v.vmdk",
                "--format",
                "vmdk",
                "--no-wait",
            ],
            &["volume", "transfers"],
            &["volume", "transfers", "v"],
        ]
    }

    fn print_status(&self, section: &serde_json::Value) -> anyhow::Result<()> {
        let pools: Vec<types::PoolSummary> = serde_json::from_value(section.clone())?;
        cli::pool::summary_table(&pools);
        Ok(())
    }

    fn open(
        &self,
        core: &Arc<Core>,
        config: &ComponentConfig,
        report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        let cfg: PoolsConfig = config.parse()?;
        let size = config
            .arg::<u64>(DEFAULT_MEMBER_SIZE_ARG)
            .unwrap_or(DEFAULT_MEMBER_SIZE);
        let discard = config.args::<String>(DISCARD_LOST_LOG_ARG);
        let service = Arc::new(PoolService::open(
            core.clone(),
            &cfg,
            Some(size),
            &discard,
            report,
        )?);
        if core.unclean_stop() {
            service.check_after_unclean_stop();
        }
        core.volumes().set_source(service.clone());
        let metrics = PoolMetrics::new(core.metrics())?;
        Ok(Arc::new(PoolsRunning {
            service,
            metrics,
            core: core.clone(),
        }))
    }
}

/// The open pool component.
#[derive(Debug)]
struct PoolsRunning {
    service: Arc<PoolService>,
    metrics: PoolMetrics,
    core: Arc<Core>,
}

impl Running for PoolsRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.service.clone())
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.service, self.core.volumes());
    }

    fn status(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.service.summary()).ok()
    }

    fn start(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<Started, ComponentError>> {
        let service = self.service.clone();
        Box::pin(async move {
            Ok(Started {
                lines: Vec::new(),
                tasks: vec![tokio::spawn(watch::run(service, stop))],
            })
        })
    }

    fn stop(&self) {
        tracing::info!("stopping pool background tasks and flushing pools");
        self.service.shutdown();
    }
}
