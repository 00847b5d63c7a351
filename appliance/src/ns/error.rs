//! What the namespace component refuses, with stable codes and HTTP statuses. The
//! `vsa_namespace` crate's typed errors keep their messages (each says how to fix the
//! input); this maps them to codes.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `invalid_namespace`, `invalid_path`, `invalid_target`, `invalid_priority`, `invalid_client`, `invalid_subnet`, `invalid_site`, `invalid_cost`, `invalid_request`, `invalid_export` |
//! | 404 | `no_such_namespace`, `no_such_link`, `no_such_folder`, `no_such_target`, `no_such_site`, `no_link`, `no_such_credential`, `no_such_migration`, `no_such_replication` |
//! | 409 | `namespace_exists`, `path_exists`, `overlap`, `folder_not_empty`, `target_exists`, `last_target`, `target_unreachable`, `no_target`, `site_exists`, `subnet_taken`, `site_in_use`, `migration_refused`, `replication_refused` |
//! | 500 | `metadata_error` |

use crate::core::ErrorCode;
use axum::http::StatusCode;
use vsa_namespace::{NamespaceError, PathError, ResolveError, SiteError, TargetError};

/// A namespace operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NsError {
    #[error("there is no namespace '{0}'")]
    NoSuchNamespace(String),
    #[error("no credentials are set for server '{0}'")]
    NoSuchCredential(String),
    #[error("there is no migration of link '{0}'")]
    NoSuchMigration(String),
    /// A migration that cannot start, be confirmed or be cancelled now.
    #[error("{0}")]
    Migration(String),
    #[error("there is no replication of {0}")]
    NoSuchReplication(String),
    /// A replication that cannot start or run.
    #[error("{0}")]
    Replication(String),
    #[error("namespace '{0}' already exists")]
    NamespaceExists(String),
    /// A refused change to the tree (or a refused root name).
    #[error(transparent)]
    Change(NamespaceError),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A `--priority` that is not `CLASS[:RANK]`.
    #[error("{0}")]
    Priority(String),
    /// A `--client` that is not an IP address.
    #[error("client '{0}' is not an IPv4 or IPv6 address; write e.g. 10.1.2.3")]
    Client(String),
    /// Other bad input (an empty target list).
    #[error("{0}")]
    Invalid(String),
    /// A target that did not answer its reachability check.
    #[error("target '{target}' is not reachable: {why}; check the URL, or add --force (\"force\": true) to add it anyway if the server is still being set up")]
    Unreachable { target: String, why: String },
    /// A site that targets still name.
    #[error("site '{site}' is still the site of target '{target}' of link '{link}' in namespace '{namespace}'; remove that target first (`vsa ns target remove {namespace} {link} {target}`)")]
    SiteInUse {
        site: String,
        namespace: String,
        link: String,
        target: String,
    },
    #[error("cannot read or write the namespace records: {0}")]
    Meta(String),
    /// A bad `export-samba` request (a relative directory, a bad share name).
    #[error("{0}")]
    Export(String),
    /// A FUSE mount that cannot be made or unmade.
    #[error("{0}")]
    Mount(String),
    /// The msdfs tree could not be written.
    #[error("cannot write the msdfs tree: {0}")]
    Samba(#[from] super::samba::SambaError),
}

impl From<NamespaceError> for NsError {
    fn from(e: NamespaceError) -> Self {
        match e {
            NamespaceError::Path(p) => NsError::Path(p),
            e => NsError::Change(e),
        }
    }
}

/// A metadata store failure.
pub fn meta(e: impl std::fmt::Display) -> NsError {
    NsError::Meta(e.to_string())
}

impl ErrorCode for NsError {
    fn code(&self) -> &'static str {
        use NamespaceError as N;
        match self {
            NsError::NoSuchNamespace(_) => "no_such_namespace",
            NsError::NoSuchCredential(_) => "no_such_credential",
            NsError::NoSuchMigration(_) => "no_such_migration",
            NsError::Migration(_) => "migration_refused",
            NsError::NoSuchReplication(_) => "no_such_replication",
            NsError::Replication(_) => "replication_refused",
            NsError::NamespaceExists(_) => "namespace_exists",
            NsError::Change(e) => match e {
                N::Path(_) => "invalid_path",
                N::BadRoot { .. } => "invalid_namespace",
                N::Overlap { .. } => "overlap",
                N::Exists { .. } => "path_exists",
                N::NotFound { kind: "folder", .. } => "no_such_folder",
                N::NotFound { .. } => "no_such_link",
                N::NotEmpty(_) => "folder_not_empty",
                N::DuplicateTarget { .. } => "target_exists",
                N::UnknownTarget { .. } => "no_such_target",
                N::NoTargets(_) => "last_target",
                N::Corrupt(_) => "metadata_error",
                _ => "invalid_request",
            },
            NsError::Path(_) => "invalid_path",
            NsError::Target(_) => "invalid_target",
            NsError::Site(e) => match e {
                SiteError::Syntax { .. }
                | SiteError::Address { .. }
                | SiteError::PrefixLength { .. }
                | SiteError::HostBits { .. } => "invalid_subnet",
                SiteError::UnknownSite(_) => "no_such_site",
                SiteError::DuplicateSite(_) => "site_exists",
                SiteError::DuplicateSubnet { .. } => "subnet_taken",
                SiteError::SameSite(_) | SiteError::ZeroCost(..) => "invalid_cost",
                _ => "invalid_site",
            },
            NsError::Resolve(ResolveError::NoLink(_)) => "no_link",
            NsError::Resolve(_) => "no_target",
            NsError::Priority(_) => "invalid_priority",
            NsError::Client(_) => "invalid_client",
            NsError::Invalid(_) => "invalid_request",
            NsError::Unreachable { .. } => "target_unreachable",
            NsError::SiteInUse { .. } => "site_in_use",
            NsError::Meta(_) => "metadata_error",
            NsError::Export(_) => "invalid_export",
            NsError::Mount(_) => "mount_failed",
            NsError::Samba(super::samba::SambaError::InTheWay(_)) => "export_in_the_way",
            NsError::Samba(_) => "export_failed",
        }
    }

    fn status(&self) -> StatusCode {
        match self.code() {
            "no_such_namespace"
            | "no_such_link"
            | "no_such_folder"
            | "no_such_target"
            | "no_such_site"
            | "no_link"
            | "no_such_credential"
            | "no_such_migration"
            | "no_such_replication" => StatusCode::NOT_FOUND,
            "namespace_exists" | "path_exists" | "overlap" | "folder_not_empty"
            | "target_exists" | "last_target" | "target_unreachable" | "no_target"
            | "site_exists" | "subnet_taken" | "site_in_use" | "export_in_the_way"
            | "migration_refused" => StatusCode::CONFLICT,
            "metadata_error" | "export_failed" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn hint(&self) -> Option<String> {
        use NamespaceError as N;
        match self {
            NsError::NoSuchNamespace(_) => Some("`vsa ns list` shows them".into()),
            NsError::NoSuchCredential(_) => Some("`vsa ns credential list` shows them".into()),
            NsError::NoSuchMigration(_) => Some("`vsa ns migrations` lists them".into()),
            NsError::NoSuchReplication(_) => Some("`vsa ns replications` lists them".into()),
            NsError::Site(SiteError::UnknownSite(_)) => {
                Some("`vsa ns site list` shows them; `vsa ns site add` adds one".into())
            }
            NsError::Change(N::NotFound { .. } | N::UnknownTarget { .. })
            | NsError::Resolve(ResolveError::NoLink(_)) => {
                Some("`vsa ns show NAMESPACE` shows its folders, links and targets".into())
            }
            NsError::Change(N::NoTargets(_)) => {
                Some("`vsa ns link remove NAMESPACE PATH` removes the link".into())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ApiError;

    #[test]
    fn crate_errors_get_codes_statuses_and_hints() {
        let e = ApiError::from(NsError::NoSuchNamespace("corp".into()));
        assert_eq!((e.status.as_u16(), e.code), (404, "no_such_namespace"));
        assert!(
            e.message.ends_with("`vsa ns list` shows them"),
            "{}",
            e.message
        );
        let overlap = NsError::from(NamespaceError::Overlap {
            path: "a/b".into(),
            kind: "link",
            existing: "a".into(),
        });
        assert_eq!(
            (overlap.code(), overlap.status().as_u16()),
            ("overlap", 409)
        );
        let path = NsError::from(NamespaceError::Path(PathError::Empty));
        assert_eq!((path.code(), path.status().as_u16()), ("invalid_path", 400));
        let subnet = NsError::from(SiteError::Syntax { subnet: "x".into() });
        assert_eq!(subnet.code(), "invalid_subnet");
        let e = ApiError::from(NsError::Unreachable {
            target: "smb://fs1/docs".into(),
            why: "no answer".into(),
        });
        assert_eq!((e.status.as_u16(), e.code), (409, "target_unreachable"));
        assert!(e.message.contains("--force"));
    }
}
