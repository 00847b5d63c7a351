//! [`Writer`]: where one cartridge appends the new chunks of its records, a chunk segment
//! of its own (so one backup's chunks lie together and go back to the pool together).
//! Chunks are packed back to back; the volume is written in whole device blocks, the last
//! partial one rewritten as the segment fills. Write-behind ([`Writer::start`]) writes the
//! whole blocks staged so far from a thread of its own while more chunks are staged; they
//! stay readable from memory until that write is done.

use super::super::SEGMENT;
use std::sync::Arc;
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
    /// Whole blocks being written behind: they end where `buf` starts.
    flight: Option<Flight>,
}

/// A write in progress from a thread of its own.
#[derive(Debug)]
struct Flight {
    /// Segment offset of `data`.
    base: u64,
    data: Arc<Vec<u8>>,
    done: std::thread::JoinHandle<Result<(), BlockError>>,
}

impl Writer {
    /// A writer at the start of empty chunk segment `seg`.
    pub fn new(seg: u64) -> Writer {
        Writer {
            seg,
            fill: 0,
            base: 0,
            buf: Vec::new(),
            flight: None,
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

    /// Bytes held in memory and not being written.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// The parts of volume bytes `at..at + len` held in memory (staged and not written,
    /// being written, or the partial block written but kept), as (volume offset, bytes).
    /// Bytes of the segment not held are on the volume: the bytes written behind stay
    /// here until their write is done.
    pub fn held_parts(&self, at: u64, len: u64, out: &mut Vec<(u64, Vec<u8>)>) {
        let start = self.seg * SEGMENT;
        if let Some(f) = &self.flight {
            overlap(&f.data, start + f.base, at, len, out);
        }
        overlap(&self.buf, start + self.base, at, len, out);
    }

    /// Starts writing the whole blocks staged, from a thread, after the write before it
    /// is done ([`Writer::finish`]); the volume range written meanwhile. Without a
    /// thread, they are written here.
    pub fn start(&mut self, dev: &Arc<dyn BlockDevice>) -> Result<Option<(u64, u64)>, BlockError> {
        let done = self.finish()?;
        let bs = dev.block_size() as usize;
        let full = self.buf.len().checked_div(bs).map_or(0, |n| n * bs);
        if full == 0 {
            return Ok(done);
        }
        let at = self.seg * SEGMENT + self.base;
        // The whole blocks leave `buf` without a copy; the partial block after them stays.
        let tail = self.buf.split_off(full);
        let data = Arc::new(std::mem::replace(&mut self.buf, tail));
        let (d, b) = (Arc::clone(dev), Arc::clone(&data));
        let spawned = std::thread::Builder::new()
            .name("vsa-chunk-write".into())
            .spawn(move || super::super::par::write_at(d.as_ref(), &b, at));
        match spawned {
            Ok(handle) => {
                self.flight = Some(Flight {
                    base: self.base,
                    data,
                    done: handle,
                });
                self.base += full as u64;
                Ok(done)
            }
            Err(e) => {
                tracing::warn!("no thread to write chunks behind, writing them now: {e}");
                self.restage(data);
                Ok(span(done, self.flush(dev.as_ref())?))
            }
        }
    }

    /// Waits for the write behind, if one is going; the volume range it wrote. If it
    /// failed, its bytes are staged again (a later write retries them) and the error is
    /// returned.
    pub fn finish(&mut self) -> Result<Option<(u64, u64)>, BlockError> {
        let Some(f) = self.flight.take() else {
            return Ok(None);
        };
        let r = f.done.join().unwrap_or_else(|_| {
            Err(
                BlockError::new(vsa_blockdev::ErrorKind::Io, vsa_blockdev::Op::Write, 0, 0)
                    .with_detail("the chunk writing thread panicked"),
            )
        });
        let len = f.data.len() as u64;
        match r {
            Ok(()) => Ok(Some((self.seg * SEGMENT + f.base, len))),
            Err(e) => {
                self.restage(f.data);
                self.base = f.base;
                Err(e)
            }
        }
    }

    /// Puts `data`, the whole blocks that went before `buf`, back in front of it.
    fn restage(&mut self, data: Arc<Vec<u8>>) {
        let mut back = Arc::try_unwrap(data).unwrap_or_else(|a| a.as_ref().clone());
        back.append(&mut self.buf);
        self.buf = back;
    }

    /// Writes the staged chunks (with the partial block before them) to the volume, after
    /// the write behind is done; the volume range written, if any. The last partial block
    /// stays held.
    pub fn flush(&mut self, dev: &dyn BlockDevice) -> Result<Option<(u64, u64)>, BlockError> {
        let behind = self.finish()?;
        let bs = dev.block_size() as usize;
        if self.buf.is_empty() || bs == 0 {
            return Ok(behind);
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
        Ok(span(behind, Some((at, len as u64))))
    }
}

impl Drop for Writer {
    /// A write behind is waited for (it must not outlive the writer: the segment may go
    /// back to the store next).
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!(segment = self.seg, "chunks written behind were lost: {e}");
        }
    }
}

/// Adds to `out` the part of volume bytes `at..at + len` that `b`, holding the volume
/// from `from`, has.
fn overlap(b: &[u8], from: u64, at: u64, len: u64, out: &mut Vec<(u64, Vec<u8>)>) {
    let lo = at.max(from);
    let hi = (at + len).min(from + b.len() as u64);
    if lo < hi {
        out.push((lo, b[(lo - from) as usize..(hi - from) as usize].to_vec()));
    }
}

/// The volume range covering both (a write behind ends where the staged bytes start).
fn span(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<(u64, u64)> {
    match (a, b) {
        (Some((x, xl)), Some((y, yl))) => {
            let from = x.min(y);
            Some((from, (x + xl).max(y + yl) - from))
        }
        (a, b) => a.or(b),
    }
}
