//! vsa-appliance: the daemon and CLI (`vsa`) that wire the storage components together.
//!
//! ```text
//!  main.rs ─▶ cli/            clap: `vsa NOUN VERB`; builds an Action, sends it (client.rs)
//!             └─ serve ─▶ serve.rs     the daemon: open, listen, signals, shutdown
//!                           │
//!  HTTP ─▶ api/ (axum)      one file per resource: request ─▶ Action; auth, request counts
//!            │ action.rs    one value per operation, shared with the CLI
//!            ▼
//!          controller.rs    executes an Action against the Appliance ─▶ JSON or ApiError
//!            │
//!          appliance.rs     the MetaStore (RocksDB), the pools, settings
//!
//!  component.rs  how a component plugs in: column families, routes, OpenAPI, metrics
//!  config.rs     the TOML configuration        error.rs    ApiError: status, code, message
//!  metrics.rs    Prometheus registry, gauges, MeteredDevice for per-volume I/O
//!  openapi.rs    the API description (checked against the router by a test)
//!  size.rs       "10G" ⇄ bytes                 token.rs    the API token file
//!  target/       iSCSI targets: records in RocksDB, the live LUN map over volumes (scsi
//!                units), the reservation store, the registry the iSCSI server reads
//! ```
//!
//! Storage calls block; the API runs them with `tokio::task::spawn_blocking`.
#![forbid(unsafe_code)]

pub mod action;
pub mod api;
pub mod appliance;
pub mod cli;
pub mod component;
pub mod config;
pub mod controller;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod serve;
pub mod size;
pub mod target;
pub mod token;

pub use action::Action;
pub use appliance::{Appliance, ApplianceError, OpenOptions};
pub use config::{ApplianceConfig, ConfigError, PoolConfig};
pub use error::ApiError;
