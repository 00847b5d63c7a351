//! [`Core`]: the services every component can use.

use super::claims::Claims;
use super::metrics::Metrics;
use super::targets::TargetNames;
use super::volumes::Volumes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vsa_pool::MetaStore;

/// The services every component can use.
#[derive(Debug)]
pub struct Core {
    pub(super) data_dir: PathBuf,
    pub(super) store: Arc<MetaStore>,
    pub(super) volumes: Volumes,
    pub(super) claims: Claims,
    pub(super) targets: TargetNames,
    pub(super) metrics: Metrics,
    pub(super) started: Instant,
    pub(super) unclean_stop: bool,
}

impl Core {
    /// The data directory (absolute).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The metadata store; each component keeps its records in its own column families.
    pub fn store(&self) -> &Arc<MetaStore> {
        &self.store
    }

    /// Opening volumes as block devices.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// Who holds which volume.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// iSCSI target names and published targets.
    pub fn targets(&self) -> &TargetNames {
        &self.targets
    }

    /// The Prometheus registry and the common series.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether the previous daemon on this data directory stopped without a clean
    /// shutdown (see [`super::unclean`]): components check their state when it did.
    pub fn unclean_stop(&self) -> bool {
        self.unclean_stop
    }

    /// Seconds since the appliance opened.
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
