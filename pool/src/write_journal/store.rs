//! Where journal records are kept: [`LogStore`]. The pool keeps them in its metadata
//! database ([`crate::DbLog`]); [`MemLog`] is for tests.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// A durable, ordered store of encoded journal records keyed by sequence number.
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Stores `records` (sequence number, encoded record); returns only when they are
    /// durable. All or none.
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()>;
    /// Durably drops every record numbered `upto` or lower.
    fn retire(&self, upto: u64) -> Result<()>;
    /// Every record kept, in sequence order (read at open, for replay).
    fn records(&self) -> Result<Vec<(u64, Vec<u8>)>>;
}

/// An in-memory [`LogStore`] for tests: what it holds survives as long as it does, so a
/// test can "crash" the journal above it and replay.
#[derive(Debug, Default)]
pub struct MemLog {
    inner: Mutex<MemLogInner>,
}

#[derive(Debug, Default)]
struct MemLogInner {
    records: BTreeMap<u64, Vec<u8>>,
    appends: u64,
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
        }
        Ok(())
    }

    fn retire(&self, upto: u64) -> Result<()> {
        let mut g = self.inner.lock();
        g.records = g.records.split_off(&(upto + 1));
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
