//! [`Writer`]: where one cartridge appends the new chunks of its records, a chunk segment
//! of its own (so one backup's chunks lie together and go back to the pool together).
//! Chunks are packed back to back; the volume is written in whole device blocks, the last
//! partial one rewritten as the segment fills.

use super::super::SEGMENT;
use vsa_blockdev::{BlockDevice, BlockError};

#[derive(Debug)]
pub struct Writer {
    seg: u64,
    /// Bytes of the segment placed (written or staged).
    fill: u64,
    /// Segment offset `buf` starts at (block-aligned).
    base: u64,
    /// The last partial block already written, then the staged chunks.
    buf: Vec<u8>,
}

impl Writer {
    /// A writer at the start of empty chunk segment `seg`.
    pub fn new(seg: u64) -> Writer {
        Writer {
            seg,
            fill: 0,
            base: 0,
            buf: Vec::new(),
        }
    }

    pub fn segment(&self) -> u64 {
        self.seg
    }

    /// Stages `bytes` as the next chunk; its volume offset, or `None` if the segment has
    /// no room (write out what is staged and take another).
    pub fn stage(&mut self, bytes: &[u8]) -> Option<u64> {
        let len = bytes.len() as u64;
        if self.fill + len > SEGMENT {
            return None;
        }
        let at = self.seg * SEGMENT + self.fill;
        self.buf.extend_from_slice(bytes);
        self.fill += len;
        Some(at)
    }

    /// Bytes held in memory.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Volume bytes `at..at + len` if they are among those held (not written since
    /// staged, or the partial block written but kept).
    pub fn holds(&self, at: u64, len: u64) -> Option<&[u8]> {
        let from = at.checked_sub(self.seg * SEGMENT + self.base)?;
        let to = from.checked_add(len)?;
        self.buf
            .get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
    }

    /// Writes the staged chunks (with the partial block before them) to the volume;
    /// the volume range written, if any. The last partial block stays held.
    pub fn flush(&mut self, dev: &dyn BlockDevice) -> Result<Option<(u64, u64)>, BlockError> {
        let bs = dev.block_size() as usize;
        if self.buf.is_empty() || bs == 0 {
            return Ok(None);
        }
        let len = self.buf.len();
        let keep = len % bs;
        let at = self.seg * SEGMENT + self.base;
        let full = len - keep;
        if full > 0 {
            super::super::par::write_at(dev, &self.buf[..full], at)?;
        }
        if keep > 0 {
            let mut last = self.buf[full..].to_vec();
            last.resize(bs, 0);
            dev.write_at(&last, at + full as u64)?;
        }
        self.base += full as u64;
        self.buf.drain(..full);
        Ok(Some((at, len as u64)))
    }
}
