//! Where a pool's write journal keeps its records: a log file beside the metadata database
//! (`journal/pool-ID.log` in the data directory), sized from the journal's room. Records an
//! earlier version kept in the metadata database ([`DbLog`]) go home first.

use crate::log_file::{FileLog, MIN_LOG_BYTES};
use crate::meta::MetaStore;
use crate::raid::RaidSet;
use crate::write_journal;
use crate::DbLog;
use std::path::PathBuf;
use std::sync::Arc;
use vsa_blockdev::{BlockError, Op, Result};

/// The log file of pool `id`.
pub fn path(store: &MetaStore, id: u64) -> PathBuf {
    let db = store.path();
    db.parent()
        .unwrap_or(db)
        .join("journal")
        .join(format!("pool-{id:016x}.log"))
}

/// Log bytes for `budget` bytes of records: record and frame headers (under 2% for 4 KiB
/// writes), and the end of the ring a frame that does not fit skips (at most the largest
/// group, a quarter of the budget).
pub fn size_for(budget: u64) -> u64 {
    (budget + budget / 2).max(MIN_LOG_BYTES)
}

/// Opens the log of pool `id` for a journal of `budget` bytes (0: the journal is off),
/// after writing home what older logs hold: `None` when off.
pub fn open(
    store: &Arc<MetaStore>,
    id: u64,
    raid: &Arc<RaidSet>,
    budget: u64,
) -> Result<Option<Arc<FileLog>>> {
    write_journal::replay(raid, &DbLog::new(store.clone(), id))?;
    let path = path(store, id);
    let want = size_for(budget);
    if path.exists() {
        let log = FileLog::open(&path).map_err(|e| {
            e.with_detail(format!(
                "the pool's write journal cannot be read, so writes it acknowledged could \
                 be lost; move {} away to open the pool without them",
                path.display()
            ))
        })?;
        if budget > 0 && log.capacity() + 4096 >= want {
            return Ok(Some(Arc::new(log)));
        }
        // Off now, or of another size: its records go home, then it is made anew.
        write_journal::replay(raid, &log)?;
    }
    if budget == 0 {
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| BlockError::io(Op::Write, 0, 0, e))?;
        }
        return Ok(None);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            BlockError::io(Op::Write, 0, 0, e).with_device(dir.display().to_string())
        })?;
    }
    FileLog::create(&path, want).map(|l| Some(Arc::new(l)))
}
