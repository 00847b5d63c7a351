//! What the iSCSI component refuses, with stable codes and HTTP statuses.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `invalid_name`, `invalid_lun`, `invalid_chap` |
//! | 404 | `no_such_target`, `no_such_lun`, `no_such_acl` (and the volume's `no_such_volume`) |
//! | 409 | `target_exists`, `lun_exists`, `volume_in_use` |
//! | 500 | `metadata_error`, `internal` |

use crate::core::{ApiError, ErrorCode, InUse};
use axum::http::StatusCode;

/// An iSCSI target operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// No such target.
    #[error("there is no target '{0}'")]
    NoSuchTarget(String),
    /// The name is taken.
    #[error("target '{0}' already exists")]
    TargetExists(String),
    /// Another component holds the name (a tape library's target).
    #[error(transparent)]
    NameTaken(crate::core::NameTaken),
    /// A malformed iSCSI name or alias.
    #[error("{0}")]
    InvalidName(String),
    /// A LUN number out of range or not a number, or no LUN left.
    #[error("{0}")]
    InvalidLun(String),
    /// The LUN number is taken.
    #[error("target '{target}' already has LUN {lun} (volume '{volume}'); pick another --lun")]
    LunExists {
        /// The target.
        target: String,
        /// The LUN.
        lun: u64,
        /// The volume it serves.
        volume: String,
    },
    /// No such LUN.
    #[error("target '{target}' has no LUN {lun}")]
    NoSuchLun {
        /// The target.
        target: String,
        /// The LUN.
        lun: u64,
    },
    /// The initiator is not in the ACL.
    #[error("'{initiator}' is not in the ACL of target '{target}'")]
    NoSuchAcl {
        /// The target.
        target: String,
        /// The initiator.
        initiator: String,
    },
    /// Bad CHAP settings.
    #[error("{0}")]
    InvalidChap(String),
    /// The volume is held by someone.
    #[error(transparent)]
    InUse(#[from] InUse),
    /// The volume cannot be opened (its owner's error).
    #[error(transparent)]
    Volume(ApiError),
    /// The metadata store failed.
    #[error("cannot write the target configuration: {0}")]
    Meta(String),
    /// A record the appliance wrote is not what it should be.
    #[error("{0}")]
    Internal(String),
}

impl ErrorCode for TargetError {
    fn code(&self) -> &'static str {
        match self {
            TargetError::NoSuchTarget(_) => "no_such_target",
            TargetError::TargetExists(_) | TargetError::NameTaken(_) => "target_exists",
            TargetError::InvalidName(_) => "invalid_name",
            TargetError::InvalidLun(_) => "invalid_lun",
            TargetError::LunExists { .. } => "lun_exists",
            TargetError::NoSuchLun { .. } => "no_such_lun",
            TargetError::NoSuchAcl { .. } => "no_such_acl",
            TargetError::InvalidChap(_) => "invalid_chap",
            TargetError::InUse(e) => e.code(),
            TargetError::Volume(e) => e.code,
            TargetError::Meta(_) => "metadata_error",
            TargetError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        use StatusCode as S;
        match self {
            TargetError::InvalidName(_)
            | TargetError::InvalidLun(_)
            | TargetError::InvalidChap(_) => S::BAD_REQUEST,
            TargetError::NoSuchTarget(_)
            | TargetError::NoSuchLun { .. }
            | TargetError::NoSuchAcl { .. } => S::NOT_FOUND,
            TargetError::TargetExists(_)
            | TargetError::NameTaken(_)
            | TargetError::LunExists { .. } => S::CONFLICT,
            TargetError::InUse(e) => e.status(),
            TargetError::Volume(e) => e.status,
            TargetError::Meta(_) | TargetError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TargetError::NoSuchTarget(_) => Some("`vsa target list` shows them".into()),
            TargetError::NoSuchLun { target, .. } => {
                Some(format!("`vsa target show {target}` lists its LUNs"))
            }
            TargetError::InUse(e) => e.hint(),
            _ => None,
        }
    }
}

/// A metadata store failure.
pub fn meta(e: impl std::fmt::Display) -> TargetError {
    TargetError::Meta(e.to_string())
}
