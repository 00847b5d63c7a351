//! Inode numbers of a mounted namespace: derived from the path alone (FNV-1a, 64 bits),
//! so the same path has the same number after a remount, a daemon restart or a switch to
//! another target, which NFS re-export and inode-caching tools rely on. Two paths whose
//! hashes meet take the next free number (the later one seen moves; rare at 64 bits).

use std::collections::HashMap;

/// The root directory's number (FUSE's).
pub const ROOT: u64 = 1;

/// The numbers handed out, and their paths.
#[derive(Debug, Default)]
pub struct Inodes {
    paths: HashMap<u64, String>,
}

fn hash(path: &str) -> u64 {
    let h = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h.max(ROOT + 1)
}

impl Inodes {
    /// The number of `path` ("" is the root).
    pub fn ino(&mut self, path: &str) -> u64 {
        if path.is_empty() {
            return ROOT;
        }
        let mut ino = hash(path);
        loop {
            match self.paths.get(&ino) {
                None => {
                    self.paths.insert(ino, path.to_owned());
                    return ino;
                }
                Some(p) if p == path => return ino,
                Some(_) => ino = ino.checked_add(1).unwrap_or(ROOT + 1),
            }
        }
    }

    /// After `from` was renamed `to`: the numbers the kernel holds for `from` and what is
    /// below it now lead to their new paths (it keeps using them for the moved entries;
    /// a fresh lookup of a new path may hand out its own number too).
    pub fn renamed(&mut self, from: &str, to: &str) {
        let below = format!("{from}/");
        for p in self.paths.values_mut() {
            if p == from {
                *p = to.to_owned();
            } else if let Some(rest) = p.strip_prefix(&below) {
                *p = format!("{to}/{rest}");
            }
        }
    }

    /// The path of number `ino`, if it was handed out.
    pub fn path(&self, ino: u64) -> Option<String> {
        if ino == ROOT {
            return Some(String::new());
        }
        self.paths.get(&ino).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_paths_and_stay() {
        let mut a = Inodes::default();
        let mut b = Inodes::default();
        let x = a.ino("eng/docs/a.txt");
        assert_eq!(a.ino("hr"), b.ino("hr"));
        assert_eq!(b.ino("eng/docs/a.txt"), x);
        assert_eq!(a.path(x).as_deref(), Some("eng/docs/a.txt"));
        assert_eq!(a.ino(""), ROOT);
        assert_eq!(a.path(ROOT).as_deref(), Some(""));
        assert_ne!(a.ino("eng"), a.ino("Eng"));
        assert_eq!(a.path(12345), None);
    }

    #[test]
    fn a_rename_moves_the_numbers_the_kernel_holds() {
        let mut a = Inodes::default();
        let dir = a.ino("eng/drafts");
        let file = a.ino("eng/drafts/a.txt");
        let other = a.ino("eng/draftsX");
        a.renamed("eng/drafts", "eng/final");
        assert_eq!(a.path(dir).as_deref(), Some("eng/final"));
        assert_eq!(a.path(file).as_deref(), Some("eng/final/a.txt"));
        assert_eq!(a.path(other).as_deref(), Some("eng/draftsX"));
        // A new entry at the old path gets a number of its own.
        let again = a.ino("eng/drafts");
        assert_ne!(again, dir);
        assert_eq!(a.path(again).as_deref(), Some("eng/drafts"));
    }
}
