//! [`VtlError`]: what can go wrong in the library outside of a SCSI command (which answers
//! with sense data instead).

use vsa_blockdev::BlockError;

/// An error of the tape library.
#[derive(Debug, thiserror::Error)]
pub enum VtlError {
    /// The cartridge store (a pool volume) failed.
    #[error("cartridge store I/O failed: {0}")]
    Io(#[from] BlockError),
    /// The catalog (the appliance's metadata store) failed.
    #[error("catalog: {0}")]
    Catalog(String),
    /// A catalog record could not be decoded (written by a newer version, or damaged).
    #[error("catalog record {key} is damaged: {why}")]
    Corrupt { key: String, why: String },
    /// A user's input was refused (a malformed barcode, a duplicate, a bad range).
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation conflicts with the library's state (a cartridge in a drive, a full
    /// element).
    #[error("{0}")]
    Conflict(String),
    /// Records of writes acknowledged earlier (queued: write-behind) could not be
    /// written; they and every record queued after them are not on the tape.
    #[error("{lost} records acknowledged earlier could not be written: {cause}")]
    Deferred { lost: u64, cause: String },
    /// The cartridge store has no room left.
    #[error("the cartridge store is full: {0}")]
    Full(String),
}

/// The result type of this crate.
pub type Result<T, E = VtlError> = std::result::Result<T, E>;
