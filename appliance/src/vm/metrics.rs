//! The VM component's series, set from the exports at scrape time. A disk's I/O is in the
//! core's `vsa_volume_io_*` series of its volume.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_vhost_exports` | state | vhost-user-blk exports by state: `listening`, `connected`, `failed` |
//! | `vsa_vhost_connections_total` | volume | VMM connections an export has served since it started |
//! | `vsa_vms` | state | VMs by state: `running`, `paused`, `stopped`, `failed` |

use super::types::{ExportView, VmView};
use crate::core::metrics::Metrics;
use prometheus::{IntGaugeVec, Opts};

const STATES: [&str; 3] = ["listening", "connected", "failed"];

/// The VM component's series.
#[derive(Debug, Clone)]
pub struct VhostMetrics {
    exports: IntGaugeVec,
    connections: IntGaugeVec,
    vms: IntGaugeVec,
}

impl VhostMetrics {
    /// Registers the series.
    pub fn new(m: &Metrics) -> Result<VhostMetrics, prometheus::Error> {
        let exports = IntGaugeVec::new(
            Opts::new("vsa_vhost_exports", "vhost-user-blk exports by state"),
            &["state"],
        )?;
        let connections = IntGaugeVec::new(
            Opts::new(
                "vsa_vhost_connections_total",
                "VMM connections an export has served since it started",
            ),
            &["volume"],
        )?;
        let vms = IntGaugeVec::new(Opts::new("vsa_vms", "VMs by state"), &["state"])?;
        m.registry.register(Box::new(vms.clone()))?;
        m.registry.register(Box::new(exports.clone()))?;
        m.registry.register(Box::new(connections.clone()))?;
        Ok(VhostMetrics {
            exports,
            connections,
            vms,
        })
    }

    /// Sets the series from the exports and the VMs.
    pub fn update(&self, views: &[ExportView], machines: &[VmView]) {
        for s in ["running", "paused", "stopped", "failed"] {
            let n = machines.iter().filter(|v| v.state == s).count();
            self.vms
                .with_label_values(&[s])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for s in STATES {
            let n = views.iter().filter(|v| v.state == s).count();
            self.exports
                .with_label_values(&[s])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.connections.reset();
        for v in views {
            self.connections
                .with_label_values(&[v.volume.as_str()])
                .set(i64::try_from(v.connections).unwrap_or(i64::MAX));
        }
    }
}
