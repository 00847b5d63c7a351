//! The tape library component: virtual tape libraries (a SMC-3 medium changer and LTO
//! drives, `vsa_vtl`) whose cartridges live in a pool volume, served on the iSCSI portal.
//! Noun `vsa vtl`, routes `/vtl`, records in the `vtl` column family.
//!
//! ```text
//!  mod.rs      the Component: open (records → live libraries), stop (drives flushed)
//!  service.rs  Libraries: typed methods over the records and the live libraries
//!  scratch.rs  automatic scratch cartridges;  views.rs  what the API shows
//!  model.rs    the durable record, names, serial numbers, NAA designators
//!  live.rs     a library as served: store, inventory, drives, changer, SCSI target
//!  kv.rs       a library's catalog in the column family (vsa_vtl's Kv)
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    LibraryError: codes and statuses
//!  cli.rs      `vsa vtl ...`
//!  metrics.rs  vsa_vtl_*
//! ```

pub mod api;
pub mod cli;
pub mod error;
pub mod kv;
pub mod live;
pub mod metrics;
pub mod model;
pub mod scratch;
pub mod service;
pub mod types;
pub mod views;

use crate::core::endpoint::RouteInfo;
use crate::core::{CliCtx, Component, ComponentConfig, ComponentError, Core, Running};
use service::Libraries;
use std::sync::Arc;

/// Tape libraries.
#[derive(Debug, Clone, Copy, Default)]
pub struct VtlComponent;

impl Component for VtlComponent {
    fn name(&self) -> &'static str {
        "vtl"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[model::CF_VTL]
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
            &["vtl", "create", "lib1", "--slots", "10", "--drives", "2"],
            &["vtl", "list"],
            &["vtl", "show", "lib1"],
            &["vtl", "delete", "lib1", "--force"],
            &["vtl", "set", "lib1", "--scratch", "4"],
            &[
                "vtl",
                "tape",
                "create",
                "lib1",
                "VSA000L8..VSA009L8",
                "--capacity",
                "2G",
            ],
            &["vtl", "tape", "list", "lib1"],
            &["vtl", "tape", "show", "lib1", "VSA000L8"],
            &["vtl", "tape", "erase", "lib1", "VSA000L8"],
            &["vtl", "tape", "delete", "lib1", "VSA000L8"],
            &["vtl", "tape", "import", "lib1", "VSA100L8"],
            &["vtl", "tape", "export", "lib1", "VSA000L8"],
            &["vtl", "tape", "move", "lib1", "slot:1", "drive:1"],
        ]
    }

    fn open(
        &self,
        core: &Arc<Core>,
        _config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        Ok(Arc::new(VtlRunning {
            libraries: Arc::new(Libraries::open(core.clone())?),
            metrics: metrics::VtlMetrics::new(core.metrics())?,
        }))
    }
}

/// The open tape library component.
#[derive(Debug)]
struct VtlRunning {
    libraries: Arc<Libraries>,
    metrics: metrics::VtlMetrics,
}

impl Running for VtlRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.libraries.clone())
    }

    fn start(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> crate::core::BoxFuture<'_, Result<crate::core::Started, ComponentError>> {
        let libs = self.libraries.clone();
        Box::pin(async move {
            Ok(crate::core::Started {
                lines: Vec::new(),
                tasks: vec![tokio::spawn(keep_scratch(libs, stop))],
            })
        })
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.libraries);
    }

    fn stop(&self) {
        self.libraries.flush();
    }
}

/// Tops up the libraries' scratch cartridges every few seconds until the stop signal.
async fn keep_scratch(libs: Arc<Libraries>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let l = libs.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || l.keep_scratch()).await {
            tracing::error!("the scratch cartridge task failed: {e}");
        }
    }
}
