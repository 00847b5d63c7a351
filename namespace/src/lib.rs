//! A DFS-style global namespace: one logical tree of folders and links over many file
//! servers, and the referrals that send a client from a link to the server holding it.
//!
//! ```text
//!  corp (root)
//!  ├── eng                     folder
//!  │   ├── docs  ──▶ smb://fs1.paris/docs   (site paris)     link with three targets
//!  │   │         ──▶ smb://fs2.lyon/docs    (site lyon)
//!  │   │         ──▶ nfs://nas.nyc/docs     (site nyc, global low)
//!  │   └── wiki  ──▶ file:///srv/wiki                        link on the appliance
//!  └── hr                      folder
//!
//!  resolve(corp, "eng/docs/specs/a.txt", client 10.1.2.3, sites, seed)
//!    = link eng/docs, remainder specs/a.txt, ttl 300 s,
//!      targets: fs1.paris (in-site), fs2.lyon (site cost 10), nas.nyc (global low)
//! ```
//!
//! - [`path`]: logical paths inside a namespace (`eng/docs`), compared without case.
//! - [`target`]: link targets (`smb://`, `nfs://`, `file://` URLs), health and priority.
//! - [`site`]: sites (client subnets) and the costs between them.
//! - [`link`]: links, their targets and settings.
//! - [`tree`]: the namespace: folders, links, changes and lookups.
//! - [`resolve`](mod@resolve): referrals: the covering link and its targets in the order to try them,
//!   by DFS-N's rules (priority class, site cost, rank, health, seeded tie-break).
//! - [`error`]: the typed errors, each saying what is wrong and how to fix it.
//!
//! The crate is pure logic: no I/O, no clock, no global state. Every model type is
//! `serde`-serializable, so the appliance can store a namespace and its sites as JSON;
//! reading a namespace back re-checks every rule. Input from users (paths, URLs, subnets,
//! names) is refused with a typed error, never a panic.
//!
//! # Performance
//!
//! Finding the link that covers a path costs one hash-map probe per path component,
//! whatever the number of links. `benches/resolve.rs` loads 100,000 links
//! (`dept{i/1000}/team{i%1000}/share`, two or three targets over three sites) and times
//! lookups, referrals and JSON round trips on one thread:
//!
//! ```text
//! cargo bench -p vsa-namespace --bench resolve
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod link;
pub mod msdfs;
pub mod path;
pub mod resolve;
pub mod site;
pub mod target;
pub mod tree;

pub use error::{NamespaceError, PathError, ResolveError, SiteError, TargetError};
pub use link::{Link, LinkSettings, TieOrder, DEFAULT_TTL_SECS};
pub use path::LogicalPath;
pub use resolve::{resolve, Ranked, Reason, Referral};
pub use site::{Sites, Subnet, UNKNOWN_COST};
pub use target::{Health, Priority, PriorityClass, Scheme, Target, TargetUrl};
pub use tree::Namespace;
