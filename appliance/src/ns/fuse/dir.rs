//! The directories the mount has open: the listing a program pages through, taken when it
//! reads the directory from its start (opendir, and again at rewinddir), so the offsets the
//! kernel hands back stay those of one listing however the directory changes meanwhile.

use fuser::FileType;
use parking_lot::Mutex;
use smb2::FileInfo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a directory's entries are.
#[derive(Debug)]
pub enum Source {
    /// The namespace's own directory: folders and links.
    Synthetic,
    /// A directory on this appliance.
    Local(PathBuf),
    /// A directory of an SMB share (its entries' attributes came with the listing).
    Smb,
}

/// One entry of a listing.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub kind: FileType,
    /// Its attributes, when the listing gave them (SMB's does).
    pub info: Option<FileInfo>,
}

/// A directory's entries, as they were when it was listed.
#[derive(Debug)]
pub struct Listing {
    /// The directory's logical path ("" is the root).
    pub path: String,
    pub source: Source,
    pub entries: Vec<Entry>,
}

impl Listing {
    /// The logical path of entry `name`.
    pub fn child(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

/// The listings of the open directories, by handle.
#[derive(Debug, Default)]
pub struct Dirs {
    open: Mutex<HashMap<u64, Arc<Listing>>>,
}

impl Dirs {
    /// Keeps `listing` for directory handle `fh` (replacing what it had).
    pub fn keep(&self, fh: u64, listing: Listing) -> Arc<Listing> {
        let l = Arc::new(listing);
        self.open.lock().insert(fh, Arc::clone(&l));
        l
    }

    /// The listing of handle `fh`, if it was read from its start.
    pub fn get(&self, fh: u64) -> Option<Arc<Listing>> {
        self.open.lock().get(&fh).cloned()
    }

    /// Forgets handle `fh` (the directory was closed).
    pub fn close(&self, fh: u64) {
        self.open.lock().remove(&fh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(path: &str) -> Listing {
        Listing {
            path: path.to_owned(),
            source: Source::Synthetic,
            entries: vec![Entry {
                name: "a".to_owned(),
                kind: FileType::Directory,
                info: None,
            }],
        }
    }

    #[test]
    fn children_are_named_below_their_directory() {
        assert_eq!(listing("").child("x"), "x");
        assert_eq!(listing("eng/docs").child("x"), "eng/docs/x");
    }

    #[test]
    fn a_handle_keeps_its_listing_until_closed() {
        let dirs = Dirs::default();
        assert!(dirs.get(3).is_none());
        dirs.keep(3, listing("a"));
        dirs.keep(4, listing("b"));
        assert_eq!(dirs.get(3).map(|l| l.path.clone()), Some("a".to_owned()));
        dirs.keep(3, listing("c"));
        assert_eq!(dirs.get(3).map(|l| l.path.clone()), Some("c".to_owned()));
        dirs.close(3);
        assert!(dirs.get(3).is_none());
        assert!(dirs.get(4).is_some());
    }
}
