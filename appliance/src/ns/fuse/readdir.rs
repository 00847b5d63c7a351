//! Reading the mount's directories: READDIR, and READDIRPLUS, which carries each entry's
//! attributes, so `ls -l` or `find | xargs stat` cost one request per page of entries
//! instead of one LOOKUP per entry (the kernel picks it by itself: FUSE_READDIRPLUS_AUTO).
//! An entry whose attributes cannot be had (a file removed meanwhile), or are not asked
//! for (the namespace's folders and links: a link's are its target's, maybe on a server
//! that does not answer), is still listed, with attributes the kernel is told not to keep,
//! so its next use looks it up and gets the real answer.

use super::dir::{Entry, Listing, Source};
use super::fs::{io, kind, meta_attr, Local, NsFs, Result, TTL};
use super::view;
use fuser::{Errno, FileAttr, FileType, INodeNo};
use std::sync::Arc;
use std::time::Duration;

impl NsFs {
    /// The entries of directory `path` now.
    pub(super) fn listing(&self, path: &str) -> Result<Listing> {
        let (source, entries) = match self.local(path)? {
            Local::Synthetic => {
                let names = self
                    .reader
                    .with(&self.name, |ns, _| view::children(ns, path))
                    .ok_or(Errno::EIO)?;
                let entries = names.into_iter().map(|name| Entry {
                    name,
                    kind: FileType::Directory,
                    info: None,
                });
                (Source::Synthetic, entries.collect())
            }
            Local::Target { path: dir, .. } => {
                let mut entries = Vec::new();
                for e in std::fs::read_dir(&dir).map_err(io)? {
                    let e = e.map_err(io)?;
                    let Ok(name) = e.file_name().into_string() else {
                        continue; // not UTF-8: not reachable through logical paths
                    };
                    let t = e.file_type().map_err(io)?;
                    let mode = if t.is_dir() {
                        libc::S_IFDIR
                    } else if t.is_symlink() {
                        libc::S_IFLNK
                    } else {
                        libc::S_IFREG
                    };
                    entries.push(Entry {
                        name,
                        kind: kind(mode),
                        info: None,
                    });
                }
                (Source::Local(dir), entries)
            }
            Local::Smb {
                server,
                share,
                path: at,
                ..
            } => {
                let listed = self.smb.list(&server, &share, &at)?;
                let entries = listed.into_iter().map(|e| Entry {
                    kind: if e.is_directory {
                        FileType::Directory
                    } else {
                        FileType::RegularFile
                    },
                    info: Some(smb2::FileInfo {
                        size: e.size,
                        is_directory: e.is_directory,
                        created: e.created,
                        modified: e.modified,
                        accessed: e.modified,
                    }),
                    name: e.name,
                });
                (Source::Smb, entries.collect())
            }
        };
        Ok(Listing {
            path: path.to_owned(),
            source,
            entries,
        })
    }

    /// The listing open directory `fh` (`ino`) is read from: taken again when it is read
    /// from its start.
    pub(super) fn listing_of(&self, ino: INodeNo, fh: u64, offset: u64) -> Result<Arc<Listing>> {
        if offset > 0 {
            if let Some(l) = self.dirs.get(fh) {
                return Ok(l);
            }
        }
        let path = self.path_of(ino)?;
        Ok(self.dirs.keep(fh, self.listing(&path)?))
    }

    /// The entries of `l` from position `from` on, "." and ".." first: (number, kind,
    /// name, the entry when it is not one of those two). Numbered as they are taken, so a
    /// page of a large directory costs that page.
    pub(super) fn numbered<'a>(
        &'a self,
        ino: INodeNo,
        l: &'a Listing,
        from: usize,
    ) -> impl Iterator<Item = (INodeNo, FileType, &'a str, Option<&'a Entry>)> + 'a {
        let dots = [
            (ino, FileType::Directory, ".", None),
            (ino, FileType::Directory, "..", None),
        ];
        let rest = l.entries.iter().skip(from.saturating_sub(2)).map(move |e| {
            let child = INodeNo(self.inodes.lock().ino(&l.child(&e.name)));
            (child, e.kind, e.name.as_str(), Some(e))
        });
        dots.into_iter().skip(from).chain(rest)
    }

    /// What READDIRPLUS says of entry `e` (number `ino`, of `kind`) of `l`, and for how
    /// long; "." and ".." (`None`) get attributes the kernel does not keep.
    pub(super) fn entry_attr(
        &self,
        l: &Listing,
        e: Option<&Entry>,
        ino: INodeNo,
        kind: FileType,
    ) -> (FileAttr, Duration) {
        let known = match (e, &l.source) {
            (Some(e), Source::Smb) => e
                .info
                .as_ref()
                .map(|info| super::smb::attr(ino, info, self.started))
                .ok_or(Errno::EAGAIN),
            (Some(e), Source::Local(dir)) => std::fs::symlink_metadata(dir.join(&e.name))
                .map(|m| meta_attr(ino, &m))
                .map_err(io),
            // The namespace's folders and links: a link's attributes are its target's,
            // which may be a server that does not answer; looked up when used, as before
            // listings carried attributes, so listing a folder never waits on a server.
            _ => Err(Errno::EAGAIN),
        };
        match known {
            Ok(a) => (a, TTL),
            Err(_) => {
                let mut a = self.synthetic(ino);
                a.kind = kind;
                (a, Duration::ZERO)
            }
        }
    }
}
