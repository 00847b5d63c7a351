//! What the tape library component refuses, with stable codes and HTTP statuses.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `invalid_library`, `invalid_tape`, `invalid_size` |
//! | 404 | `no_such_library`, `no_such_tape`, `no_such_element` |
//! | 409 | `library_exists`, `target_exists`, `tape_exists`, `library_busy`, `tape_conflict`, `volume_in_use` |
//! | 507 | `store_full` |
//! | 500 | `metadata_error`, `internal` |

use crate::core::{ApiError, ErrorCode, InUse, NameTaken};
use axum::http::StatusCode;
use vsa_vtl::VtlError;

/// A tape library operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryError {
    #[error("there is no tape library '{0}'")]
    NoSuchLibrary(String),
    #[error("tape library '{0}' already exists")]
    LibraryExists(String),
    /// Bad settings for a library (a name, a count, a model).
    #[error("{0}")]
    InvalidLibrary(String),
    /// A malformed barcode or tape setting.
    #[error("{0}")]
    InvalidTape(String),
    #[error("tape library '{library}' has no cartridge {barcode}")]
    NoSuchTape { library: String, barcode: String },
    #[error("{0}")]
    NoSuchElement(String),
    #[error("{0}")]
    TapeExists(String),
    /// The library holds cartridges (delete needs them gone, or force).
    #[error("{0}")]
    Busy(String),
    /// The operation conflicts with where a cartridge is (in a drive, a full slot).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    NameTaken(NameTaken),
    #[error(transparent)]
    InUse(#[from] InUse),
    #[error("the cartridge store is full: {0}")]
    Full(String),
    /// The store volume's owner refused (pools).
    #[error(transparent)]
    Volume(ApiError),
    #[error("cannot write the tape library's records: {0}")]
    Meta(String),
    #[error("{0}")]
    Internal(String),
}

impl From<VtlError> for LibraryError {
    fn from(e: VtlError) -> Self {
        match e {
            VtlError::Invalid(m) => LibraryError::InvalidTape(m),
            VtlError::NotFound(m) => LibraryError::NoSuchElement(format!("{m} not found")),
            VtlError::Conflict(m) => LibraryError::Conflict(m),
            VtlError::Full(m) => LibraryError::Full(m),
            VtlError::Catalog(m) => LibraryError::Meta(m),
            e @ (VtlError::Io(_) | VtlError::Corrupt { .. } | VtlError::Deferred { .. }) => {
                LibraryError::Internal(e.to_string())
            }
        }
    }
}

impl ErrorCode for LibraryError {
    fn code(&self) -> &'static str {
        match self {
            LibraryError::NoSuchLibrary(_) => "no_such_library",
            LibraryError::LibraryExists(_) => "library_exists",
            LibraryError::InvalidLibrary(_) => "invalid_library",
            LibraryError::InvalidTape(_) => "invalid_tape",
            LibraryError::NoSuchTape { .. } => "no_such_tape",
            LibraryError::NoSuchElement(_) => "no_such_element",
            LibraryError::TapeExists(_) => "tape_exists",
            LibraryError::Busy(_) => "library_busy",
            LibraryError::Conflict(_) => "tape_conflict",
            LibraryError::NameTaken(_) => "target_exists",
            LibraryError::InUse(e) => e.code(),
            LibraryError::Full(_) => "store_full",
            LibraryError::Volume(e) => e.code,
            LibraryError::Meta(_) => "metadata_error",
            LibraryError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        use LibraryError as E;
        use StatusCode as S;
        match self {
            E::InvalidLibrary(_) | E::InvalidTape(_) => S::BAD_REQUEST,
            E::NoSuchLibrary(_) | E::NoSuchTape { .. } | E::NoSuchElement(_) => S::NOT_FOUND,
            E::LibraryExists(_) | E::TapeExists(_) | E::Busy(_) | E::Conflict(_) => S::CONFLICT,
            E::NameTaken(_) => S::CONFLICT,
            E::InUse(e) => e.status(),
            E::Full(_) => S::INSUFFICIENT_STORAGE,
            E::Volume(e) => e.status,
            E::Meta(_) | E::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LibraryError::NoSuchLibrary(_) => Some("`vsa vtl list` shows them".into()),
            LibraryError::NoSuchTape { library, .. } => Some(format!(
                "`vsa vtl tape list {library}` shows its cartridges"
            )),
            LibraryError::InUse(e) => e.hint(),
            _ => None,
        }
    }
}

/// A metadata store failure.
pub fn meta(e: impl std::fmt::Display) -> LibraryError {
    LibraryError::Meta(e.to_string())
}
