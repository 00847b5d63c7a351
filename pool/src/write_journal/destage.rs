//! Room in the log, and destaging: journaled blocks go home to the RAID set in the
//! background, gathered per stripe: a stripe that holds many of them is written whole (no
//! parity read), the others a run of neighbours at a time (without parity, several runs
//! close together as one write of their span); the set is flushed, and only then are the
//! records dropped from the log and the blocks from the index.
//!
//! A stripe written whole, or a span, is read first, under the journal's locks of its
//! stripes: every write that goes to the set past the journal takes the same locks, so
//! what was read is never written back stale.
//!
//! Destaging starts when the log is half full, when a writer waits for room, when asked
//! (a drain), and when writes have paused for [`IDLE`] with anything journaled, so a pool
//! at rest has its data at home.

use super::index::overlay;
use super::{Shared, BLOCK};
use crate::scratch;
use parking_lot::{Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_blockdev::{BlockDevice, BlockError, Bytes, ErrorKind, Op, Result};

/// How long writes must pause before what is journaled goes home.
pub(super) const IDLE: Duration = Duration::from_secs(1);
/// Threads writing stripes home at once during a destage pass.
const DESTAGE_THREADS: usize = 16;
/// Over a set without parity, the journaled blocks of one aligned window of this size
/// (the default RAID chunk, so one member's piece) that form [`FILL_RUNS`] runs or more
/// go home as one write of the span they cover, the gaps read from the set first.
const FILL_WINDOW: u64 = 64 << 10;
/// See [`FILL_WINDOW`]: from three runs on, a read and a write of the span cost fewer
/// member operations (each a system call and, on a virtual disk, an exit to the host)
/// than a write per run.
const FILL_RUNS: usize = 3;
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
        self.take_room(&mut s, len);
        Ok(())
    }

    /// Takes `len` bytes of room in the log if they are free now.
    pub(super) fn try_reserve(&self, len: u64) -> bool {
        let Some(mut s) = self.space.try_lock() else {
            return false;
        };
        if s.used + len > self.budget && s.used > 0 {
            return false;
        }
        self.take_room(&mut s, len);
        true
    }

    /// Takes room that is free, and wakes the destager once the log is half full.
    fn take_room(&self, s: &mut Space, len: u64) {
        s.used += len;
        s.last_write = Some(Instant::now());
        if s.used >= self.budget / 2 {
            self.space_cv.notify_all();
        }
    }

    /// Gives back room reserved for records that were not stored.
    pub(super) fn release(&self, len: u64) {
        let mut s = self.space.lock();
        s.used = s.used.saturating_sub(len);
        self.space_cv.notify_all();
    }

    /// Notes records stored in the log (their room was reserved), and wakes the destager
    /// if it is due (not on every commit: that cost a wake-up and a context switch per
    /// write; an idle pool's destaging comes from its timed wait).
    pub(super) fn space_committed(&self, records: impl Iterator<Item = (u64, u64)>) {
        let mut s = self.space.lock();
        s.live.extend(records);
        if s.waiting > 0 || s.used >= self.budget / 2 {
            self.space_cv.notify_all();
        }
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
        // A block may reach home (and its stripe be half written when the power goes) only
        // once its record would be replayed.
        self.sync_log()?;
        let bytes = self.write_all_home(&blocks)?;
        self.dev.flush()?;
        self.log().retire(upto)?;
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

    /// Writes `blocks` (in offset order) home, the stripes shared out over
    /// [`DESTAGE_THREADS`] threads (stripes are independent, and a read-modify-write waits
    /// on the members: as many at once as writers had under way). Returns the bytes written.
    fn write_all_home(&self, blocks: &[(u64, Bytes)]) -> Result<u64> {
        // Without parity, a group is at least a fill window (stripes may be smaller).
        let unit = if self.parity {
            self.stripe
        } else {
            self.stripe.max(FILL_WINDOW)
        };
        let groups: Vec<&[(u64, Bytes)]> =
            blocks.chunk_by(|a, b| a.0 / unit == b.0 / unit).collect();
        let threads = DESTAGE_THREADS.min(groups.len());
        let bytes = AtomicU64::new(0);
        let failed: Mutex<Option<BlockError>> = Mutex::new(None);
        let work = |t: usize| {
            for g in groups.iter().skip(t).step_by(threads) {
                if failed.lock().is_some() {
                    return;
                }
                match self.write_home(g) {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.lock().get_or_insert(e);
                    }
                }
            }
        };
        std::thread::scope(|s| {
            for t in 0..threads {
                let work = &work;
                let spawned = std::thread::Builder::new()
                    .name("vsa-destage-io".into())
                    .spawn_scoped(s, move || work(t));
                if let Err(e) = spawned {
                    // No thread to be had: do this share here.
                    tracing::warn!("write journal: cannot start a destaging thread: {e}");
                    work(t);
                }
            }
        });
        match failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(bytes.into_inner()),
        }
    }

    /// Writes the journaled `blocks` of one stripe (without parity: of one stripe or fill
    /// window, whichever is larger) home; returns the bytes written.
    ///
    /// Few blocks go down as they are, each run of neighbours one read-modify-write of the
    /// rows it covers. From an eighth of the stripe on, the stripe is read whole, the
    /// blocks laid over it and the stripe written whole (a full-stripe write reads no
    /// parity): about the cost of six single-block read-modify-writes here, in member
    /// operations and bytes, for any number of blocks. A set without parity (RAID 0, 1,
    /// 10) writes runs of blocks as they are, except where a window of [`FILL_WINDOW`]
    /// holds [`FILL_RUNS`] runs or more: then the span they cover, gaps read first.
    fn write_home(&self, blocks: &[(u64, Bytes)]) -> Result<u64> {
        let Some(first) = blocks.first() else {
            return Ok(0);
        };
        let start = first.0 / self.stripe * self.stripe;
        let end = (start + self.stripe).min(self.dev.size());
        let busy = 8 * blocks.len() as u64 * BLOCK >= self.stripe;
        if busy && end - start == self.stripe && self.parity {
            let _stripe = self.lock_stripes(start, end);
            let read: Result<Result<()>> = scratch::with((end - start) as usize, |whole| {
                self.dev.read_at(whole, start)?;
                overlay(whole, start, blocks);
                Ok(self.dev.write_at(whole, start))
            });
            match read {
                Ok(written) => return written.map(|()| end - start),
                // A block of the stripe the journal does not hold cannot be read (lost,
                // or the set degraded past it): write only what the journal holds.
                Err(e) => tracing::warn!(
                    stripe_at = start,
                    "write journal: the stripe cannot be read whole ({e}); writing its journaled blocks alone"
                ),
            }
        }
        if self.parity {
            return self.write_runs(blocks);
        }
        // Windows that are filled go down as spans; the blocks between them as runs (a run
        // may cross from one window into the next).
        let (mut bytes, mut plain, mut at) = (0, 0, 0);
        for window in blocks.chunk_by(|a, b| a.0 / FILL_WINDOW == b.0 / FILL_WINDOW) {
            let next = at + window.len();
            if window.chunk_by(|a, b| a.0 + BLOCK == b.0).count() >= FILL_RUNS {
                if let Some(n) = self.fill_window(window)? {
                    bytes += self.write_runs(&blocks[plain..at])? + n;
                    plain = next;
                }
            }
            at = next;
        }
        Ok(bytes + self.write_runs(&blocks[plain..])?)
    }

    /// Writes `blocks` home a run of neighbours at a time; returns the bytes written.
    fn write_runs(&self, blocks: &[(u64, Bytes)]) -> Result<u64> {
        let mut bytes = 0;
        for run in blocks.chunk_by(|a, b| a.0 + BLOCK == b.0) {
            let bufs: Vec<&[u8]> = run.iter().map(|b| &b.1[..]).collect();
            self.dev.write_vectored_at(&bufs, run[0].0)?;
            bytes += bufs.iter().map(|b| b.len() as u64).sum::<u64>();
        }
        Ok(bytes)
    }

    /// Writes the span from the first of `blocks` to the last as one write: the gaps
    /// between them read from the set first, under the stripes' locks (a write past the
    /// journal into a gap waits, so it is never overwritten with what was read). `None`
    /// if the span cannot be read (then the blocks go down as they are).
    fn fill_window(&self, blocks: &[(u64, Bytes)]) -> Result<Option<u64>> {
        let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
            return Ok(Some(0));
        };
        let (from, to) = (first.0, last.0 + BLOCK);
        let _stripes = self.lock_stripes(from, to);
        // Aligned in memory, so direct-I/O members take the span without a bounce copy.
        scratch::with((to - from) as usize, |span| {
            if let Err(e) = self.dev.read_at(span, from) {
                tracing::warn!(
                    at = from,
                    "write journal: the gaps between journaled blocks cannot be read ({e}); writing the blocks alone"
                );
                return Ok(None);
            }
            overlay(span, from, blocks);
            self.dev.write_at(span, from)?;
            Ok(Some(to - from))
        })
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
            // the commit (it wakes this thread if writers wait for room or the log is half
            // full) or for the timed wait's end, before looking again.
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
