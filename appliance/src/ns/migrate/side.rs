//! One end of a migration: a target's directory, on this appliance (`file://`) or in an
//! SMB share (`smb://`, through the namespace's SMB client, with the server's
//! credentials), and what a copy needs of it: walk it, stat, read, write, make
//! directories, remove.

use crate::ns::fuse::smb::SmbClients;
use fuser::Errno;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::SystemTime;
use vsa_namespace::{Scheme, TargetUrl};

/// How much a copy reads and writes at a time.
pub const CHUNK: usize = 1 << 20;

/// A target's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Local(PathBuf),
    Smb {
        server: String,
        share: String,
        dir: Vec<String>,
    },
}

/// A file or directory below a side's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its names below the directory.
    pub rel: Vec<String>,
    pub dir: bool,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

fn errno(e: Errno) -> String {
    std::io::Error::from_raw_os_error(e.code()).to_string()
}

impl Side {
    /// The side of `url`; `nfs://` targets cannot take part (the appliance has no NFS
    /// client).
    pub fn of(url: &TargetUrl) -> Result<Side, String> {
        match (url.scheme(), url.server(), url.path().split_first()) {
            (Scheme::File, _, _) => {
                let mut dir = PathBuf::from("/");
                dir.extend(url.path());
                Ok(Side::Local(dir))
            }
            (Scheme::Smb, Some(server), Some((share, dir))) => Ok(Side::Smb {
                server: server.to_owned(),
                share: share.clone(),
                dir: dir.to_vec(),
            }),
            (Scheme::Smb, _, _) => Err(format!(
                "{url} names no share; write smb://server/share[/path]"
            )),
            _ => Err(format!(
                "{url}: the appliance has no NFS client, so it cannot copy to or from nfs:// \
                 targets; copy the data yourself, then `vsa ns target add`"
            )),
        }
    }

    /// The side whose directory is `rel` below this one's.
    pub fn below(&self, rel: &[String]) -> Side {
        match self {
            Side::Local(d) => Side::Local(Side::local(d, rel)),
            Side::Smb { server, share, dir } => Side::Smb {
                server: server.clone(),
                share: share.clone(),
                dir: Side::smb_rel(dir, rel),
            },
        }
    }

    fn local(dir: &std::path::Path, rel: &[String]) -> PathBuf {
        let mut p = dir.to_owned();
        p.extend(rel);
        p
    }

    fn smb_rel(dir: &[String], rel: &[String]) -> Vec<String> {
        dir.iter().chain(rel).cloned().collect()
    }

    /// What is at `rel`, or `None` if nothing is.
    pub fn stat(&self, rel: &[String], smb: &SmbClients) -> Result<Option<Entry>, String> {
        match self {
            Side::Local(d) => match std::fs::symlink_metadata(Side::local(d, rel)) {
                Ok(m) => Ok(Some(Entry {
                    rel: rel.to_vec(),
                    dir: m.is_dir(),
                    size: if m.is_dir() { 0 } else { m.len() },
                    mtime: m.modified().ok(),
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Side::Smb { server, share, dir } => {
                match smb.stat(server, share, &Side::smb_rel(dir, rel)) {
                    Ok(i) => Ok(Some(Entry {
                        rel: rel.to_vec(),
                        dir: i.is_directory,
                        size: if i.is_directory { 0 } else { i.size },
                        mtime: i.modified.to_system_time(),
                    })),
                    Err(e) if e == Errno::ENOENT => Ok(None),
                    Err(e) => Err(errno(e)),
                }
            }
        }
    }

    /// The entries of directory `rel` (regular files and directories; others, such as
    /// symbolic links, are not migrated and are listed in `skipped`).
    fn list(
        &self,
        rel: &[String],
        smb: &SmbClients,
        skipped: &mut Vec<String>,
    ) -> Result<Vec<Entry>, String> {
        let child = |name: String| {
            let mut r = rel.to_vec();
            r.push(name);
            r
        };
        let mut out = Vec::new();
        match self {
            Side::Local(d) => {
                let dir = Side::local(d, rel);
                let read =
                    std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                for item in read {
                    let item = item.map_err(|e| format!("{}: {e}", dir.display()))?;
                    let name = item.file_name().to_string_lossy().into_owned();
                    let m = item.metadata().map_err(|e| format!("{name}: {e}"))?;
                    if !m.is_dir() && !m.is_file() {
                        skipped.push(child(name).join("/"));
                        continue;
                    }
                    out.push(Entry {
                        rel: child(name),
                        dir: m.is_dir(),
                        size: if m.is_dir() { 0 } else { m.len() },
                        mtime: m.modified().ok(),
                    });
                }
            }
            Side::Smb { server, share, dir } => {
                let entries = smb
                    .list(server, share, &Side::smb_rel(dir, rel))
                    .map_err(errno)?;
                for e in entries {
                    out.push(Entry {
                        rel: child(e.name),
                        dir: e.is_directory,
                        size: if e.is_directory { 0 } else { e.size },
                        mtime: e.modified.to_system_time(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(out)
    }

    /// Everything below the directory, each directory before what is in it; and what
    /// was passed over (neither file nor directory).
    pub fn walk(&self, smb: &SmbClients) -> Result<(Vec<Entry>, Vec<String>), String> {
        let (mut all, mut skipped) = (Vec::new(), Vec::new());
        let mut todo = vec![Vec::new()];
        while let Some(rel) = todo.pop() {
            let mut dirs = Vec::new();
            for e in self.list(&rel, smb, &mut skipped)? {
                if e.dir {
                    dirs.push(e.rel.clone());
                }
                all.push(e);
            }
            todo.extend(dirs.into_iter().rev());
        }
        Ok((all, skipped))
    }

    /// Makes directory `rel` (and the side's own directory) if it is not there.
    pub fn mkdir(&self, rel: &[String], smb: &SmbClients) -> Result<(), String> {
        match self {
            Side::Local(d) => {
                let p = Side::local(d, rel);
                std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))
            }
            Side::Smb { server, share, dir } => {
                let full = Side::smb_rel(dir, rel);
                for n in 1..=full.len() {
                    match smb.mkdir(server, share, &full[..n]) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(format!("{}: {}", full[..n].join("/"), errno(e))),
                    }
                }
                Ok(())
            }
        }
    }

    /// Removes file or empty directory `e`.
    pub fn remove(&self, e: &Entry, smb: &SmbClients) -> Result<(), String> {
        let shown = e.rel.join("/");
        match self {
            Side::Local(d) => {
                let p = Side::local(d, &e.rel);
                let r = if e.dir {
                    std::fs::remove_dir(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.map_err(|err| format!("{shown}: {err}"))
            }
            Side::Smb { server, share, dir } => {
                let p = Side::smb_rel(dir, &e.rel);
                let r = if e.dir {
                    smb.rmdir(server, share, &p)
                } else {
                    smb.unlink(server, share, &p)
                };
                r.map_err(|err| format!("{shown}: {}", errno(err)))
            }
        }
    }

    /// Copies file `e` of `self` to `to` (replacing what is there), calling `moved` with
    /// each chunk's length; a local copy gets the source's modification time.
    pub fn copy(
        &self,
        to: &Side,
        e: &Entry,
        smb: &SmbClients,
        moved: &mut dyn FnMut(u64) -> Result<(), String>,
    ) -> Result<(), String> {
        let shown = e.rel.join("/");
        let mut w = Writer::open(to, &e.rel, smb, true).map_err(|err| format!("{shown}: {err}"))?;
        let r = self.pump(e, smb, &mut w, moved);
        let done = w.finish(smb, e.mtime);
        r.and(done).map_err(|err| format!("{shown}: {err}"))
    }

    fn pump(
        &self,
        e: &Entry,
        smb: &SmbClients,
        w: &mut Writer,
        moved: &mut dyn FnMut(u64) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut r = Reader::open(self, &e.rel, smb)?;
        let mut at = 0u64;
        let res = loop {
            let data = match r.read_at(at, smb) {
                Ok(d) => d,
                Err(x) => break Err(x),
            };
            if data.is_empty() {
                break Ok(());
            }
            if let Err(x) = w
                .write_at(at, &data, smb)
                .and_then(|()| moved(data.len() as u64))
            {
                break Err(x);
            }
            at += data.len() as u64;
        };
        r.close(smb);
        res
    }
}

/// A file of a side open for reading, a [`CHUNK`] at a time.
pub enum Reader {
    Local(std::fs::File, Vec<u8>),
    Smb(smb2::client::stream::FileReader),
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reader::Local(..) => "Reader::Local",
            Reader::Smb(_) => "Reader::Smb",
        })
    }
}

impl Reader {
    pub fn open(side: &Side, rel: &[String], smb: &SmbClients) -> Result<Reader, String> {
        match side {
            Side::Local(d) => std::fs::File::open(Side::local(d, rel))
                .map(|f| Reader::Local(f, vec![0; CHUNK]))
                .map_err(|e| e.to_string()),
            Side::Smb { server, share, dir } => smb
                .open(server, share, &Side::smb_rel(dir, rel))
                .map(Reader::Smb)
                .map_err(errno),
        }
    }

    /// Up to a [`CHUNK`] at `offset` (fewer only at the end; none past it).
    pub fn read_at(&mut self, offset: u64, smb: &SmbClients) -> Result<Vec<u8>, String> {
        match self {
            Reader::Local(f, buf) => {
                let mut n = 0;
                while n < buf.len() {
                    match f.read_at(&mut buf[n..], offset + n as u64) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Ok(buf[..n].to_vec())
            }
            Reader::Smb(r) => smb.read(r, offset, CHUNK as u32).map_err(errno),
        }
    }

    pub fn close(self, smb: &SmbClients) {
        if let Reader::Smb(r) = self {
            smb.close(r);
        }
    }
}

/// A file of a side open for writing at any offset.
#[derive(Debug)]
pub enum Writer {
    Local(std::fs::File),
    Smb(Box<crate::ns::fuse::smb_write::SmbWrite>),
}

impl Writer {
    /// Opens `rel` on `to` for writing: emptied (or made) when `fresh`, else as it is
    /// (made if missing).
    pub fn open(
        to: &Side,
        rel: &[String],
        smb: &SmbClients,
        fresh: bool,
    ) -> Result<Writer, String> {
        match to {
            Side::Local(d) => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(fresh)
                .open(Side::local(d, rel))
                .map(Writer::Local)
                .map_err(|e| e.to_string()),
            Side::Smb { server, share, dir } => {
                let p = Side::smb_rel(dir, rel);
                let w = if fresh {
                    smb.create(server, share, &p, false)
                } else {
                    smb.open_write(server, share, &p, false)
                };
                w.map(|w| Writer::Smb(Box::new(w))).map_err(errno)
            }
        }
    }

    pub fn write_at(&mut self, offset: u64, data: &[u8], smb: &SmbClients) -> Result<(), String> {
        match self {
            Writer::Local(f) => f.write_all_at(data, offset).map_err(|e| e.to_string()),
            Writer::Smb(w) => smb.write(w, offset, data).map_err(errno),
        }
    }

    /// Flushes what was written to stable storage (local, which gets modification time
    /// `mtime`) or has the server confirm it.
    pub fn finish(self, smb: &SmbClients, mtime: Option<SystemTime>) -> Result<(), String> {
        match self {
            Writer::Local(f) => {
                if let Some(t) = mtime {
                    f.set_modified(t).map_err(|e| e.to_string())?;
                }
                f.sync_all().map_err(|e| e.to_string())
            }
            Writer::Smb(w) => smb.finish(&w).map_err(errno),
        }
    }
}
