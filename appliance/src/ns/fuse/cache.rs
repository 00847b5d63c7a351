//! What the mount remembers to spare its targets work:
//! - which SMB shares' link directories answered lately ([`ROOT_TTL`]), so a lookup costs
//!   one call to the server, not two (a share that stops answering is marked down by the
//!   client and checked again at once);
//! - which file each local inode was, and its size and times, when the kernel last had
//!   its pages, so the same file opened again unchanged keeps its page cache
//!   (`FOPEN_KEEP_CACHE`; with `FUSE_AUTO_INVAL_DATA` the kernel also drops pages whose
//!   file changed under it). A switch to another target's copy is another file: its
//!   pages are read afresh.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an SMB link directory that answered is taken as there.
pub const ROOT_TTL: Duration = Duration::from_secs(1);

/// A link's directory on a share: server, share, directory.
pub type SmbRoot = (String, String, Vec<String>);

/// SMB link directories that answered, and when.
#[derive(Debug, Default)]
pub struct Roots(Mutex<HashMap<SmbRoot, Instant>>);

impl Roots {
    /// Whether `root` answered within [`ROOT_TTL`].
    pub fn fresh(&self, root: &SmbRoot) -> bool {
        self.0
            .lock()
            .get(root)
            .is_some_and(|t| t.elapsed() < ROOT_TTL)
    }

    /// `root` answered now.
    pub fn answered(&self, root: SmbRoot) {
        let mut seen = self.0.lock();
        if seen.len() > 4096 {
            seen.retain(|_, t| t.elapsed() < ROOT_TTL);
        }
        seen.insert(root, Instant::now());
    }

    /// `root` did not answer.
    pub fn failed(&self, root: &SmbRoot) {
        self.0.lock().remove(root);
    }
}

/// Which local file, and how it was: device and inode number, size, modification and
/// change times (to the nanosecond; the change time moves on every write). Two copies
/// of a file in two targets differ in it, whatever their sizes and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    file: (u64, u64),
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// The stamp of each local file (by inode) when its pages were last in the kernel's cache.
#[derive(Debug, Default)]
pub struct Stamps(Mutex<HashMap<u64, Stamp>>);

impl Stamps {
    /// Whether the kernel may keep the pages it has of inode `ino`, whose file is `now`
    /// (it is, if the file is as it was when they were read or written); notes `now`.
    pub fn keep(&self, ino: u64, now: Stamp) -> bool {
        self.0.lock().insert(ino, now) == Some(now)
    }

    /// Notes inode `ino`'s file as `now` (after writes through the mount, which went into
    /// the kernel's pages too).
    pub fn note(&self, ino: u64, now: Stamp) {
        self.0.lock().insert(ino, now);
    }
}

/// The stamp of a file's metadata.
pub fn stamp(m: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        file: (m.dev(), m.ino()),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_kept_only_while_the_file_is_the_same_and_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let of = |p: &std::path::Path| stamp(&std::fs::metadata(p).unwrap());
        let s = Stamps::default();
        assert!(
            !s.keep(7, of(&a)),
            "nothing was cached before the first open"
        );
        assert!(s.keep(7, of(&a)));
        // Another target's copy (same size, maybe the same coarse time): not its pages.
        assert!(!s.keep(7, of(&b)));
        std::fs::write(&b, "c").unwrap();
        assert!(!s.keep(7, of(&b)), "a changed file keeps stale pages");
        s.note(7, of(&b));
        assert!(s.keep(7, of(&b)));
    }

    #[test]
    fn roots_are_fresh_for_a_moment() {
        let r = Roots::default();
        let root: SmbRoot = ("fs1".into(), "docs".into(), vec![]);
        assert!(!r.fresh(&root));
        r.answered(root.clone());
        assert!(r.fresh(&root));
        r.failed(&root);
        assert!(!r.fresh(&root));
    }
}
