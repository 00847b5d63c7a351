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
}
