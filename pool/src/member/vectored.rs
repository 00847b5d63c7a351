//! Vectored positional I/O (`preadv`/`pwritev`): the pieces a RAID set sends to one member
//! lie at separate places in the caller's buffer but side by side on the member, so they
//! go down as one request without being copied together first.
//!
//! Under `O_DIRECT` the kernel takes every piece as it is only when each starts at an
//! aligned address and is a whole number of blocks long; otherwise the pieces go through
//! the bounce buffer, gathered (or scattered) there when they fit in it at once.

use super::{is_aligned, pread, pwrite, with_bounce, BOUNCE_MAX};
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::unix::fs::FileExt;

/// Most pieces one call takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// Whether direct I/O can use every piece where it lies.
fn direct_ready<'a>(mut pieces: impl Iterator<Item = &'a [u8]>, block: usize) -> bool {
    pieces.all(|p| is_aligned(p) && p.len() % block == 0)
}

/// Writes `bufs` one after another at `pos`, all of them or an error.
pub(super) fn pwritev(
    file: &File,
    direct: bool,
    block: u32,
    bufs: &[&[u8]],
    pos: u64,
) -> io::Result<()> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    if direct && !direct_ready(bufs.iter().copied(), block as usize) {
        if total > BOUNCE_MAX {
            let mut at = pos;
            for b in bufs {
                pwrite(file, direct, b, at)?;
                at += b.len() as u64;
            }
            return Ok(());
        }
        return with_bounce(total, |tmp| {
            let mut at = 0;
            for b in bufs {
                tmp[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            }
            file.write_all_at(tmp, pos)
        });
    }
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut left = &mut slices[..];
    let mut at = pos;
    while !left.is_empty() {
        let n = left.len().min(IOV_MAX);
        let done = rustix::io::pwritev(file, &left[..n], at).map_err(io::Error::from)?;
        if done == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the device took no bytes",
            ));
        }
        at += done as u64;
        IoSlice::advance_slices(&mut left, done);
    }
    Ok(())
}

/// Reads into `bufs` one after another from `pos`, all of them or an error.
pub(super) fn preadv(
    file: &File,
    direct: bool,
    block: u32,
    bufs: &mut [&mut [u8]],
    pos: u64,
) -> io::Result<()> {
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    if direct && !direct_ready(bufs.iter().map(|b| &**b), block as usize) {
        if total > BOUNCE_MAX {
            let mut at = pos;
            for b in bufs.iter_mut() {
                pread(file, direct, b, at)?;
                at += b.len() as u64;
            }
            return Ok(());
        }
        return with_bounce(total, |tmp| {
            file.read_exact_at(tmp, pos)?;
            let mut at = 0;
            for b in bufs.iter_mut() {
                b.copy_from_slice(&tmp[at..at + b.len()]);
                at += b.len();
            }
            Ok(())
        });
    }
    let mut slices: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
    let mut left = &mut slices[..];
    let mut at = pos;
    while !left.is_empty() {
        let n = left.len().min(IOV_MAX);
        let done = rustix::io::preadv(file, &mut left[..n], at).map_err(io::Error::from)?;
        if done == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the device ended before the range did",
            ));
        }
        at += done as u64;
        IoSliceMut::advance_slices(&mut left, done);
    }
    Ok(())
}
