//! Where journal records are kept: [`LogStore`]. The pool keeps them in its metadata
//! database ([`crate::DbLog`]); [`MemLog`] is for tests.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// An ordered store of encoded journal records keyed by sequence number.
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Stores `records` (sequence number, encoded record), all or none; returns once they
    /// survive a crash of this process (they are with the operating system), as a write
    /// the set acknowledges does. [`LogStore::sync`] makes them survive a power loss.
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()>;
    /// Makes every record appended so far (and every retire) survive a power loss.
    fn sync(&self) -> Result<()>;
    /// Drops every record numbered `upto` or lower, durably (as by [`LogStore::sync`]).
    fn retire(&self, upto: u64) -> Result<()>;
    /// Every record kept, in sequence order (read at open, for replay).
    fn records(&self) -> Result<Vec<(u64, Vec<u8>)>>;
    /// The highest sequence number retired so far, if the store keeps it: records
    /// numbered at or below it are never returned, so new ones must be numbered above it.
    fn retired(&self) -> u64 {
        0
    }
}

/// An in-memory [`LogStore`] for tests: what it holds survives as long as it does, so a
/// test can "crash" the journal above it and replay; [`MemLog::lose_unsynced`] is a power
/// loss.
#[derive(Debug, Default)]
pub struct MemLog {
    inner: Mutex<MemLogInner>,
}

#[derive(Debug, Default)]
struct MemLogInner {
    records: BTreeMap<u64, Vec<u8>>,
    /// Records appended since the last sync.
    unsynced: Vec<u64>,
    appends: u64,
    syncs: u64,
    failing: bool,
}

impl MemLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `append` calls stored records (group commits).
    pub fn appends(&self) -> u64 {
        self.inner.lock().appends
    }

    /// How many `sync` calls there were.
    pub fn syncs(&self) -> u64 {
        self.inner.lock().syncs
    }

    /// How many records were appended since the last sync.
    pub fn unsynced(&self) -> usize {
        self.inner.lock().unsynced.len()
    }

    /// A power loss: the records appended since the last sync are gone.
    pub fn lose_unsynced(&self) {
        let mut g = self.inner.lock();
        for seq in std::mem::take(&mut g.unsynced) {
            g.records.remove(&seq);
        }
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().records.len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes `append` fail (as a full or failed log device would) while `on`.
    pub fn fail(&self, on: bool) {
        self.inner.lock().failing = on;
    }

    /// Changes the stored bytes of record `seq` (to test replay's checks).
    pub fn corrupt(&self, seq: u64, at: usize) {
        if let Some(r) = self.inner.lock().records.get_mut(&seq) {
            if let Some(b) = r.get_mut(at) {
                *b ^= 0xff;
            }
        }
    }
}

impl LogStore for MemLog {
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()> {
        let mut g = self.inner.lock();
        if g.failing {
            return Err(BlockError::new(ErrorKind::Io, Op::Write, 0, 0)
                .with_device("test log")
                .with_detail("failing on purpose"));
        }
        g.appends += 1;
        for (seq, r) in records {
            g.records.insert(*seq, r.clone());
            g.unsynced.push(*seq);
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        let mut g = self.inner.lock();
        g.syncs += 1;
        g.unsynced.clear();
        Ok(())
    }

    fn retire(&self, upto: u64) -> Result<()> {
        let mut g = self.inner.lock();
        g.records = g.records.split_off(&(upto + 1));
        g.unsynced.retain(|&s| s > upto);
        Ok(())
    }

    fn records(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .inner
            .lock()
            .records
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }
}
