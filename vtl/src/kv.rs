//! [`Kv`]: the ordered key-value store the library keeps its catalog in (cartridges,
//! their record indexes, segment maps, the inventory). The appliance implements it over
//! its RocksDB column family `vtl`, each library under its own key prefix; [`MemKv`] is
//! the in-memory one for tests.

use crate::error::{Result, VtlError};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// One change of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Deletes every key in `[from, to)`.
    DeleteRange(Vec<u8>, Vec<u8>),
}

/// Changes applied together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(key.into(), value.into()));
    }
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(key.into()));
    }
    pub fn delete_range(&mut self, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(Op::DeleteRange(from.into(), to.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Appends `other`'s changes after this batch's.
    pub fn extend(&mut self, other: Batch) {
        self.ops.extend(other.ops);
    }
}

/// An ordered key-value store with atomic batches.
pub trait Kv: Send + Sync + std::fmt::Debug {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every key starting with `prefix`, in key order, with its value.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Applies `batch` atomically; with `sync` it is durable (survives power loss) when
    /// this returns, without it at least ordered before any later synced batch.
    fn commit(&self, batch: Batch, sync: bool) -> Result<()>;
}

/// An in-memory [`Kv`], for tests. It can be made to fail, and counts synced commits.
#[derive(Debug, Default)]
pub struct MemKv {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    syncs: Mutex<u64>,
    fail: Mutex<bool>,
}

impl MemKv {
    pub fn new() -> MemKv {
        MemKv::default()
    }
    /// Makes every later commit fail (or succeed again).
    pub fn fail(&self, on: bool) {
        *self.fail.lock() = on;
    }
    /// How many synced commits there were.
    pub fn syncs(&self) -> u64 {
        *self.syncs.lock()
    }
    /// A copy of everything, as a crash would leave it (all commits are kept here).
    pub fn snapshot(&self) -> MemKv {
        MemKv {
            map: Mutex::new(self.map.lock().clone()),
            ..MemKv::default()
        }
    }
}

impl Kv for MemKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let map = self.map.lock();
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch, sync: bool) -> Result<()> {
        if *self.fail.lock() {
            return Err(VtlError::Catalog("the test store fails on purpose".into()));
        }
        let mut map = self.map.lock();
        for op in batch.ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
                Op::DeleteRange(from, to) => {
                    let doomed: Vec<Vec<u8>> =
                        map.range(from..to).map(|(k, _)| k.clone()).collect();
                    for k in doomed {
                        map.remove(&k);
                    }
                }
            }
        }
        if sync {
            *self.syncs.lock() += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_sees_only_the_prefix_and_delete_range_is_half_open() -> Result<()> {
        let kv = MemKv::new();
        let mut b = Batch::default();
        for k in ["a1", "a2", "a3", "b1"] {
            b.put(k.as_bytes(), k.as_bytes());
        }
        kv.commit(b, true)?;
        assert_eq!(kv.scan(b"a")?.len(), 3);
        let mut b = Batch::default();
        b.delete_range(b"a2".to_vec(), b"a3".to_vec());
        kv.commit(b, false)?;
        let keys: Vec<_> = kv.scan(b"")?.into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"a1".to_vec(), b"a3".to_vec(), b"b1".to_vec()]);
        assert_eq!(kv.syncs(), 1);
        kv.fail(true);
        assert!(kv.commit(Batch::default(), true).is_err());
        Ok(())
    }
}
