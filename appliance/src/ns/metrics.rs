//! The namespace component's gauges, set from the namespaces at scrape time.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_ns_namespaces` | | namespaces configured |
//! | `vsa_ns_links` | namespace | links of a namespace |
//! | `vsa_ns_targets` | namespace, health | link targets by last known health: `healthy`, `unhealthy`, `unknown` |

use super::service::Namespaces;
use crate::core::metrics::Metrics;
use prometheus::{IntGauge, IntGaugeVec, Opts};

/// The namespace component's gauges.
#[derive(Debug, Clone)]
pub struct NsMetrics {
    namespaces: IntGauge,
    links: IntGaugeVec,
    targets: IntGaugeVec,
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
        r.register(Box::new(namespaces.clone()))?;
        r.register(Box::new(links.clone()))?;
        r.register(Box::new(targets.clone()))?;
        Ok(NsMetrics {
            namespaces,
            links,
            targets,
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
