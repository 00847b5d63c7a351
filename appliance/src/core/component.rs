//! How a component plugs into the appliance. A component (pools, iSCSI targets, later the
//! tape library, the namespace, VMs) is one module that implements [`Component`]; the
//! core knows it only through this trait and the list in `crate::components`. The router,
//! the CLI, the OpenAPI document, the configuration file's sections, `vsa serve`'s flags
//! and the metrics registry are all built from that list.
//!
//! A component's life: [`Component::check`] its configuration before anything is opened,
//! [`Component::open`] (read its records from its column families, build its live state,
//! claim the volumes it uses) giving a [`Running`] component, [`Running::start`] its
//! listeners and background work once the runtime runs, and [`Running::stop`] at
//! shutdown, in the reverse of the list's order.

use super::client::CliCtx;
use super::config::{ComponentConfig, ConfigError};
use super::endpoint::{RouteInfo, Schemas};
use super::services::Core;
use axum::Router;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use utoipa::openapi::{RefOr, Schema};

/// Why a component could not open or start: its own typed error, boxed.
pub type ComponentError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed future, for the async part of a component's life.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a component adds to `GET /status` (and `vsa status` prints): a key and the schema
/// of its value.
#[derive(Debug, Clone, Copy)]
pub struct StatusSection {
    /// The key in the status object, e.g. `pools`.
    pub key: &'static str,
    /// The schema of its value.
    pub schema: fn(&mut Schemas) -> RefOr<Schema>,
}

/// A part of the appliance.
pub trait Component: Send + Sync + std::fmt::Debug {
    /// The component's name, as `GET /status` lists it.
    fn name(&self) -> &'static str;

    /// Column families the component keeps its records in (opened with the store).
    fn column_families(&self) -> &'static [&'static str] {
        &[]
    }

    /// The top-level keys of the configuration file it owns (e.g. `pool`, `settings`).
    fn config_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Flags it adds to `vsa serve`.
    fn serve_args(&self) -> Vec<clap::Arg> {
        Vec::new()
    }

    /// Checks its part of the configuration before anything is opened.
    fn check(&self, config: &ComponentConfig) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// Its API routes, without handlers (for the OpenAPI document and the tests).
    fn routes(&self) -> Vec<RouteInfo>;

    /// What it adds to `GET /status`, if anything.
    fn status_section(&self) -> Option<StatusSection> {
        None
    }

    /// Its CLI nouns (`vsa <noun> ...`).
    fn commands(&self) -> Vec<clap::Command>;

    /// Runs one of its nouns.
    fn run_command(
        &self,
        noun: &str,
        matches: &clap::ArgMatches,
        ctx: &CliCtx,
    ) -> anyhow::Result<()>;

    /// A command line for every verb of its nouns (without `vsa`): the tests run each
    /// one against a recording client and check that the request it sends is one of the
    /// routes, and that every route but the core's is sent by some verb.
    fn cli_examples(&self) -> &'static [&'static [&'static str]] {
        &[]
    }

    /// Prints its status section for `vsa status`.
    fn print_status(&self, section: &serde_json::Value) -> anyhow::Result<()> {
        let _ = section;
        Ok(())
    }

    /// Opens the component: its records, its live state. `report` collects lines for the
    /// operator (what was created).
    fn open(
        &self,
        core: &Arc<Core>,
        config: &ComponentConfig,
        report: &mut Vec<String>,
    ) -> Result<Arc<dyn Running>, ComponentError>;
}

/// What a started component hands back.
#[derive(Debug, Default)]
pub struct Started {
    /// Lines for the operator (addresses it listens on).
    pub lines: Vec<String>,
    /// Tasks that run until the stop signal; the daemon waits for them before
    /// [`Running::stop`].
    pub tasks: Vec<JoinHandle<()>>,
}

/// An open component.
pub trait Running: Send + Sync + std::fmt::Debug {
    /// Its routes, bound to its service.
    fn router(&self) -> Router {
        Router::new()
    }

    /// Sets its metrics from its state (called on every `/metrics` scrape).
    fn update_metrics(&self) {}

    /// Its value for `GET /status` (see [`Component::status_section`]).
    fn status(&self) -> Option<serde_json::Value> {
        None
    }

    /// Starts listeners and background work; they end when `stop` turns true.
    fn start(&self, stop: watch::Receiver<bool>) -> BoxFuture<'_, Result<Started, ComponentError>> {
        let _ = stop;
        Box::pin(async { Ok(Started::default()) })
    }

    /// Stops what it runs and makes its state durable (after the listeners ended).
    fn stop(&self) {}
}
