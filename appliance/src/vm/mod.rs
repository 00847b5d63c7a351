//! The VM component: virtual machines and pool volumes as their disks. The
//! vhost-user-blk service (`vsa vhost`, routes `/vhost`) serves a volume on a Unix socket
//! to a VMM on this host (qemu, Cloud Hypervisor, ours) with no network hop; `vsa vm`
//! (routes `/vms`) runs VMs on the bundled KVM VMM, each in its own process. Records in
//! the `vm` column family. A VM's disks are pool volumes the daemon serves to its runner
//! over vhost-user-blk; its network cards are TAP devices the runner attaches.
//!
//! ```text
//!  mod.rs      the Component: open (records → exports listening), start (autostart
//!              VMs), stop
//!  service.rs  Exports: typed methods, each change stored before it is answered
//!  machines.rs Machines: VM records, runner processes and how they ended
//!  runner.rs   `vsa __vm-runner`: one VM in this process
//!  console.rs  the console log read from an offset, typing sent to the runner
//!  run_stats.rs what a VM has done: vCPU exits, disk I/O, frames
//!  model.rs    the keys and records
//!  nics.rs     network cards checked and given their MACs
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    VmError: codes and statuses
//!  cli.rs      `vsa vhost ...`
//!  vm_cli.rs   `vsa vm ...`
//!  console_cli.rs `vsa vm console --follow|--attach`
//!  metrics.rs  vsa_vhost_*
//! ```

pub mod api;
pub mod boot_files;
pub mod cli;
pub mod console;
pub mod console_cli;
pub mod disks;
pub mod error;
pub mod machines;
pub mod metrics;
pub mod model;
pub mod nics;
pub mod run_stats;
pub mod runner;
pub mod service;
pub mod types;
pub mod vm_cli;

use crate::core::endpoint::RouteInfo;
use crate::core::{
    BoxFuture, CliCtx, Component, ComponentConfig, ComponentError, Core, Running, Started,
};
use machines::Machines;
use metrics::VhostMetrics;
use service::Exports;
use std::sync::Arc;

/// What the routes are bound to.
#[derive(Debug)]
pub struct VmService {
    /// The vhost-user-blk exports.
    pub exports: Exports,
    /// The VMs.
    pub machines: Machines,
}

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
        vec![cli::command(), vm_cli::command()]
    }

    fn run_command(&self, noun: &str, m: &clap::ArgMatches, ctx: &CliCtx) -> anyhow::Result<()> {
        match noun {
            "vm" => vm_cli::run(ctx, m),
            _ => cli::run(ctx, m),
        }
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
            &[
                "vm",
                "create",
                "web1",
                "--kernel",
                "/boot/vmlinuz",
                "--initrd",
                "/boot/initrd.img",
                "--cmdline",
                "console=ttyS0",
                "--memory",
                "512M",
                "--autostart",
                "--restart",
                "on-failure",
                "--clone-of",
                "gold@base",
                "--disk",
                "data:undoable",
                "--disk",
                "tools:ro",
            ],
            &["vm", "pause", "web1"],
            &["vm", "resume", "web1"],
            &["vm", "commit", "web1"],
            &["vm", "discard", "web1"],
            &["vm", "list"],
            &["vm", "show", "web1"],
            &["vm", "start", "web1"],
            &["vm", "stop", "web1"],
            &["vm", "console", "web1"],
            &["vm", "console", "web1", "--follow"],
            &["vm", "delete", "web1"],
        ]
    }

    fn open(
        &self,
        core: &Arc<Core>,
        _config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        Ok(Arc::new(VmRunning {
            service: Arc::new(VmService {
                exports: Exports::open(core.clone())?,
                machines: Machines::open(core.clone())?,
            }),
            metrics: VhostMetrics::new(core.metrics())?,
        }))
    }
}

#[derive(Debug)]
struct VmRunning {
    service: Arc<VmService>,
    metrics: VhostMetrics,
}

impl Running for VmRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.service.clone())
    }

    fn update_metrics(&self) {
        self.metrics
            .update(&self.service.exports.list(), &self.service.machines.list());
    }

    fn start(
        &self,
        _stop: tokio::sync::watch::Receiver<bool>,
    ) -> BoxFuture<'_, Result<Started, ComponentError>> {
        let lines = self.service.machines.autostart();
        Box::pin(async move {
            Ok(Started {
                lines,
                tasks: Vec::new(),
            })
        })
    }

    fn stop(&self) {
        self.service.machines.stop_all(machines::SHUTDOWN_GRACE);
        self.service.exports.stop_all();
    }
}
