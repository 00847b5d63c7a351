//! The catalog of one library (`vsa_vtl::kv::Kv`) in the `vtl` column family, under the
//! library's own prefix `d/<library>/`.

use super::model::CF_VTL;
use std::sync::Arc;
use vsa_pool::MetaStore;
use vsa_vtl::kv::{Batch, Kv, Op};
use vsa_vtl::VtlError;

/// A library's keys in the metadata store.
#[derive(Debug)]
pub struct DbKv {
    store: Arc<MetaStore>,
    prefix: Vec<u8>,
}

impl DbKv {
    pub fn new(store: Arc<MetaStore>, prefix: Vec<u8>) -> DbKv {
        DbKv { store, prefix }
    }

    fn key(&self, k: &[u8]) -> Vec<u8> {
        let mut v = self.prefix.clone();
        v.extend_from_slice(k);
        v
    }
}

fn err(e: impl std::fmt::Display) -> VtlError {
    VtlError::Catalog(e.to_string())
}

impl Kv for DbKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, VtlError> {
        self.store.get(CF_VTL, &self.key(key)).map_err(err)
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, VtlError> {
        let rows = self.store.scan(CF_VTL, &self.key(prefix)).map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k[self.prefix.len()..].to_vec(), v))
            .collect())
    }

    fn commit(&self, batch: Batch, sync: bool) -> Result<(), VtlError> {
        let cf = self.store.cf(CF_VTL).map_err(err)?;
        let mut b = rocksdb::WriteBatch::default();
        for op in batch.ops {
            match op {
                Op::Put(k, v) => b.put_cf(cf, self.key(&k), v),
                Op::Delete(k) => b.delete_cf(cf, self.key(&k)),
                Op::DeleteRange(from, to) => b.delete_range_cf(cf, self.key(&from), self.key(&to)),
            }
        }
        self.store.commit(b, sync).map_err(err)
    }
}

/// A device's persistent reservations in its library's catalog (`pr/<lun>`), so those
/// registered with APTPL survive restarts as they do on the iSCSI component's LUNs.
#[derive(Debug)]
pub struct KvPrStore {
    pub kv: Arc<DbKv>,
    pub key: Vec<u8>,
}

impl vsa_scsi::spc::PrStore for KvPrStore {
    fn load(&self) -> Result<Option<Vec<u8>>, vsa_scsi::spc::PrStoreError> {
        self.kv
            .get(&self.key)
            .map_err(|e| vsa_scsi::spc::PrStoreError::Io(e.to_string()))
    }

    fn save(&self, state: &[u8]) -> Result<(), vsa_scsi::spc::PrStoreError> {
        let mut b = Batch::default();
        b.put(self.key.clone(), state.to_vec());
        self.kv
            .commit(b, true)
            .map_err(|e| vsa_scsi::spc::PrStoreError::Io(e.to_string()))
    }
}
