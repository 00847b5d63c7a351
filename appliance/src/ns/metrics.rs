//! The namespace component's series: gauges set from the namespaces at scrape time, and
//! counters the health probes add to.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_ns_namespaces` | | namespaces configured |
//! | `vsa_ns_links` | namespace | links of a namespace |
//! | `vsa_ns_targets` | namespace, health | link targets by last known health: `healthy`, `unhealthy`, `unknown` |
//! | `vsa_ns_health_changes_total` | namespace | targets' health changed by the probes |
//! | `vsa_ns_probe_failures_total` | namespace | failed checks of targets |

use super::service::{Namespaces, ProbeOutcome};
use crate::core::metrics::Metrics;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts};

/// The namespace component's series.
#[derive(Debug, Clone)]
pub struct NsMetrics {
    namespaces: IntGauge,
    links: IntGaugeVec,
    targets: IntGaugeVec,
    /// The counters, for the probes.
    pub probes: ProbeCounters,
}

/// The counters the health probes add to.
#[derive(Debug, Clone)]
pub struct ProbeCounters {
    changes: IntCounterVec,
    failures: IntCounterVec,
}

impl ProbeCounters {
    /// Counts one recorded check.
    pub fn count(&self, o: &ProbeOutcome) {
        let ns = [o.namespace.as_str()];
        if o.failed {
            self.failures.with_label_values(&ns).inc();
        }
        if o.changed {
            self.changes.with_label_values(&ns).inc();
        }
    }
}

const HEALTH: [&str; 3] = ["healthy", "unhealthy", "unknown"];

impl NsMetrics {
    /// Registers the series.
    pub fn new(m: &Metrics) -> Result<NsMetrics, prometheus::Error> {
        let r = &m.registry;
        let namespaces = IntGauge::new("vsa_ns_namespaces", "Namespaces configured")?;
        let links = IntGaugeVec::new(
            Opts::new("vsa_ns_links", "Links of a namespace"),
            &["namespace"],
        )?;
        let targets = IntGaugeVec::new(
            Opts::new(
                "vsa_ns_targets",
                "Link targets of a namespace by last known health",
            ),
            &["namespace", "health"],
        )?;
        let changes = IntCounterVec::new(
            Opts::new(
                "vsa_ns_health_changes_total",
                "Health changes of a namespace's targets, as the probes decided them",
            ),
            &["namespace"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "vsa_ns_probe_failures_total",
                "Failed health checks of a namespace's targets",
            ),
            &["namespace"],
        )?;
        r.register(Box::new(namespaces.clone()))?;
        r.register(Box::new(links.clone()))?;
        r.register(Box::new(targets.clone()))?;
        r.register(Box::new(changes.clone()))?;
        r.register(Box::new(failures.clone()))?;
        Ok(NsMetrics {
            namespaces,
            links,
            targets,
            probes: ProbeCounters { changes, failures },
        })
    }

    /// Sets the gauges from the namespaces.
    pub fn update(&self, ns: &Namespaces) {
        let counts = ns.counts();
        self.namespaces.set(counts.len() as i64);
        self.links.reset();
        self.targets.reset();
        for c in &counts {
            let name = c.namespace.as_str();
            self.links.with_label_values(&[name]).set(c.links as i64);
            for (health, n) in HEALTH.iter().zip(c.targets) {
                self.targets
                    .with_label_values(&[name, health])
                    .set(n as i64);
            }
        }
    }
}
