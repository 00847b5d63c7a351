//! vsa-appliance: the daemon and CLI (`vsa`) that host the storage components.
//!
//! ```text
//!  main.rs ─▶ core::cli::main(components::all())
//!
//!  core/          the host: the Component trait, the HTTP service (typed endpoints,
//!                 auth, metrics, OpenAPI), the CLI and its typed client, the daemon's
//!                 lifecycle, configuration, and the shared services: the metadata store,
//!                 volumes (open a pool volume as a BlockDevice) and claims on volumes
//!  components.rs  the list of components (one line each)
//!  pool/          component: pools and volumes (`vsa pool`, `vsa volume`)
//!  iscsi/         component: iSCSI targets (`vsa target`)
//!  vtl/           component: tape libraries (`vsa vtl`), served on the iSCSI portal
//!  ns/            component: the global namespace (`vsa ns`): folders, links, sites, referrals
//! ```
//!
//! Dependencies point one way: components use `core`; `core` never names a component
//! (it is handed the list); components never use each other (only core services).
//! Storage calls block; the API runs them on the blocking thread pool.
#![forbid(unsafe_code)]

pub mod components;
pub mod core;
pub mod iscsi;
pub mod ns;
pub mod pool;
pub mod vm;
pub mod vtl;
