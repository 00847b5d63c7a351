//! What a running VM counts, readable from any thread while it runs: each vCPU's exits
//! to this process by reason and each network card's frames. The runner writes
//! [`VmStats::render`] to a file the daemon reads for `vsa vm show` and its metrics.

use super::ExitCounts;
use crate::net::device::NetCounters;
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One vCPU's exits to this process, by reason.
#[derive(Debug, Default)]
pub struct ExitCounters {
    /// Port I/O.
    pub io: AtomicU64,
    /// MMIO (device registers).
    pub mmio: AtomicU64,
    /// Everything else.
    pub other: AtomicU64,
}

impl ExitCounters {
    pub(super) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A VM's counters.
#[derive(Debug, Default)]
pub struct VmStats {
    vcpus: Mutex<Vec<Arc<ExitCounters>>>,
    nets: Mutex<Vec<Arc<NetCounters>>>,
}

impl VmStats {
    /// Forgets the counters of an earlier run.
    pub(super) fn clear(&self) {
        self.vcpus.lock().clear();
        self.nets.lock().clear();
    }

    /// Counters for a new vCPU.
    pub(super) fn add_vcpu(&self) -> Arc<ExitCounters> {
        let c = Arc::new(ExitCounters::default());
        self.vcpus.lock().push(c.clone());
        c
    }

    /// Counts a network card's frames among the VM's.
    pub(crate) fn add_net(&self, counters: Arc<NetCounters>) {
        self.nets.lock().push(counters);
    }

    /// Every vCPU's exits together.
    pub fn exits(&self) -> ExitCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.vcpus
            .lock()
            .iter()
            .fold(ExitCounts::default(), |sum, c| ExitCounts {
                io: sum.io + load(&c.io),
                mmio: sum.mmio + load(&c.mmio),
                other: sum.other + load(&c.other),
            })
    }

    /// The counters as `name value` lines: `exits_io`, `exits_mmio`, `exits_other`,
    /// and per network card N `netN_rx_frames`, `netN_rx_bytes`, `netN_rx_dropped`,
    /// `netN_tx_frames`, `netN_tx_bytes`, `netN_tx_dropped`, `netN_bad_chains`.
    pub fn render(&self) -> String {
        let e = self.exits();
        let mut out = format!(
            "exits_io {}\nexits_mmio {}\nexits_other {}\n",
            e.io, e.mmio, e.other
        );
        for (i, n) in self.nets.lock().iter().enumerate() {
            let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
            for (name, v) in [
                ("rx_frames", load(&n.rx_frames)),
                ("rx_bytes", load(&n.rx_bytes)),
                ("rx_dropped", load(&n.rx_dropped)),
                ("tx_frames", load(&n.tx_frames)),
                ("tx_bytes", load(&n.tx_bytes)),
                ("tx_dropped", load(&n.tx_dropped)),
                ("bad_chains", load(&n.bad_chains)),
            ] {
                let _ = writeln!(out, "net{i}_{name} {v}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_over_vcpus_and_render_as_lines() {
        let s = VmStats::default();
        let a = s.add_vcpu();
        let b = s.add_vcpu();
        ExitCounters::count(&a.io);
        ExitCounters::count(&b.io);
        ExitCounters::count(&b.mmio);
        let net = Arc::new(NetCounters::default());
        net.rx_frames.store(3, Ordering::Relaxed);
        s.add_net(net);
        assert_eq!(
            s.exits(),
            ExitCounts {
                io: 2,
                mmio: 1,
                other: 0
            }
        );
        let text = s.render();
        assert!(
            text.starts_with("exits_io 2\nexits_mmio 1\nexits_other 0\n"),
            "{text}"
        );
        assert!(text.contains("net0_rx_frames 3\n"), "{text}");
        s.clear();
        assert_eq!(s.exits(), ExitCounts::default());
    }
}
