//! The appliance's core: what every component plugs into and the services several of
//! them share. It knows components only through [`Component`] and the list it is given
//! (`crate::components::all()`); nothing here names a component.
//!
//! ```text
//!  cli.rs ─────────▶ serve.rs ──▶ Appliance::open ──▶ each Component::open(&Core)
//!  (vsa NOUN VERB)      │                                   │ claims volumes, registers
//!   │ client.rs         │ Running::start (listeners)        ▼ metrics, reads its records
//!   │ (typed calls)     ▼                                 Running (its service)
//!   └──── HTTP ───▶ http.rs: /api/v1 = core routes + every Running::router()
//!                   auth, request counts, /metrics (Running::update_metrics), /status
//! ```
//!
//! Shared services on [`Core`]: the metadata store (one RocksDB, a column family per
//! component), [`Volumes`] (open a pool volume as a `BlockDevice`), [`Claims`] (who
//! holds a volume), [`TargetNames`] (iSCSI target names, and the targets components other
//! than iSCSI publish for its portal), [`metrics::Metrics`] (the Prometheus registry).

pub mod appliance;
pub mod claims;
pub mod cli;
pub mod client;
pub mod component;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod files;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod output;
pub mod private;
pub mod routes;
pub mod serve;
pub mod services;
pub mod size;
pub mod targets;
pub mod token;
pub mod unclean;
pub mod volumes;

pub use appliance::{Appliance, OpenError, OpenOptions};
pub use claims::{Claim, Claims, InUse};
pub use client::CliCtx;
pub use component::{BoxFuture, Component, ComponentError, Running, Started, StatusSection};
pub use config::{ComponentConfig, ConfigError, ConfigFile};
pub use endpoint::{Deleted, Empty, Endpoint, Method, NoParams, PathParams, RouteInfo, Routes};
pub use error::{ApiError, ErrorCode};
pub use services::Core;
pub use targets::{NameTaken, TargetNames};
pub use volumes::{OpenedVolume, VolumeSource, Volumes};
