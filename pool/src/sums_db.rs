//! The checksums of a pool's members, kept in the metadata store ([`CF_SUMS`]): a page of
//! 1024 checksums per key `c` + member id + page number, and a member's build watermark
//! at `b` + member id. Pages of zeros are not stored.

use crate::integrity::{MemberKey, SumStore};
use crate::meta::{MetaError, MetaStore, CF_SUMS};
use rocksdb::WriteBatch;
use std::sync::Arc;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// A [`SumStore`] in the metadata database.
#[derive(Debug, Clone)]
pub struct DbSums {
    store: Arc<MetaStore>,
}

fn page_key(member: &MemberKey, page: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(b'c');
    k.extend_from_slice(member);
    k.extend_from_slice(&page.to_be_bytes());
    k
}

fn built_key(member: &MemberKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(b'b');
    k.extend_from_slice(member);
    k
}

fn err(op: Op, e: MetaError) -> BlockError {
    BlockError::new(ErrorKind::Io, op, 0, 0)
        .with_device("metadata database (checksums)")
        .with_detail(e.to_string())
}

impl DbSums {
    /// The checksums kept in `store`.
    pub fn new(store: Arc<MetaStore>) -> Self {
        DbSums { store }
    }
}

impl SumStore for DbSums {
    fn load(&self, member: &MemberKey, page: u64) -> Result<Option<Vec<u8>>> {
        self.store
            .get(CF_SUMS, &page_key(member, page))
            .map_err(|e| err(Op::Read, e))
    }

    fn save(
        &self,
        member: &MemberKey,
        pages: &[(u64, Vec<u8>)],
        built: Option<u64>,
        sync: bool,
    ) -> Result<()> {
        let cf = self.store.cf(CF_SUMS).map_err(|e| err(Op::Write, e))?;
        let mut batch = WriteBatch::default();
        for (page, bytes) in pages {
            if bytes.iter().all(|&b| b == 0) {
                batch.delete_cf(cf, page_key(member, *page));
            } else {
                batch.put_cf(cf, page_key(member, *page), bytes);
            }
        }
        if let Some(b) = built {
            batch.put_cf(cf, built_key(member), b.to_be_bytes());
        }
        self.store
            .commit(batch, sync)
            .map_err(|e| err(Op::Write, e))
    }

    fn built(&self, member: &MemberKey) -> Result<Option<u64>> {
        let v = self
            .store
            .get(CF_SUMS, &built_key(member))
            .map_err(|e| err(Op::Read, e))?;
        Ok(v.and_then(|v| {
            <[u8; 8]>::try_from(v.as_slice())
                .ok()
                .map(u64::from_be_bytes)
        }))
    }

    fn forget(&self, member: &MemberKey) -> Result<()> {
        let cf = self.store.cf(CF_SUMS).map_err(|e| err(Op::Write, e))?;
        let mut batch = WriteBatch::default();
        let mut end = page_key(member, u64::MAX);
        end.push(0xFF);
        batch.delete_range_cf(cf, page_key(member, 0), end);
        batch.delete_cf(cf, built_key(member));
        self.store
            .commit(batch, false)
            .map_err(|e| err(Op::Write, e))
    }
}
