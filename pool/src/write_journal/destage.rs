//! Room in the log, and destaging: journaled blocks go home to the RAID set in the
//! background, gathered per stripe, so that the blocks of one stripe cost one write of the
//! set (one read-modify-write of the rows they span, or a full-stripe write with no reads
//! of parity when they span half the stripe or more); the set is flushed, and only then
//! are the records dropped from the log and the blocks from the index.
//!
//! Blocks of a stripe that are not neighbours go down as one span, the gaps filled with
//! what the set holds, read under the journal's lock of that stripe: every write that goes
//! to the set past the journal takes the same lock, so a gap is never written back stale.
//!
//! Destaging starts when the log is half full, when a writer waits for room, when asked
//! (a drain), and when writes have paused for [`IDLE`] with anything journaled, so a pool
//! at rest has its data at home.

use super::index::overlay;
use super::{Shared, BLOCK};
use parking_lot::MutexGuard;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_blockdev::{BlockDevice, BlockError, Bytes, ErrorKind, Op, Result};

/// How long writes must pause before what is journaled goes home.
pub(super) const IDLE: Duration = Duration::from_secs(1);
/// How long destaging waits before trying again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// The log's room and the destager's orders.
#[derive(Debug, Default)]
pub(super) struct Space {
    /// Bytes of records kept in the log (and reserved for records being committed).
    pub used: u64,
    /// Records in the log, oldest first: (sequence number, bytes).
    live: VecDeque<(u64, u64)>,
    /// Writers waiting for room.
    waiting: usize,
    /// The journal is closing.
    pub stop: bool,
    /// Why the last destage pass failed, until one succeeds.
    pub failed: Option<String>,
    last_write: Option<Instant>,
}

impl<D: BlockDevice> Shared<D> {
    /// Waits for `len` bytes of room in the log and takes them.
    pub(super) fn reserve(&self, len: u64) -> Result<()> {
        let mut s = self.space.lock();
        while s.used + len > self.budget && s.used > 0 {
            if let Some(why) = &s.failed {
                return Err(BlockError::new(ErrorKind::Io, Op::Write, 0, len)
                    .with_device("write journal")
                    .with_detail(format!(
                        "the journal is full and its blocks cannot be written home: {why}"
                    )));
            }
            if s.stop {
                return Err(BlockError::new(ErrorKind::DeviceFailed, Op::Write, 0, len)
                    .with_device("write journal")
                    .with_detail("the pool is closing"));
            }
            s.waiting += 1;
            self.space_cv.notify_all();
            self.space_cv.wait(&mut s);
            s.waiting -= 1;
        }
        s.used += len;
        s.last_write = Some(Instant::now());
        if s.used >= self.budget / 2 {
            self.space_cv.notify_all();
        }
        Ok(())
    }

    /// Gives back room reserved for records that were not stored.
    pub(super) fn release(&self, len: u64) {
        let mut s = self.space.lock();
        s.used = s.used.saturating_sub(len);
        self.space_cv.notify_all();
    }

    /// Notes records stored in the log (their room was reserved).
    pub(super) fn space_committed(&self, records: impl Iterator<Item = (u64, u64)>) {
        self.space.lock().live.extend(records);
        self.space_cv.notify_all();
    }

    /// Writes every journaled block home, flushes the set, then drops the records and
    /// blocks that are home. Returns the bytes written home.
    pub(super) fn destage_pass(&self) -> Result<u64> {
        let _one = self.destage.lock();
        let (blocks, upto) = {
            let ix = self.index.read();
            (ix.all(), ix.max_seq)
        };
        let nothing_live = self
            .space
            .lock()
            .live
            .front()
            .is_none_or(|&(seq, _)| seq > upto);
        if nothing_live {
            return Ok(0);
        }
        let mut bytes = 0u64;
        for group in blocks.chunk_by(|a, b| a.0 / self.stripe == b.0 / self.stripe) {
            bytes += self.write_home(group)?;
        }
        self.dev.flush()?;
        self.log.retire(upto)?;
        self.index.write().retire(upto);
        let mut s = self.space.lock();
        while let Some(&(seq, len)) = s.live.front() {
            if seq > upto {
                break;
            }
            s.used = s.used.saturating_sub(len);
            s.live.pop_front();
        }
        s.failed = None;
        self.space_cv.notify_all();
        drop(s);
        self.stats
            .destaged_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        self.stats.destage_passes.fetch_add(1, Ordering::Relaxed);
        Ok(bytes)
    }

    /// Writes the journaled `blocks` of one stripe home in one write of the set; returns
    /// the bytes written.
    fn write_home(&self, blocks: &[(u64, Bytes)]) -> Result<u64> {
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
            return Ok(0);
        };
        let (from, to) = (first.0, last.0 + BLOCK);
        if (to - from) / BLOCK == blocks.len() as u64 {
            // Neighbours: exactly the journaled bytes.
            let data: Vec<u8> = blocks.iter().flat_map(|b| b.1.iter().copied()).collect();
            self.dev.write_at(&data, from)?;
            return Ok(to - from);
        }
        let (from, to) = if 2 * (to - from) >= self.stripe {
            let s = from / self.stripe * self.stripe;
            (s, (s + self.stripe).min(self.dev.size()))
        } else {
            (from, to)
        };
        let _stripe = self.lock_stripes(from, to);
        let mut span = vec![0u8; (to - from) as usize];
        self.dev.read_at(&mut span, from)?;
        overlay(&mut span, from, blocks);
        self.dev.write_at(&span, from)?;
        Ok(to - from)
    }

    /// Whether a destage pass is due (the caller holds the space lock).
    fn due(&self, s: &MutexGuard<'_, Space>) -> bool {
        let idle = s.last_write.is_some_and(|t| t.elapsed() >= self.idle);
        s.waiting > 0 || s.used >= self.budget / 2 || (s.used > 0 && idle)
    }
}

/// The destager thread's loop: destage when due, until the journal closes.
pub(super) fn run<D: BlockDevice>(sh: Arc<Shared<D>>) {
    loop {
        {
            let mut s = sh.space.lock();
            loop {
                if s.stop {
                    return;
                }
                if sh.due(&s) {
                    break;
                }
                sh.space_cv.wait_for(&mut s, sh.idle.min(IDLE));
            }
        }
        match sh.destage_pass() {
            // Nothing was home-bound yet (room reserved by a commit under way): wait for
            // the commit, or for the next write, before looking again.
            Ok(0) => {
                let mut s = sh.space.lock();
                s.last_write = None;
                if !s.stop {
                    sh.space_cv.wait_for(&mut s, sh.idle.min(IDLE));
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("write journal: destaging failed, will retry: {e}");
                let mut s = sh.space.lock();
                s.failed = Some(e.to_string());
                sh.space_cv.notify_all();
                if !s.stop {
                    sh.space_cv.wait_for(&mut s, RETRY);
                }
            }
        }
    }
}
