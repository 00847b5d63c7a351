//! Error types of the transport, one per concern.

use std::io;

/// A PDU header that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    #[error("opcode {0:#04x} is not an iSCSI opcode")]
    UnknownOpcode(u8),
    #[error("the additional header segment is malformed")]
    BadAhs,
}

/// Framing failures while reading PDUs from a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("the peer closed the connection in the middle of a PDU")]
    Truncated,
    #[error("the data segment of {len} bytes exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the header digest does not match")]
    HeaderDigest,
    /// The data digest did not match; the header is good, so the PDU can be rejected.
    #[error("the data digest does not match")]
    DataDigest(Box<crate::pdu::RawPdu>),
}

/// Why a login failed; each maps to a Login Response status class and detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    #[error("the initiator failed authentication")]
    AuthenticationFailed,
    #[error("the initiator may not access this target")]
    AuthorizationFailure,
    #[error("the requested target does not exist")]
    NotFound,
    #[error("the target has been removed")]
    TargetRemoved,
    #[error("no common iSCSI version")]
    UnsupportedVersion,
    #[error("too many connections in the session")]
    TooManyConnections,
    #[error("a required key is missing")]
    MissingParameter,
    #[error("the session type is not supported on this target")]
    SessionTypeNotSupported,
    #[error("the session to add a connection to does not exist")]
    SessionDoesNotExist,
    #[error("the login request is not valid")]
    InvalidRequest,
    #[error("the initiator erred during login")]
    InitiatorError,
    /// A Login Request's data segment is longer than the 8192 bytes a login may carry.
    #[error("a login request carried a data segment of {0} bytes, over the 8192 allowed")]
    DataSegmentTooLong(usize),
    #[error("the target is out of resources")]
    OutOfResources,
    /// A limit of the target's (sessions, sessions per initiator, logins at once).
    #[error("the target's limit on {0} is reached")]
    LimitReached(crate::admission::Limit),
    #[error("the target failed")]
    TargetError,
}

impl LoginError {
    /// Status-Class and Status-Detail (RFC 7143 11.13.5).
    pub fn status(self) -> (u8, u8) {
        match self {
            Self::InitiatorError | Self::DataSegmentTooLong(_) => (2, 0x00),
            Self::AuthenticationFailed => (2, 0x01),
            Self::AuthorizationFailure => (2, 0x02),
            Self::NotFound => (2, 0x03),
            Self::TargetRemoved => (2, 0x04),
            Self::UnsupportedVersion => (2, 0x05),
            Self::TooManyConnections => (2, 0x06),
            Self::MissingParameter => (2, 0x07),
            Self::SessionTypeNotSupported => (2, 0x09),
            Self::SessionDoesNotExist => (2, 0x0A),
            Self::InvalidRequest => (2, 0x0B),
            Self::TargetError => (3, 0x00),
            Self::OutOfResources | Self::LimitReached(_) => (3, 0x02),
        }
    }
}
