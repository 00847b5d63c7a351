//! The data directory is private to the daemon's user: it holds the metadata database
//! (with CHAP secrets in plain text), the API token and the default pool's member files.
//!
//! - [`private_dir`] creates the data directory with mode 0700, or takes group and other
//!   permissions off an existing one, before anything is opened in it. From then on
//!   nothing in it is reachable by other users, whatever the modes of its files.
//! - [`tighten_tree`] walks it at every start (after the components opened) and takes
//!   group and other permissions, and setuid/setgid/sticky bits, off every directory and
//!   regular file in it (0755 → 0700, 0644 → 0600), so a directory that was once
//!   world-readable, or copied with loose modes, stops being so. Symbolic links are not
//!   followed and device nodes, sockets and FIFOs are left alone.
//! - `vsa serve` sets its umask to 077 ([`DAEMON_UMASK`]), so files RocksDB creates later
//!   (SSTs, logs, manifests) are 0600 from the start.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The umask `vsa serve` runs with: nothing it creates is open to group or others.
pub const DAEMON_UMASK: u32 = 0o077;

/// The permission bits kept: the owner's.
const KEEP: u32 = 0o700;

/// A path whose mode was tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// The path.
    pub path: PathBuf,
    /// Its mode before (permission bits only).
    pub was: u32,
    /// Its mode now.
    pub now: u32,
}

/// Why the data directory could not be made private.
#[derive(Debug, thiserror::Error)]
#[error("cannot make {} private to the daemon's user: {error}; check its owner (the daemon must own the data directory and everything in it)", .path.display())]
pub struct PrivateError {
    /// The path.
    pub path: PathBuf,
    /// The OS error (in the message, so not a `source`).
    pub error: io::Error,
}

fn err(path: &Path) -> impl FnOnce(io::Error) -> PrivateError + '_ {
    move |error| PrivateError {
        path: path.to_owned(),
        error,
    }
}

/// Creates `dir` (and missing parents) with mode 0700, or tightens it if it exists.
pub fn private_dir(dir: &Path) -> Result<Option<Tightened>, PrivateError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(KEEP)
        .create(dir)
        .map_err(err(dir))?;
    let meta = std::fs::metadata(dir).map_err(err(dir))?;
    tighten(dir, &meta)
}

/// Takes group/other and special bits off `path` if it has any.
fn tighten(path: &Path, meta: &std::fs::Metadata) -> Result<Option<Tightened>, PrivateError> {
    let was = meta.permissions().mode() & 0o7777;
    if was & !KEEP == 0 {
        return Ok(None);
    }
    let now = was & KEEP;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(now)).map_err(err(path))?;
    Ok(Some(Tightened {
        path: path.to_owned(),
        was,
        now,
    }))
}

/// Tightens `dir` and every directory and regular file below it; returns what changed.
pub fn tighten_tree(dir: &Path) -> Result<Vec<Tightened>, PrivateError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(path) = todo.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed since it was listed (a RocksDB compaction): nothing to protect.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(err(&path)(e)),
        };
        let ft = meta.file_type();
        if !ft.is_dir() && !ft.is_file() {
            continue;
        }
        out.extend(tighten(&path, &meta)?);
        if ft.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(err(&path))? {
                todo.push(entry.map_err(err(&path))?.path());
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// One line for the log naming what was tightened (paths relative to `dir`), at most
/// `max` of them.
pub fn describe(dir: &Path, fixed: &[Tightened], max: usize) -> String {
    let mut parts: Vec<String> = fixed
        .iter()
        .take(max)
        .map(|t| {
            let rel = t.path.strip_prefix(dir).unwrap_or(&t.path);
            let name = if rel.as_os_str().is_empty() {
                ".".to_owned()
            } else {
                rel.display().to_string()
            };
            format!("{name} ({:04o} → {:04o})", t.was, t.now)
        })
        .collect();
    if fixed.len() > max {
        parts.push(format!("and {} more", fixed.len() - max));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn chmod(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn creates_the_directory_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        assert_eq!(private_dir(&dir).unwrap(), None);
        assert_eq!(mode(&dir), 0o700);
        chmod(&dir, 0o755);
        let t = private_dir(&dir).unwrap().unwrap();
        assert_eq!((t.was, t.now, mode(&dir)), (0o755, 0o700, 0o700));
    }

    #[test]
    fn tightens_everything_below_but_follows_no_links() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        std::fs::write(dir.join("meta/000008.sst"), b"x").unwrap();
        std::fs::write(dir.join("token"), b"t").unwrap();
        std::fs::write(dir.join("ok"), b"o").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"o").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        for (p, m) in [
            (dir.clone(), 0o755),
            (dir.join("meta"), 0o2775),
            (dir.join("meta/000008.sst"), 0o644),
            (dir.join("token"), 0o666),
            (dir.join("ok"), 0o600),
            (outside.clone(), 0o644),
        ] {
            chmod(&p, m);
        }
        let fixed = tighten_tree(&dir).unwrap();
        let names: Vec<_> = fixed.iter().map(|t| t.path.clone()).collect();
        assert_eq!(
            names,
            [
                dir.clone(),
                dir.join("meta"),
                dir.join("meta/000008.sst"),
                dir.join("token")
            ]
        );
        assert_eq!(mode(&dir.join("meta")), 0o700);
        assert_eq!(mode(&dir.join("meta/000008.sst")), 0o600);
        assert_eq!(mode(&dir.join("token")), 0o600);
        assert_eq!(mode(&outside), 0o644, "a link's target is not ours");
        assert!(tighten_tree(&dir).unwrap().is_empty());
        let line = describe(&dir, &fixed, 2);
        assert_eq!(line, ". (0755 → 0700), meta (2775 → 0700), and 2 more");
    }
}
