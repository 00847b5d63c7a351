//! The listening side of an export: the socket, the connection loop, and stopping it.

use super::backend::{BlkBackend, Memory, SWEEP_EVENT};
use crate::blk::Disk;
use parking_lot::Mutex;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use vhost::vhost_user::Listener;
use vhost_user_backend::{ShutdownHandle, VhostUserDaemon};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::epoll::EventSet;

/// Why an export could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The socket path is not absolute.
    #[error("socket path '{0}' is not absolute")]
    NotAbsolute(PathBuf),
    /// The socket's directory does not exist.
    #[error("the directory of socket '{0}' does not exist")]
    NoDirectory(PathBuf),
    /// Something other than a socket is in the way.
    #[error("'{0}' exists and is not a socket; it is left alone")]
    InTheWay(PathBuf),
    /// Creating or listening on the socket failed.
    #[error("cannot listen on '{path}': {why}")]
    Listen {
        /// The socket.
        path: PathBuf,
        /// The cause.
        why: String,
    },
}

/// What an export is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStatus {
    /// A VMM is connected now.
    pub connected: bool,
    /// Connections served since the export started.
    pub connections: u64,
    /// Why the last connection ended, if it ended with an error.
    pub last_error: Option<String>,
    /// It still listens (false once it gave up: the device could not be set up).
    pub serving: bool,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connected: AtomicBool,
    connections: AtomicU64,
    last_error: Mutex<Option<String>>,
    shutdown: Mutex<Option<ShutdownHandle>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stop", &self.stop)
            .field("connected", &self.connected)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

/// A disk served on a vhost-user socket until [`Export::stop`] (or drop).
#[derive(Debug)]
pub struct Export {
    socket: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Export {
    /// Listens on `socket` and serves `disk` with `num_queues` queues to each VMM that
    /// connects. A stale socket at that path (from an earlier run) is replaced; any other
    /// file there is refused.
    pub fn start(disk: Disk, socket: &Path, num_queues: u16) -> Result<Export, ExportError> {
        check_path(socket)?;
        let listener = Listener::new(socket, true).map_err(|e| ExportError::Listen {
            path: socket.to_owned(),
            why: e.to_string(),
        })?;
        let shared = Arc::new(Shared::default());
        let name = format!("vhost-blk {}", disk.id);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("vhost-user-blk".into())
                .spawn(move || serve(listener, disk, num_queues, &name, &shared))
                .map_err(|e| ExportError::Listen {
                    path: socket.to_owned(),
                    why: format!("no thread: {e}"),
                })?
        };
        Ok(Export {
            socket: socket.to_owned(),
            shared,
            thread: Some(thread),
        })
    }

    /// The socket it listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What it is doing.
    pub fn status(&self) -> ExportStatus {
        ExportStatus {
            connected: self.shared.connected.load(Ordering::Relaxed),
            connections: self.shared.connections.load(Ordering::Relaxed),
            last_error: self.shared.last_error.lock().clone(),
            serving: self.thread.as_ref().is_some_and(|t| !t.is_finished()),
        }
    }

    /// Disconnects the VMM (if any), stops listening and removes the socket. Requests
    /// being executed finish first.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.shared.shutdown.lock().take() {
            handle.shutdown();
        }
        // Wake a thread blocked in accept(2): it sees the stop flag and ends.
        let _ = UnixStream::connect(&self.socket);
        if thread.join().is_err() {
            tracing::error!(
                "vhost-user-blk: the export thread of {} panicked",
                self.socket.display()
            );
        }
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        self.halt();
    }
}

fn check_path(socket: &Path) -> Result<(), ExportError> {
    if !socket.is_absolute() {
        return Err(ExportError::NotAbsolute(socket.to_owned()));
    }
    if !socket.parent().is_some_and(Path::is_dir) {
        return Err(ExportError::NoDirectory(socket.to_owned()));
    }
    match std::fs::symlink_metadata(socket) {
        Ok(m) if !m.file_type().is_socket() => Err(ExportError::InTheWay(socket.to_owned())),
        _ => Ok(()),
    }
}

/// Serves connections one after another until stopped.
fn serve(mut listener: Listener, disk: Disk, num_queues: u16, name: &str, shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let mem = Memory::new(GuestMemoryMmap::new());
        let backend = match BlkBackend::new(disk.clone(), num_queues, mem.clone()) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                record(shared, format!("cannot set up the device: {e}"));
                return;
            }
        };
        let mut daemon = match VhostUserDaemon::new(name.to_owned(), backend.clone(), mem) {
            Ok(d) => d,
            Err(e) => {
                record(shared, format!("cannot set up the device: {e}"));
                return;
            }
        };
        if let Err(e) = daemon.start(&mut listener) {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            record(shared, format!("accepting a connection: {e}"));
            // accept(2) failing again at once (EMFILE) must not spin.
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        *shared.shutdown.lock() = daemon.shutdown_handle();
        if shared.stop.load(Ordering::SeqCst) {
            daemon.request_shutdown();
            let _ = daemon.wait();
            return;
        }
        shared.connected.store(true, Ordering::Relaxed);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        tracing::info!("vhost-user-blk: a VMM connected to {name}");
        let sweeper = Sweeper::start(&daemon, &backend);
        let ended = daemon.wait();
        drop(sweeper);
        shared.connected.store(false, Ordering::Relaxed);
        shared.shutdown.lock().take();
        match ended {
            Ok(()) => tracing::info!("vhost-user-blk: the VMM of {name} disconnected"),
            Err(e) if shared.stop.load(Ordering::SeqCst) => {
                tracing::debug!("vhost-user-blk: {name} stopped: {e}")
            }
            Err(e) => record(shared, format!("the connection ended: {e}")),
        }
    }
}

fn record(shared: &Shared, why: String) {
    tracing::warn!("vhost-user-blk: {why}");
    *shared.last_error.lock() = Some(why);
}

/// While a VMM is connected, has every queue thread look at its queues once a second,
/// kicked or not ([`BlkBackend`]'s sweep): a VMM that reconnects restarts its queues
/// where the guest's last completed request was, and the requests after it, passed
/// before the daemon went away, would otherwise wait for a kick that never comes.
struct Sweeper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the queues are swept.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Sweeper {
    fn start(daemon: &VhostUserDaemon<Arc<BlkBackend>>, backend: &Arc<BlkBackend>) -> Sweeper {
        let stop = Arc::new(AtomicBool::new(false));
        for (handler, fd) in daemon.get_epoll_handlers().iter().zip(&backend.sweeps) {
            if let Err(e) = handler.register_listener(fd.as_raw_fd(), EventSet::IN, SWEEP_EVENT) {
                tracing::warn!("vhost-user-blk: no queue sweep: {e}");
            }
        }
        let thread = {
            let (stop, backend) = (stop.clone(), backend.clone());
            std::thread::Builder::new()
                .name("vhost-blk sweep".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::park_timeout(SWEEP_EVERY);
                        for fd in &backend.sweeps {
                            let _ = fd.write(1);
                        }
                    }
                })
                .map_err(|e| tracing::warn!("vhost-user-blk: no sweep thread: {e}"))
                .ok()
        };
        Sweeper { stop, thread }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
