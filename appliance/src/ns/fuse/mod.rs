//! `vsa ns mount NS MOUNTPOINT`: a namespace as one tree for clients that cannot follow
//! DFS referrals, served by the daemon over FUSE (`fuser`, no libfuse needed; mounting
//! goes through `fusermount3` of Debian's `fuse3` when not root).
//!
//! ```text
//!  fs.rs      the filesystem: synthesized directories, links passed through to targets
//!  view.rs    what a path is: the namespace's own directory, or a place in a link
//!  locate.rs  that place in the link's best reachable target
//!  cache.rs   link directories that answered lately; files whose pages the kernel keeps
//!  inodes.rs  inode numbers from paths, stable across remounts and target switches
//!  passthrough.rs  which opens the kernel serves from the target's file (FUSE passthrough)
//!  open.rs    opening and making files, each open served one of those ways
//!  rename.rs  renames within a link
//!  smb.rs     the SMB client: a session per server and share (its credentials, or a
//!             guest), every call bounded
//!  smb_write.rs  files written, made, removed and renamed on SMB shares
//! ```
//!
//! Targets served: `file://` ones (directories on the appliance), read and written; and
//! `smb://` ones through the mount's SMB client (`smb.rs` reads, `smb_write.rs` changes).
//! A link whose targets are all NFS shows as a directory that cannot be
//! read (EIO) until the mount has an NFS client.

pub mod cache;
pub mod dir;
pub mod fs;
pub mod inodes;
mod locate;
mod open;
pub mod passthrough;
mod readdir;
mod rename;
pub mod smb;
pub mod smb_read;
pub mod smb_write;
pub mod view;

use super::error::NsError;
use super::service::{Mount, Namespaces};
use super::types::{MountBody, MountOpens, MountView, UmountBody};
use std::path::{Path, PathBuf};

/// A mount the daemon serves.
pub struct Mounted {
    namespace: String,
    session: fuser::BackgroundSession,
    passthrough: std::sync::Arc<passthrough::Passthrough>,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Mount for Mounted {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn opens(&self) -> MountOpens {
        self.passthrough.opens()
    }

    fn unmount(self: Box<Self>) -> std::io::Result<()> {
        self.session.umount_and_join()
    }
}

fn view(mountpoint: &Path, m: &dyn Mount) -> MountView {
    MountView {
        namespace: m.namespace().to_owned(),
        mountpoint: mountpoint.display().to_string(),
        opens: m.opens(),
    }
}

impl Namespaces {
    /// Mounts namespace `name` at `b.mountpoint` (an empty directory).
    pub fn mount(&self, name: &str, b: MountBody) -> Result<MountView, NsError> {
        let root = self.show(name)?.name;
        let mountpoint = PathBuf::from(&b.mountpoint);
        if !mountpoint.is_absolute() {
            return Err(NsError::Mount(format!(
                "mount point '{}' is not an absolute path; give the full path of an empty directory",
                b.mountpoint
            )));
        }
        let mut mounts = self.mounts().lock();
        if let Some(m) = mounts.get(&mountpoint) {
            return Err(NsError::Mount(format!(
                "{} already shows namespace '{}'; unmount it first (`vsa ns umount {}`)",
                b.mountpoint,
                m.namespace(),
                b.mountpoint
            )));
        }
        match std::fs::read_dir(&mountpoint).map(|mut d| d.next().is_none()) {
            Ok(true) => {}
            Ok(false) => {
                return Err(NsError::Mount(format!(
                    "mount point {} is not empty; mount on an empty directory",
                    b.mountpoint
                )))
            }
            Err(e) => {
                return Err(NsError::Mount(format!(
                    "mount point {}: {e}; create it first (mkdir -p {})",
                    b.mountpoint, b.mountpoint
                )))
            }
        }
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName(format!("vsa-ns:{root}")),
            fuser::MountOption::Subtype("vsa".into()),
            fuser::MountOption::DefaultPermissions,
        ];
        config.acl = fuser::SessionACL::All;
        // A thread per core reads requests (each on its own clone of the channel), so one
        // waiting for a slow target holds up no other, and a reply and the next request
        // overlap.
        config.n_threads =
            Some(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)));
        config.clone_fd = true;
        let fs = fs::NsFs::new(&root, self.reader(), self.credentials().clone()).map_err(|e| {
            NsError::Mount(format!(
                "cannot mount namespace '{root}': cannot start its SMB client: {e}"
            ))
        })?;
        let passthrough = fs.passthrough();
        let session = fuser::spawn_mount(fs, &mountpoint, &config).map_err(|e| {
            NsError::Mount(format!(
                "cannot mount namespace '{root}' on {}: {e} (is /dev/fuse there, and fuse3 installed?)",
                b.mountpoint
            ))
        })?;
        tracing::info!(
            namespace = root.as_str(),
            mountpoint = b.mountpoint.as_str(),
            "namespace mounted"
        );
        let m = Mounted {
            namespace: root,
            session,
            passthrough,
        };
        let v = view(&mountpoint, &m);
        mounts.insert(mountpoint, Box::new(m));
        Ok(v)
    }

    /// Unmounts `b.mountpoint`.
    pub fn umount(&self, b: UmountBody) -> Result<MountView, NsError> {
        let mountpoint = PathBuf::from(&b.mountpoint);
        let m = self.mounts().lock().remove(&mountpoint).ok_or_else(|| {
            NsError::Mount(format!(
                "nothing of vsa's is mounted on {}; `vsa ns mounts` lists the mounts",
                b.mountpoint
            ))
        })?;
        let v = view(&mountpoint, m.as_ref());
        if let Err(e) = m.unmount() {
            tracing::warn!(mountpoint = b.mountpoint.as_str(), "unmounting: {e}");
        }
        tracing::info!(mountpoint = b.mountpoint.as_str(), "namespace unmounted");
        Ok(v)
    }

    /// The mounts.
    pub fn list_mounts(&self) -> Vec<MountView> {
        self.mounts()
            .lock()
            .iter()
            .map(|(p, m)| view(p, m.as_ref()))
            .collect()
    }

    /// Unmounts everything (the daemon stops).
    pub fn umount_all(&self) {
        let all: Vec<String> = self
            .list_mounts()
            .into_iter()
            .map(|m| m.mountpoint)
            .collect();
        for mountpoint in all {
            let _ = self.umount(UmountBody { mountpoint });
        }
    }
}
