//! The namespace as a FUSE filesystem: the namespace's own directories are synthesized
//! (read-only), and everything inside a link is passed through to the link's best
//! reachable target, chosen again at each lookup and open, so when a target goes away the
//! next open goes to the next one: a `file://` one on this appliance, an `smb://` one
//! through the mount's SMB client ([`super::smb`], [`super::smb_write`]). Inode numbers
//! come from paths ([`super::inodes`]).

use super::cache;
use super::dir::Dirs;
use super::inodes::Inodes;
use super::passthrough::Passthrough;
use super::smb::SmbClients;
use super::smb_read::SmbRead;
use super::smb_write::SmbWrite;
use crate::ns::credentials::Credentials;
use crate::ns::service::NsReader;
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the kernel may keep names and attributes.
pub(super) const TTL: Duration = Duration::from_secs(1);

/// A namespace mounted.
#[derive(Debug)]
pub struct NsFs {
    pub(super) name: String,
    pub(super) reader: NsReader,
    pub(super) inodes: Mutex<Inodes>,
    pub(super) handles: Mutex<HashMap<u64, Arc<Handle>>>,
    pub(super) next_fh: AtomicU64,
    pub(super) started: SystemTime,
    pub(super) smb: SmbClients,
    /// SMB link directories that answered lately.
    pub(super) roots: cache::Roots,
    /// Local files as they were when the kernel last had their pages.
    pub(super) stamps: cache::Stamps,
    /// The listings of the directories open.
    pub(super) dirs: Dirs,
    /// Which opens the kernel serves from the target's file.
    pub(super) passthrough: Arc<Passthrough>,
}

/// An open file.
pub(super) enum Handle {
    Local(File),
    Smb(SmbRead),
    SmbWrite(SmbWrite),
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handle::Local(file) => f.debug_tuple("Local").field(file).finish(),
            Handle::Smb(r) => r.fmt(f),
            Handle::SmbWrite(w) => w.fmt(f),
        }
    }
}

/// Where a path is.
pub(super) enum Local {
    /// A directory of the namespace's own.
    Synthetic,
    /// `path` in the best reachable target on this appliance; `root` when it is the link
    /// itself; what `lstat` found there, when finding the target took it.
    Target {
        path: PathBuf,
        root: bool,
        meta: Option<Box<std::fs::Metadata>>,
    },
    /// `path` (names below the share) in the best reachable target, an SMB share.
    Smb {
        server: String,
        share: String,
        path: Vec<String>,
        root: bool,
    },
}

pub(super) type Result<T> = std::result::Result<T, Errno>;

pub(super) fn io(e: std::io::Error) -> Errno {
    Errno::from(e)
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = u32::try_from(nsecs).unwrap_or(0);
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::new(s, nanos),
        Err(_) => UNIX_EPOCH,
    }
}

/// The attributes of a file of this appliance, as `lstat` found it.
pub(super) fn meta_attr(ino: INodeNo, m: &std::fs::Metadata) -> FileAttr {
    FileAttr {
        ino,
        size: m.size(),
        blocks: m.blocks(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        crtime: time(m.ctime(), m.ctime_nsec()),
        kind: kind(m.mode()),
        perm: (m.mode() & 0o7777) as u16,
        nlink: u32::try_from(m.nlink()).unwrap_or(u32::MAX),
        uid: m.uid(),
        gid: m.gid(),
        rdev: u32::try_from(m.rdev()).unwrap_or(0),
        blksize: u32::try_from(m.blksize()).unwrap_or(4096),
        flags: 0,
    }
}

pub(super) fn kind(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

/// `parent/name`, for a name that is one component.
fn join(parent: &str, name: &OsStr) -> Result<String> {
    let name = name.to_str().ok_or(Errno::EINVAL)?;
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Errno::EINVAL);
    }
    Ok(if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    })
}

impl NsFs {
    /// The filesystem of namespace `name`.
    pub fn new(name: &str, reader: NsReader, creds: Credentials) -> std::io::Result<NsFs> {
        Ok(NsFs {
            name: name.to_owned(),
            reader,
            inodes: Mutex::default(),
            handles: Mutex::default(),
            next_fh: AtomicU64::new(1),
            started: SystemTime::now(),
            smb: SmbClients::new(creds)?,
            roots: cache::Roots::default(),
            stamps: cache::Stamps::default(),
            dirs: Dirs::default(),
            passthrough: Arc::default(),
        })
    }

    /// The mount's passthrough bookkeeping (its counts of opens).
    pub fn passthrough(&self) -> Arc<Passthrough> {
        self.passthrough.clone()
    }

    pub(super) fn path_of(&self, ino: INodeNo) -> Result<String> {
        self.inodes.lock().path(ino.0).ok_or(Errno::ENOENT)
    }

    /// The path of entry `name` of directory `parent`.
    pub(super) fn child(&self, parent: INodeNo, name: &OsStr) -> Result<String> {
        join(&self.path_of(parent)?, name)
    }

    /// A place inside a link, where files may be made and changed.
    pub(super) fn inside(&self, path: &str) -> Result<PathBuf> {
        match self.local(path)? {
            Local::Target { path, .. } => Ok(path),
            Local::Synthetic => Err(Errno::EACCES),
            // Only extended attributes come here for SMB: the mount has none there.
            Local::Smb { .. } => Err(Errno::ENOTSUP),
        }
    }

    pub(super) fn attr(&self, path: &str) -> Result<FileAttr> {
        let ino = INodeNo(self.inodes.lock().ino(path));
        match self.local(path)? {
            Local::Synthetic => Ok(self.synthetic(ino)),
            Local::Target { path, meta, .. } => {
                let m = match meta {
                    Some(m) => *m,
                    None => std::fs::symlink_metadata(&path).map_err(io)?,
                };
                Ok(meta_attr(ino, &m))
            }
            Local::Smb {
                server,
                share,
                path,
                ..
            } => {
                let i = self.smb.stat(&server, &share, &path)?;
                Ok(super::smb::attr(ino, &i, self.started))
            }
        }
    }

    pub(super) fn synthetic(&self, ino: INodeNo) -> FileAttr {
        FileAttr {
            ino,
            size: 0,
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: FileType::Directory,
            perm: 0o555,
            nlink: 2,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn entry(&self, path: &str, reply: ReplyEntry) {
        match self.attr(path) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn handle(&self, fh: FileHandle) -> Result<Arc<Handle>> {
        self.handles.lock().get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    /// Runs `f` on open file `fh` of this appliance (a file of an SMB target was opened
    /// read-only: EBADF, as for a write to any file opened so).
    fn with_handle<T>(&self, fh: FileHandle, f: impl FnOnce(&File) -> Result<T>) -> Result<T> {
        match &*self.handle(fh)? {
            Handle::Local(file) => f(file),
            Handle::Smb(_) | Handle::SmbWrite(_) => Err(Errno::EBADF),
        }
    }

    fn set_attr(
        &self,
        path: &str,
        mode: Option<u32>,
        size: Option<u64>,
        fh: Option<FileHandle>,
        times: (Option<TimeOrNow>, Option<TimeOrNow>),
    ) -> Result<FileAttr> {
        if let Local::Smb {
            server,
            share,
            path: at,
            ..
        } = self.local(path)?
        {
            // Modes, owners and times do not map onto SMB: left as the server keeps
            // them (as Linux's cifs client does without Unix extensions).
            match size {
                None => {}
                Some(0) => self
                    .smb
                    .create(&server, &share, &at, false)
                    .and_then(|w| self.smb.finish(&w))?,
                Some(_) => return Err(Errno::EOPNOTSUPP), // only emptying a file, for now
            }
            return self.attr(path);
        }
        if mode.is_some() || size.is_some() || times.0.is_some() || times.1.is_some() {
            let local = self.inside(path)?;
            if let Some(m) = mode {
                std::fs::set_permissions(&local, std::fs::Permissions::from_mode(m & 0o7777))
                    .map_err(io)?;
            }
            if let Some(len) = size {
                match fh {
                    Some(fh) => self.with_handle(fh, |f| f.set_len(len).map_err(io))?,
                    None => OpenOptions::new()
                        .write(true)
                        .open(&local)
                        .and_then(|f| f.set_len(len))
                        .map_err(io)?,
                }
            }
            if times.0.is_some() || times.1.is_some() {
                let at = |t: TimeOrNow| match t {
                    TimeOrNow::SpecificTime(t) => t,
                    TimeOrNow::Now => SystemTime::now(),
                };
                let mut ft = std::fs::FileTimes::new();
                if let Some(a) = times.0 {
                    ft = ft.set_accessed(at(a));
                }
                if let Some(m) = times.1 {
                    ft = ft.set_modified(at(m));
                }
                File::open(&local)
                    .and_then(|f| f.set_times(ft))
                    .map_err(io)?;
            }
        }
        self.attr(path)
    }
}

impl Filesystem for NsFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.child(parent, name) {
            Ok(path) => self.entry(&path, reply),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.path_of(ino).and_then(|p| self.attr(&p)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let done = self.path_of(ino).and_then(|p| {
            if uid.is_some() || gid.is_some() {
                if let Local::Target { path, .. } = self.local(&p)? {
                    std::os::unix::fs::lchown(&path, uid, gid).map_err(io)?;
                }
            }
            self.set_attr(&p, mode, size, fh, (atime, mtime))
        });
        match done {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let made = self.child(parent, name).and_then(|path| {
            if let Local::Smb {
                server,
                share,
                path: at,
                ..
            } = self.local(&path)?
            {
                self.smb.mkdir(&server, &share, &at)?;
                return Ok(path);
            }
            let local = self.inside(&path)?;
            std::fs::DirBuilder::new()
                .mode(mode & !umask & 0o7777)
                .create(&local)
                .map_err(io)?;
            owned_by(&local, req);
            Ok(path)
        });
        match made {
            Ok(path) => self.entry(&path, reply),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let done = self
            .child(parent, name)
            .and_then(|path| match self.local(&path)? {
                Local::Smb {
                    server,
                    share,
                    path,
                    ..
                } => self.smb.unlink(&server, &share, &path),
                _ => std::fs::remove_file(self.inside(&path)?).map_err(io),
            });
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let done = self.child(parent, name).and_then(|path| {
            match self.local(&path)? {
                Local::Target {
                    path, root: false, ..
                } => std::fs::remove_dir(path).map_err(io),
                Local::Smb {
                    server,
                    share,
                    path,
                    root: false,
                } => self.smb.rmdir(&server, &share, &path),
                _ => Err(Errno::EACCES), // the namespace's own directories and links
            }
        });
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let done = self
            .child(parent, name)
            .and_then(|from| Ok((from, self.child(newparent, newname)?)))
            .and_then(|(from, to)| {
                self.rename_within_link(&from, &to, flags)?;
                self.inodes.lock().renamed(&from, &to);
                Ok(())
            });
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn init(&mut self, _req: &Request, config: &mut fuser::KernelConfig) -> std::io::Result<()> {
        // The kernel drops cached pages of a file whose size or time changed under it.
        if let Err(missing) = config.add_capabilities(fuser::InitFlags::FUSE_AUTO_INVAL_DATA) {
            tracing::debug!("the kernel lacks {missing:?}: cached pages kept per open only");
        }
        // Listings with attributes where they spare lookups (see readdir.rs).
        let plus = fuser::InitFlags::FUSE_DO_READDIRPLUS | fuser::InitFlags::FUSE_READDIRPLUS_AUTO;
        if let Err(missing) = config.add_capabilities(plus) {
            tracing::debug!("the kernel lacks {missing:?}: a lookup per entry listed");
        }
        // Files of local targets served by the kernel from the target's file (see
        // passthrough.rs). A depth of 2 lets backing files be on a stacked filesystem
        // (overlayfs, as in containers); nothing can be stacked on this mount then.
        match config.add_capabilities(fuser::InitFlags::FUSE_PASSTHROUGH) {
            Ok(()) => match config.set_max_stack_depth(2) {
                Ok(_) => self.passthrough.enable(),
                Err(max) => tracing::debug!("no passthrough: stacking limited to {max}"),
            },
            Err(missing) => tracing::info!(
                "the kernel lacks {missing:?}: files of local targets are served through the daemon"
            ),
        }
        Ok(())
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.open_file(ino, flags, reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        self.create_file(req, parent, name, mode & !umask, flags, reply);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        if let Ok(h) = self.handle(fh) {
            let got = match &*h {
                Handle::Smb(file) => Some(self.smb.read_from(file, offset, size)),
                Handle::SmbWrite(file) => Some(self.smb.read_written(file, offset, size)),
                Handle::Local(_) => None,
            };
            if let Some(got) = got {
                match got {
                    Ok(d) => reply.data(&d),
                    Err(e) => reply.error(e),
                }
                return;
            }
        }
        let data = self.with_handle(fh, |f| {
            let mut buf = vec![0u8; size as usize];
            let mut got = 0;
            while got < buf.len() {
                match f.read_at(&mut buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io(e)),
                }
            }
            buf.truncate(got);
            Ok(buf)
        });
        match data {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _wf: WriteFlags,
        _flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let done = match self.handle(fh).as_deref() {
            Ok(Handle::SmbWrite(file)) => self.smb.write(file, offset, data),
            _ => self.with_handle(fh, |f| f.write_all_at(data, offset).map_err(io)),
        };
        match done {
            Ok(()) => reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2): what was written to an SMB share is confirmed (or its error given); a
        // file read is closed there (see smb_read.rs).
        match self.handle(fh).as_deref() {
            Ok(Handle::SmbWrite(file)) => match self.smb.finish(file) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            },
            Ok(Handle::Smb(file)) => {
                self.smb.put_down(file, false);
                reply.ok()
            }
            _ => reply.ok(),
        }
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        flags: OpenFlags,
        _lock: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let gone = self.handles.lock().remove(&fh.0);
        self.passthrough.release(fh.0);
        // What was written through the mount is in the kernel's pages too.
        if let Some(Handle::Local(f)) = gone.as_deref() {
            let wrote = flags.0 & libc::O_ACCMODE != libc::O_RDONLY;
            if let (true, Ok(m)) = (wrote, f.metadata()) {
                self.stamps.note(ino.0, cache::stamp(&m));
            }
        }
        // Requests in flight may still hold the handle: they end with it put down.
        match gone.as_deref() {
            Some(Handle::Smb(file)) => self.smb.put_down(file, true),
            Some(Handle::SmbWrite(file)) => {
                if let Err(e) = self.smb.finish(file) {
                    tracing::warn!("{file:?}: the last writes were not confirmed: {e:?}");
                }
            }
            _ => {}
        }
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.handle(fh).as_deref() {
            Ok(Handle::Smb(_)) => return reply.ok(), // read-only: nothing to make durable
            Ok(Handle::SmbWrite(file)) => {
                return match self.smb.finish(file) {
                    Ok(()) => reply.ok(),
                    Err(e) => reply.error(e),
                }
            }
            _ => {}
        }
        let done = self.with_handle(fh, |f| {
            if datasync {
                f.sync_data()
            } else {
                f.sync_all()
            }
            .map_err(io)
        });
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        // A symbolic link of a target on this appliance reads as it is there (resolved by
        // the client, as NFS does); SMB shares and the namespace's own have none.
        let target = self.path_of(ino).and_then(|p| match self.local(&p)? {
            Local::Target { path, .. } => std::fs::read_link(path).map_err(io),
            Local::Smb { .. } | Local::Synthetic => Err(Errno::EINVAL),
        });
        match target {
            Ok(t) => reply.data(t.as_os_str().as_encoded_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // Listed when first read (see dir.rs).
        match self.path_of(ino) {
            Ok(_) => {
                let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let l = match self.listing_of(ino, fh.0, offset) {
            Ok(l) => l,
            Err(e) => return reply.error(e),
        };
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (child, kind, name, _)) in self.numbered(ino, &l, from).enumerate() {
            if reply.add(child, (from + i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let l = match self.listing_of(ino, fh.0, offset) {
            Ok(l) => l,
            Err(e) => return reply.error(e),
        };
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (child, kind, name, entry)) in self.numbered(ino, &l, from).enumerate() {
            let (attr, ttl) = self.entry_attr(&l, entry, child, kind);
            if reply.add(
                child,
                (from + i + 1) as u64,
                name,
                &ttl,
                &attr,
                Generation(0),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs.close(fh.0);
        reply.ok();
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let got = self.path_of(ino).and_then(|p| match self.local(&p)? {
            Local::Target { path, .. } => {
                xattr::get(&path, name).map_err(io)?.ok_or(Errno::NO_XATTR)
            }
            Local::Smb { .. } => Err(Errno::NO_XATTR),
            Local::Synthetic => Err(Errno::EACCES),
        });
        xattr_reply(got, size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let got = self.path_of(ino).and_then(|p| match self.local(&p)? {
            Local::Synthetic | Local::Smb { .. } => Ok(Vec::new()),
            Local::Target { path, .. } => {
                let mut out = Vec::new();
                for n in xattr::list(&path).map_err(io)? {
                    out.extend_from_slice(n.as_encoded_bytes());
                    out.push(0);
                }
                Ok(out)
            }
        });
        xattr_reply(got, size, reply);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let done = self
            .path_of(ino)
            .and_then(|p| self.inside(&p))
            .and_then(|local| xattr::set(&local, name, value).map_err(io));
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let done = self
            .path_of(ino)
            .and_then(|p| self.inside(&p))
            .and_then(|local| xattr::remove(&local, name).map_err(io));
        match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}

/// Gives what a client made to the client (the daemon makes it as itself): a no-op
/// when the daemon may not change owners.
pub(super) fn owned_by(local: &Path, req: &Request) {
    if let Err(e) = std::os::unix::fs::lchown(local, Some(req.uid()), Some(req.gid())) {
        tracing::debug!("{}: chown to the client: {e}", local.display());
    }
}

/// An extended attribute's value, or its size when `size` is 0 (the caller asks how big).
fn xattr_reply(got: Result<Vec<u8>>, size: u32, reply: ReplyXattr) {
    match got {
        Ok(v) if size == 0 => reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX)),
        Ok(v) if v.len() > size as usize => reply.error(Errno::ERANGE),
        Ok(v) => reply.data(&v),
        Err(e) => reply.error(e),
    }
}
