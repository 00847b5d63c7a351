//! Components: the parts of the appliance that plug into the daemon the same way. Each
//! names its column families (opened with the metadata store), adds its API routes and
//! their OpenAPI description, and registers the metrics it updates at scrape time. Its CLI
//! noun is a subcommand in `cli/` that builds [`crate::action::Action`]s, and its actions
//! are arms of the controller.
//!
//! The pools and volumes are the first component; the iSCSI target, the namespace, the
//! tape library and the VMM follow with their own `Component`.

use crate::api::Routes;
use crate::appliance::Appliance;
use crate::metrics::{Metrics, PoolMetrics};
use serde_json::{Map, Value};

/// Keeps a component's metrics current; called on every `/metrics` scrape.
pub trait MetricsUpdater: Send + Sync + std::fmt::Debug {
    /// Sets the component's gauges from the appliance's state.
    fn update(&self, app: &Appliance);
}

/// A part of the appliance.
pub trait Component: Send + Sync + std::fmt::Debug {
    /// The component's name, as `GET /api/v1/status` lists it.
    fn name(&self) -> &'static str;

    /// Column families the component keeps its state in (besides the pool's own).
    fn column_families(&self) -> &'static [&'static str] {
        &[]
    }

    /// Adds the component's routes (paths below `/api/v1`).
    fn routes(&self, routes: Routes) -> Routes;

    /// Adds the OpenAPI description of those routes (`paths`) and their schemas.
    fn openapi(&self, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>);

    /// Registers the component's metrics; the returned updater sets them at scrape time.
    fn metrics(&self, metrics: &Metrics) -> Result<Box<dyn MetricsUpdater>, prometheus::Error>;
}

/// Pools (RAID sets of member devices) and the volumes in them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolComponent;

impl MetricsUpdater for PoolMetrics {
    fn update(&self, app: &Appliance) {
        PoolMetrics::update(self, app);
    }
}

impl Component for PoolComponent {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn routes(&self, routes: Routes) -> Routes {
        crate::api::volumes::routes(crate::api::pools::routes(routes))
    }

    fn openapi(&self, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
        crate::openapi::pool_paths(paths, schemas);
    }

    fn metrics(&self, metrics: &Metrics) -> Result<Box<dyn MetricsUpdater>, prometheus::Error> {
        Ok(Box::new(PoolMetrics::new(metrics)?))
    }
}

/// iSCSI targets: LUNs over volumes, ACLs, CHAP, sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetComponent;

impl Component for TargetComponent {
    fn name(&self) -> &'static str {
        "iscsi"
    }

    fn column_families(&self) -> &'static [&'static str] {
        &[crate::target::model::CF_TARGET]
    }

    fn routes(&self, routes: Routes) -> Routes {
        crate::api::targets::routes(routes)
    }

    fn openapi(&self, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
        crate::target::openapi::paths(paths, schemas);
    }

    fn metrics(&self, metrics: &Metrics) -> Result<Box<dyn MetricsUpdater>, prometheus::Error> {
        Ok(Box::new(crate::target::metrics::TargetMetrics::new(
            metrics,
        )?))
    }
}

/// Every component of this build, in start order.
pub fn all() -> Vec<Box<dyn Component>> {
    vec![Box::new(PoolComponent), Box::new(TargetComponent)]
}

/// The column families of every component.
pub fn column_families() -> Vec<&'static str> {
    all()
        .iter()
        .flat_map(|c| c.column_families().iter().copied())
        .collect()
}
