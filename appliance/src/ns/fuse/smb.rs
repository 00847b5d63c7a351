//! The mount's SMB client (the `smb2` crate): a session (with the server's credentials,
//! else as a guest) and tree per server and share, made on first use and kept; a
//! connection that fails, or was made before the credentials last changed, is dropped and
//! made again on the next call. Every call is bounded by [`TIMEOUT`], so a frozen server costs one
//! call its timeout (then the next target of the link is tried), never a hung mount; a
//! share that could not be reached is passed over for [`BACKOFF`], so the calls after it
//! go straight to the link's next target (and once the health probes find it down, the
//! referral order puts it last anyway).
//! The calls run on a runtime of the client's own (the FUSE threads are not async).

use crate::ns::credentials::Credentials;
use fuser::Errno;
use fuser::{FileAttr, FileType, INodeNo};
use parking_lot::Mutex;
use smb2::client::stream::FileReader;
use smb2::pack::FileTime;
use smb2::{DirectoryEntry, ErrorKind, FileInfo, SmbClient, Tree};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long one call to a server may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a share that could not be reached is passed over (its link's other targets
/// serve meanwhile) before it is tried again.
pub const BACKOFF: Duration = Duration::from_secs(3);

/// A session and a tree connected to one share.
pub(super) struct Conn {
    pub(super) client: SmbClient,
    pub(super) tree: Tree,
    /// The credentials' version it was made at.
    version: u64,
}

type Slot = Arc<tokio::sync::Mutex<Option<Conn>>>;
pub(super) type Op<'a, T> = Pin<Box<dyn Future<Output = smb2::Result<T>> + Send + 'a>>;

/// The connections of one mount.
pub struct SmbClients {
    /// Always there until dropped (see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
    slots: Mutex<HashMap<(String, String), Slot>>,
    /// Shares that could not be reached, and when.
    down: Mutex<HashMap<(String, String), Instant>>,
    /// What to log on to each server with.
    creds: Credentials,
}

impl std::fmt::Debug for SmbClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbClients").finish_non_exhaustive()
    }
}

/// An SMB path as the `smb2` crate takes it: the names joined with `/`.
/// A file of an SMB share: its server, the share, and its names below the share.
#[derive(Debug, Clone)]
pub struct SmbFile {
    pub server: String,
    pub share: String,
    pub path: Vec<String>,
}

impl SmbFile {
    pub fn new(server: &str, share: &str, path: &[String]) -> SmbFile {
        SmbFile {
            server: server.to_owned(),
            share: share.to_owned(),
            path: path.to_vec(),
        }
    }
}

impl std::fmt::Display for SmbFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "smb://{}/{}/{}",
            self.server,
            self.share,
            smb_path(&self.path)
        )
    }
}

pub(super) fn smb_path(names: &[String]) -> String {
    names.join("/")
}

/// The errno for what a server answered.
pub(super) fn errno(e: &smb2::Error) -> Errno {
    match e.kind() {
        ErrorKind::NotFound => Errno::ENOENT,
        ErrorKind::NotADirectory => Errno::ENOTDIR,
        ErrorKind::IsADirectory => Errno::EISDIR,
        ErrorKind::AlreadyExists => Errno::EEXIST,
        ErrorKind::AccessDenied | ErrorKind::AuthRequired | ErrorKind::SigningRequired => {
            Errno::EACCES
        }
        ErrorKind::SharingViolation => Errno::EBUSY,
        ErrorKind::DiskFull => Errno::ENOSPC,
        _ => Errno::EIO,
    }
}

/// Whether the connection is no good after `e` (made again on the next call).
fn broken(e: &smb2::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionLost | ErrorKind::TimedOut | ErrorKind::SessionExpired
    )
}

async fn connect(server: &str, share: &str, creds: &Credentials) -> smb2::Result<Conn> {
    let version = creds.version();
    let cred = creds.get(server);
    let config = crate::ns::smb_share::config(server, 445, TIMEOUT, cred.as_ref());
    let mut client = SmbClient::connect(config).await?;
    let tree = client.connect_share(share).await?;
    Ok(Conn {
        client,
        tree,
        version,
    })
}

impl SmbClients {
    /// A client with a runtime of its own (one thread), logging on with `creds`.
    pub fn new(creds: Credentials) -> std::io::Result<SmbClients> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vsa-ns-smb")
            .enable_all()
            .build()?;
        Ok(SmbClients {
            rt: Some(rt),
            slots: Mutex::default(),
            down: Mutex::default(),
            creds,
        })
    }

    /// Runs `f` to its end on the client's runtime.
    pub(super) fn block_on<F: Future>(&self, f: F) -> Result<F::Output, Errno> {
        match &self.rt {
            Some(rt) => Ok(rt.block_on(f)),
            None => Err(Errno::EIO),
        }
    }

    /// Runs `op` on the connection to `share` of `server` (made first if need be).
    pub(super) fn call<T: Send>(
        &self,
        server: &str,
        share: &str,
        op: impl for<'a> FnOnce(&'a mut Conn) -> Op<'a, T> + Send,
    ) -> Result<T, Errno> {
        let key = (server.to_lowercase(), share.to_lowercase());
        if self
            .down
            .lock()
            .get(&key)
            .is_some_and(|t| t.elapsed() < BACKOFF)
        {
            return Err(Errno::EIO);
        }
        let slot = self.slots.lock().entry(key.clone()).or_default().clone();
        let work = async {
            let mut held = slot.lock().await;
            if held
                .as_ref()
                .is_some_and(|c| c.version != self.creds.version())
            {
                *held = None;
            }
            if held.is_none() {
                let conn = connect(server, share, &self.creds).await;
                *held = Some(conn.map_err(|e| (e, true))?);
            }
            let Some(conn) = held.as_mut() else {
                return Err((smb2::Error::Disconnected, true));
            };
            let r = op(conn).await;
            match r {
                Err(e) if broken(&e) => {
                    *held = None;
                    Err((e, true))
                }
                r => r.map_err(|e| (e, false)),
            }
        };
        let r = self.block_on(async { tokio::time::timeout(TIMEOUT, work).await })?;
        let gone = match r {
            Ok(Ok(v)) => {
                self.down.lock().remove(&key);
                return Ok(v);
            }
            Ok(Err((e, false))) => {
                tracing::debug!("smb://{server}/{share}: {e}");
                return Err(errno(&e));
            }
            Ok(Err((e, true))) => e.to_string(),
            Err(_) => {
                // Cut short mid-exchange: the connection starts afresh next time.
                if let Ok(mut held) = slot.try_lock() {
                    *held = None;
                }
                format!("no answer within {TIMEOUT:?}")
            }
        };
        tracing::debug!("smb://{server}/{share}: {gone}; its other targets for {BACKOFF:?}");
        self.down.lock().insert(key, Instant::now());
        Err(Errno::EIO)
    }

    /// Whether `share` of `server` failed lately (its calls go to other targets).
    pub fn is_down(&self, server: &str, share: &str) -> bool {
        let key = (server.to_lowercase(), share.to_lowercase());
        self.down
            .lock()
            .get(&key)
            .is_some_and(|t| t.elapsed() < BACKOFF)
    }

    /// What `path` (names below the share) is.
    pub fn stat(&self, server: &str, share: &str, path: &[String]) -> Result<FileInfo, Errno> {
        let p = smb_path(path);
        if p.is_empty() {
            // The share's root: listing it proves it is there.
            return self.list(server, share, path).map(|_| FileInfo {
                size: 0,
                is_directory: true,
                created: FileTime::ZERO,
                modified: FileTime::ZERO,
                accessed: FileTime::ZERO,
            });
        }
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.stat(&mut c.tree, &p).await })
        })
    }

    /// The entries of directory `path` (without `.` and `..`).
    pub fn list(
        &self,
        server: &str,
        share: &str,
        path: &[String],
    ) -> Result<Vec<DirectoryEntry>, Errno> {
        let p = smb_path(path);
        let mut all = self.call(server, share, move |c| {
            Box::pin(async move { c.client.list_directory(&mut c.tree, &p).await })
        })?;
        all.retain(|e| e.name != "." && e.name != "..");
        Ok(all)
    }

    /// Opens file `path` for reading.
    pub fn open(&self, server: &str, share: &str, path: &[String]) -> Result<FileReader, Errno> {
        let p = smb_path(path);
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.open_file_reader(&c.tree, &p).await })
        })
    }

    /// Up to `len` bytes of `file` at `offset` (fewer only at its end).
    pub fn read(&self, file: &FileReader, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        let read = file.read_at(offset, u64::from(len));
        match self.block_on(async { tokio::time::timeout(TIMEOUT, read).await })? {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(e)) => Err(errno(&e)),
            Err(_) => Err(Errno::EIO),
        }
    }

    /// Closes `file` on its server (best effort: a server that is gone has closed it).
    pub fn close(&self, file: FileReader) {
        let _ = self.block_on(async { tokio::time::timeout(TIMEOUT, file.close()).await });
    }
}

/// The attributes of an entry of an SMB share: open to every local user (what a guest may
/// do there is the server's to decide), owned by root, timed as the server says (or as the
/// mount, if it does not).
pub(super) fn attr(ino: INodeNo, i: &smb2::FileInfo, started: SystemTime) -> FileAttr {
    let at = |t: smb2::pack::FileTime| t.to_system_time().unwrap_or(started);
    let (kind, perm, nlink) = if i.is_directory {
        (FileType::Directory, 0o777, 2)
    } else {
        (FileType::RegularFile, 0o666, 1)
    };
    FileAttr {
        ino,
        size: i.size,
        blocks: i.size.div_ceil(512),
        atime: at(i.accessed),
        mtime: at(i.modified),
        ctime: at(i.modified),
        crtime: at(i.created),
        kind,
        perm,
        nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl Drop for SmbClients {
    /// Without waiting: a mount that fails is dropped where the daemon's own runtime runs,
    /// where waiting for another runtime is not allowed.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mount that fails is dropped inside the daemon's runtime: that must not panic.
    #[test]
    fn the_client_may_be_dropped_where_an_async_runtime_runs() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        outer.block_on(async {
            let c = SmbClients::new(Credentials::default()).unwrap();
            drop(c);
        });
    }

    #[test]
    fn a_server_that_is_not_there_is_eio_at_once_then_passed_over() {
        let c = SmbClients::new(Credentials::default()).unwrap();
        // Port 445 of an address nothing listens on: refused at once.
        let e = c.stat("127.0.0.254", "share", &["dir".into()]).unwrap_err();
        assert_eq!(e, Errno::EIO);
        let key = ("127.0.0.254".to_owned(), "share".to_owned());
        assert!(c.down.lock().contains_key(&key), "not noted as down");
        assert_eq!(c.list("127.0.0.254", "share", &[]).unwrap_err(), Errno::EIO);
    }
}
