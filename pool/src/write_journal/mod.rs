//! [`WriteJournal`]: a write journal in front of a RAID set, so that small writes do not
//! each wait for the members (nor, on parity sets, pay a read-modify-write) (as md's raid5-cache in write-back mode, or ZFS's
//! intent log).
//!
//! ```text
//!  ReadCache ──write──▶ WriteJournal ──full stripes no journaled block touches──▶ RaidSet
//!                          │ the rest: records (with block checksums) ──▶ LogStore (a log file)
//!                          │           blocks ──▶ Index (RAM) ──destage.rs──▶ RaidSet
//!                          └ reads: RaidSet, then the journaled blocks over it
//! ```
//!
//! A write below a full stripe is a record in the log: several concurrent writes share one
//! append (`commit.rs`), and the write is acknowledged once the append is with the
//! operating system, so an acknowledged write survives a crash of the process, as the set's
//! own writes do. A flush syncs the log (concurrent flushes share one sync) and flushes
//! the set: then everything acknowledged before it survives a power loss. Whole stripes go straight to the set unless a journaled block lies in them (then
//! they are journaled too, so a replay can never put an older block over a newer one).
//!
//! # Ordering
//!
//! - A block stays in the index until its record is dropped from the log, which happens
//!   only after the block was written home and the set flushed. So while a record could be
//!   replayed, its blocks are in the index, and every write touching them is journaled
//!   after it: replay (in sequence order) ends with the newest data.
//! - Reads take the journaled blocks of their range *before* reading the set, and lay them
//!   over what the set returned: a block leaves the index only once it is home, so the read
//!   sees it either way.
//! - Destaging writes a stripe holding many journaled blocks whole: it reads the stripe
//!   under the journal's lock of that stripe, which every write that goes past the journal
//!   also holds (and checks again under it that no block in its range was journaled
//!   meanwhile), so what it read is never written back stale.
//! - Unmaps, and writes not aligned to 4 KiB, first destage what is journaled (a drain),
//!   then go to the set.
//!
//! - Destaging syncs the log before it writes a block home, so a power loss while a stripe
//!   is half written (data and parity disagree: the write hole) leaves the record to
//!   replay over it.
//!
//! At open, the records left in the log are checked against their block checksums and
//! written home in sequence order, the set flushed and the log emptied: an unclean stop
//! loses no acknowledged write.

mod commit;
mod destage;
mod index;
pub mod record;
mod store;
#[cfg(test)]
mod tests;

pub use record::BLOCK;
pub use store::{LogStore, MemLog};

use commit::{aligned, Queue};
use destage::Space;
use index::{overlay, Index};
use parking_lot::{Condvar, Mutex, RwLock};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use vsa_blockdev::{check_range, BlockDevice, Bytes, Extent, Op, Result};

/// How many stripe locks a journal has.
const STRIPE_LOCKS: u64 = 64;

/// The default room for records in a pool's journal (and RAM for the blocks they hold).
pub const DEFAULT_JOURNAL_BYTES: u64 = 256 << 20;

/// The journal's counters and state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JournalStats {
    /// Room for records in the log.
    pub capacity_bytes: u64,
    /// Bytes of records in the log now.
    pub used_bytes: u64,
    /// Blocks journaled and not yet home.
    pub pending_blocks: u64,
    /// Records stored since the pool opened.
    pub records: u64,
    /// Durable appends that stored them (records / commits = writes per flush).
    pub commits: u64,
    /// Bytes journaled.
    pub journaled_bytes: u64,
    /// Writes (or parts of writes) of whole stripes that went straight to the set.
    pub direct_writes: u64,
    /// Bytes written home by destaging.
    pub destaged_bytes: u64,
    /// Destage passes.
    pub destage_passes: u64,
    /// Records replayed when the pool opened.
    pub replayed_records: u64,
    /// Why destaging fails, while it does.
    pub failing: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    records: AtomicU64,
    commits: AtomicU64,
    journaled_bytes: AtomicU64,
    direct_writes: AtomicU64,
    destaged_bytes: AtomicU64,
    destage_passes: AtomicU64,
    replayed: AtomicU64,
}

/// What the journal and its destager thread share.
#[derive(Debug)]
struct Shared<D> {
    dev: D,
    /// Where records go; replaced only by [`WriteJournal::switch_log`], with nothing
    /// journaled.
    log: RwLock<Arc<dyn LogStore>>,
    /// Writes of whole stripes of this size may skip the journal.
    stripe: u64,
    /// The set below keeps parity, so writing part of a stripe costs a read-modify-write:
    /// destaging then writes a busy stripe whole. Without parity it writes the blocks.
    parity: bool,
    /// Room for records.
    budget: u64,
    /// The most one group of records of a write reserves.
    max_group: u64,
    /// How long writes pause before destaging starts on its own.
    idle: std::time::Duration,
    index: RwLock<Index>,
    queue: Mutex<Queue>,
    space: Mutex<Space>,
    space_cv: Condvar,
    /// Held by a destage pass.
    destage: Mutex<()>,
    /// Locks of stripes (by stripe number modulo their count), held by writes that go to
    /// the set past the journal and by destaging when it fills gaps.
    stripe_locks: Vec<Mutex<()>>,
    /// The highest sequence number appended to the log.
    appended: AtomicU64,
    /// The highest sequence number synced (held while syncing).
    synced: Mutex<u64>,
    stats: Counters,
}

impl<D: BlockDevice> Shared<D> {
    /// Locks the stripes of `[from, to)`, in a fixed order.
    fn lock_stripes(&self, from: u64, to: u64) -> Vec<parking_lot::MutexGuard<'_, ()>> {
        let (first, end) = (from / self.stripe, to.div_ceil(self.stripe));
        let mut ids: Vec<u64> = (first..end.min(first + STRIPE_LOCKS))
            .map(|s| s % STRIPE_LOCKS)
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|i| self.stripe_locks[i as usize].lock())
            .collect()
    }

    /// Writes `buf` at `offset` to the set past the journal, under the stripes' locks.
    fn write_past(&self, buf: &[u8], offset: u64) -> Result<()> {
        let _stripes = self.lock_stripes(offset, offset + buf.len() as u64);
        self.dev.write_at(buf, offset)
    }

    /// The log records go to now.
    fn log(&self) -> Arc<dyn LogStore> {
        self.log.read().clone()
    }

    /// Makes every record appended so far survive a power loss; flushes that come while
    /// one syncs share the next sync.
    fn sync_log(&self) -> Result<()> {
        let want = self.appended.load(Ordering::SeqCst);
        let mut synced = self.synced.lock();
        if *synced >= want {
            return Ok(());
        }
        let now = self.appended.load(Ordering::SeqCst);
        // Taken after `now`: records up to it are in this log, or home (switch_log).
        self.log().sync()?;
        *synced = now;
        Ok(())
    }
}

/// A write journal over `D` (a RAID set). See the module documentation.
#[derive(Debug)]
pub struct WriteJournal<D: BlockDevice + 'static> {
    shared: Arc<Shared<D>>,
    destager: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<D: BlockDevice + 'static> WriteJournal<D> {
    /// Opens the journal over `dev` with its records in `log`: replays what the log holds
    /// (an unclean stop), then starts destaging in the background. `stripe`: the set's
    /// full stripe; `parity`: whether it keeps parity (RAID 5/6); `budget`: room for
    /// records (at least 4 stripes).
    pub fn open(
        dev: D,
        log: Arc<dyn LogStore>,
        stripe: u64,
        parity: bool,
        budget: u64,
    ) -> Result<Self> {
        Self::open_tuned(dev, log, stripe, parity, budget, destage::IDLE)
    }

    /// [`WriteJournal::open`] with the pause after which destaging starts on its own.
    pub(crate) fn open_tuned(
        dev: D,
        log: Arc<dyn LogStore>,
        stripe: u64,
        parity: bool,
        budget: u64,
        idle: std::time::Duration,
    ) -> Result<Self> {
        let stripe = stripe.max(BLOCK);
        let budget = budget.max(4 * stripe);
        let (seen, replayed) = replay(&dev, log.as_ref())?;
        let upto = seen.max(log.retired());
        let shared = Arc::new(Shared {
            dev,
            log: RwLock::new(log),
            stripe,
            parity,
            budget,
            max_group: budget / 4,
            idle,
            index: RwLock::default(),
            queue: Mutex::new(Queue::starting_at(upto + 1)),
            space: Mutex::default(),
            space_cv: Condvar::new(),
            destage: Mutex::new(()),
            stripe_locks: (0..STRIPE_LOCKS).map(|_| Mutex::new(())).collect(),
            appended: AtomicU64::new(upto),
            synced: Mutex::new(upto),
            stats: Counters::default(),
        });
        shared.stats.replayed.store(replayed, Ordering::Relaxed);
        let sh = shared.clone();
        let destager = std::thread::Builder::new()
            .name("vsa-destage".into())
            .spawn(move || destage::run(sh))
            .map_err(|e| vsa_blockdev::BlockError::io(Op::Write, 0, 0, e))?;
        Ok(WriteJournal {
            shared,
            destager: Mutex::new(Some(destager)),
        })
    }

    /// The device below.
    pub fn inner(&self) -> &D {
        &self.shared.dev
    }

    /// Writes every journaled block home and empties the log (a clean stop; also before
    /// operations that go below the journal).
    pub fn drain(&self) -> Result<()> {
        self.shared.destage_pass().map(|_| ())
    }

    /// Moves the journal to another log: new writes wait while everything journaled goes
    /// home and its records are retired; then `make` makes the new log (and records where
    /// it is, durably, before anything is appended to it) and the writes that waited go
    /// to it. If `make` fails, the journal goes on with the log it had.
    pub fn switch_log(&self, make: impl FnOnce() -> Result<Arc<dyn LogStore>>) -> Result<()> {
        self.shared.switch_log(make)
    }

    /// Counters and state.
    pub fn stats(&self) -> JournalStats {
        let sh = &self.shared;
        let (used_bytes, failing) = {
            let s = sh.space.lock();
            (s.used, s.failed.clone())
        };
        let c = &sh.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        JournalStats {
            capacity_bytes: sh.budget,
            used_bytes,
            pending_blocks: sh.index.read().len() as u64,
            records: get(&c.records),
            commits: get(&c.commits),
            journaled_bytes: get(&c.journaled_bytes),
            direct_writes: get(&c.direct_writes),
            destaged_bytes: get(&c.destaged_bytes),
            destage_passes: get(&c.destage_passes),
            replayed_records: get(&c.replayed),
            failing,
        }
    }

    /// Drains the journal if `[offset, offset + len)` holds journaled blocks.
    fn drain_over(&self, offset: u64, len: u64) -> Result<()> {
        if self.shared.index.read().overlaps(offset, len) {
            self.drain()?;
        }
        Ok(())
    }
}

impl<D: BlockDevice + 'static> Drop for WriteJournal<D> {
    /// Stops the destager. What is still journaled stays in the log for the next open.
    fn drop(&mut self) {
        self.shared.space.lock().stop = true;
        self.shared.space_cv.notify_all();
        if let Some(t) = self.destager.lock().take() {
            let _ = t.join();
        }
    }
}

/// Writes the records `log` holds home in order, flushes `dev` and empties the log (done
/// by [`WriteJournal::open`]; alone, for a pool whose journal is now off). Returns the
/// highest sequence number seen and the records replayed.
pub fn replay<D: BlockDevice>(dev: &D, log: &dyn LogStore) -> Result<(u64, u64)> {
    let records = log.records()?;
    let Some(&(upto, _)) = records.last() else {
        return Ok((0, 0));
    };
    let mut replayed = 0;
    for (seq, bytes) in &records {
        match record::decode(bytes) {
            Ok(r)
                if r.offset
                    .checked_add(r.data.len() as u64)
                    .is_some_and(|end| end <= dev.size()) =>
            {
                dev.write_at(&r.data, r.offset)?;
                replayed += 1;
            }
            Ok(r) => tracing::error!(
                seq,
                offset = r.offset,
                "write journal: a record lies past the end of the pool; dropped"
            ),
            // Never acknowledged as written (torn) or damaged since: not replayed.
            Err(e) => tracing::error!(seq, "write journal: record dropped at replay: {e}"),
        }
    }
    dev.flush()?;
    log.retire(upto)?;
    tracing::info!(
        records = records.len(),
        replayed,
        "write journal replayed after an unclean stop"
    );
    Ok((upto, replayed))
}

impl<D: BlockDevice + 'static> BlockDevice for WriteJournal<D> {
    fn block_size(&self) -> u32 {
        self.shared.dev.block_size()
    }

    fn size(&self) -> u64 {
        self.shared.dev.size()
    }

    fn io_granularity(&self) -> u64 {
        self.shared.dev.io_granularity()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(self, Op::Read, offset, buf.len() as u64)?;
        let len = buf.len() as u64;
        let journaled = self.shared.index.read().within(offset, len);
        // Blocks the journal holds every one of (a read after a write, before it went
        // home) need nothing from the set.
        let spanned = (offset + len).div_ceil(BLOCK) - offset / BLOCK;
        let covered = len > 0 && journaled.len() as u64 == spanned;
        if !covered {
            self.shared.dev.read_at(buf, offset)?;
        }
        overlay(buf, offset, &journaled);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let len = buf.len() as u64;
        check_range(self, Op::Write, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        if !aligned(offset, len) {
            self.drain_over(offset, len)?;
            return self.shared.write_past(buf, offset);
        }
        let sh = &self.shared;
        let mut journal = Vec::new();
        let mut direct: Option<(u64, u64)> = None;
        let mut pos = offset;
        while pos < offset + len {
            let end = ((pos / sh.stripe + 1) * sh.stripe).min(offset + len);
            let whole = end - pos == sh.stripe;
            if whole && !sh.index.read().overlaps(pos, end - pos) {
                direct = match direct {
                    Some((from, to)) if to == pos => Some((from, end)),
                    Some((from, to)) => {
                        journal.extend(self.write_direct(buf, offset, from, to)?);
                        Some((pos, end))
                    }
                    None => Some((pos, end)),
                };
            } else {
                let piece = &buf[(pos - offset) as usize..(end - offset) as usize];
                journal.push((pos, Bytes::copy_from_slice(piece)));
            }
            pos = end;
        }
        if let Some((from, to)) = direct {
            journal.extend(self.write_direct(buf, offset, from, to)?);
        }
        sh.journal(journal)
    }

    /// A write of whole blocks below a stripe, if there is room in the log and no other
    /// writer is committing: this thread appends its record itself.
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
        let len = buf.len() as u64;
        let sh = &self.shared;
        let end = offset.checked_add(len)?;
        let one_stripe = len < sh.stripe && offset / sh.stripe == (end - 1) / sh.stripe;
        if len == 0 || !aligned(offset, len) || end > self.size() || !one_stripe {
            return None;
        }
        sh.try_journal(offset, buf)
    }

    fn flush(&self) -> Result<()> {
        self.shared.sync_log()?;
        // The set's flush also lets it clean its dirty regions.
        self.shared.dev.flush()
    }

    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Unmap, offset, len)?;
        self.drain_over(offset, len)?;
        let _stripes = self.shared.lock_stripes(offset, offset + len);
        self.shared.dev.unmap(offset, len)
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        self.shared.dev.allocation(offset, len)
    }

    fn space_low(&self) -> bool {
        self.shared.dev.space_low()
    }

    fn checksum_granularity(&self) -> Option<u32> {
        self.shared.dev.checksum_granularity()
    }

    fn resync_checksums(&self, offset: u64, len: u64) -> Result<()> {
        self.shared.dev.resync_checksums(offset, len)
    }

    fn save_checksums(&self) -> Result<()> {
        self.shared.dev.save_checksums()
    }

    fn poison(&self, offset: u64, len: u64) -> Result<()> {
        check_range(self, Op::Write, offset, len)?;
        self.drain_over(offset, len)?;
        let _stripes = self.shared.lock_stripes(offset, offset + len);
        self.shared.dev.poison(offset, len)
    }
}

impl<D: BlockDevice + 'static> WriteJournal<D> {
    /// Writes `[from, to)` (whole stripes) of the write `buf` at `offset` straight to the
    /// set, unless a block in it was journaled meanwhile: then it is handed back, a piece
    /// per stripe, to be journaled.
    fn write_direct(
        &self,
        buf: &[u8],
        offset: u64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Bytes)>> {
        let sh = &self.shared;
        let piece = &buf[(from - offset) as usize..(to - offset) as usize];
        let _stripes = sh.lock_stripes(from, to);
        if sh.index.read().overlaps(from, to - from) {
            // Whole stripes, a record each.
            return Ok(piece
                .chunks(sh.stripe as usize)
                .zip((from..to).step_by(sh.stripe as usize))
                .map(|(d, at)| (at, Bytes::copy_from_slice(d)))
                .collect());
        }
        sh.stats.direct_writes.fetch_add(1, Ordering::Relaxed);
        sh.dev.write_at(piece, from).map(|()| Vec::new())
    }
}
