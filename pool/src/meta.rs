//! The metadata store: one RocksDB per appliance, one column family per concern.
//!
//! The pool's column families are listed in [`POOL_CFS`]; the appliance may open the same
//! database with further families for other components (targets, namespace, tape library,
//! VMs). Multi-key changes are one [`rocksdb::WriteBatch`]; writes that something is
//! acknowledged on are synced ([`MetaStore::commit`] with `sync = true`). Because RocksDB's
//! write-ahead log is sequential, a synced write also makes every earlier write durable.
//! The keys and values are described in `pool/FORMAT.md`.

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use std::path::{Path, PathBuf};

/// Pool records (configuration, member ids and paths) and RAID member states.
pub const CF_POOL: &str = "pool";
/// RAID dirty-region log.
pub const CF_DIRTY: &str = "raid_dirty";
/// Volume, snapshot and map-node records.
pub const CF_VOLUME: &str = "volume";
/// Chunk maps: (pool, node, logical chunk) → physical chunk.
pub const CF_MAP: &str = "chunk_map";
/// Checksums of the members' blocks: (member id, page) → 1024 checksums.
pub const CF_SUMS: &str = "checksum";
/// Write journal records: (pool, sequence number) → record.
pub const CF_LOG: &str = "write_journal";

/// The column families the pool uses.
pub const POOL_CFS: &[&str] = &[CF_POOL, CF_DIRTY, CF_VOLUME, CF_MAP, CF_SUMS, CF_LOG];

/// An error from the metadata store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// RocksDB failed.
    #[error("metadata database at {path}: {source}")]
    Db {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// Another process has the database open.
    #[error("the data directory {path} is in use by another vsa process (its metadata database is locked); stop that process or choose another data directory")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// A stored record does not decode.
    #[error("metadata record {key} is corrupt: {why}")]
    Corrupt {
        /// The key, printed.
        key: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The appliance's metadata database.
#[derive(Debug)]
pub struct MetaStore {
    db: DB,
    path: PathBuf,
}

impl MetaStore {
    /// Opens (creating if needed) the database at `path` with the pool's column families
    /// and `extra` ones.
    pub fn open(path: &Path, extra: &[&str]) -> Result<MetaStore, MetaError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        // Reuse write-ahead log files, overwriting them in place: a synced write (a thin
        // allocation, any metadata change) then needs no change of the file's size on disk.
        opts.set_recycle_log_file_num(4);
        // Every family already in the database must be opened too, including ones a newer
        // version of another component created.
        let existing = DB::list_cf(&opts, path).unwrap_or_default();
        let mut names: Vec<String> = POOL_CFS
            .iter()
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect();
        for name in existing {
            if name != "default" && !names.contains(&name) {
                names.push(name);
            }
        }
        let cfs = names
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("lock")
                && (msg.contains("unavailable") || msg.contains("No locks") || msg.contains("LOCK"))
            {
                MetaError::Locked {
                    path: path.to_owned(),
                }
            } else {
                MetaError::Db {
                    path: path.to_owned(),
                    source: e,
                }
            }
        })?;
        Ok(MetaStore {
            db,
            path: path.to_owned(),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying database, for components that keep their own families.
    pub fn db(&self) -> &DB {
        &self.db
    }

    /// A column family handle.
    pub fn cf(&self, name: &str) -> Result<&ColumnFamily, MetaError> {
        self.db.cf_handle(name).ok_or_else(|| MetaError::Corrupt {
            key: name.to_owned(),
            why: "column family missing".to_owned(),
        })
    }

    fn err(&self, source: rocksdb::Error) -> MetaError {
        MetaError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes `batch` atomically; with `sync` it is durable when this returns.
    pub fn commit(&self, batch: WriteBatch, sync: bool) -> Result<(), MetaError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo).map_err(|e| self.err(e))
    }

    /// Makes every write so far durable (a flush of the write-ahead log), as a synced
    /// commit would have.
    pub fn sync(&self) -> Result<(), MetaError> {
        self.db.flush_wal(true).map_err(|e| self.err(e))
    }

    /// Reads one value.
    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.err(e))
    }

    /// Every key/value whose key starts with `prefix`, in key order.
    pub fn scan(&self, cf: &str, prefix: &[u8]) -> Result<Vec<KeyValue>, MetaError> {
        let mut out = Vec::new();
        self.scan_each(cf, prefix, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` for every key/value whose key starts with `prefix`, in key order.
    pub fn scan_each(
        &self,
        cf: &str,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), MetaError>,
    ) -> Result<(), MetaError> {
        let iter = self
            .db
            .iterator_cf(self.cf(cf)?, IteratorMode::From(prefix, Direction::Forward));
        for item in iter {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if !k.starts_with(prefix) {
                break;
            }
            f(&k, &v)?;
        }
        Ok(())
    }

    /// Serializes a record as JSON.
    pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
        // Serializing plain data structs to a Vec cannot fail.
        serde_json::to_vec(value).unwrap_or_default()
    }

    /// Decodes a JSON record, naming the key if it is corrupt.
    pub fn decode<T: serde::de::DeserializeOwned>(
        key: &[u8],
        value: &[u8],
    ) -> Result<T, MetaError> {
        serde_json::from_slice(value).map_err(|e| MetaError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            why: e.to_string(),
        })
    }
}

/// Builds a key from a text prefix and big-endian numbers, so keys sort numerically.
pub fn key(prefix: &str, nums: &[u64]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8 * nums.len());
    k.extend_from_slice(prefix.as_bytes());
    for n in nums {
        k.extend_from_slice(&n.to_be_bytes());
    }
    k
}

/// Reads the big-endian u64 at `at` in `bytes`.
pub fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_scan_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open(dir.path(), &["target"]).unwrap();
        let mut b = WriteBatch::default();
        b.put_cf(store.cf(CF_MAP).unwrap(), key("m", &[1, 2]), b"a");
        b.put_cf(store.cf(CF_MAP).unwrap(), key("m", &[1, 3]), b"b");
        b.put_cf(store.cf(CF_MAP).unwrap(), key("m", &[2, 0]), b"c");
        store.commit(b, true).unwrap();
        let got = store.scan(CF_MAP, &key("m", &[1])).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(be_u64(&got[1].0, 9), Some(3));
        assert!(store.cf("target").is_ok());
        let e = MetaStore::open(dir.path(), &[]).unwrap_err();
        assert!(matches!(e, MetaError::Locked { .. }), "{e}");
        drop(store);
        let store = MetaStore::open(dir.path(), &[]).unwrap();
        assert_eq!(
            store.get(CF_MAP, &key("m", &[2, 0])).unwrap().as_deref(),
            Some(&b"c"[..])
        );
    }

    #[test]
    fn decode_names_the_key() {
        let e = MetaStore::decode::<u64>(b"v/x", b"{").unwrap_err();
        assert!(e.to_string().contains("v/x"));
    }
}
