//! The initramfs: a cpio archive in the `newc` format.

use std::collections::BTreeSet;

/// A cpio archive in the `newc` format the kernel unpacks as its initramfs, with every
/// parent directory added before its entries.
#[derive(Debug, Default)]
pub(super) struct Cpio {
    out: Vec<u8>,
    dirs: BTreeSet<String>,
    files: BTreeSet<String>,
    ino: u32,
}

impl Cpio {
    fn header(&mut self, name: &str, mode: u32, size: usize, rdev: (u32, u32)) {
        self.ino += 1;
        let namesize = name.len() + 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            if mode & 0o170000 == 0o040000 { 2 } else { 1 },
            0, // mtime
            u32::try_from(size).expect("an initramfs file under 4 GiB"),
            0,
            0,
            rdev.0,
            rdev.1,
            u32::try_from(namesize).expect("a short name"),
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }

    fn parents(&mut self, path: &str) {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            self.dir(&acc.clone());
        }
    }

    pub(super) fn dir(&mut self, path: &str) {
        if self.dirs.contains(path) {
            return;
        }
        self.parents(path);
        self.dirs.insert(path.to_owned());
        self.header(path, 0o040755, 0, (0, 0));
    }

    pub(super) fn file(&mut self, path: &str, data: &[u8], perm: u32) {
        // A later entry for the same path would replace the earlier one when unpacked;
        // keep the first (the same library named by two programs).
        if !self.files.insert(path.to_owned()) {
            return;
        }
        self.parents(path);
        self.header(path, 0o100000 | perm, data.len(), (0, 0));
        self.out.extend_from_slice(data);
        self.pad();
    }

    pub(super) fn symlink(&mut self, path: &str, target: &str) {
        if !self.files.insert(path.to_owned()) {
            return;
        }
        self.parents(path);
        self.header(path, 0o120777, target.len(), (0, 0));
        self.out.extend_from_slice(target.as_bytes());
        self.pad();
    }

    pub(super) fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) {
        self.parents(path);
        self.header(path, 0o020000 | perm, 0, (major, minor));
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.header("TRAILER!!!", 0, 0, (0, 0));
        self.out
    }
}
