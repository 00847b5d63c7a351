//! The namespace component: DFS-style namespaces (`vsa_namespace`), one logical tree of
//! folders and links over many file servers, the sites that say which servers are near a
//! client, and referrals. Noun `vsa ns`, routes `/ns` and `/ns-sites`, records in the
//! `namespace` column family. Health probes, the Samba DFS root and the FUSE view are not
//! here yet.
//!
//! ```text
//!  mod.rs      the Component: open (records → namespaces and sites)
//!  service.rs  Namespaces: typed methods, each change stored before it is made
//!  probe.rs    whether a target answers (checked when added), with a timeout
//!  wire.rs     the SMB2 NEGOTIATE and ONC RPC NULL bytes, and their answers' parsers
//!  model.rs    the keys of the records
//!  api.rs      one Endpoint type per operation, the route table
//!  types.rs    request and reply bodies
//!  error.rs    NsError: codes and statuses
//!  cli.rs      `vsa ns ...`
//!  metrics.rs  vsa_ns_*
//! ```

pub mod api;
pub mod cli;
pub mod error;
pub mod metrics;
pub mod model;
pub mod probe;
pub mod service;
pub mod types;
pub mod wire;

use crate::core::endpoint::RouteInfo;
use crate::core::{CliCtx, Component, ComponentConfig, ComponentError, Core, Running};
use service::Namespaces;
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
            &["ns", "list"],
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
        _config: &ComponentConfig,
        _report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError> {
        Ok(Arc::new(NsRunning {
            namespaces: Arc::new(Namespaces::open(core.clone())?),
            metrics: metrics::NsMetrics::new(core.metrics())?,
        }))
    }
}

/// The open namespace component.
#[derive(Debug)]
struct NsRunning {
    namespaces: Arc<Namespaces>,
    metrics: metrics::NsMetrics,
}

impl Running for NsRunning {
    fn router(&self) -> axum::Router {
        api::routes().into_router(self.namespaces.clone())
    }

    fn update_metrics(&self) {
        self.metrics.update(&self.namespaces);
    }
}
