//! Opening files through the mount: a file of a local target, of an SMB share, or a new
//! one, and how each open is served (by the kernel from the target's file, or by the
//! daemon: see passthrough.rs).

use super::cache;
use super::fs::{io, owned_by, Handle, Local, NsFs, Result, TTL};
use super::passthrough::Mode;
use fuser::{
    Errno, FileAttr, FileHandle, FopenFlags, Generation, INodeNo, OpenFlags, ReplyCreate,
    ReplyOpen, Request,
};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl NsFs {
    /// OPEN: the file at inode `ino`'s path in the best reachable target.
    pub(super) fn open_file(&self, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let acc = flags.0 & libc::O_ACCMODE;
        let opened = self.path_of(ino).and_then(|p| match self.local(&p)? {
            Local::Synthetic => Err(Errno::EACCES),
            Local::Target { path, .. } => OpenOptions::new()
                .read(acc != libc::O_WRONLY)
                .write(acc != libc::O_RDONLY)
                .append(flags.0 & libc::O_APPEND != 0)
                .truncate(flags.0 & libc::O_TRUNC != 0 && acc != libc::O_RDONLY)
                .open(path)
                .map(Handle::Local)
                .map_err(io),
            Local::Smb {
                server,
                share,
                path,
                ..
            } if acc != libc::O_RDONLY => self
                .smb
                .open_write(&server, &share, &path, flags.0 & libc::O_TRUNC != 0)
                .map(Handle::SmbWrite),
            Local::Smb {
                server,
                share,
                path,
                ..
            } => self.smb.open_read(&server, &share, &path).map(Handle::Smb),
        });
        let h = match opened {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let (fh, mode, flags) = self.serve(ino, h, |f| reply.open_backing(f));
        match mode {
            Mode::Passthrough(b) | Mode::Direct(b) => reply.opened_passthrough(fh, flags, &b),
            Mode::Cached => reply.opened(fh, flags),
        }
    }

    /// CREATE: file `name` in directory `parent`, with permissions `mode` (umask applied).
    pub(super) fn create_file(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let made = self
            .child(parent, name)
            .and_then(|path| self.make(req, &path, mode, flags));
        let (attr, h) = match made {
            Ok(m) => m,
            Err(e) => return reply.error(e),
        };
        let (fh, mode, flags) = self.serve(attr.ino, h, |f| reply.open_backing(f));
        let g = Generation(0);
        match mode {
            Mode::Passthrough(b) | Mode::Direct(b) => {
                reply.created_passthrough(&TTL, &attr, g, fh, flags, &b)
            }
            Mode::Cached => reply.created(&TTL, &attr, g, fh, flags),
        }
    }

    /// Makes file `path` (in a link) and opens it.
    fn make(&self, req: &Request, path: &str, mode: u32, flags: i32) -> Result<(FileAttr, Handle)> {
        if let Local::Smb {
            server,
            share,
            path: at,
            ..
        } = self.local(path)?
        {
            let w = self
                .smb
                .create(&server, &share, &at, flags & libc::O_EXCL != 0)?;
            return Ok((self.attr(path)?, Handle::SmbWrite(w)));
        }
        let local = self.inside(path)?;
        let acc = flags & libc::O_ACCMODE;
        let file = OpenOptions::new()
            .read(acc != libc::O_WRONLY)
            .write(true)
            .create(true)
            .create_new(flags & libc::O_EXCL != 0)
            .truncate(flags & libc::O_TRUNC != 0)
            .mode(mode & 0o7777)
            .open(&local)
            .map_err(io)?;
        owned_by(&local, req);
        Ok((self.attr(path)?, Handle::Local(file)))
    }

    /// Keeps open file `h` of `ino` under a new handle, and chooses how it is served (with
    /// the open flags that go with that); `register` hands a local file to the kernel as
    /// a backing file.
    fn serve(
        &self,
        ino: INodeNo,
        h: Handle,
        register: impl FnOnce(&File) -> std::io::Result<fuser::BackingId>,
    ) -> (FileHandle, Mode, FopenFlags) {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let mode = match &h {
            Handle::Local(f) => self.passthrough.open_local(ino.0, fh, f, register),
            _ => self.passthrough.open_served(ino.0, fh),
        };
        let flags = match (&mode, &h) {
            (Mode::Direct(_), _) => FopenFlags::FOPEN_DIRECT_IO,
            (Mode::Cached, Handle::Local(f)) => self.cache_flags(ino, f),
            _ => FopenFlags::empty(),
        };
        self.handles.lock().insert(fh, Arc::new(h));
        (FileHandle(fh), mode, flags)
    }

    /// `FOPEN_KEEP_CACHE` for a local file as it was when the kernel last had its pages.
    fn cache_flags(&self, ino: INodeNo, f: &File) -> FopenFlags {
        match f.metadata() {
            Ok(m) if self.stamps.keep(ino.0, cache::stamp(&m)) => FopenFlags::FOPEN_KEEP_CACHE,
            _ => FopenFlags::empty(),
        }
    }
}
