//! [`Writer`]: where one cartridge appends the new chunks of its records, a chunk segment
//! of its own (so one backup's chunks lie together and go back to the pool together).
//! Chunks are packed back to back; the volume is written in whole device blocks, the last
//! partial one rewritten as the segment fills. Write-behind ([`Writer::start`]) writes the
//! whole blocks staged so far from a thread of its own while more chunks are staged; they
//! stay readable from memory until that write is done.

use super::super::aligned::Buf;
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
    /// The last partial block already written, then the staged chunks (in aligned
    /// memory: the pool's direct-I/O members write it as it is).
    buf: Buf,
    /// Whole blocks being written behind: they end where `buf` starts.
    flight: Option<Flight>,
    /// The buffer of the last write behind, once it is done: `buf` of the next one.
    spare: Buf,
}

/// What a buffer of staged chunks is first made to hold: what is written behind at once
/// ([`crate::store::tape::WRITE_BEHIND`]) and a chunk more, so it need not grow (and be
/// copied) as it fills.
const STAGE_BYTES: usize = crate::store::tape::WRITE_BEHIND + super::chunk::MAX_CHUNK as usize;

/// A write in progress from a thread of its own.
#[derive(Debug)]
struct Flight {
    /// Segment offset of `data`.
    base: u64,
    data: Arc<Buf>,
    done: std::thread::JoinHandle<Result<(), BlockError>>,
}

impl Writer {
    /// A writer at the start of empty chunk segment `seg`, staging in `buffers` (those of
    /// a closed writer, [`Writer::take_buffers`]) or in new ones.
    pub fn new(seg: u64, mut buffers: Vec<Buf>) -> Writer {
        let mut buf = buffers.pop().unwrap_or_default();
        let mut spare = buffers.pop().unwrap_or_default();
        buf.clear();
        spare.clear();
        Writer {
            seg,
            fill: 0,
            base: 0,
            buf,
            flight: None,
            spare,
        }
    }

    /// Its buffers, emptied, for another writer; what it staged is lost: call after
    /// [`Writer::flush`].
    pub fn take_buffers(&mut self) -> Vec<Buf> {
        let _ = self.finish();
        let mut out = Vec::new();
        for mut b in [
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.spare),
        ] {
            if b.capacity() > 0 {
                b.clear();
                out.push(b);
            }
        }
        out
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
        let need = self.buf.len() + bytes.len();
        if need > self.buf.capacity() && need <= STAGE_BYTES {
            self.buf.reserve(STAGE_BYTES - self.buf.len());
        }
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
        // The whole blocks leave `buf` without a copy; the partial block after them stays,
        // moved to the buffer of the last write behind (done: see `finish` above).
        let mut next = std::mem::take(&mut self.spare);
        next.clear();
        next.extend_from_slice(&self.buf[full..]);
        self.buf.truncate(full);
        let data = Arc::new(std::mem::replace(&mut self.buf, next));
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
            Ok(()) => {
                // The thread has let go of its handle on the data: the buffer is free.
                if let Ok(b) = Arc::try_unwrap(f.data) {
                    self.spare = b;
                }
                Ok(Some((self.seg * SEGMENT + f.base, len)))
            }
            Err(e) => {
                self.restage(f.data);
                self.base = f.base;
                Err(e)
            }
        }
    }

    /// Puts `data`, the whole blocks that went before `buf`, back in front of it.
    fn restage(&mut self, data: Arc<Buf>) {
        let mut back = Arc::try_unwrap(data).unwrap_or_else(|a| a.as_ref().clone());
        back.extend_from_slice(&self.buf);
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
        self.buf.drain_front(full);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vsa_blockdev::testing::MemDevice;

    /// Writes behind take turns in two buffers (none is allocated per write), the bytes
    /// reach the volume, and a writer after a closed one stages in its buffers.
    #[test]
    fn writes_behind_take_turns_in_two_buffers() {
        let mem = Arc::new(MemDevice::new(2 * SEGMENT, 4096));
        let dev: Arc<dyn BlockDevice> = mem.clone();
        let mut w = Writer::new(1, Vec::new());
        let chunk = |n: u8| vec![n; 100_000];
        let mut buffers = Vec::new();
        for round in 0..4u8 {
            for k in 0..30u8 {
                assert!(w.stage(&chunk(round * 30 + k)).is_some());
            }
            assert!(
                w.buf.capacity() >= STAGE_BYTES,
                "made to hold what is staged"
            );
            assert!(w.buf.is_aligned(), "direct-I/O members write it uncopied");
            buffers.push(w.buf.as_ptr());
            w.start(&dev).unwrap();
        }
        assert_ne!(buffers[0], buffers[1]);
        assert_eq!(
            buffers[2], buffers[0],
            "the buffer of the write before last"
        );
        assert_eq!(buffers[3], buffers[1]);
        w.flush(dev.as_ref()).unwrap();
        let mut back = vec![0u8; 12_001_280]; // the 120 chunks, in whole blocks
        mem.read_at(&mut back, SEGMENT).unwrap();
        for (n, c) in back.chunks(100_000).take(120).enumerate() {
            assert!(c.iter().all(|&b| usize::from(b) == n), "chunk {n}");
        }
        let kept = w.take_buffers();
        assert_eq!(kept.len(), 2);
        let ptrs: Vec<_> = kept.iter().map(|b| b.as_ptr()).collect();
        let next = Writer::new(0, kept);
        assert!(next.buf.is_empty() && next.spare.is_empty());
        assert!(ptrs.contains(&next.buf.as_ptr()) && ptrs.contains(&next.spare.as_ptr()));
    }
}
