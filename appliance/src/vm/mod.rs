//! The VM component: pool volumes as disks of virtual machines. Today: the vhost-user-blk
//! service (`vsa vhost`, routes `/vhost`), which serves a volume on a Unix socket to a VMM
//! on this host (qemu, Cloud Hypervisor) with no network hop; records in the `vm` column
//! family. The bundled VMM (`vsa vm`) is not here yet.
//!
//! ```text
//!  mod.rs      the Component: open (records → exports listening), stop
//!  service.rs  Exports: typed methods, each change stored before it is answered
//!  model.rs    the keys and records
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    VmError: codes and statuses
//!  cli.rs      `vsa vhost ...`
//!  metrics.rs  vsa_vhost_*
//! ```

pub mod api;
pub mod cli;
pub mod error;
pub mod metrics;
pub mod model;
pub mod runner;
pub mod service;
pub mod types;

use crate::core::endpoint::RouteInfo;
use crate::core::{CliCtx, Component, ComponentConfig, ComponentError, Core, Running};
use metrics::VhostMetrics;
use service::Exports;
use std::sync::Arc;

/// Virtual machines' disks.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmComponent;

impl Component for VmComponent {
    fn name(&self) -> &'static str {
        "vm"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[model::CF_VM]
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
            &[
                "vhost",
                "export",
                "db",
                "--socket",
                "/run/vsa/db.sock",
                "--read-only",
                "--queues",
                "2",
            ],
            &["vhost", "list"],
            &["vhost", "show", "db"],
            &["vhost", "unexport", "db"],
        ]
    }

    fn open(
        &self,
        core: &Arc<Core>,
        _config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        Ok(Arc::new(VmRunning {
            exports: Arc::new(Exports::open(core.clone())?),
            metrics: VhostMetrics::new(core.metrics())?,
        }))
    }
}

#[derive(Debug)]
struct VmRunning {
    exports: Arc<Exports>,
    metrics: VhostMetrics,
}

impl Running for VmRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.exports.clone())
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.exports.list());
    }

    fn stop(&self) {
        self.exports.stop_all();
    }
}
