//! Whether the previous daemon stopped cleanly. `<data-dir>/running` (the daemon's process
//! id) is written and synced once the data directory is locked, and removed after a clean
//! shutdown. Found at start, it means the previous run ended without one (`kill -9`, a
//! crash, a power cut): the components then check their state (the pool component runs
//! its metadata check on every pool).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The marker file in a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("running")
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Notes that a daemon runs on `data_dir` (call with the directory locked); returns
/// whether the previous one left its marker behind.
pub fn begin(data_dir: &Path) -> std::io::Result<bool> {
    let p = path(data_dir);
    let unclean = std::fs::symlink_metadata(&p).is_ok();
    let mut f = std::fs::File::create(&p)?;
    writeln!(f, "{}", std::process::id())?;
    f.sync_all()?;
    sync_dir(data_dir)?;
    Ok(unclean)
}

/// Notes a clean shutdown.
pub fn end(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path(data_dir)) {
        Ok(()) => sync_dir(data_dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_run_without_its_end_is_seen_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!begin(dir.path()).unwrap(), "first start");
        end(dir.path()).unwrap();
        assert!(!path(dir.path()).exists());
        assert!(!begin(dir.path()).unwrap(), "after a clean stop");
        // No end: killed.
        assert!(begin(dir.path()).unwrap(), "after an unclean stop");
        end(dir.path()).unwrap();
        end(dir.path()).unwrap();
    }
}
