//! Test doubles: [`MemDevice`], a sparse in-memory device, and [`FaultyDevice`], a wrapper
//! that fails or corrupts I/O on command or after a countdown. Enabled by the `test-utils`
//! feature so that every crate's tests can use them.

use crate::{check_range, Allocation, BlockDevice, BlockError, ErrorKind, Extent, Op, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

const PAGE: u64 = 64 * 1024;

/// A sparse in-memory block device. Pages of 64 KiB are allocated on first write and
/// released by [`BlockDevice::unmap`] when wholly covered, so a large device costs memory
/// only for what was written. Allocation status is reported per page.
#[derive(Debug)]
pub struct MemDevice {
    size: u64,
    block_size: u32,
    pages: Mutex<HashMap<u64, Box<[u8]>>>,
    flushes: AtomicU64,
    unmaps: AtomicU64,
}

impl MemDevice {
    /// A zero-filled device of `size` bytes (a multiple of `block_size`).
    pub fn new(size: u64, block_size: u32) -> Self {
        assert!(block_size.is_power_of_two() && block_size >= 512);
        assert_eq!(size % u64::from(block_size), 0);
        MemDevice {
            size,
            block_size,
            pages: Mutex::new(HashMap::new()),
            flushes: AtomicU64::new(0),
            unmaps: AtomicU64::new(0),
        }
    }

    /// How many times [`BlockDevice::flush`] was called.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// How many times [`BlockDevice::unmap`] was called.
    pub fn unmaps(&self) -> u64 {
        self.unmaps.load(Ordering::Relaxed)
    }

    /// Bytes of memory held by written pages.
    pub fn resident_bytes(&self) -> u64 {
        self.lock().len() as u64 * PAGE
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Box<[u8]>>> {
        // A panic in another test thread must not hide this thread's result.
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls `f(page index, offset in page, offset in the request, length)` for each page
    /// piece of `[offset, offset + len)`.
    fn pieces(offset: u64, len: u64, mut f: impl FnMut(u64, usize, usize, usize)) {
        let mut done = 0u64;
        while done < len {
            let pos = offset + done;
            let in_page = pos % PAGE;
            let n = (PAGE - in_page).min(len - done);
            f(pos / PAGE, in_page as usize, done as usize, n as usize);
            done += n;
        }
    }
}

impl BlockDevice for MemDevice {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, Op::Read, offset, buf.len() as u64)?;
        let pages = self.lock();
        Self::pieces(offset, buf.len() as u64, |page, at, pos, n| {
            let dst = &mut buf[pos..pos + n];
            match pages.get(&page) {
                Some(p) => dst.copy_from_slice(&p[at..at + n]),
                None => dst.fill(0),
            }
        });
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        check_range(self, Op::Write, offset, buf.len() as u64)?;
        let mut pages = self.lock();
        Self::pieces(offset, buf.len() as u64, |page, at, pos, n| {
            let p = pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE as usize].into_boxed_slice());
            p[at..at + n].copy_from_slice(&buf[pos..pos + n]);
        });
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Unmap, offset, len)?;
        self.unmaps.fetch_add(1, Ordering::Relaxed);
        let mut pages = self.lock();
        Self::pieces(offset, len, |page, at, _, n| {
            if n as u64 == PAGE {
                pages.remove(&page);
            } else if let Some(p) = pages.get_mut(&page) {
                p[at..at + n].fill(0);
            }
        });
        Ok(())
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        check_range(self, Op::Allocation, offset, len)?;
        let pages = self.lock();
        let mut out: Vec<Extent> = Vec::new();
        Self::pieces(offset, len, |page, at, _, n| {
            let status = if pages.contains_key(&page) {
                Allocation::Mapped
            } else {
                Allocation::Deallocated
            };
            let start = page * PAGE + at as u64;
            match out.last_mut() {
                Some(last) if last.status == status => last.len += n as u64,
                _ => out.push(Extent {
                    offset: start,
                    len: n as u64,
                    status,
                }),
            }
        });
        Ok(out)
    }
}

/// A wrapper that injects faults into another device.
///
/// Every read and write counts as one operation. Faults can be switched on directly
/// ([`FaultyDevice::fail`]) or armed to start after a number of further operations
/// ([`FaultyDevice::fail_after`], [`FaultyDevice::corrupt_after`]). A failing device returns
/// [`ErrorKind::Io`] for every read, write and flush; a corrupting device flips bits in the
/// data it writes and reports success, like silent media corruption.
#[derive(Debug)]
pub struct FaultyDevice<D> {
    inner: D,
    ops: AtomicU64,
    fail_at: AtomicU64,
    corrupt_at: AtomicU64,
    failing: AtomicBool,
    fail_reads_only: AtomicBool,
}

impl<D: BlockDevice> FaultyDevice<D> {
    /// Wraps `inner`, with no fault armed.
    pub fn new(inner: D) -> Self {
        FaultyDevice {
            inner,
            ops: AtomicU64::new(0),
            fail_at: AtomicU64::new(u64::MAX),
            corrupt_at: AtomicU64::new(u64::MAX),
            failing: AtomicBool::new(false),
            fail_reads_only: AtomicBool::new(false),
        }
    }

    /// The wrapped device, for checking what really reached it.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// Fails every operation from now on (`true`) or heals the device (`false`).
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
        if !on {
            self.fail_at.store(u64::MAX, Ordering::SeqCst);
        }
    }

    /// When failing, fail only reads (a disk with unreadable sectors) rather than all I/O.
    pub fn fail_reads_only(&self, on: bool) {
        self.fail_reads_only.store(on, Ordering::SeqCst);
    }

    /// Starts failing after `n` more operations succeed.
    pub fn fail_after(&self, n: u64) {
        self.fail_at
            .store(self.ops.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }

    /// Starts corrupting written data after `n` more operations.
    pub fn corrupt_after(&self, n: u64) {
        self.corrupt_at
            .store(self.ops.load(Ordering::SeqCst) + n, Ordering::SeqCst);
    }

    /// Stops corrupting written data.
    pub fn stop_corrupting(&self) {
        self.corrupt_at.store(u64::MAX, Ordering::SeqCst);
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Counts one operation and says whether it must fail.
    fn tick(&self, is_read: bool) -> bool {
        let n = self.ops.fetch_add(1, Ordering::SeqCst);
        if n >= self.fail_at.load(Ordering::SeqCst) {
            self.failing.store(true, Ordering::SeqCst);
        }
        self.failing.load(Ordering::SeqCst)
            && (is_read || !self.fail_reads_only.load(Ordering::SeqCst))
    }

    fn injected(op: Op, offset: u64, len: u64) -> BlockError {
        BlockError::io(op, offset, len, std::io::Error::other("injected fault"))
            .with_device("faulty test device")
    }
}

impl<D: BlockDevice> BlockDevice for FaultyDevice<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        if self.tick(true) {
            return Err(Self::injected(Op::Read, offset, buf.len() as u64));
        }
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let n = self.ops.load(Ordering::SeqCst);
        if self.tick(false) {
            return Err(Self::injected(Op::Write, offset, buf.len() as u64));
        }
        if n >= self.corrupt_at.load(Ordering::SeqCst) && !buf.is_empty() {
            let mut bad = buf.to_vec();
            for b in bad.iter_mut().step_by(97) {
                *b ^= 0x5a;
            }
            return self.inner.write_at(&bad, offset);
        }
        self.inner.write_at(buf, offset)
    }

    fn flush(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) && !self.fail_reads_only.load(Ordering::SeqCst) {
            return Err(Self::injected(Op::Flush, 0, 0));
        }
        self.inner.flush()
    }

    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        if self.tick(false) {
            return Err(Self::injected(Op::Unmap, offset, len));
        }
        self.inner.unmap(offset, len)
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        self.inner.allocation(offset, len)
    }
}

/// Whether an error is the kind a failed medium gives.
pub fn is_io(e: &BlockError) -> bool {
    e.kind() == ErrorKind::Io
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mem_device_is_sparse_and_reports_allocation() {
        let dev = MemDevice::new(1 << 30, 512);
        let mut buf = vec![1u8; 4096];
        dev.read_at(&mut buf, 1 << 29).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        dev.write_at(&[9u8; 4096], PAGE * 3).unwrap();
        assert_eq!(dev.resident_bytes(), PAGE);
        let ext = dev.allocation(PAGE * 2, PAGE * 3).unwrap();
        assert_eq!(
            ext,
            vec![
                Extent {
                    offset: PAGE * 2,
                    len: PAGE,
                    status: Allocation::Deallocated
                },
                Extent {
                    offset: PAGE * 3,
                    len: PAGE,
                    status: Allocation::Mapped
                },
                Extent {
                    offset: PAGE * 4,
                    len: PAGE,
                    status: Allocation::Deallocated
                },
            ]
        );
        dev.unmap(PAGE * 3, PAGE).unwrap();
        assert_eq!(dev.resident_bytes(), 0);
    }

    #[test]
    fn faulty_device_fails_after_countdown_and_heals() {
        let dev = FaultyDevice::new(MemDevice::new(1 << 20, 512));
        dev.fail_after(2);
        dev.write_at(&[1u8; 512], 0).unwrap();
        dev.write_at(&[1u8; 512], 512).unwrap();
        let e = dev.write_at(&[1u8; 512], 1024).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(dev.read_at(&mut [0u8; 512], 0).is_err());
        assert!(dev.flush().is_err());
        dev.fail(false);
        let mut buf = [0u8; 512];
        dev.read_at(&mut buf, 512).unwrap();
        assert_eq!(buf, [1u8; 512]);
    }

    #[test]
    fn faulty_device_corrupts_silently() {
        let dev = FaultyDevice::new(MemDevice::new(1 << 20, 512));
        dev.corrupt_after(0);
        dev.write_at(&[3u8; 1024], 0).unwrap();
        let mut buf = [0u8; 1024];
        dev.read_at(&mut buf, 0).unwrap();
        assert_ne!(buf, [3u8; 1024]);
    }

    #[test]
    fn reads_only_failure_lets_writes_through() {
        let dev = FaultyDevice::new(MemDevice::new(1 << 20, 512));
        dev.fail_reads_only(true);
        dev.fail(true);
        dev.write_at(&[3u8; 512], 0).unwrap();
        assert!(dev.read_at(&mut [0u8; 512], 0).is_err());
    }

    proptest! {
        #[test]
        fn mem_device_matches_a_flat_buffer(ops in proptest::collection::vec(
            (0u64..256, 1u64..64, any::<u8>(), any::<bool>()), 1..40)) {
            let size = 256 * 512 * 4;
            let dev = MemDevice::new(size, 512);
            let mut model = vec![0u8; size as usize];
            for (blk, n, byte, unmap) in ops {
                let off = blk * 512 * 2;
                let len = (n * 512).min(size - off);
                if unmap {
                    dev.unmap(off, len).unwrap();
                    model[off as usize..(off + len) as usize].fill(0);
                } else {
                    dev.write_at(&vec![byte; len as usize], off).unwrap();
                    model[off as usize..(off + len) as usize].fill(byte);
                }
            }
            let mut all = vec![0u8; size as usize];
            dev.read_at(&mut all, 0).unwrap();
            prop_assert!(all == model);
        }
    }
}
