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

    /// Writes the staged chunks (with the partial block before them) to the volume.
    pub fn flush(&mut self, dev: &dyn BlockDevice) -> Result<(), BlockError> {
        let bs = dev.block_size() as usize;
        if self.buf.is_empty() || bs == 0 {
            return Ok(());
        }
        let len = self.buf.len();
        let keep = len % bs;
        let mut out = std::mem::take(&mut self.buf);
        out.resize(len.div_ceil(bs) * bs, 0);
        let r = dev.write_at(&out, self.seg * SEGMENT + self.base);
        out.truncate(len);
        if r.is_err() {
            self.buf = out;
            return r;
        }
        self.base += (len - keep) as u64;
        self.buf = out.split_off(len - keep);
        Ok(())
    }
}
