//! Room in the log, and destaging: journaled blocks go home to the RAID set in the
//! background, in offset order with neighbours joined (so the writes to one stripe become
//! one read-modify-write, or a full-stripe write when they cover it); the set is flushed,
//! and only then are the records dropped from the log and the blocks from the index.
//!
//! Destaging starts when the log is half full, when a writer waits for room, when asked
//! (a drain), and when writes have paused for [`IDLE`] with anything journaled, so a pool
//! at rest has its data at home.

use super::index::runs;
use super::Shared;
use parking_lot::MutexGuard;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_blockdev::{BlockDevice, BlockError, ErrorKind, Op, Result};

/// How long writes must pause before what is journaled goes home.
pub(super) const IDLE: Duration = Duration::from_secs(1);
/// How long destaging waits before trying again after a failure.
const RETRY: Duration = Duration::from_secs(1);
/// The largest write destaging hands the RAID set at once.
const MAX_RUN: u64 = 1 << 20;

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
        for (offset, data) in runs(&blocks, MAX_RUN) {
            self.dev.write_at(&data, offset)?;
            bytes += data.len() as u64;
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
