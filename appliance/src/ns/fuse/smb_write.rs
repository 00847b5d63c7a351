//! Changes to SMB targets through the mount: files written through a streaming writer of
//! the `smb2` crate (pipelined WRITEs from an offset), directories made and removed, names
//! deleted and renamed.
//!
//! A file open for writing keeps one writer, positioned where the last write ended, as
//! programs write files front to back; a write elsewhere finishes it (its errors are the
//! write's) and starts another there. What was written is confirmed by the server when the
//! writer finishes: at `flush` (close(2)), `fsync` and `release`, which report what the
//! server refused, as a network filesystem reports a failed write-back at close.

use super::smb::{smb_path, SmbClients, SmbFile, TIMEOUT};
use fuser::Errno;
use parking_lot::Mutex;
use smb2::FileWriter;

/// A file of an SMB share open for writing.
pub struct SmbWrite {
    at: SmbFile,
    state: Mutex<State>,
}

impl std::fmt::Debug for SmbWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SmbWrite").field(&self.at).finish()
    }
}

struct State {
    /// The writer, and the offset its next byte lands at.
    writer: Option<(FileWriter, u64)>,
}

impl SmbClients {
    /// Makes file `path` (`exclusive`: only if it is not there) and opens it for writing.
    pub fn create(
        &self,
        server: &str,
        share: &str,
        path: &[String],
        exclusive: bool,
    ) -> Result<SmbWrite, Errno> {
        let p = smb_path(path);
        let w = self.call(server, share, move |c| {
            Box::pin(async move {
                if exclusive {
                    c.client.create_file_writer_exclusive(&c.tree, &p).await
                } else {
                    c.client.create_file_writer(&c.tree, &p).await
                }
            })
        })?;
        Ok(SmbWrite::new(server, share, path, Some((w, 0))))
    }

    /// Opens file `path`, which must be there, for writing (`truncate`: emptied first).
    pub fn open_write(
        &self,
        server: &str,
        share: &str,
        path: &[String],
        truncate: bool,
    ) -> Result<SmbWrite, Errno> {
        if self.stat(server, share, path)?.is_directory {
            return Err(Errno::EISDIR);
        }
        if truncate {
            return self.create(server, share, path, false);
        }
        Ok(SmbWrite::new(server, share, path, None))
    }

    /// Writes `data` at `offset` of `file`.
    pub fn write(&self, file: &SmbWrite, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let mut st = file.state.lock();
        let mut writer = match st.writer.take() {
            Some((w, at)) if at == offset => w,
            other => {
                if let Some((w, _)) = other {
                    self.finish_writer(w)?;
                }
                let p = smb_path(&file.at.path);
                self.call(&file.at.server, &file.at.share, move |c| {
                    Box::pin(
                        async move { c.client.create_file_writer_at(&c.tree, &p, offset).await },
                    )
                })?
            }
        };
        // A writer that failed is dropped: the next write starts another.
        self.timed(writer.write_chunk(data))?;
        st.writer = Some((writer, offset + data.len() as u64));
        Ok(())
    }

    /// Waits until the server has confirmed what was written to `file`.
    pub fn finish(&self, file: &SmbWrite) -> Result<(), Errno> {
        let mut st = file.state.lock();
        match st.writer.take() {
            Some((w, _)) => self.finish_writer(w),
            None => Ok(()),
        }
    }

    /// Reads `file` (open for reading and writing) after what was written is confirmed.
    pub fn read_written(&self, file: &SmbWrite, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        self.finish(file)?;
        let reader = self.open(&file.at.server, &file.at.share, &file.at.path)?;
        let got = self.read(&reader, offset, len);
        self.close(reader);
        got
    }

    fn finish_writer(&self, w: FileWriter) -> Result<(), Errno> {
        self.timed(w.finish()).map(|_| ())
    }

    /// Runs `f` on the client's runtime, bounded by [`TIMEOUT`].
    fn timed<T>(&self, f: impl std::future::Future<Output = smb2::Result<T>>) -> Result<T, Errno> {
        match self.block_on(async { tokio::time::timeout(TIMEOUT, f).await })? {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(super::smb::errno(&e)),
            Err(_) => Err(Errno::EIO),
        }
    }

    /// Makes directory `path`.
    pub fn mkdir(&self, server: &str, share: &str, path: &[String]) -> Result<(), Errno> {
        let p = smb_path(path);
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.create_directory(&mut c.tree, &p).await })
        })
    }

    /// Removes file `path`.
    pub fn unlink(&self, server: &str, share: &str, path: &[String]) -> Result<(), Errno> {
        let p = smb_path(path);
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.delete_file(&mut c.tree, &p).await })
        })
    }

    /// Removes directory `path` (it must be empty).
    pub fn rmdir(&self, server: &str, share: &str, path: &[String]) -> Result<(), Errno> {
        let p = smb_path(path);
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.delete_directory(&mut c.tree, &p).await })
        })
    }

    /// Renames `from` to `to` in one share.
    pub fn rename(
        &self,
        server: &str,
        share: &str,
        from: &[String],
        to: &[String],
    ) -> Result<(), Errno> {
        let (a, b) = (smb_path(from), smb_path(to));
        self.call(server, share, move |c| {
            Box::pin(async move { c.client.rename(&mut c.tree, &a, &b).await })
        })
    }
}

impl SmbClients {
    /// Renames `from` over file `to`, as POSIX rename does (SMB's rename does not replace):
    /// `to` is first renamed aside, then removed once `from` took its name, or put back if
    /// that fails, so an error leaves both as they were. Between the two renames `to` is
    /// briefly absent.
    pub fn rename_over(
        &self,
        server: &str,
        share: &str,
        from: &[String],
        to: &[String],
    ) -> Result<(), Errno> {
        let Some((name, dir)) = to.split_last() else {
            return Err(Errno::EINVAL);
        };
        let mut aside = dir.to_vec();
        aside.push(format!(
            ".{name}.vsa-replaced-{:08x}",
            rand::random::<u32>()
        ));
        self.rename(server, share, to, &aside)?;
        match self.rename(server, share, from, to) {
            Ok(()) => {
                if let Err(e) = self.unlink(server, share, &aside) {
                    tracing::warn!(
                        "smb://{server}/{share}: {} was replaced but its old copy {} stays: {e:?}",
                        smb_path(to),
                        smb_path(&aside)
                    );
                }
                Ok(())
            }
            Err(e) => {
                if let Err(back) = self.rename(server, share, &aside, to) {
                    tracing::error!(
                        "smb://{server}/{share}: a rename over {} failed ({e:?}) and the file \
                         stays as {} ({back:?})",
                        smb_path(to),
                        smb_path(&aside)
                    );
                }
                Err(e)
            }
        }
    }
}

impl SmbWrite {
    fn new(
        server: &str,
        share: &str,
        path: &[String],
        writer: Option<(FileWriter, u64)>,
    ) -> SmbWrite {
        SmbWrite {
            at: SmbFile::new(server, share, path),
            state: Mutex::new(State { writer }),
        }
    }
}
