//! One virtio-blk request: a descriptor chain whose readable part is the 16-byte header
//! (type, reserved, sector) and, for writes and range commands, the data; whose writable
//! part is, for reads and GET_ID, the data, and always ends with the status byte.
//!
//! Everything is read through `vm-memory`'s checked accessors: a chain that points
//! outside guest memory, has no room for a status byte or a short header never touches
//! the device.

use super::{req, status, Disk, ID_LEN, MAX_RANGES, MAX_RANGE_SECTORS, MAX_TRANSFER, SECTOR};
use std::io::{Read, Write};
use std::ops::Deref;
use virtio_queue::{DescriptorChain, Reader, Writer};
use vm_memory::bitmap::{BitmapSlice, WithBitmapSlice};
use vm_memory::GuestMemory;
use vsa_blockdev::{BlockError, ErrorKind};

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The status written, or `None` when the chain had no place for one (then nothing
    /// was done).
    pub status: Option<u8>,
    /// The bytes written into the chain (data and status), for the used ring.
    pub used: u32,
}

impl Outcome {
    const BROKEN: Outcome = Outcome {
        status: None,
        used: 0,
    };
}

/// Executes the request in `chain` on `disk` and writes its status.
pub fn execute<'a, M, T>(disk: &Disk, mem: &'a M, chain: DescriptorChain<T>) -> Outcome
where
    M: GuestMemory,
    <M as GuestMemory>::Bitmap: WithBitmapSlice<'a>,
    T: Deref + Clone,
    T::Target: GuestMemory + Sized,
{
    let (Ok(mut reader), Ok(mut writer)) = (
        Reader::<<M::Bitmap as WithBitmapSlice<'a>>::S>::new(mem, chain.clone()),
        Writer::<<M::Bitmap as WithBitmapSlice<'a>>::S>::new(mem, chain),
    ) else {
        tracing::debug!("virtio-blk: a descriptor chain points outside guest memory");
        return Outcome::BROKEN;
    };
    let Some(data_len) = writer.available_bytes().checked_sub(1) else {
        tracing::debug!("virtio-blk: a request without room for its status byte");
        return Outcome::BROKEN;
    };
    let Ok(mut status_writer) = writer.split_at(data_len) else {
        return Outcome::BROKEN;
    };
    let code = run(disk, &mut reader, &mut writer);
    if status_writer.write_all(&[code]).is_err() {
        return Outcome::BROKEN;
    }
    Outcome {
        status: Some(code),
        used: u32::try_from(writer.bytes_written() + 1).unwrap_or(u32::MAX),
    }
}

/// Runs the request and returns its status byte.
fn run<B: BitmapSlice>(disk: &Disk, reader: &mut Reader<'_, B>, writer: &mut Writer<'_, B>) -> u8 {
    let mut header = [0u8; 16];
    if reader.read_exact(&mut header).is_err() {
        tracing::debug!("virtio-blk: a request with a short header");
        return status::IOERR;
    }
    let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let sector = u64::from_le_bytes([
        header[8], header[9], header[10], header[11], header[12], header[13], header[14],
        header[15],
    ]);
    let writes = matches!(kind, req::OUT | req::DISCARD | req::WRITE_ZEROES);
    if writes && disk.read_only {
        return status::IOERR;
    }
    let result = match kind {
        req::IN => read(disk, sector, writer),
        req::OUT => write(disk, sector, reader),
        req::FLUSH => disk.device.flush().map_err(Failure::Device),
        req::GET_ID => get_id(disk, writer),
        req::DISCARD | req::WRITE_ZEROES => ranges(disk, kind, reader),
        _ => Err(Failure::Unsupported),
    };
    match result {
        Ok(()) => status::OK,
        Err(Failure::Unsupported) => status::UNSUPP,
        Err(Failure::Guest(why)) => {
            tracing::debug!("virtio-blk: {why}");
            status::IOERR
        }
        Err(Failure::Device(e)) => {
            if matches!(e.kind(), ErrorKind::OutOfRange | ErrorKind::Misaligned) {
                tracing::debug!("virtio-blk: {e}");
            } else {
                tracing::warn!("virtio-blk: {e}");
            }
            status::IOERR
        }
    }
}

/// Why a request failed.
enum Failure {
    /// The request type or a flag is not supported.
    Unsupported,
    /// The request itself is malformed (a guest bug or a hostile guest).
    Guest(&'static str),
    /// The device failed it.
    Device(BlockError),
}

fn offset_of(sector: u64) -> Result<u64, Failure> {
    sector
        .checked_mul(SECTOR)
        .ok_or(Failure::Guest("a sector number past the end of any disk"))
}

fn read<B: BitmapSlice>(
    disk: &Disk,
    sector: u64,
    writer: &mut Writer<'_, B>,
) -> Result<(), Failure> {
    let len = writer.available_bytes();
    if len > MAX_TRANSFER {
        return Err(Failure::Guest("a read larger than the device allows"));
    }
    let offset = offset_of(sector)?;
    if read_shared(disk, offset, len, writer)? {
        return Ok(());
    }
    with_buffer(len, |buf| {
        disk.device.read_at(buf, offset).map_err(Failure::Device)?;
        writer
            .write_all(buf)
            .map_err(|_| Failure::Guest("a read buffer the guest cannot take"))
    })
}

/// Serves a read from memory the device hands out (a RAM cache's pages, already checked
/// against their checksums when they were read in), copied once into the guest's buffers;
/// `false` when the device cannot do it without waiting, and nothing was written. The
/// other path reads into a buffer of ours first and copies from there: the pool checks a
/// block's checksum in the buffer it reads into, and a buffer in guest memory could be
/// changed by the guest between the read and the check.
fn read_shared<B: BitmapSlice>(
    disk: &Disk,
    offset: u64,
    len: usize,
    writer: &mut Writer<'_, B>,
) -> Result<bool, Failure> {
    let mut parts = Vec::new();
    match disk.device.try_read_shared(&mut parts, offset, len) {
        None => Ok(false),
        Some(Err(e)) => Err(Failure::Device(e)),
        Some(Ok(())) => {
            for part in &parts {
                writer
                    .write_all(part)
                    .map_err(|_| Failure::Guest("a read buffer the guest cannot take"))?;
            }
            Ok(true)
        }
    }
}

/// Runs `f` on a buffer of `len` bytes kept by the thread between requests (a queue's
/// thread reuses it: no allocation, zeroing or page faults per request), up to 1 MiB (a
/// larger request gets a buffer of its own, so a thread never holds more). Its content
/// on entry is whatever an earlier request left; `f` fills it before use.
fn with_buffer<T>(len: usize, f: impl FnOnce(&mut [u8]) -> T) -> T {
    const KEEP: usize = 1 << 20;
    if len > KEEP {
        return f(&mut vec![0u8; len]);
    }
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(&mut buf[..len])
        }
        // Not reentrant in practice; a fresh buffer if it ever is.
        Err(_) => f(&mut vec![0u8; len]),
    })
}

fn write<B: BitmapSlice>(
    disk: &Disk,
    sector: u64,
    reader: &mut Reader<'_, B>,
) -> Result<(), Failure> {
    let len = reader.available_bytes();
    if len > MAX_TRANSFER {
        return Err(Failure::Guest("a write larger than the device allows"));
    }
    with_buffer(len, |buf| {
        reader
            .read_exact(buf)
            .map_err(|_| Failure::Guest("a write buffer the device cannot read"))?;
        disk.device
            .write_at(buf, offset_of(sector)?)
            .map_err(Failure::Device)
    })
}

fn get_id<B: BitmapSlice>(disk: &Disk, writer: &mut Writer<'_, B>) -> Result<(), Failure> {
    let mut id = [0u8; ID_LEN];
    let bytes = disk.id.as_bytes();
    let n = bytes.len().min(ID_LEN);
    id[..n].copy_from_slice(&bytes[..n]);
    let room = writer.available_bytes().min(ID_LEN);
    writer
        .write_all(&id[..room])
        .map_err(|_| Failure::Guest("an id buffer the guest cannot take"))
}

/// DISCARD and WRITE ZEROES: a list of 16-byte ranges (sector, sectors, flags).
fn ranges<B: BitmapSlice>(
    disk: &Disk,
    kind: u32,
    reader: &mut Reader<'_, B>,
) -> Result<(), Failure> {
    const UNMAP: u32 = 1;
    let len = reader.available_bytes();
    if len == 0 || len % 16 != 0 || len / 16 > MAX_RANGES as usize {
        return Err(Failure::Guest("a range list of the wrong length"));
    }
    let mut list = vec![0u8; len];
    reader
        .read_exact(&mut list)
        .map_err(|_| Failure::Guest("a range list the device cannot read"))?;
    let mut parsed = Vec::with_capacity(len / 16);
    for r in list.chunks_exact(16) {
        let sector = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
        let sectors = u32::from_le_bytes([r[8], r[9], r[10], r[11]]);
        let flags = u32::from_le_bytes([r[12], r[13], r[14], r[15]]);
        // Reserved flags, and UNMAP on a discard, are unsupported (5.2.6.2).
        if flags & !UNMAP != 0 || (kind == req::DISCARD && flags != 0) {
            return Err(Failure::Unsupported);
        }
        if sectors > MAX_RANGE_SECTORS {
            return Err(Failure::Guest("a range longer than the device allows"));
        }
        parsed.push((
            offset_of(sector)?,
            u64::from(sectors) * SECTOR,
            flags & UNMAP != 0,
        ));
    }
    for (offset, len, unmap) in parsed {
        vsa_blockdev::check_range(disk.device.as_ref(), vsa_blockdev::Op::Unmap, offset, len)
            .map_err(Failure::Device)?;
        let done = if kind == req::DISCARD || unmap {
            disk.device.unmap(offset, len)
        } else {
            vsa_blockdev::write_zeros(disk.device.as_ref(), offset, len)
        };
        done.map_err(Failure::Device)?;
    }
    Ok(())
}
