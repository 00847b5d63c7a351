//! FUSE passthrough (Linux 6.9 and later): a file of a `file://` target opened through
//! the mount is read and written by the kernel straight from the target's file, with no
//! request to the daemon per read or write, so the mount moves data at the speed of the
//! directory below it.
//!
//! The kernel's rules, which this module keeps per inode:
//! - an inode is in passthrough mode (while it has passthrough opens) or in cached mode
//!   (while it has opens whose pages the mount's page cache keeps); an open of the other
//!   kind is refused (the opener gets EIO);
//! - every open of an inode in passthrough mode is a passthrough open, and they all name
//!   one backing file (another: refused);
//! - a passthrough open that also asks for direct I/O (`FOPEN_DIRECT_IO`) has its reads
//!   and writes served by the daemon (only `mmap` goes to the backing file).
//!
//! So a local file opens in passthrough unless its inode has cached opens (an SMB file of
//! a link that switched to a local target meanwhile: served cached too). When the inode
//! is in passthrough mode with another file behind it (the link switched targets, or the
//! path was made anew, while the old file is open), or the open is of an SMB file, the
//! daemon serves it direct, naming the inode's backing file to the kernel as it must (a
//! `mmap` of such an open maps the old file). When the kernel does not take a backing
//! file (no passthrough in it, no CAP_SYS_ADMIN, a backing filesystem stacked too deep),
//! the open is served cached by the daemon as before.
//!
//! The daemon's count of an inode's opens only falls behind the kernel's (the kernel
//! drops an open before it sends its RELEASE), so an inode is never taken out of
//! passthrough mode here while the kernel still has it in it.

use crate::ns::types::MountOpens as Opens;
use fuser::BackingId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How an open is served; `B` is the kernel's backing file id.
#[derive(Debug)]
pub(super) enum Mode<B = BackingId> {
    /// By the kernel from the backing file.
    Passthrough(Arc<B>),
    /// By the daemon, pages kept in the kernel's cache.
    Cached,
    /// By the daemon, no pages kept (`FOPEN_DIRECT_IO`), in passthrough mode with the
    /// inode's backing file.
    Direct(Arc<B>),
}

/// What the kind of an open is, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Passthrough,
    Cached,
    Direct,
}

/// An inode's open files, by kind.
#[derive(Debug)]
struct Inode<B> {
    /// The backing file its passthrough opens share: the kernel's id, which file (device
    /// and inode number), how many opens (direct ones too: they hold it in the kernel).
    backing: Option<(Arc<B>, (u64, u64), usize)>,
    cached: usize,
}

impl<B> Default for Inode<B> {
    fn default() -> Self {
        Inode {
            backing: None,
            cached: 0,
        }
    }
}

#[derive(Debug)]
struct State<B> {
    inodes: HashMap<u64, Inode<B>>,
    /// Each open file handle's inode and kind.
    handles: HashMap<u64, (u64, Kind)>,
    opens: Opens,
}

/// The mount's passthrough bookkeeping.
#[derive(Debug)]
pub struct Passthrough<B = BackingId> {
    /// The kernel agreed to passthrough at `init` (and has not refused a backing file
    /// for want of it since).
    enabled: AtomicBool,
    state: Mutex<State<B>>,
}

impl<B> Default for Passthrough<B> {
    fn default() -> Self {
        Passthrough {
            enabled: AtomicBool::new(false),
            state: Mutex::new(State {
                inodes: HashMap::new(),
                handles: HashMap::new(),
                opens: Opens::default(),
            }),
        }
    }
}

impl<B> Passthrough<B> {
    /// The kernel agreed to passthrough.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// How many opens were served each way.
    pub fn opens(&self) -> Opens {
        self.state.lock().opens
    }

    /// Chooses how handle `fh` of inode `ino`, the local file `file`, is served;
    /// `register` hands a file to the kernel as a backing file.
    pub(super) fn open_local(
        &self,
        ino: u64,
        fh: u64,
        file: &File,
        register: impl FnOnce(&File) -> std::io::Result<B>,
    ) -> Mode<B> {
        let mut s = self.state.lock();
        let id = file.metadata().ok().map(|m| (m.dev(), m.ino()));
        let inode = s.inodes.entry(ino).or_default();
        let (mode, kind) = match &mut inode.backing {
            Some((backing, file_id, n)) => {
                *n += 1;
                if Some(*file_id) == id {
                    (Mode::Passthrough(backing.clone()), Kind::Passthrough)
                } else {
                    (Mode::Direct(backing.clone()), Kind::Direct)
                }
            }
            None if id.is_none() || inode.cached > 0 || !self.enabled.load(Ordering::Relaxed) => {
                return s.cached(ino, fh)
            }
            None => match register(file) {
                Ok(b) => {
                    let b = Arc::new(b);
                    inode.backing = Some((b.clone(), id.unwrap_or_default(), 1));
                    (Mode::Passthrough(b), Kind::Passthrough)
                }
                Err(e) => {
                    self.refused(&e);
                    return s.cached(ino, fh);
                }
            },
        };
        s.handles.insert(fh, (ino, kind));
        match kind {
            Kind::Passthrough => s.opens.passthrough += 1,
            _ => s.opens.direct += 1,
        }
        mode
    }

    /// Chooses how handle `fh` of inode `ino`, a file the daemon serves, is served.
    pub(super) fn open_served(&self, ino: u64, fh: u64) -> Mode<B> {
        let mut s = self.state.lock();
        let backing = s.inodes.get_mut(&ino).and_then(|i| i.backing.as_mut());
        let Some((b, _, n)) = backing else {
            return s.cached(ino, fh);
        };
        *n += 1;
        let b = b.clone();
        s.handles.insert(fh, (ino, Kind::Direct));
        s.opens.direct += 1;
        Mode::Direct(b)
    }

    /// Handle `fh` was released: the last open of an inode in passthrough mode closes its
    /// backing file.
    pub(super) fn release(&self, fh: u64) {
        let mut s = self.state.lock();
        let Some((ino, kind)) = s.handles.remove(&fh) else {
            return;
        };
        let Some(inode) = s.inodes.get_mut(&ino) else {
            return;
        };
        match kind {
            Kind::Passthrough | Kind::Direct => {
                if let Some((_, _, n)) = &mut inode.backing {
                    *n -= 1;
                    if *n == 0 {
                        inode.backing = None;
                    }
                }
            }
            Kind::Cached => inode.cached = inode.cached.saturating_sub(1),
        }
        if inode.backing.is_none() && inode.cached == 0 {
            s.inodes.remove(&ino);
        }
    }

    /// The kernel did not take a backing file: without passthrough in it (or the right
    /// to use it) none will be taken, so the mount stops asking.
    fn refused(&self, e: &std::io::Error) {
        let gone = matches!(
            e.raw_os_error(),
            Some(libc::EPERM | libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL)
        );
        if gone && self.enabled.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "the kernel refused FUSE passthrough ({e}): files of local targets are served \
                 through the daemon (slower); passthrough needs Linux 6.9+ and CAP_SYS_ADMIN"
            );
        } else {
            tracing::debug!("no passthrough for one file: {e}");
        }
    }
}

impl<B> State<B> {
    /// Counts an open served by the daemon through the page cache.
    fn cached(&mut self, ino: u64, fh: u64) -> Mode<B> {
        self.handles.insert(fh, (ino, Kind::Cached));
        self.inodes.entry(ino).or_default().cached += 1;
        self.opens.cached += 1;
        Mode::Cached
    }
}

#[cfg(test)]
mod tests;
