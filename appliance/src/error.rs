//! [`ApiError`]: what the API answers when an action fails: an HTTP status, a stable code
//! scripts match on, and a message that says what to do.
//!
//! | status | when | codes |
//! | --- | --- | --- |
//! | 400 | bad input | `invalid_request`, `invalid_size`, `invalid_name`, `invalid_raid`, `bad_member`, `device_not_found`, `pool_required` |
//! | 401 | no or wrong token | `unauthorized` |
//! | 404 | unknown name | `not_found`, `no_such_pool`, `no_such_volume`, `no_such_snapshot`, `no_such_member` |
//! | 409 | conflict | `pool_exists`, `volume_exists`, `snapshot_exists`, `has_clones`, `shrink_would_drop_data`, `not_redundant`, `busy`, `device_busy` |
//! | 500 | the appliance failed | `io_error`, `metadata_error`, `internal` |
//! | 507 | pool full | `space_exhausted` |

use axum::http::StatusCode;
use serde::Serialize;
use vsa_blockdev::ErrorKind;
use vsa_pool::raid::RaidError;
use vsa_pool::{MemberError, PoolError, VolumeError};

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code, e.g. `no_such_volume`.
    pub code: &'static str,
    /// A sentence for people, naming the fix.
    pub message: String,
}

/// The JSON body of an error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The `error` object of an error response.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Stable code.
    pub code: &'a str,
    /// Message.
    pub message: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token; send `Authorization: Bearer <token>` with the token from <data-dir>/token",
        )
    }
}

impl From<crate::size::SizeError> for ApiError {
    fn from(e: crate::size::SizeError) -> Self {
        ApiError::bad_request("invalid_size", e.to_string())
    }
}

fn block_status(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::SpaceExhausted => (StatusCode::INSUFFICIENT_STORAGE, "space_exhausted"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "io_error"),
    }
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            VolumeError::NoSuchVolume(_) => (S::NOT_FOUND, "no_such_volume"),
            VolumeError::VolumeExists(_) => (S::CONFLICT, "volume_exists"),
            VolumeError::NoSuchSnapshot { .. } => (S::NOT_FOUND, "no_such_snapshot"),
            VolumeError::SnapshotExists { .. } => (S::CONFLICT, "snapshot_exists"),
            VolumeError::InvalidName { .. } => (S::BAD_REQUEST, "invalid_name"),
            VolumeError::InvalidSize { .. } => (S::BAD_REQUEST, "invalid_size"),
            VolumeError::ShrinkWouldDropData { .. } => (S::CONFLICT, "shrink_would_drop_data"),
            VolumeError::HasClones { .. } => (S::CONFLICT, "has_clones"),
            VolumeError::SpaceExhausted { .. } => (S::INSUFFICIENT_STORAGE, "space_exhausted"),
            VolumeError::Block(b) => block_status(b.kind()),
            VolumeError::Meta(_) => (S::INTERNAL_SERVER_ERROR, "metadata_error"),
            _ => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<RaidError> for ApiError {
    fn from(e: RaidError) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            RaidError::TooFewMembers { .. }
            | RaidError::OddMemberCount { .. }
            | RaidError::ZeroSizedMember { .. }
            | RaidError::BlockSizeMismatch { .. }
            | RaidError::MemberTooSmall { .. } => (S::BAD_REQUEST, "bad_member"),
            RaidError::InvalidChunkSize { .. } => (S::BAD_REQUEST, "invalid_size"),
            RaidError::NoSuchMember { .. } => (S::NOT_FOUND, "no_such_member"),
            RaidError::NotRedundant { .. } => (S::CONFLICT, "not_redundant"),
            RaidError::Block(b) => block_status(b.kind()),
            _ => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<MemberError> for ApiError {
    fn from(e: MemberError) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            MemberError::NotFound { .. } => (S::BAD_REQUEST, "device_not_found"),
            MemberError::Busy { .. } => (S::CONFLICT, "device_busy"),
            MemberError::Io { .. } => (S::INTERNAL_SERVER_ERROR, "io_error"),
            _ => (S::BAD_REQUEST, "bad_member"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> Self {
        use StatusCode as S;
        match e {
            PoolError::Volume(v) => v.into(),
            PoolError::Raid(r) => r.into(),
            PoolError::Member(m) => m.into(),
            PoolError::Meta(m) => {
                ApiError::new(S::INTERNAL_SERVER_ERROR, "metadata_error", m.to_string())
            }
            PoolError::NoSuchPool(_) => ApiError::new(S::NOT_FOUND, "no_such_pool", e.to_string()),
            PoolError::PoolExists(_) => ApiError::new(S::CONFLICT, "pool_exists", e.to_string()),
            PoolError::Busy { .. } => ApiError::new(S::CONFLICT, "busy", e.to_string()),
            PoolError::NoSuchMember { .. } => {
                ApiError::new(S::NOT_FOUND, "no_such_member", e.to_string())
            }
            PoolError::BadMember { .. } => {
                ApiError::new(S::BAD_REQUEST, "bad_member", e.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsa_blockdev::{BlockError, Op};

    #[test]
    fn maps_pool_errors_to_statuses_and_codes() {
        let cases: Vec<(PoolError, u16, &str)> = vec![
            (PoolError::NoSuchPool("p".into()), 404, "no_such_pool"),
            (PoolError::PoolExists("p".into()), 409, "pool_exists"),
            (
                PoolError::Busy {
                    pool: "p".into(),
                    task: "scrub",
                },
                409,
                "busy",
            ),
            (
                VolumeError::NoSuchVolume("v".into()).into(),
                404,
                "no_such_volume",
            ),
            (
                VolumeError::VolumeExists("v".into()).into(),
                409,
                "volume_exists",
            ),
            (
                VolumeError::InvalidSize {
                    size: 3,
                    why: "x".into(),
                }
                .into(),
                400,
                "invalid_size",
            ),
            (
                VolumeError::HasClones {
                    name: "v".into(),
                    clones: vec!["c".into()],
                }
                .into(),
                409,
                "has_clones",
            ),
            (
                VolumeError::SpaceExhausted {
                    pool: "p".into(),
                    needed: 2,
                    free: 1,
                    chunk_size: 1,
                }
                .into(),
                507,
                "space_exhausted",
            ),
            (
                VolumeError::Block(BlockError::new(
                    ErrorKind::SpaceExhausted,
                    Op::Write,
                    0,
                    512,
                ))
                .into(),
                507,
                "space_exhausted",
            ),
            (
                RaidError::NoSuchMember { index: 9, last: 3 }.into(),
                404,
                "no_such_member",
            ),
            (
                PoolError::NoSuchMember {
                    pool: "p".into(),
                    member: "x".into(),
                },
                404,
                "no_such_member",
            ),
            (
                MemberError::NotFound {
                    path: "/dev/nope".into(),
                }
                .into(),
                400,
                "device_not_found",
            ),
        ];
        for (e, status, code) in cases {
            let msg = e.to_string();
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code), "{msg}");
            assert_eq!(a.message, msg);
        }
    }
}
