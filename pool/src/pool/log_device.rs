//! A separate log device for a pool's write journal (as a ZFS SLOG): a fast device takes
//! the journal's records while the members keep the data. Given at creation
//! (`PoolSpec::log`) or added and removed while the pool serves (`Pool::set_log`).

use super::journal_log::{self, size_for};
use super::{NewFiles, Pool, PoolError, PoolRecord};
use crate::log_file::{read_owner, FileLog};
use crate::meta::{MetaStore, CF_POOL};
use crate::write_journal::LogStore;
use rocksdb::WriteBatch;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use vsa_blockdev::{BlockError, Op};

fn bad(path: &Path, why: impl Into<String>) -> PoolError {
    PoolError::BadLog {
        path: path.to_owned(),
        why: why.into(),
    }
}

/// Checks that `path` may become the log of pool `owner` (not a member of a pool, not
/// another pool's log, large enough for `room` bytes of records) and makes the log there:
/// a block device is used whole; a file is made (or cut) to the size the journal needs
/// (noted in `new` if it was missing).
fn make(path: &Path, owner: [u8; 16], room: u64, new: &mut NewFiles) -> Result<FileLog, PoolError> {
    if let Ok(label) = crate::member::read_label(path) {
        return Err(bad(
            path,
            format!(
                "the device is a member of vsa pool {}; a log needs a device of its own",
                hex::encode(label.pool_id)
            ),
        ));
    }
    let holder = read_owner(path);
    if let Some(theirs) = holder.filter(|&o| o != owner && o != [0; 16]) {
        return Err(bad(
            path,
            format!(
                "the device holds the write journal log of vsa pool {}; remove it there \
                 (vsa pool log remove) or wipe its first 4 KiB",
                hex::encode(theirs)
            ),
        ));
    }
    let need = size_for(room);
    let meta = std::fs::metadata(path).ok();
    let device = meta.as_ref().is_some_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_block_device()
    });
    if device {
        let have = std::fs::File::open(path)
            .and_then(|mut f| f.seek(SeekFrom::End(0)))
            .map_err(|e| bad(path, format!("cannot read its size: {e}")))?;
        if have < need {
            return Err(bad(
                path,
                format!(
                    "{have} bytes; a journal of {room} bytes needs a log of at least {need}: \
                     use a larger device or a smaller write_journal"
                ),
            ));
        }
    } else if meta.as_ref().is_some_and(|m| !m.is_file()) {
        return Err(bad(path, "not a block device or a file"));
    } else if meta.is_none() {
        new.0.push(path.to_owned());
    } else if holder.is_none() && holds_data(path) {
        return Err(bad(
            path,
            "the file holds data; give the log a new path (it is made there) or an empty file",
        ));
    }
    FileLog::create(path, need, owner).map_err(|e| bad(path, e.to_string()))
}

/// Whether the first 4 KiB of the file at `path` are not all zeros.
fn holds_data(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_or(true, |_| head.iter().any(|&b| b != 0))
}

/// Makes the log device of a pool being created (its record names it; the pool's open
/// uses it).
pub(super) fn prepare(
    pool: &str,
    room: u64,
    path: &Path,
    owner: [u8; 16],
    new: &mut NewFiles,
) -> Result<(), PoolError> {
    if room == 0 {
        return Err(no_journal(pool));
    }
    make(path, owner, room, new).map(drop)
}

fn no_journal(pool: &str) -> PoolError {
    PoolError::NoJournal {
        pool: pool.to_owned(),
        why: "write_journal = 0 in the configuration turns it off".to_owned(),
    }
}

/// Makes the pool's log file in the data directory anew.
fn default_log(path: &Path, room: u64, owner: [u8; 16]) -> Result<FileLog, PoolError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| bad(dir, e.to_string()))?;
    }
    FileLog::create(path, size_for(room), owner).map_err(|e| bad(path, e.to_string()))
}

impl Pool {
    /// Moves the write journal's log to `dev` (a block device, used whole, or a file,
    /// made at the size the journal needs), or back to its file in the data directory
    /// (`None`), while the pool serves: writes pause while what is journaled goes home.
    pub fn set_log(&self, dev: Option<&Path>) -> Result<(), PoolError> {
        let journal = self
            .journal
            .as_ref()
            .ok_or_else(|| no_journal(self.name()))?;
        // One change at a time, so the device shown is the one the journal uses.
        let _one = self.log_change.lock();
        if self.log.lock().as_deref() == dev {
            return Ok(());
        }
        let owner = super::unhex(&self.record.uuid).unwrap_or_default();
        let default = journal_log::path(&self.store, self.record.id);
        if dev == Some(default.as_path()) {
            return Err(bad(
                &default,
                "that is the pool's own log file; `vsa pool log remove` goes back to it",
            ));
        }
        let room = journal.stats().capacity_bytes;
        let mut new = NewFiles::default();
        let mut refused = None;
        let switched = journal.switch_log(|| {
            let made = match dev {
                Some(d) => make(d, owner, room, &mut new),
                None => default_log(&default, room, owner),
            };
            let log = made
                .and_then(|log| self.save_log(dev).map(|()| log))
                .map_err(|e| {
                    let b = BlockError::io(Op::Write, 0, 0, std::io::Error::other(e.to_string()));
                    refused = Some(e);
                    b
                })?;
            Ok(Arc::new(log) as Arc<dyn LogStore>)
        });
        if let Some(e) = refused {
            return Err(e);
        }
        switched.map_err(crate::raid::RaidError::Block)?;
        new.keep();
        *self.log.lock() = dev.map(Path::to_owned);
        if dev.is_some() {
            // Retired, and the record no longer names it.
            if let Err(e) = std::fs::remove_file(&default) {
                tracing::warn!(path = %default.display(), "cannot remove the journal's old log file: {e}");
            }
        }
        tracing::info!(pool = self.name(), log = ?dev, "write journal log moved");
        Ok(())
    }

    /// Records `dev` as the pool's log device, durably.
    fn save_log(&self, dev: Option<&Path>) -> Result<(), PoolError> {
        let record = PoolRecord {
            log: dev.map(Path::to_owned),
            ..self.record.clone()
        };
        put_record(&self.store, &record)
    }
}

/// Writes `record` durably.
fn put_record(store: &MetaStore, record: &PoolRecord) -> Result<(), PoolError> {
    let mut batch = WriteBatch::default();
    let cf = store.cf(CF_POOL)?;
    batch.put_cf(cf, super::pool_key(&record.name), MetaStore::encode(record));
    store.commit(batch, true)?;
    Ok(())
}

/// The way out when a pool's log device is lost (`vsa serve --discard-lost-log POOL`,
/// as ZFS's `zpool import -m`): if the log device `record` names cannot be opened as this
/// pool's log (missing, unreadable, or holding another pool's log), the record forgets
/// it, durably, and the journal goes back to a log file in the data directory. The
/// writes the lost log held that had not gone home are lost; the device is not touched.
/// A log device that opens is kept (and replayed as always). Returns the device dropped.
pub(super) fn discard_lost(
    store: &MetaStore,
    record: &mut PoolRecord,
) -> Result<Option<std::path::PathBuf>, PoolError> {
    let Some(dev) = record.log.clone() else {
        return Ok(None);
    };
    let owner = super::unhex(&record.uuid).unwrap_or_default();
    if journal_log::open_device(&dev, owner, &record.name).is_ok() {
        return Ok(None);
    }
    let why = if dev.exists() {
        "it cannot be read as this pool's log"
    } else {
        "it is missing"
    };
    tracing::warn!(
        pool = record.name.as_str(),
        log_device = %dev.display(),
        "discarding the pool's lost log device as asked ({why}): writes it held that had not gone home are lost"
    );
    record.log = None;
    put_record(store, record)?;
    Ok(Some(dev))
}

#[cfg(test)]
mod tests;
