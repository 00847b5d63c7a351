//! `vsa ns export-samba NS DIR`: a namespace's msdfs tree ([`vsa_namespace::msdfs`])
//! written into a directory that Samba serves with `msdfs root = yes`. Folders become
//! directories, links symbolic links to their `msdfs:` text. A link changes by a new
//! symbolic link renamed over the old one, so a client never sees a half-written link;
//! links and folders no longer in the namespace go. Anything else in the directory (a
//! file, a symbolic link that is not `msdfs:`) is refused, never overwritten.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use vsa_namespace::msdfs::{Entry, Export};

/// What a write changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub folders: usize,
    pub links: usize,
    /// Links written or rewritten (their text changed).
    pub changed: usize,
    /// Links and folders removed.
    pub removed: usize,
}

/// Why the tree could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SambaError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{0} is in the way: the export directory may hold only the tree vsa writes \
         (directories and msdfs: links); move it away or pick an empty directory"
    )]
    InTheWay(PathBuf),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SambaError + '_ {
    move |source| SambaError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The `msdfs:` text of `path` if it is a symbolic link holding one.
fn msdfs_link(path: &Path) -> Option<String> {
    let t = std::fs::read_link(path).ok()?;
    let t = t.to_str()?;
    t.starts_with("msdfs:").then(|| t.to_owned())
}

/// Creates directory `p` (and those above it) readable by everyone: Samba serves the
/// tree to guests, whatever the daemon's umask.
fn make_dir(p: &Path) -> Result<(), SambaError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p).map_err(io_at(p))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(io_at(p))
}

/// Writes `export` into `dir` (created if missing).
pub fn write_tree(dir: &Path, export: &Export) -> Result<Written, SambaError> {
    make_dir(dir)?;
    check_contents(dir)?;
    let mut w = Written::default();
    let mut keep = BTreeSet::new();
    for e in &export.entries {
        match e {
            Entry::Folder(names) => {
                let p = join(dir, names);
                if msdfs_link(&p).is_some() {
                    std::fs::remove_file(&p).map_err(io_at(&p))?;
                }
                make_dir(&p)?;
                keep.insert(p);
                w.folders += 1;
            }
            Entry::Link(names, text) => {
                let p = join(dir, names);
                if put_link(&p, text)? {
                    w.changed += 1;
                }
                keep.insert(p);
                w.links += 1;
            }
        }
    }
    w.removed = prune(dir, &keep)?;
    Ok(w)
}

fn join(dir: &Path, names: &[String]) -> PathBuf {
    names.iter().fold(dir.to_owned(), |p, n| p.join(n))
}

/// Puts a symbolic link to `text` at `p`; whether it changed.
fn put_link(p: &Path, text: &str) -> Result<bool, SambaError> {
    if msdfs_link(p).as_deref() == Some(text) {
        return Ok(false);
    }
    if p.is_dir() && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
        // A folder before, a link now: vsa's tree below it goes with it.
        prune(p, &BTreeSet::new())?;
        if std::fs::remove_dir(p).is_err() {
            return Err(SambaError::InTheWay(p.to_owned()));
        }
    }
    let parent = p.parent().unwrap_or(p);
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("link");
    let tmp = parent.join(format!(".{name}.vsa-new"));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(text, &tmp).map_err(io_at(&tmp))?;
    std::fs::rename(&tmp, p).map_err(io_at(p))?;
    Ok(true)
}

/// Refuses a directory holding anything vsa does not write.
fn check_contents(dir: &Path) -> Result<(), SambaError> {
    for e in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let p = e.map_err(io_at(dir))?.path();
        let m = std::fs::symlink_metadata(&p).map_err(io_at(&p))?;
        if m.is_dir() {
            check_contents(&p)?;
        } else if msdfs_link(&p).is_none() {
            return Err(SambaError::InTheWay(p));
        }
    }
    Ok(())
}

/// Removes links and folders under `dir` not in `keep` (deepest first); how many.
fn prune(dir: &Path, keep: &BTreeSet<PathBuf>) -> Result<usize, SambaError> {
    let mut removed = 0;
    for e in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let p = e.map_err(io_at(dir))?.path();
        let m = std::fs::symlink_metadata(&p).map_err(io_at(&p))?;
        if m.is_dir() {
            removed += prune(&p, keep)?;
            if !keep.contains(&p) {
                std::fs::remove_dir(&p).map_err(io_at(&p))?;
                removed += 1;
            }
        } else if !keep.contains(&p) && msdfs_link(&p).is_some() {
            std::fs::remove_file(&p).map_err(io_at(&p))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(p: &str) -> Vec<String> {
        p.split('/').map(str::to_owned).collect()
    }

    fn export(entries: Vec<Entry>) -> Export {
        Export {
            entries,
            ..Export::default()
        }
    }

    #[test]
    fn the_tree_is_written_then_follows_the_namespace() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("corp");
        let first = export(vec![
            Entry::Folder(names("eng")),
            Entry::Folder(names("hr")),
            Entry::Link(names("eng/docs"), "msdfs:fs1\\docs,fs2\\docs".into()),
            Entry::Link(names("hr/pay"), "msdfs:fs3\\pay".into()),
        ]);
        let w = write_tree(&dir, &first).unwrap();
        assert_eq!((w.folders, w.links, w.changed, w.removed), (2, 2, 2, 0));
        let link = std::fs::read_link(dir.join("eng/docs")).unwrap();
        assert_eq!(link.to_str(), Some("msdfs:fs1\\docs,fs2\\docs"));
        // Written again unchanged: nothing changes.
        assert_eq!(write_tree(&dir, &first).unwrap().changed, 0);
        // A reordered link is replaced; a link and a folder that went are removed.
        let second = export(vec![
            Entry::Folder(names("eng")),
            Entry::Link(names("eng/docs"), "msdfs:fs2\\docs,fs1\\docs".into()),
        ]);
        let w = write_tree(&dir, &second).unwrap();
        assert_eq!((w.changed, w.removed), (1, 2));
        let link = std::fs::read_link(dir.join("eng/docs")).unwrap();
        assert_eq!(link.to_str(), Some("msdfs:fs2\\docs,fs1\\docs"));
        assert!(!dir.join("hr").exists());
        let left: Vec<_> = std::fs::read_dir(dir.join("eng")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary link left behind");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("eng"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "guests can list the tree");
    }

    #[test]
    fn files_in_the_way_are_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = export(vec![Entry::Link(names("docs"), "msdfs:fs1\\docs".into())]);
        let err = write_tree(&dir, &e).unwrap_err();
        assert!(matches!(err, SambaError::InTheWay(_)), "{err}");
        assert!(err.to_string().contains("notes.txt"));
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(std::fs::symlink_metadata(dir.join("docs")).is_err());
    }

    #[test]
    fn a_folder_can_become_a_link_and_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        write_tree(&dir, &export(vec![Entry::Folder(names("eng"))])).unwrap();
        let as_link = export(vec![Entry::Link(names("eng"), "msdfs:fs1\\eng".into())]);
        write_tree(&dir, &as_link).unwrap();
        assert!(msdfs_link(&dir.join("eng")).is_some());
        write_tree(&dir, &export(vec![Entry::Folder(names("eng"))])).unwrap();
        assert!(std::fs::symlink_metadata(dir.join("eng")).unwrap().is_dir());
    }
}
