//! End-to-end checksums of a pool member: [`IntegrityDevice`] wraps a member and keeps a
//! CRC32C of every 4 KiB block it holds, in the metadata database, so that whatever the
//! medium returns is checked before anybody sees it. A block that does not match its
//! checksum is reported as [`ErrorKind::Corrupt`] (never returned as data); the RAID set
//! above then rebuilds it from redundancy and writes it back, or, with no redundancy
//! left, answers with a medium error.
//!
//! # Checksums
//!
//! The checksum of a block is `crc32c(block) XOR crc32c(4096 zero bytes)`, so a block of
//! zeros has checksum 0: a member that was never written (a new sparse file) and a page of
//! checksums that was never stored agree without anything being written, and a discard
//! sets checksums to 0.
//!
//! # When checksums and data agree on the medium
//!
//! A write updates the data on the member, then the checksum page in memory. A flush
//! syncs the member; [`BlockDevice::save_checksums`] (after a flush) saves the changed
//! pages in one write to the database, durable with the database's next synced write (its
//! log is kept in order). The RAID set calls it only before it cleans dirty regions (and
//! before it records rebuild progress), so a flush costs no database write.
//! A crash can leave a block whose data and checksum disagree only if it was written
//! since the last flush; the RAID set marks every region durably dirty before writing to
//! it and clears the mark only after a flush, so at the next open it calls
//! [`BlockDevice::resync_checksums`] for the regions still marked, before serving: those
//! blocks' checksums are recomputed from what the medium holds (unflushed writes carry no
//! promise). Everywhere else the checksums are those of the data last flushed.
//!
//! # Building checksums for members that had none
//!
//! Members of pools made before checksums existed have none stored. Such a device starts
//! with a build watermark of 0: blocks below the watermark are verified, blocks above are
//! not yet, and [`IntegrityDevice::build_step`] computes the next piece (the pool runs it
//! in the background, with progress) and saves the watermark with the pages.

mod store;
mod table;
#[cfg(test)]
mod tests;

pub use store::{MemSums, MemberKey, SumStore, PAGE_BLOCKS, PAGE_BYTES};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use table::SumTable;
use vsa_blockdev::{check_range, BlockDevice, BlockError, ErrorKind, Extent, Op, Result};

/// Bytes per checksum.
pub const SUM_BLOCK: u64 = 4096;

/// The checksum kept for a block marked lost: it holds zeros, whose checksum is 0.
const LOST: u32 = u32::MAX;

/// The checksum of a 4 KiB block (0 for zeros).
pub fn sum(block: &[u8]) -> u32 {
    crc32c::crc32c(block) ^ zero_crc()
}

fn zero_crc() -> u32 {
    static Z: OnceLock<u32> = OnceLock::new();
    *Z.get_or_init(|| crc32c::crc32c(&[0u8; SUM_BLOCK as usize]))
}

/// What an [`IntegrityDevice`] has seen.
#[derive(Debug, Default)]
pub struct IntegrityStats {
    /// Blocks whose data did not match their checksum, found by reads.
    pub mismatches: AtomicU64,
}

/// A member whose blocks are checked against their checksums; see the module docs.
#[derive(Debug)]
pub struct IntegrityDevice<D> {
    inner: D,
    name: String,
    table: SumTable,
    /// Checksums below this byte offset are known (the device's size once built).
    built: AtomicU64,
    stats: IntegrityStats,
}

fn blocks_of(offset: u64, len: u64) -> std::ops::Range<u64> {
    offset / SUM_BLOCK..(offset + len).div_ceil(SUM_BLOCK)
}

fn aligned(offset: u64, len: u64) -> bool {
    offset % SUM_BLOCK == 0 && len % SUM_BLOCK == 0
}

impl<D: BlockDevice> IntegrityDevice<D> {
    /// Wraps `inner`, named `name` in messages, with its checksums in `store` under `key`.
    /// `new_member`: the device was just formatted and reads as zeros (or will be
    /// resynchronized before use), so its checksums count as built; otherwise the build
    /// watermark is the one saved (0 if none: checksums still to be built).
    pub fn open(
        inner: D,
        name: impl Into<String>,
        key: MemberKey,
        store: Arc<dyn SumStore>,
        new_member: bool,
    ) -> Result<IntegrityDevice<D>> {
        let size = inner.size();
        let table = SumTable::new(key, store);
        let built = if new_member {
            table.save_dirty(Some(size))?;
            size
        } else {
            table.built()?.unwrap_or(0).min(size)
        };
        Ok(IntegrityDevice {
            inner,
            name: name.into(),
            table,
            built: AtomicU64::new(built),
            stats: IntegrityStats::default(),
        })
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// What it has seen.
    pub fn stats(&self) -> &IntegrityStats {
        &self.stats
    }

    /// Bytes from the start whose checksums are known (the size once built).
    pub fn built(&self) -> u64 {
        self.built.load(Ordering::Acquire)
    }

    /// Checks `buf` (read at `offset`, whole blocks) against the checksums; returns the
    /// offset of the first block that does not match.
    fn first_mismatch(&self, bufs: &[&[u8]], offset: u64) -> Result<Option<u64>> {
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let limit = self.built().min(offset + len);
        if limit <= offset {
            return Ok(None);
        }
        let blocks = blocks_of(offset, limit - offset);
        let mut want = vec![0u32; (blocks.end - blocks.start) as usize];
        self.table.get(blocks.start, &mut want)?;
        let mut pieces = Pieces::new(bufs);
        for (i, w) in want.iter().enumerate() {
            if pieces.next_sum() != *w {
                return Ok(Some(offset + i as u64 * SUM_BLOCK));
            }
        }
        Ok(None)
    }

    fn corrupt(&self, op: Op, at: u64) -> BlockError {
        self.stats.mismatches.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(member = %self.name, offset = at, "block does not match its checksum");
        BlockError::new(ErrorKind::Corrupt, op, at, SUM_BLOCK)
            .with_device(self.name.clone())
            .with_detail(format!(
                "the 4 KiB block at offset {at} does not match its checksum (silent corruption on the medium)"
            ))
    }

    /// Reads whole blocks into `bufs` and verifies them. A mismatch is checked again with
    /// the pages held exclusive (a write may have been between its data and checksum),
    /// unless the caller holds them already (`held`).
    fn read_verified(&self, bufs: &mut [&mut [u8]], offset: u64, held: bool) -> Result<()> {
        self.inner.read_vectored_at(bufs, offset)?;
        let Some(at) = self.first_mismatch(&as_shared(bufs), offset)? else {
            return Ok(());
        };
        if held {
            return Err(self.corrupt(Op::Read, at));
        }
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let _g = self.table.exclusive(blocks_of(offset, len));
        self.inner.read_vectored_at(bufs, offset)?;
        match self.first_mismatch(&as_shared(bufs), offset)? {
            None => Ok(()),
            Some(at) => Err(self.corrupt(Op::Read, at)),
        }
    }

    /// Reads `[offset, offset + len)` widened to whole blocks, verified, into a new buffer;
    /// returns it with the widened start.
    fn read_blocks(&self, offset: u64, len: u64, held: bool) -> Result<(Vec<u8>, u64)> {
        let start = offset / SUM_BLOCK * SUM_BLOCK;
        let end = ((offset + len).div_ceil(SUM_BLOCK) * SUM_BLOCK).min(self.inner.size());
        let mut buf = vec![0u8; (end - start) as usize];
        self.read_verified(&mut [&mut buf], start, held)?;
        Ok((buf, start))
    }

    /// Writes whole blocks and records their checksums; the caller holds their pages.
    fn write_blocks(&self, bufs: &[&[u8]], offset: u64) -> Result<()> {
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let mut pieces = Pieces::new(bufs);
        let sums: Vec<u32> = blocks_of(offset, len).map(|_| pieces.next_sum()).collect();
        self.inner.write_vectored_at(bufs, offset)?;
        self.table.set(offset / SUM_BLOCK, &sums)
    }

    /// A write that does not cover whole blocks: read the blocks (verified), lay the new
    /// bytes over them, write them back, all with their pages exclusive.
    fn write_partial(&self, buf: &[u8], offset: u64) -> Result<()> {
        let len = buf.len() as u64;
        let _g = self.table.exclusive(blocks_of(offset, len));
        let (mut blocks, start) = self
            .read_blocks(offset, len, true)
            .map_err(|e| e.at(Op::Write, offset, len))?;
        let at = (offset - start) as usize;
        blocks[at..at + buf.len()].copy_from_slice(buf);
        self.write_blocks(&[&blocks], start)
    }

    /// Computes the checksums of `[offset, offset + len)` (whole blocks) from what the
    /// medium holds, with their pages exclusive.
    fn recompute(&self, offset: u64, len: u64) -> Result<()> {
        const PIECE: u64 = PAGE_BLOCKS * SUM_BLOCK;
        let mut pos = offset / SUM_BLOCK * SUM_BLOCK;
        let end = ((offset + len).div_ceil(SUM_BLOCK) * SUM_BLOCK).min(self.inner.size());
        let mut buf = Vec::new();
        while pos < end {
            let n = (PIECE - pos % PIECE).min(end - pos);
            buf.resize(n as usize, 0);
            let _g = self.table.exclusive(blocks_of(pos, n));
            self.inner.read_at(&mut buf, pos)?;
            let sums: Vec<u32> = buf.chunks(SUM_BLOCK as usize).map(sum).collect();
            self.table.set(pos / SUM_BLOCK, &sums)?;
            pos += n;
        }
        Ok(())
    }

    /// Builds the checksums of up to `max` more bytes above the watermark (for members of
    /// pools made before checksums); returns the new watermark. Saves it with the pages.
    pub fn build_step(&self, max: u64) -> Result<u64> {
        let from = self.built();
        let size = self.inner.size();
        if from >= size {
            return Ok(size);
        }
        let n = max.max(SUM_BLOCK).min(size - from);
        self.recompute(from, n)?;
        let to = from + n;
        // Flushed first: the watermark must not claim checksums of data not yet durable.
        self.inner.flush()?;
        self.table.save_dirty(Some(to))?;
        self.built.store(to, Ordering::Release);
        Ok(to)
    }
}

/// Walks a list of buffers block by block, giving each block's checksum (a block may be
/// split across buffers).
struct Pieces<'a> {
    bufs: &'a [&'a [u8]],
    at: usize,
    off: usize,
}

impl<'a> Pieces<'a> {
    fn new(bufs: &'a [&'a [u8]]) -> Self {
        Pieces {
            bufs,
            at: 0,
            off: 0,
        }
    }

    /// The checksum of the next block.
    fn next_sum(&mut self) -> u32 {
        let mut n = SUM_BLOCK as usize;
        let mut crc = 0u32;
        while n > 0 && self.at < self.bufs.len() {
            let b = self.bufs[self.at];
            let k = (b.len() - self.off).min(n);
            crc = crc32c::crc32c_append(crc, &b[self.off..self.off + k]);
            n -= k;
            self.off += k;
            if self.off == b.len() {
                self.at += 1;
                self.off = 0;
            }
        }
        crc ^ zero_crc()
    }
}

fn as_shared<'a>(bufs: &'a [&'a mut [u8]]) -> Vec<&'a [u8]> {
    bufs.iter().map(|b| &**b).collect()
}

impl<D: BlockDevice> BlockDevice for IntegrityDevice<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn checksum_granularity(&self) -> Option<u32> {
        Some(SUM_BLOCK as u32)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.read_vectored_at(&mut [buf], offset)
    }

    fn read_vectored_at(&self, bufs: &mut [&mut [u8]], offset: u64) -> Result<()> {
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        check_range(self, Op::Read, offset, len)?;
        if aligned(offset, len) {
            return self.read_verified(bufs, offset, false);
        }
        let (blocks, start) = self.read_blocks(offset, len, false)?;
        let mut at = (offset - start) as usize;
        for b in bufs.iter_mut() {
            b.copy_from_slice(&blocks[at..at + b.len()]);
            at += b.len();
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.write_vectored_at(&[buf], offset)
    }

    fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> Result<()> {
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        check_range(self, Op::Write, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        if !aligned(offset, len) {
            return self.write_partial(&bufs.concat(), offset);
        }
        let _g = self.table.write_guard(blocks_of(offset, len));
        self.write_blocks(bufs, offset)
    }

    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    fn save_checksums(&self) -> Result<()> {
        let built = self.built();
        let complete = built >= self.inner.size();
        self.table
            .save_dirty((!complete).then_some(built))
            .map_err(|e| e.at(Op::Flush, 0, 0))
    }

    /// Discards whole blocks below (their checksums become those of zeros) and writes
    /// zeros over partial blocks at the ends.
    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Unmap, offset, len)?;
        let first = offset.div_ceil(SUM_BLOCK) * SUM_BLOCK;
        let end = (offset + len) / SUM_BLOCK * SUM_BLOCK;
        if first >= end {
            return vsa_blockdev::write_zeros(self, offset, len);
        }
        // The partial blocks at the ends are checked first, so that a bad one fails the
        // unmap before anything has changed.
        for (from, to) in [(offset, first), (end, offset + len)] {
            if from < to {
                self.read_blocks(from, to - from, false)
                    .map_err(|e| e.at(Op::Unmap, offset, len))?;
            }
        }
        if offset < first {
            vsa_blockdev::write_zeros(self, offset, first - offset)?;
        }
        {
            let _g = self.table.write_guard(blocks_of(first, end - first));
            self.inner.unmap(first, end - first)?;
            let zeros = vec![0u32; ((end - first) / SUM_BLOCK) as usize];
            self.table.set(first / SUM_BLOCK, &zeros)?;
        }
        if end < offset + len {
            vsa_blockdev::write_zeros(self, end, offset + len - end)?;
        }
        Ok(())
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        self.inner.allocation(offset, len)
    }

    fn poison(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Write, offset, len)?;
        if !aligned(offset, len) {
            return Err(
                BlockError::new(ErrorKind::Misaligned, Op::Write, offset, len)
                    .with_detail("only whole 4 KiB blocks can be marked as lost"),
            );
        }
        let _g = self.table.exclusive(blocks_of(offset, len));
        vsa_blockdev::write_zeros(&self.inner, offset, len)?;
        // Zeros have checksum 0, so this never matches until the block is written whole.
        let lost = vec![LOST; (len / SUM_BLOCK) as usize];
        self.table.set(offset / SUM_BLOCK, &lost)
    }

    fn resync_checksums(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Write, offset, len)?;
        let limit = self.built().min(offset + len);
        if limit > offset {
            self.recompute(offset, limit - offset)?;
        }
        Ok(())
    }
}
