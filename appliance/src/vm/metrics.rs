//! The VM component's series, set from the exports at scrape time. A disk's I/O is in the
//! core's `vsa_volume_io_*` series of its volume.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_vhost_exports` | state | vhost-user-blk exports by state: `listening`, `connected`, `failed` |
//! | `vsa_vhost_connections_total` | volume | VMM connections an export has served since it started |
//! | `vsa_vms` | state | VMs by state: `running`, `paused`, `stopped`, `failed` |
//! | `vsa_vm_vcpu_exits_total` | vm, reason | vCPU exits to the VMM since the VM last started: `io`, `mmio`, `other` |
//! | `vsa_vm_disk_ops_total`, `vsa_vm_disk_bytes_total` | vm, op | I/O on the VM's disks (its volumes), since the daemon started |
//! | `vsa_vm_net_frames_total`, `vsa_vm_net_bytes_total` | vm, card, direction | frames moved by a network card since the VM last started (`rx` to the guest, `tx` from it) |
//! | `vsa_vm_net_dropped_total` | vm, card, direction | frames a card dropped: no guest buffer (`rx`), refused by the TAP device (`tx`) |

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
    per_vm: PerVm,
}

/// The per-VM series.
#[derive(Debug, Clone)]
struct PerVm {
    exits: IntGaugeVec,
    disk_ops: IntGaugeVec,
    disk_bytes: IntGaugeVec,
    net_frames: IntGaugeVec,
    net_bytes: IntGaugeVec,
    net_dropped: IntGaugeVec,
}

fn gauge(
    m: &Metrics,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    m.registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn set(g: &IntGaugeVec, labels: &[&str], v: u64) {
    g.with_label_values(labels)
        .set(i64::try_from(v).unwrap_or(i64::MAX));
}

impl PerVm {
    fn new(m: &Metrics) -> Result<PerVm, prometheus::Error> {
        let net = ["vm", "card", "direction"];
        Ok(PerVm {
            exits: gauge(
                m,
                "vsa_vm_vcpu_exits_total",
                "vCPU exits to the VMM since the VM last started",
                &["vm", "reason"],
            )?,
            disk_ops: gauge(
                m,
                "vsa_vm_disk_ops_total",
                "Operations on the VM's disks",
                &["vm", "op"],
            )?,
            disk_bytes: gauge(
                m,
                "vsa_vm_disk_bytes_total",
                "Bytes of the VM's disk operations",
                &["vm", "op"],
            )?,
            net_frames: gauge(
                m,
                "vsa_vm_net_frames_total",
                "Frames a network card moved",
                &net,
            )?,
            net_bytes: gauge(
                m,
                "vsa_vm_net_bytes_total",
                "Bytes of the frames a network card moved",
                &net,
            )?,
            net_dropped: gauge(
                m,
                "vsa_vm_net_dropped_total",
                "Frames a network card dropped",
                &net,
            )?,
        })
    }

    fn update(&self, machines: &[VmView]) {
        for g in [
            &self.exits,
            &self.disk_ops,
            &self.disk_bytes,
            &self.net_frames,
            &self.net_bytes,
            &self.net_dropped,
        ] {
            g.reset();
        }
        for v in machines {
            let s = &v.stats;
            let vm = v.name.as_str();
            for (reason, n) in &s.vcpu_exits {
                set(&self.exits, &[vm, reason], *n);
            }
            for (op, n) in &s.disk_ops {
                set(&self.disk_ops, &[vm, op], *n);
            }
            for (op, n) in &s.disk_bytes {
                set(&self.disk_bytes, &[vm, op], *n);
            }
            for (i, card) in s.nets.iter().enumerate() {
                let card_name = format!("eth{i}");
                let get = |k: &str| card.get(k).copied().unwrap_or(0);
                for dir in ["rx", "tx"] {
                    let labels = [vm, card_name.as_str(), dir];
                    set(&self.net_frames, &labels, get(&format!("{dir}_frames")));
                    set(&self.net_bytes, &labels, get(&format!("{dir}_bytes")));
                    set(&self.net_dropped, &labels, get(&format!("{dir}_dropped")));
                }
            }
        }
    }
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
            per_vm: PerVm::new(m)?,
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
        self.per_vm.update(machines);
        self.connections.reset();
        for v in views {
            self.connections
                .with_label_values(&[v.volume.as_str()])
                .set(i64::try_from(v.connections).unwrap_or(i64::MAX));
        }
    }
}
