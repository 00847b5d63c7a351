//! Files of SMB shares open for reading through the mount.
//!
//! A file's SMB handle is closed when the program closes its descriptor (`flush`, which
//! close(2) waits for), not only at `release`: the kernel sends that one later, and another
//! of the mount's threads may take the program's next call first. `cat f; rm f` would then
//! find `f` still open on the server, where a deleted file keeps its name until its last
//! handle closes. A read after that (through another descriptor of the same open file, or
//! a mapping) opens the file again.
//!
//! A handle is closed once no read in flight uses it any more (each is bounded by
//! [`TIMEOUT`]): the `smb2` crate cannot close a handle that is merely dropped, and one left
//! open on the server keeps the file there, undeletable, until the session ends.

use super::smb::{SmbClients, SmbFile, TIMEOUT};
use fuser::Errno;
use parking_lot::Mutex;
use smb2::client::stream::FileReader;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file of an SMB share open for reading.
pub struct SmbRead {
    at: SmbFile,
    open: Mutex<Open>,
}

struct Open {
    /// Its handle on the server, while it has one.
    reader: Option<Arc<FileReader>>,
    /// Released by the kernel: a read still in flight may not open it again.
    released: bool,
}

impl std::fmt::Debug for SmbRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SmbRead").field(&self.at).finish()
    }
}

impl SmbClients {
    /// Opens file `path` for reading (now, so open(2) reports what the server refuses).
    pub fn open_read(&self, server: &str, share: &str, path: &[String]) -> Result<SmbRead, Errno> {
        let reader = self.open(server, share, path)?;
        Ok(SmbRead {
            at: SmbFile::new(server, share, path),
            open: Mutex::new(Open {
                reader: Some(Arc::new(reader)),
                released: false,
            }),
        })
    }

    /// Up to `len` bytes of `file` at `offset`, opening it again if it was put down.
    pub fn read_from(&self, file: &SmbRead, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        let reader = {
            let mut open = file.open.lock();
            match &open.reader {
                Some(r) => Arc::clone(r),
                None if open.released => return Err(Errno::EBADF),
                None => {
                    let r = Arc::new(self.open(&file.at.server, &file.at.share, &file.at.path)?);
                    open.reader = Some(Arc::clone(&r));
                    r
                }
            }
        };
        self.read(&reader, offset, len)
    }

    /// Closes `file`'s handle on the server, once the reads in flight are done with it;
    /// `released`: for good (the kernel let the open file go).
    pub fn put_down(&self, file: &SmbRead, released: bool) {
        let reader = {
            let mut open = file.open.lock();
            open.released |= released;
            open.reader.take()
        };
        let Some(reader) = reader else {
            return;
        };
        match last_owner(reader, TIMEOUT * 2) {
            Some(r) => self.close(r),
            None => tracing::warn!(
                "{}: a read never ended; its handle stays open until the session is made again",
                file.at
            ),
        }
    }
}

/// `shared` itself once every other owner let it go, looking again every millisecond for
/// up to `within`.
fn last_owner<T>(mut shared: Arc<T>, within: Duration) -> Option<T> {
    let until = Instant::now() + within;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(it) => return Some(it),
            Err(again) if Instant::now() < until => {
                shared = again;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_owner_gets_it_once_the_others_are_done() {
        let shared = Arc::new(7u32);
        let other = Arc::clone(&shared);
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            rx.recv().unwrap();
            drop(other);
        });
        let waiting = std::thread::spawn(move || last_owner(shared, Duration::from_secs(600)));
        tx.send(()).unwrap();
        assert_eq!(waiting.join().unwrap(), Some(7));
        t.join().unwrap();
    }

    #[test]
    fn an_owner_that_never_lets_go_is_given_up_on() {
        let shared = Arc::new(7u32);
        let _kept = Arc::clone(&shared);
        assert_eq!(last_owner(shared, Duration::from_millis(20)), None);
    }
}
