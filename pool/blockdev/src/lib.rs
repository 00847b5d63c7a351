//! The block-device contract of vsa.
//!
//! [`BlockDevice`] is the one trait for "a thing that stores blocks". Member devices (files,
//! disks), RAID sets and pool volumes implement it, and the SCSI target, the tape library
//! and the VMM consume it, so every layer composes with every other without glue:
//!
//! ```text
//!   scsi::Disk   vtl::TapeDrive   vmm virtio-blk        consumers
//!        \            |            /
//!         +---- dyn BlockDevice --+                       this crate
//!        /            |            \
//!   pool::Volume  pool::RaidSet  pool::Member             implementations
//! ```
//!
//! The trait is synchronous, positional and takes `&self`: many threads may call one device
//! at once, and each call stands alone (no seek position, no open/close). Offsets and
//! lengths are in bytes and must be multiples of [`BlockDevice::block_size`].
//!
//! Errors are one type, [`BlockError`], whose [`ErrorKind`] callers match on (the SCSI layer
//! maps each kind to one sense code) and which carries the operation, the range and the
//! cause for people reading logs.
//!
//! With the `test-utils` feature, [`testing`] provides an in-memory device and a
//! fault-injecting wrapper that every crate's tests can put anywhere in a stack.
#![forbid(unsafe_code)]

mod error;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;

pub use bytes::Bytes;
pub use error::{BlockError, ErrorKind, Op};

use std::sync::Arc;

/// Result of a block-device operation.
pub type Result<T> = std::result::Result<T, BlockError>;

/// Whether a range of a device holds data (is backed by storage) or reads as zeros
/// without any storage behind it (SCSI GET LBA STATUS "deallocated").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allocation {
    /// Backed by storage.
    Mapped,
    /// Not backed; reads return zeros.
    Deallocated,
}

/// A run of bytes with one allocation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Byte offset of the run.
    pub offset: u64,
    /// Length of the run in bytes.
    pub len: u64,
    /// Its status.
    pub status: Allocation,
}

/// A thing that stores blocks.
///
/// Implementations must be safe to call from many threads at once. A call either succeeds
/// completely or returns an error; after a failed write the contents of the range are
/// unspecified (as with any disk), but nothing outside it is changed.
pub trait BlockDevice: Send + Sync + std::fmt::Debug {
    /// The logical block size in bytes: a power of two, at least 512. Every offset and
    /// length passed to this device is a multiple of it.
    fn block_size(&self) -> u32;

    /// The capacity in bytes, a multiple of the block size.
    fn size(&self) -> u64;

    /// Reads `buf.len()` bytes starting at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;

    /// Reads like [`read_at`](Self::read_at), for data read once, in sequence (a tape read
    /// back): a RAM cache in the stack reads it from below and keeps none of it, so the
    /// stream neither pays for copying it in nor pushes out what is read again and again
    /// (the blocks of LUNs). The default: `read_at`.
    fn read_once_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.read_at(buf, offset)
    }

    /// Reads like [`read_at`](Self::read_at), but only if that needs no waiting: the
    /// data is in memory (a RAM cache) and no lock is contended. `None` when the read
    /// would have to wait for storage or a lock; then nothing was done and the caller
    /// reads with `read_at` on a thread that may block (the idea of Linux's
    /// `RWF_NOWAIT`). The default: always `None`.
    fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<Result<()>> {
        let _ = (buf, offset);
        None
    }

    /// Like [`try_read_at`](Self::try_read_at), but hands the `len` bytes at `offset` out
    /// as shared buffers appended to `out` in order, for a caller that sends them on as
    /// they are (a RAM cache gives out its pages instead of copying them, and need not
    /// zero a buffer first). On `None` or an error `out` is left as it was. The default
    /// appends one buffer filled by `try_read_at`.
    fn try_read_shared(&self, out: &mut Vec<Bytes>, offset: u64, len: usize) -> Option<Result<()>> {
        let mut buf = vec![0u8; len];
        let r = self.try_read_at(&mut buf, offset);
        if matches!(r, Some(Ok(()))) {
            out.push(Bytes::from(buf));
        }
        r
    }

    /// Writes `buf` starting at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()>;

    /// Writes like [`write_at`](Self::write_at), but only if that needs no waiting for
    /// storage, another thread or a contended lock (a write journal with room appends to
    /// its log, which the operating system takes at once). `None` when it would wait; the
    /// caller then writes with `write_at` on a thread that may block (nothing observable
    /// was done). The default: always `None`.
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
        let _ = (buf, offset);
        None
    }

    /// Reads `bufs.iter().map(|b| b.len()).sum()` consecutive bytes starting at `offset`
    /// into `bufs` in order (scatter): one request where the device can make it one (a
    /// file member uses `preadv`). The default reads into one buffer and copies out.
    fn read_vectored_at(&self, bufs: &mut [&mut [u8]], offset: u64) -> Result<()> {
        if let [one] = bufs {
            return self.read_at(one, offset);
        }
        let mut tmp = vec![0u8; bufs.iter().map(|b| b.len()).sum()];
        self.read_at(&mut tmp, offset)?;
        let mut pos = 0;
        for b in bufs.iter_mut() {
            b.copy_from_slice(&tmp[pos..pos + b.len()]);
            pos += b.len();
        }
        Ok(())
    }

    /// Writes `bufs` one after another starting at `offset` (gather): one request where
    /// the device can make it one (a file member uses `pwritev`). The default copies them
    /// into one buffer and writes that.
    fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> Result<()> {
        if let [one] = bufs {
            return self.write_at(one, offset);
        }
        self.write_at(&bufs.concat(), offset)
    }

    /// Makes every write that completed before this call durable.
    fn flush(&self) -> Result<()>;

    /// Discards `len` bytes at `offset`; afterwards the range reads as zeros. Devices that
    /// cannot release storage write zeros (the default).
    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Unmap, offset, len)?;
        write_zeros(self, offset, len)
    }

    /// The allocation status of `[offset, offset + len)`, as consecutive extents that cover
    /// the range exactly. The default reports everything mapped.
    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        check_range(self, Op::Allocation, offset, len)?;
        Ok(vec![Extent {
            offset,
            len,
            status: Allocation::Mapped,
        }])
    }

    /// The write size, in bytes, the device handles best: a write of a whole multiple of it
    /// at an offset that is a multiple of it needs no read-modify-write (a RAID 5/6 set's
    /// data stripe; SCSI's optimal transfer length granularity). A multiple of the block
    /// size. The default: the block size.
    fn io_granularity(&self) -> u64 {
        u64::from(self.block_size())
    }

    /// Whether the storage behind the device is running low: a thin pool whose free space
    /// fell below its low-space threshold. Writes still succeed; the SCSI layer tells
    /// initiators (THIN PROVISIONING SOFT THRESHOLD REACHED). The default: never.
    fn space_low(&self) -> bool {
        false
    }

    /// For a device that checksums its blocks, the unit in bytes it keeps one checksum
    /// for (a power of two, a multiple of the block size): reads of it are verified whole,
    /// a block that does not match fails with [`ErrorKind::Corrupt`], and a write of less
    /// than a whole unit is a read-modify-write inside the device, which fails the same way
    /// if the part kept no longer matches. The default: `None`, no checksums.
    fn checksum_granularity(&self) -> Option<u32> {
        None
    }

    /// For a device that checksums its blocks: takes what `[offset, offset + len)` holds
    /// now as correct and recomputes its checksums. After an unclean stop, writes that had
    /// not been flushed may have reached the medium without their checksums (or the
    /// reverse); the caller knows which ranges may hold such writes (a RAID set's dirty
    /// regions) and calls this for them before serving reads. The default: nothing to do.
    fn resync_checksums(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Write, offset, len)
    }

    /// For a device that checksums its blocks: makes the checksums of what it holds
    /// durable (a [`BlockDevice::flush`] makes the data durable, not necessarily its
    /// checksums: the caller knows when it needs them, e.g. before it forgets that a range
    /// may hold unflushed writes). Call after `flush`. The default: nothing to do.
    fn save_checksums(&self) -> Result<()> {
        Ok(())
    }

    /// For a device that checksums its blocks: marks `[offset, offset + len)` (whole
    /// checksum units) as lost, so that reads of it fail with [`ErrorKind::Corrupt`] until
    /// it is written again whole (a RAID rebuild that cannot reconstruct a block writes
    /// this instead of data it does not have). The default: unsupported.
    fn poison(&self, offset: u64, len: u64) -> Result<()> {
        Err(
            BlockError::new(ErrorKind::Unsupported, Op::Write, offset, len)
                .with_detail("the device keeps no checksums, so it cannot mark blocks as lost"),
        )
    }
}

/// Checks that `[offset, offset + len)` is block-aligned and inside `dev`; every
/// implementation calls this first so that all of them reject bad ranges alike.
pub fn check_range<D: BlockDevice + ?Sized>(dev: &D, op: Op, offset: u64, len: u64) -> Result<()> {
    let bs = u64::from(dev.block_size());
    if offset % bs != 0 || len % bs != 0 {
        return Err(
            BlockError::new(ErrorKind::Misaligned, op, offset, len).with_detail(format!(
                "offset and length must be multiples of the {bs}-byte block size"
            )),
        );
    }
    match offset.checked_add(len) {
        Some(end) if end <= dev.size() => Ok(()),
        _ => Err(BlockError::new(ErrorKind::OutOfRange, op, offset, len)
            .with_detail(format!("the device holds {} bytes", dev.size()))),
    }
}

/// Writes zeros over `[offset, offset + len)` in bounded pieces.
pub fn write_zeros<D: BlockDevice + ?Sized>(dev: &D, offset: u64, len: u64) -> Result<()> {
    const PIECE: u64 = 1 << 20;
    let zeros = vec![0u8; PIECE.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = PIECE.min(len - done);
        dev.write_at(&zeros[..n as usize], offset + done)?;
        done += n;
    }
    Ok(())
}

macro_rules! forward_block_device {
    ($ty:ty) => {
        impl<T: BlockDevice + ?Sized> BlockDevice for $ty {
            fn block_size(&self) -> u32 {
                (**self).block_size()
            }
            fn size(&self) -> u64 {
                (**self).size()
            }
            fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
                (**self).read_at(buf, offset)
            }
            fn read_once_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
                (**self).read_once_at(buf, offset)
            }
            fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<Result<()>> {
                (**self).try_read_at(buf, offset)
            }
            fn try_read_shared(
                &self,
                out: &mut Vec<Bytes>,
                offset: u64,
                len: usize,
            ) -> Option<Result<()>> {
                (**self).try_read_shared(out, offset, len)
            }
            fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
                (**self).write_at(buf, offset)
            }
            fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
                (**self).try_write_at(buf, offset)
            }
            fn read_vectored_at(&self, bufs: &mut [&mut [u8]], offset: u64) -> Result<()> {
                (**self).read_vectored_at(bufs, offset)
            }
            fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> Result<()> {
                (**self).write_vectored_at(bufs, offset)
            }
            fn flush(&self) -> Result<()> {
                (**self).flush()
            }
            fn unmap(&self, offset: u64, len: u64) -> Result<()> {
                (**self).unmap(offset, len)
            }
            fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
                (**self).allocation(offset, len)
            }
            fn io_granularity(&self) -> u64 {
                (**self).io_granularity()
            }
            fn space_low(&self) -> bool {
                (**self).space_low()
            }
            fn checksum_granularity(&self) -> Option<u32> {
                (**self).checksum_granularity()
            }
            fn resync_checksums(&self, offset: u64, len: u64) -> Result<()> {
                (**self).resync_checksums(offset, len)
            }
            fn save_checksums(&self) -> Result<()> {
                (**self).save_checksums()
            }
            fn poison(&self, offset: u64, len: u64) -> Result<()> {
                (**self).poison(offset, len)
            }
        }
    };
}

forward_block_device!(Arc<T>);
forward_block_device!(Box<T>);

#[cfg(test)]
mod tests {
    use super::testing::MemDevice;
    use super::*;

    /// A device with the trait's defaults but for a `try_read_at` that serves its first
    /// half only.
    #[derive(Debug)]
    struct Plain(MemDevice);

    impl BlockDevice for Plain {
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
            self.0.read_at(buf, offset)
        }
        fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<Result<()>> {
            (offset + buf.len() as u64 <= self.size() / 2).then(|| self.read_at(buf, offset))
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
            self.0.write_at(buf, offset)
        }
        fn flush(&self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn try_read_shared_defaults_to_one_buffer_from_try_read_at() {
        let dev = Plain(MemDevice::new(8192, 512));
        dev.write_at(&[5u8; 1024], 1024).unwrap();
        let mut out = vec![Bytes::from_static(b"x")];
        assert!(matches!(
            dev.try_read_shared(&mut out, 1024, 1024),
            Some(Ok(()))
        ));
        assert_eq!(out.len(), 2);
        assert!(out[1].len() == 1024 && out[1].iter().all(|&b| b == 5));
        assert!(
            dev.try_read_shared(&mut out, 4096, 512).is_none(),
            "not hot"
        );
        assert!(matches!(
            dev.try_read_shared(&mut out, 1, 512),
            Some(Err(_))
        ));
        assert_eq!(out.len(), 2, "a refused or failed read appends nothing");
    }

    #[test]
    fn vectored_defaults_gather_and_scatter_in_order() {
        let dev = Plain(MemDevice::new(8192, 512));
        let (a, b, c) = ([1u8; 512], [2u8; 1024], [3u8; 512]);
        dev.write_vectored_at(&[&a, &b, &c], 1024).unwrap();
        let mut flat = vec![0u8; 2048];
        dev.read_at(&mut flat, 1024).unwrap();
        assert_eq!(flat, [&a[..], &b[..], &c[..]].concat());
        let (mut x, mut y) = ([0u8; 1536], [0u8; 512]);
        dev.read_vectored_at(&mut [&mut x, &mut y], 1024).unwrap();
        assert_eq!([&x[..], &y[..]].concat(), flat);
        let e = dev.write_vectored_at(&[&a, &b], 7168).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange, "checked as one range");
    }

    #[test]
    fn check_range_rejects_misaligned_and_out_of_range() {
        let dev = MemDevice::new(1 << 20, 512);
        assert!(check_range(&dev, Op::Read, 0, 512).is_ok());
        assert!(check_range(&dev, Op::Read, (1 << 20) - 512, 512).is_ok());
        let e = check_range(&dev, Op::Read, 1, 512).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Misaligned);
        let e = check_range(&dev, Op::Write, 1 << 20, 512).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange);
        assert!(e.to_string().contains("1048576 bytes"), "{e}");
        let e = check_range(&dev, Op::Write, u64::MAX - 511, 512).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange);
    }

    #[test]
    fn default_unmap_writes_zeros() {
        let dev = Plain(MemDevice::new(8192, 512));
        dev.write_at(&[7u8; 8192], 0).unwrap();
        dev.unmap(1024, 2048).unwrap();
        let mut buf = vec![0u8; 8192];
        dev.read_at(&mut buf, 0).unwrap();
        assert!(buf[..1024].iter().all(|&b| b == 7));
        assert!(buf[1024..3072].iter().all(|&b| b == 0));
        assert!(buf[3072..].iter().all(|&b| b == 7));
        assert_eq!(
            dev.allocation(0, 8192).unwrap(),
            vec![Extent {
                offset: 0,
                len: 8192,
                status: Allocation::Mapped
            }]
        );
    }
}
