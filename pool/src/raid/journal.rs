//! The dirty-region log that closes the RAID write hole, and member-state persistence.
//!
//! Before a redundant stripe is written, its *region* ([`REGION_SIZE`] bytes of every
//! member's data area) is durably marked dirty. A crash can leave data and parity (or two
//! mirror copies) disagreeing only inside dirty regions, so at the next open only those are
//! resynchronized. [`DirtyTracker`] keeps the set of regions marked in the journal and the
//! writes in flight per region, so the journal is written once per region between flushes,
//! not once per write.

use super::RaidState;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use vsa_blockdev::Result;

/// Bytes of each member's data area per dirty region.
pub const REGION_SIZE: u64 = 64 << 20;

/// Where a RAID set keeps its dirty regions and member states (the pool backs it with
/// RocksDB).
pub trait RaidJournal: Send + Sync + std::fmt::Debug {
    /// Durably records that `region` may have writes in flight; returns only when durable.
    fn mark_dirty(&self, region: u64) -> Result<()>;
    /// Records that these regions are consistent again (may be lazy).
    fn mark_clean(&self, regions: &[u64]) -> Result<()>;
    /// Regions left dirty by an unclean stop (read at open).
    fn dirty_regions(&self) -> Result<Vec<u64>>;
    /// Durably saves member names/states/spares after any change (failure, spare swap,
    /// rebuild watermark).
    fn save_state(&self, state: &RaidState) -> Result<()>;
}

/// An in-memory [`RaidJournal`]: for tests, and for sets that need no persistence.
#[derive(Debug, Default)]
pub struct MemJournal {
    inner: Mutex<MemJournalInner>,
}

#[derive(Debug, Default)]
struct MemJournalInner {
    dirty: BTreeSet<u64>,
    state: Option<RaidState>,
    mark_dirty_calls: u64,
    saves: u64,
}

impl MemJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Regions currently marked dirty, in order.
    pub fn dirty(&self) -> Vec<u64> {
        self.inner.lock().dirty.iter().copied().collect()
    }

    /// The last saved state.
    pub fn state(&self) -> Option<RaidState> {
        self.inner.lock().state.clone()
    }

    /// How many times `mark_dirty` was called.
    pub fn mark_dirty_calls(&self) -> u64 {
        self.inner.lock().mark_dirty_calls
    }

    /// How many times `save_state` was called.
    pub fn saves(&self) -> u64 {
        self.inner.lock().saves
    }
}

impl RaidJournal for MemJournal {
    fn mark_dirty(&self, region: u64) -> Result<()> {
        let mut g = self.inner.lock();
        g.mark_dirty_calls += 1;
        g.dirty.insert(region);
        Ok(())
    }

    fn mark_clean(&self, regions: &[u64]) -> Result<()> {
        let mut g = self.inner.lock();
        for r in regions {
            g.dirty.remove(r);
        }
        Ok(())
    }

    fn dirty_regions(&self) -> Result<Vec<u64>> {
        Ok(self.dirty())
    }

    fn save_state(&self, state: &RaidState) -> Result<()> {
        let mut g = self.inner.lock();
        g.saves += 1;
        g.state = Some(state.clone());
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Region {
    /// Writes in flight.
    inflight: u32,
    /// Bumped by every write, so a flush can tell a region was written after it looked.
    generation: u64,
    /// Left dirty by an unclean stop: only resync may clean it.
    needs_resync: bool,
    /// The generation a flush last found idle: the next flush cleans the region if it
    /// is still that one.
    settled: Option<u64>,
}

/// The in-memory half of the dirty-region log: which regions the journal holds as dirty,
/// and the writes in flight in each.
#[derive(Debug, Default)]
pub(crate) struct DirtyTracker {
    regions: Mutex<HashMap<u64, Region>>,
}

impl DirtyTracker {
    /// Regions found dirty at open: they stay dirty until [`DirtyTracker::resynced`].
    pub fn with_resync(regions: impl IntoIterator<Item = u64>) -> Self {
        let map = regions
            .into_iter()
            .map(|r| {
                let region = Region {
                    needs_resync: true,
                    ..Region::default()
                };
                (r, region)
            })
            .collect();
        DirtyTracker {
            regions: Mutex::new(map),
        }
    }

    /// Records a write starting in `region`, marking it dirty in `journal` first if needed.
    pub fn begin(&self, journal: &dyn RaidJournal, region: u64) -> Result<()> {
        let mut g = self.regions.lock();
        if !g.contains_key(&region) {
            // Held across the journal write so a concurrent flush cannot clean the region
            // between our mark and our write.
            journal.mark_dirty(region)?;
        }
        let r = g.entry(region).or_default();
        r.inflight += 1;
        r.generation += 1;
        Ok(())
    }

    /// Records a write in `region` as finished.
    pub fn end(&self, region: u64) {
        if let Some(r) = self.regions.lock().get_mut(&region) {
            r.inflight = r.inflight.saturating_sub(1);
        }
    }

    /// Regions idle now, with their generation: call before flushing the members.
    pub fn idle(&self) -> Vec<(u64, u64)> {
        self.regions
            .lock()
            .iter()
            .filter(|(_, r)| r.inflight == 0 && !r.needs_resync)
            .map(|(&k, r)| (k, r.generation))
            .collect()
    }

    /// After the members were flushed: cleans the regions of `idle` that saw no write
    /// since, and (unless `now`) were found idle the same way by the flush before. A region
    /// being written to stays dirty across flushes, so its next write needs no synced
    /// mark (as md's bitmap clears its bits lazily); `now` cleans at once (clean stop).
    /// `before` runs first when any region is to be cleaned (no write can begin meanwhile):
    /// it makes durable what the marks protect (the members' checksums).
    pub fn clean(
        &self,
        journal: &dyn RaidJournal,
        idle: &[(u64, u64)],
        now: bool,
        before: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut g = self.regions.lock();
        let mut done = Vec::new();
        for &(k, generation) in idle {
            if let Some(r) = g.get_mut(&k) {
                if r.inflight == 0 && r.generation == generation && !r.needs_resync {
                    if now || r.settled == Some(generation) {
                        done.push(k);
                    } else {
                        r.settled = Some(generation);
                    }
                }
            }
        }
        if done.is_empty() {
            return Ok(());
        }
        done.sort_unstable();
        before()?;
        journal.mark_clean(&done)?;
        for k in &done {
            g.remove(k);
        }
        Ok(())
    }

    /// Regions waiting for resync, in order.
    pub fn pending_resync(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .regions
            .lock()
            .iter()
            .filter(|(_, r)| r.needs_resync)
            .map(|(&k, _)| k)
            .collect();
        v.sort_unstable();
        v
    }

    /// Adds regions that must be resynced (a new set that is not known to be clean).
    pub fn require_resync(&self, journal: &dyn RaidJournal, regions: &[u64]) -> Result<()> {
        let mut g = self.regions.lock();
        for &k in regions {
            if !g.contains_key(&k) {
                journal.mark_dirty(k)?;
            }
            g.entry(k).or_default().needs_resync = true;
        }
        Ok(())
    }

    /// `region` was resynced: it is cleaned now unless writes are in flight (then the next
    /// flush cleans it).
    pub fn resynced(&self, journal: &dyn RaidJournal, region: u64) -> Result<()> {
        let mut g = self.regions.lock();
        let Some(r) = g.get_mut(&region) else {
            return Ok(());
        };
        r.needs_resync = false;
        if r.inflight == 0 {
            journal.mark_clean(&[region])?;
            g.remove(&region);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_once_and_cleans_idle_regions_on_flush() {
        let j = MemJournal::new();
        let t = DirtyTracker::default();
        t.begin(&j, 3).unwrap();
        t.begin(&j, 3).unwrap();
        t.begin(&j, 5).unwrap();
        assert_eq!(j.mark_dirty_calls(), 2);
        t.end(3);
        t.end(5);
        let idle = t.idle();
        assert_eq!(idle.len(), 1);
        t.clean(&j, &idle, true, || Ok(())).unwrap();
        assert_eq!(j.dirty(), vec![3]);
        t.end(3);
        let idle = t.idle();
        t.begin(&j, 3).unwrap(); // a write sneaks in between idle() and clean()
        t.end(3);
        t.clean(&j, &idle, true, || Ok(())).unwrap();
        assert_eq!(j.dirty(), vec![3]);
        t.clean(&j, &t.idle(), true, || Ok(())).unwrap();
        assert!(j.dirty().is_empty());
    }

    #[test]
    fn a_region_is_cleaned_by_the_second_flush_that_finds_it_idle() {
        let j = MemJournal::new();
        let t = DirtyTracker::default();
        t.begin(&j, 1).unwrap();
        t.end(1);
        t.clean(&j, &t.idle(), false, || Ok(())).unwrap();
        assert_eq!(j.dirty(), vec![1], "still dirty after one flush");
        // Written again between flushes: stays dirty, marked once.
        t.begin(&j, 1).unwrap();
        t.end(1);
        t.clean(&j, &t.idle(), false, || Ok(())).unwrap();
        assert_eq!(j.dirty(), vec![1]);
        assert_eq!(j.mark_dirty_calls(), 1);
        t.clean(&j, &t.idle(), false, || Ok(())).unwrap();
        assert!(j.dirty().is_empty(), "idle through a whole flush: cleaned");
    }

    #[test]
    fn the_hook_runs_only_when_a_region_is_cleaned() {
        let j = MemJournal::new();
        let t = DirtyTracker::default();
        let runs = std::cell::Cell::new(0);
        let hook = || {
            runs.set(runs.get() + 1);
            Ok(())
        };
        t.clean(&j, &t.idle(), true, hook).unwrap();
        assert_eq!(runs.get(), 0, "nothing dirty");
        t.begin(&j, 2).unwrap();
        t.end(2);
        t.clean(&j, &t.idle(), false, hook).unwrap();
        assert_eq!(runs.get(), 0, "first idle flush keeps it");
        t.clean(&j, &t.idle(), false, hook).unwrap();
        assert_eq!(runs.get(), 1);
        assert!(j.dirty().is_empty());
    }

    #[test]
    fn resync_regions_survive_flush_until_resynced() {
        let j = MemJournal::new();
        j.mark_dirty(7).unwrap();
        let t = DirtyTracker::with_resync(j.dirty_regions().unwrap());
        t.clean(&j, &t.idle(), true, || Ok(())).unwrap();
        assert_eq!(t.pending_resync(), vec![7]);
        t.resynced(&j, 7).unwrap();
        assert!(t.pending_resync().is_empty());
        assert!(j.dirty().is_empty());
    }
}
