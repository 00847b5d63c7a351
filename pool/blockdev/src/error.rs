//! [`BlockError`]: one error for every block device, with a kind callers match on.

use std::fmt;

/// What went wrong, in the terms a caller acts on. The SCSI layer maps each kind to one
/// sense code; the pool decides from it whether a member has failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The range ends past the end of the device.
    OutOfRange,
    /// The offset or length is not a multiple of the block size.
    Misaligned,
    /// The medium failed to read or write (EIO and friends).
    Io,
    /// The device, or too many members of a RAID set, has failed; no I/O is possible.
    DeviceFailed,
    /// The pool has no free space left for a write that needs new space.
    SpaceExhausted,
    /// The device is read-only (a snapshot, a read-only LUN).
    ReadOnly,
    /// The device does not support this operation.
    Unsupported,
    /// An argument other than the range is wrong.
    InvalidArgument,
    /// Stored data or metadata failed a consistency check.
    Corrupt,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::OutOfRange => "out of range",
            ErrorKind::Misaligned => "misaligned",
            ErrorKind::Io => "I/O error",
            ErrorKind::DeviceFailed => "device failed",
            ErrorKind::SpaceExhausted => "space exhausted",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Corrupt => "corrupt",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`crate::BlockDevice::read_at`]
    Read,
    /// [`crate::BlockDevice::write_at`]
    Write,
    /// [`crate::BlockDevice::flush`]
    Flush,
    /// [`crate::BlockDevice::unmap`]
    Unmap,
    /// [`crate::BlockDevice::allocation`]
    Allocation,
    /// Opening or sizing a device.
    Open,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Flush => "flush",
            Op::Unmap => "unmap",
            Op::Allocation => "allocation status",
            Op::Open => "open",
        })
    }
}

/// A failed block-device operation: its kind, the operation and range, the device, a
/// detail sentence and the underlying cause.
#[derive(Debug)]
pub struct BlockError {
    kind: ErrorKind,
    op: Op,
    offset: u64,
    len: u64,
    device: Option<String>,
    detail: Option<String>,
    source: Option<std::io::Error>,
}

impl BlockError {
    /// An error of `kind` for `op` on `len` bytes at `offset`.
    pub fn new(kind: ErrorKind, op: Op, offset: u64, len: u64) -> Self {
        BlockError {
            kind,
            op,
            offset,
            len,
            device: None,
            detail: None,
            source: None,
        }
    }

    /// An [`ErrorKind::Io`] error caused by `source`.
    pub fn io(op: Op, offset: u64, len: u64, source: std::io::Error) -> Self {
        BlockError::new(ErrorKind::Io, op, offset, len).with_source(source)
    }

    /// Names the device (a path, a volume name) the error happened on, if not yet named.
    pub fn with_device(mut self, device: impl Into<String>) -> Self {
        if self.device.is_none() {
            self.device = Some(device.into());
        }
        self
    }

    /// Adds a sentence saying more about the problem or how to fix it.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Records the underlying OS error.
    pub fn with_source(mut self, source: std::io::Error) -> Self {
        self.source = Some(source);
        self
    }

    /// The same error seen from another layer: same kind, cause and detail, but the
    /// operation and range of the caller (a RAID set reporting its member's failure).
    pub fn at(mut self, op: Op, offset: u64, len: u64) -> Self {
        self.op = op;
        self.offset = offset;
        self.len = len;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The failed operation.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The byte offset of the failed range.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The length of the failed range.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the failed range was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device's name, if known.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// The detail sentence, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} bytes at offset {}",
            self.op, self.len, self.offset
        )?;
        if let Some(dev) = &self.device {
            write!(f, " on {dev}")?;
        }
        write!(f, " failed: {}", self.kind)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for BlockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_operation_device_and_cause() {
        let e = BlockError::io(
            Op::Write,
            4096,
            512,
            std::io::Error::from_raw_os_error(libc_eio()),
        )
        .with_device("/dev/sdb")
        .with_detail("the member was marked faulty");
        let s = e.to_string();
        assert!(s.starts_with("write of 512 bytes at offset 4096 on /dev/sdb failed: I/O error: the member was marked faulty"), "{s}");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(std::error::Error::source(&e).is_some());
        let e = e.at(Op::Read, 0, 1024);
        assert_eq!((e.op(), e.offset(), e.len()), (Op::Read, 0, 1024));
        assert_eq!(e.device(), Some("/dev/sdb"));
    }

    fn libc_eio() -> i32 {
        5
    }
}
