//! A DFS-style global namespace: one logical tree of folders and links over many file
//! servers, and referral resolution.
//!
//! - [`path`]: logical paths inside a namespace (`eng/docs`), compared without case.
//! - [`target`]: link targets (`smb://`, `nfs://`, `file://` URLs), health and priority.
//! - [`site`]: sites (client subnets) and the costs between them.
//! - [`link`]: links, their targets and settings.
//! - [`tree`]: the namespace: folders, links, changes and lookups.
//! - [`resolve`]: referrals: the covering link and its targets in the order to try them.
//! - [`error`]: the typed errors, each saying what is wrong and how to fix it.
#![forbid(unsafe_code)]

pub mod error;
pub mod link;
pub mod path;
pub mod resolve;
pub mod site;
pub mod target;
pub mod tree;

pub use error::{NamespaceError, PathError, ResolveError, SiteError, TargetError};
pub use link::{Link, LinkSettings, TieOrder};
pub use path::LogicalPath;
pub use resolve::{resolve, Ranked, Reason, Referral};
pub use site::{Sites, Subnet, UNKNOWN_COST};
pub use target::{Health, Priority, PriorityClass, Scheme, Target, TargetUrl};
pub use tree::Namespace;
