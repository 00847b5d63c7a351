//! The RAID journal of a pool, kept in the metadata store: dirty regions in
//! [`CF_DIRTY`], the member states in [`CF_POOL`].

use crate::meta::{key, MetaStore, CF_DIRTY, CF_POOL};
use crate::raid::{RaidJournal, RaidState};
use rocksdb::WriteBatch;
use std::sync::Arc;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// A [`RaidJournal`] for pool `pool` in a [`MetaStore`].
#[derive(Debug, Clone)]
pub struct DbJournal {
    store: Arc<MetaStore>,
    pool: u64,
}

pub(crate) fn state_key(pool: u64) -> Vec<u8> {
    key("r", &[pool])
}

fn dirty_key(pool: u64, region: u64) -> Vec<u8> {
    key("d", &[pool, region])
}

fn meta_err(e: crate::meta::MetaError) -> BlockError {
    BlockError::new(ErrorKind::Io, Op::Write, 0, 0)
        .with_device("metadata database")
        .with_detail(e.to_string())
}

impl DbJournal {
    /// The journal of pool `pool`.
    pub fn new(store: Arc<MetaStore>, pool: u64) -> Self {
        DbJournal { store, pool }
    }

    /// The saved member states, if any.
    pub fn load_state(&self) -> std::result::Result<Option<RaidState>, crate::meta::MetaError> {
        let k = state_key(self.pool);
        self.store
            .get(CF_POOL, &k)?
            .map(|v| MetaStore::decode(&k, &v))
            .transpose()
    }

    fn write(
        &self,
        f: impl FnOnce(&mut WriteBatch, &rocksdb::ColumnFamily),
        cf: &str,
        sync: bool,
    ) -> Result<()> {
        let handle = self.store.cf(cf).map_err(meta_err)?;
        let mut batch = WriteBatch::default();
        f(&mut batch, handle);
        self.store.commit(batch, sync).map_err(meta_err)
    }
}

impl RaidJournal for DbJournal {
    fn mark_dirty(&self, region: u64) -> Result<()> {
        self.write(
            |b, cf| b.put_cf(cf, dirty_key(self.pool, region), []),
            CF_DIRTY,
            true,
        )
    }

    fn mark_clean(&self, regions: &[u64]) -> Result<()> {
        self.write(
            |b, cf| {
                for &r in regions {
                    b.delete_cf(cf, dirty_key(self.pool, r));
                }
            },
            CF_DIRTY,
            false,
        )
    }

    fn dirty_regions(&self) -> Result<Vec<u64>> {
        let prefix = key("d", &[self.pool]);
        let rows = self.store.scan(CF_DIRTY, &prefix).map_err(meta_err)?;
        Ok(rows
            .iter()
            .filter_map(|(k, _)| crate::meta::be_u64(k, prefix.len()))
            .collect())
    }

    fn save_state(&self, state: &RaidState) -> Result<()> {
        let value = MetaStore::encode(state);
        self.write(
            |b, cf| b.put_cf(cf, state_key(self.pool), value),
            CF_POOL,
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raid::MemberState;

    #[test]
    fn dirty_regions_and_state_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Arc::new(MetaStore::open(dir.path(), &[]).unwrap());
            let j = DbJournal::new(store.clone(), 3);
            j.mark_dirty(5).unwrap();
            j.mark_dirty(9).unwrap();
            j.mark_clean(&[5]).unwrap();
            DbJournal::new(store, 4).mark_dirty(1).unwrap();
            j.save_state(&RaidState {
                members: vec![
                    ("a".into(), MemberState::Active),
                    ("b".into(), MemberState::Faulty),
                ],
                spares: vec!["c".into()],
            })
            .unwrap();
        }
        let store = Arc::new(MetaStore::open(dir.path(), &[]).unwrap());
        let j = DbJournal::new(store, 3);
        assert_eq!(j.dirty_regions().unwrap(), vec![9]);
        let s = j.load_state().unwrap().unwrap();
        assert_eq!(s.members[1].1, MemberState::Faulty);
        assert_eq!(s.spares, vec!["c".to_owned()]);
    }
}
