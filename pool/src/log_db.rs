//! Where the write journal kept its records before it had a log file of its own
//! ([`crate::FileLog`]): the metadata store's [`CF_LOG`], key `j` + pool + sequence number
//! (8-byte big-endian each), value the encoded record. A pool reads them at open and writes
//! them home (`pool/journal_log.rs`). It stays a whole [`LogStore`] (an append is one
//! unsynced RocksDB write, a sync a flush of its write-ahead log, a retire a synced range
//! delete), so that replay reads it as it reads any log.

use crate::meta::{key, MetaStore, CF_LOG};
use crate::write_journal::LogStore;
use rocksdb::WriteBatch;
use std::sync::Arc;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// A [`LogStore`] for pool `pool` in a [`MetaStore`].
#[derive(Debug, Clone)]
pub struct DbLog {
    store: Arc<MetaStore>,
    pool: u64,
}

fn err(op: Op, e: crate::meta::MetaError) -> BlockError {
    BlockError::new(ErrorKind::Io, op, 0, 0)
        .with_device("metadata database (write journal)")
        .with_detail(e.to_string())
}

impl DbLog {
    /// The journal records of pool `pool`.
    pub fn new(store: Arc<MetaStore>, pool: u64) -> Self {
        DbLog { store, pool }
    }

    fn commit(
        &self,
        op: Op,
        sync: bool,
        f: impl FnOnce(&mut WriteBatch, &rocksdb::ColumnFamily),
    ) -> Result<()> {
        let cf = self.store.cf(CF_LOG).map_err(|e| err(op, e))?;
        let mut batch = WriteBatch::default();
        f(&mut batch, cf);
        self.store.commit(batch, sync).map_err(|e| err(op, e))
    }
}

impl LogStore for DbLog {
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()> {
        self.commit(Op::Write, false, |b, cf| {
            for (seq, r) in records {
                b.put_cf(cf, key("j", &[self.pool, *seq]), r);
            }
        })
    }

    fn sync(&self) -> Result<()> {
        self.store.sync().map_err(|e| err(Op::Flush, e))
    }

    fn retire(&self, upto: u64) -> Result<()> {
        self.commit(Op::Write, true, |b, cf| {
            b.delete_range_cf(
                cf,
                key("j", &[self.pool, 0]),
                key("j", &[self.pool, upto + 1]),
            )
        })
    }

    fn records(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let prefix = key("j", &[self.pool]);
        let rows = self
            .store
            .scan(CF_LOG, &prefix)
            .map_err(|e| err(Op::Read, e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((crate::meta::be_u64(&k, prefix.len())?, v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_in_order_and_retire_drops_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Arc::new(MetaStore::open(dir.path(), &[]).unwrap());
            let log = DbLog::new(store.clone(), 2);
            log.append(&[(9, b"nine".to_vec()), (10, b"ten".to_vec())])
                .unwrap();
            log.append(&[(300, b"300".to_vec())]).unwrap();
            DbLog::new(store, 3)
                .append(&[(1, b"other pool".to_vec())])
                .unwrap();
            log.retire(9).unwrap();
        }
        let store = Arc::new(MetaStore::open(dir.path(), &[]).unwrap());
        let log = DbLog::new(store.clone(), 2);
        assert_eq!(
            log.records().unwrap(),
            vec![(10, b"ten".to_vec()), (300, b"300".to_vec())]
        );
        assert_eq!(DbLog::new(store, 3).records().unwrap().len(), 1);
    }
}
