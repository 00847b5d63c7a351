//! Where a pool's write journal keeps its records: a log file beside the metadata database
//! (`journal/pool-ID.log` in the data directory), sized from the journal's room, or the
//! log device the pool record names. Records an earlier version kept in the metadata
//! database ([`DbLog`]), or a log the pool no longer uses, go home first.

use super::PoolRecord;
use crate::log_file::{FileLog, MIN_LOG_BYTES};
use crate::meta::MetaStore;
use crate::raid::RaidSet;
use crate::write_journal;
use crate::DbLog;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

/// The log file of pool `id` in the data directory.
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

/// The most records a log of `capacity` bytes takes (the inverse of [`size_for`]).
pub fn budget_for(capacity: u64) -> u64 {
    capacity / 3 * 2
}

/// Opens the log of `record`'s pool for a journal of `budget` bytes (0: the journal is
/// off), after writing home what older logs hold: `None` when off, else the log and the
/// room the journal gets in it.
pub fn open(
    store: &Arc<MetaStore>,
    record: &PoolRecord,
    raid: &Arc<RaidSet>,
    budget: u64,
) -> Result<Option<(Arc<FileLog>, u64)>> {
    let owner = super::unhex(&record.uuid).unwrap_or_default();
    write_journal::replay(raid, &DbLog::new(store.clone(), record.id))?;
    let default = path(store, record.id);
    let Some(dev) = &record.log else {
        return open_default(&default, owner, raid, budget);
    };
    // The file the journal used before it had a device (a switch that stopped short).
    if default.exists() {
        write_journal::replay(raid, &open_ours(&default, owner, None)?)?;
        remove(&default)?;
    }
    let log = open_device(dev, owner, &record.name)?;
    if budget == 0 {
        write_journal::replay(raid, &log)?;
        return Ok(None);
    }
    let room = budget.min(budget_for(log.capacity()));
    Ok(Some((Arc::new(log), room)))
}

fn open_default(
    path: &Path,
    owner: [u8; 16],
    raid: &Arc<RaidSet>,
    budget: u64,
) -> Result<Option<(Arc<FileLog>, u64)>> {
    let want = size_for(budget);
    if path.exists() {
        let log = open_ours(path, owner, None)?;
        if budget > 0 && log.capacity() + 4096 >= want {
            return Ok(Some((Arc::new(log), budget)));
        }
        // Off now, or of another size: its records go home, then it is made anew.
        write_journal::replay(raid, &log)?;
    }
    if budget == 0 {
        if path.exists() {
            remove(path)?;
        }
        return Ok(None);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            BlockError::io(Op::Write, 0, 0, e).with_device(dir.display().to_string())
        })?;
    }
    FileLog::create(path, want, owner).map(|l| Some((Arc::new(l), budget)))
}

/// Opens pool `pool`'s log device at `path` (see [`open_ours`]).
pub(super) fn open_device(path: &Path, owner: [u8; 16], pool: &str) -> Result<FileLog> {
    open_ours(path, owner, Some(pool))
}

/// Opens the log at `path`, which must be there and be this pool's (`owner`) or from
/// before logs named their pool: the log device of the pool named by `device`, or else
/// the log file in the data directory.
fn open_ours(path: &Path, owner: [u8; 16], device: Option<&str>) -> Result<FileLog> {
    let log = FileLog::open(path).map_err(|e| {
        let fix = match device {
            Some(pool) => format!(
                "bring the log device back at this path; or, to open the pool without \
                 it (losing the writes it held that had not gone home), start the daemon \
                 with `vsa serve --discard-lost-log {pool}`"
            ),
            None => format!("move {} away to open the pool without them", path.display()),
        };
        e.with_detail(format!(
            "the pool's write journal cannot be read, so writes it acknowledged could be \
             lost; {fix}"
        ))
    })?;
    let theirs = log.owner();
    if theirs != owner && theirs != [0; 16] {
        return Err(BlockError::new(ErrorKind::Corrupt, Op::Read, 0, 0)
            .with_device(format!("write journal log {}", path.display()))
            .with_detail(format!(
                "it holds the log of another pool ({}); put this pool's log device at \
                 this path{}",
                hex::encode(theirs),
                device.map_or(String::new(), |pool| format!(
                    ", or start the daemon with `vsa serve --discard-lost-log {pool}` to \
                     open the pool without it"
                ))
            )));
    }
    Ok(log)
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BlockError::io(Op::Write, 0, 0, e).with_device(path.display().to_string()))
        }
        _ => Ok(()),
    }
}
