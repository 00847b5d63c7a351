//! Renames through the mount: within one link only (another link may be another
//! server: EXDEV), on this appliance or on an SMB share (where a rename over a file goes
//! through [`super::smb_write`]'s `rename_over`, as SMB's rename does not replace).

use super::fs::{io, Local, NsFs, Result};
use super::view::{self, Place};
use fuser::{Errno, RenameFlags};

impl NsFs {
    /// Renames `from` to `to`, which must be in the same link (EXDEV otherwise: another
    /// link may be another server).
    pub(super) fn rename_within_link(
        &self,
        from: &str,
        to: &str,
        flags: RenameFlags,
    ) -> Result<()> {
        let link_of = |p: &str| {
            self.reader
                .with(&self.name, |ns, sites| match view::place(ns, sites, p) {
                    Some(Place::Inside { link, .. }) => Some(link),
                    _ => None,
                })
        };
        match (link_of(from).flatten(), link_of(to).flatten()) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => return Err(Errno::EXDEV),
            _ => return Err(Errno::EACCES), // the namespace's own directories
        }
        let no_replace = flags.bits() & libc::RENAME_NOREPLACE != 0;
        if flags.bits() & !libc::RENAME_NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        match (self.local(from)?, self.local(to)?) {
            (
                Local::Target {
                    path: a,
                    root: false,
                    ..
                },
                Local::Target {
                    path: b,
                    root: false,
                    ..
                },
            ) => {
                if no_replace && b.symlink_metadata().is_ok() {
                    return Err(Errno::EEXIST);
                }
                std::fs::rename(a, b).map_err(io)
            }
            (
                Local::Smb {
                    server,
                    share,
                    path: a,
                    root: false,
                },
                Local::Smb {
                    server: s2,
                    share: h2,
                    path: b,
                    root: false,
                },
            ) if (&server, &share) == (&s2, &h2) => match self.smb.stat(&server, &share, &b) {
                Ok(_) if no_replace => Err(Errno::EEXIST),
                Ok(i) if !i.is_directory => self.smb.rename_over(&server, &share, &a, &b),
                _ => self.smb.rename(&server, &share, &a, &b),
            },
            (Local::Smb { .. }, Local::Smb { .. }) => Err(Errno::EXDEV),
            _ => Err(Errno::EACCES), // the namespace's own directories and links
        }
    }
}
