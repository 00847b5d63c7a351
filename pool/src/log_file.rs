//! The write journal's records in a log of their own: a file (or a block device, a separate
//! log device) used as a ring. An append is one `pwrite` of a *frame* holding a group of
//! records at the head, in whole pages (the operating system has it at once: it survives a
//! crash of the process); a sync is one `fdatasync`; a retire moves the tail in the
//! superblock, synced.
//!
//! ```text
//!  0        4096                                                        size
//!  │ super  │ … frame n │ frame n+1 │ … (free) …             │ frame n-k │ … │
//!                        ▲ head                                ▲ tail
//! ```
//!
//! Superblock (4096 bytes, integers little-endian): magic `VSALOG01`, version (u32), zero
//! (u32), tail offset (u64), number of the frame at the tail (u64), the highest sequence
//! number retired (u64), the ring's end (u64), the log's epoch (u64, random when the log is
//! made), the owning pool's UUID (16 bytes), …, CRC32C of bytes 0..4092 at 4092.
//!
//! Frame: magic `VSLF`, frame number (u64), records (u32), payload length (u32), epoch
//! (u64), CRC32C of the 28 bytes before it and the payload (u32); then each record:
//! sequence number (u64), length (u32), bytes. The epoch keeps frames of an earlier log on
//! the same device from being read as this one's. Frames follow each other by number; a frame that does not fit
//! before the ring's end is written at its start instead. Reading from the tail, a frame
//! is taken while its magic, number and CRC are right; the first that is not ends the log
//! (a frame torn by a power loss was never acknowledged as synced).

use crate::write_journal::LogStore;
use parking_lot::Mutex;
use rand::RngCore;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use vsa_blockdev::{BlockError, ErrorKind, Op, Result};

const SUPER: u64 = 4096;
const SUPER_MAGIC: [u8; 8] = *b"VSALOG01";
const VERSION: u32 = 1;
const FRAME_MAGIC: [u8; 4] = *b"VSLF";
const FRAME_HEAD: usize = 32;
/// Where a frame's CRC is.
const FRAME_CRC: usize = 28;
const RECORD_HEAD: usize = 12;
/// The smallest log: the superblock and 1 MiB of ring.
pub const MIN_LOG_BYTES: u64 = SUPER + (1 << 20);

/// The page an append writes whole: the operating system's page, so that no append has
/// to read a page from disk to change part of it (a log whose pages have left the page
/// cache would otherwise read one page per append).
const PAGE: u64 = 4096;

/// Records as the log hands them out: (sequence number, bytes).
type Records = Vec<(u64, Vec<u8>)>;

/// Where the tail is, as the superblock keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tail {
    offset: u64,
    frame: u64,
    retired: u64,
    epoch: u64,
    /// The pool the log belongs to (its UUID; zeros in logs made before it was kept).
    owner: [u8; 16],
}

/// A frame in the ring.
#[derive(Debug, Clone, Copy)]
struct Frame {
    offset: u64,
    end: u64,
    max_seq: u64,
}

#[derive(Debug)]
struct Ring {
    /// Live frames, oldest first.
    frames: VecDeque<Frame>,
    head: u64,
    /// The bytes of the head's page before the head (`head % PAGE` of them), which the
    /// next append writes again so that it writes whole pages.
    head_page: Vec<u8>,
    next_frame: u64,
    tail: Tail,
}

/// A [`LogStore`] in a file or block device of its own.
#[derive(Debug)]
pub struct FileLog {
    file: File,
    path: PathBuf,
    end: u64,
    ring: Mutex<Ring>,
    /// Held while the superblock is written.
    super_lock: Mutex<()>,
}

fn io_err(op: Op, path: &Path, e: io::Error) -> BlockError {
    BlockError::io(op, 0, 0, e).with_device(format!("write journal log {}", path.display()))
}

fn bad(path: &Path, why: impl Into<String>) -> BlockError {
    BlockError::new(ErrorKind::Corrupt, Op::Read, 0, 0)
        .with_device(format!("write journal log {}", path.display()))
        .with_detail(why.into())
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn encode_super(t: Tail, end: u64) -> Vec<u8> {
    let mut b = vec![0u8; SUPER as usize];
    b[..8].copy_from_slice(&SUPER_MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&t.offset.to_le_bytes());
    b[24..32].copy_from_slice(&t.frame.to_le_bytes());
    b[32..40].copy_from_slice(&t.retired.to_le_bytes());
    b[40..48].copy_from_slice(&end.to_le_bytes());
    b[48..56].copy_from_slice(&t.epoch.to_le_bytes());
    b[56..72].copy_from_slice(&t.owner);
    let crc = crc32c::crc32c(&b[..4092]);
    b[4092..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode_super(b: &[u8], path: &Path, size: u64) -> Result<(Tail, u64)> {
    if b[..8] != SUPER_MAGIC {
        return Err(bad(path, "no write journal log here (magic missing)"));
    }
    if crc32c::crc32c(&b[..4092]) != le32(b, 4092) {
        return Err(bad(path, "the log's superblock fails its checksum"));
    }
    if le32(b, 8) != VERSION {
        return Err(bad(path, format!("log format version {}", le32(b, 8))));
    }
    let tail = Tail {
        offset: le64(b, 16),
        frame: le64(b, 24),
        retired: le64(b, 32),
        epoch: le64(b, 48),
        owner: b[56..72].try_into().unwrap_or_default(),
    };
    let end = le64(b, 40);
    if end > size || end < MIN_LOG_BYTES || tail.offset < SUPER || tail.offset > end {
        return Err(bad(
            path,
            "the log's superblock names a ring larger than the log",
        ));
    }
    Ok((tail, end))
}

/// The owner a log at `path` names, if a valid log superblock is there (to refuse a
/// pool's log as another pool's member or log).
pub fn read_owner(path: &Path) -> Option<[u8; 16]> {
    let file = File::open(path).ok()?;
    let size = device_size(&file, path).ok()?;
    let mut sb = vec![0u8; SUPER as usize];
    file.read_exact_at(&mut sb, 0).ok()?;
    decode_super(&sb, path, size).ok().map(|(t, _)| t.owner)
}

impl FileLog {
    /// Makes a new, empty log of `size` bytes at `path` (a file, created or cut to size,
    /// or a block device, whose size is used) for the pool with UUID `owner`, overwriting
    /// what was there.
    pub fn create(path: &Path, size: u64, owner: [u8; 16]) -> Result<FileLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_err(Op::Write, path, e))?;
        let is_file = file
            .metadata()
            .map_err(|e| io_err(Op::Write, path, e))?
            .is_file();
        if is_file {
            file.set_len(size).map_err(|e| io_err(Op::Write, path, e))?;
        }
        let end = device_size(&file, path)?;
        if end < MIN_LOG_BYTES {
            return Err(BlockError::new(ErrorKind::SpaceExhausted, Op::Write, 0, 0)
                .with_device(format!("write journal log {}", path.display()))
                .with_detail(format!("{end} bytes; a log needs at least {MIN_LOG_BYTES}")));
        }
        let mut epoch = [0u8; 8];
        rand::rngs::OsRng
            .try_fill_bytes(&mut epoch)
            .map_err(|e| io_err(Op::Write, path, io::Error::other(e.to_string())))?;
        let tail = Tail {
            offset: SUPER,
            frame: 1,
            retired: 0,
            epoch: u64::from_le_bytes(epoch),
            owner,
        };
        // A frame left from an earlier use of the device must not look like the first.
        file.write_all_at(&[0u8; FRAME_HEAD], SUPER)
            .and_then(|()| file.write_all_at(&encode_super(tail, end), 0))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err(Op::Write, path, e))?;
        Ok(Self::assemble(file, path, end, tail, Vec::new(), SUPER))
    }

    /// Opens the log at `path`, finding its frames.
    pub fn open(path: &Path) -> Result<FileLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io_err(Op::Read, path, e))?;
        let size = device_size(&file, path)?;
        let mut sb = vec![0u8; SUPER as usize];
        if size < SUPER {
            return Err(bad(path, "shorter than a superblock"));
        }
        file.read_exact_at(&mut sb, 0)
            .map_err(|e| io_err(Op::Read, path, e))?;
        let (tail, end) = decode_super(&sb, path, size)?;
        let (frames, _) = scan(&file, tail, end);
        let head = frames.last().map_or(tail.offset, |f| f.end);
        let mut log = Self::assemble(file, path, end, tail, frames, head);
        let ring = log.ring.get_mut();
        ring.head_page.resize((head % PAGE) as usize, 0);
        log.file
            .read_exact_at(&mut ring.head_page, head - head % PAGE)
            .map_err(|e| io_err(Op::Read, path, e))?;
        Ok(log)
    }

    fn assemble(
        file: File,
        path: &Path,
        end: u64,
        tail: Tail,
        frames: Vec<Frame>,
        head: u64,
    ) -> FileLog {
        let next_frame = tail.frame + frames.len() as u64;
        FileLog {
            file,
            path: path.to_owned(),
            end,
            ring: Mutex::new(Ring {
                frames: frames.into(),
                head,
                head_page: Vec::new(),
                next_frame,
                tail,
            }),
            super_lock: Mutex::new(()),
        }
    }

    /// The UUID of the pool the log belongs to (zeros: a log made before owners were
    /// kept).
    pub fn owner(&self) -> [u8; 16] {
        self.ring.lock().tail.owner
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the ring holds.
    pub fn capacity(&self) -> u64 {
        self.end - SUPER
    }

    /// Where a frame of `len` bytes goes, or `None` if the ring has no room for it.
    fn place(&self, r: &Ring, len: u64) -> Option<u64> {
        let tail = r.frames.front().map_or(r.head, |f| f.offset);
        let empty = r.frames.is_empty();
        if empty || r.head > tail {
            // Free: [head, end) and [SUPER, tail).
            if r.head + len <= self.end {
                return Some(r.head);
            }
            (SUPER + len < tail || (empty && SUPER + len <= self.end)).then_some(SUPER)
        } else {
            // Free: [head, tail).
            (r.head + len < tail).then_some(r.head)
        }
    }
}

fn device_size(file: &File, path: &Path) -> Result<u64> {
    let meta = file.metadata().map_err(|e| io_err(Op::Read, path, e))?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    use std::io::Seek;
    let mut f = file;
    f.seek(io::SeekFrom::End(0))
        .map_err(|e| io_err(Op::Read, path, e))
}

/// Reads the frame at `at` if it is frame `number` of epoch `epoch`: its end and records.
fn read_frame(
    file: &File,
    at: u64,
    (number, epoch): (u64, u64),
    end: u64,
) -> Option<(u64, Records)> {
    if at + FRAME_HEAD as u64 > end {
        return None;
    }
    let mut head = [0u8; FRAME_HEAD];
    file.read_exact_at(&mut head, at).ok()?;
    if head[..4] != FRAME_MAGIC || le64(&head, 4) != number || le64(&head, 20) != epoch {
        return None;
    }
    let (count, len) = (le32(&head, 12) as usize, le32(&head, 16) as u64);
    let frame_end = at + FRAME_HEAD as u64 + len;
    if frame_end > end {
        return None;
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact_at(&mut payload, at + FRAME_HEAD as u64)
        .ok()?;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..FRAME_CRC]), &payload);
    if crc != le32(&head, FRAME_CRC) {
        return None;
    }
    let mut records = Vec::with_capacity(count);
    let mut pos = 0usize;
    for _ in 0..count {
        let h = payload.get(pos..pos + RECORD_HEAD)?;
        let (seq, n) = (le64(h, 0), le32(h, 8) as usize);
        let body = payload.get(pos + RECORD_HEAD..pos + RECORD_HEAD + n)?;
        records.push((seq, body.to_vec()));
        pos += RECORD_HEAD + n;
    }
    (pos == payload.len()).then_some((frame_end, records))
}

/// The frames from the tail on, and their records newer than the last retired.
fn scan(file: &File, tail: Tail, end: u64) -> (Vec<Frame>, Records) {
    let (mut frames, mut records) = (Vec::new(), Vec::new());
    let (mut at, mut number) = (tail.offset, tail.frame);
    loop {
        let id = (number, tail.epoch);
        let found = read_frame(file, at, id, end).or_else(|| {
            // A frame that did not fit before the end went to the start.
            (at != SUPER)
                .then(|| read_frame(file, SUPER, id, end).map(|f| (SUPER, f)))
                .flatten()
                .map(|(start, f)| {
                    at = start;
                    f
                })
        });
        let Some((frame_end, recs)) = found else {
            break;
        };
        let max_seq = recs.iter().map(|r| r.0).max().unwrap_or(0);
        frames.push(Frame {
            offset: at,
            end: frame_end,
            max_seq,
        });
        records.extend(recs.into_iter().filter(|r| r.0 > tail.retired));
        at = frame_end;
        number += 1;
    }
    (frames, records)
}

/// Room before a frame in the buffer it is encoded into, for the head page's earlier bytes.
const LEAD: usize = PAGE as usize;

/// A frame of `records` encoded after [`LEAD`] bytes of room, with its number, epoch and
/// CRC still zero; and the highest sequence number in it.
fn encode_frame(records: &[(u64, Vec<u8>)]) -> (Vec<u8>, u64) {
    let payload: usize = records.iter().map(|r| RECORD_HEAD + r.1.len()).sum();
    let mut buf = Vec::with_capacity(LEAD + FRAME_HEAD + payload + PAGE as usize);
    buf.resize(LEAD, 0);
    buf.extend_from_slice(&FRAME_MAGIC);
    buf.extend_from_slice(&0u64.to_le_bytes()); // the number
    buf.extend_from_slice(&(records.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(payload as u32).to_le_bytes());
    buf.extend_from_slice(&0u64.to_le_bytes()); // the epoch
    buf.extend_from_slice(&0u32.to_le_bytes()); // the CRC
    for (seq, r) in records {
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
        buf.extend_from_slice(r);
    }
    let max_seq = records.iter().map(|r| r.0).max().unwrap_or(0);
    (buf, max_seq)
}

impl LogStore for FileLog {
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()> {
        let (mut buf, max_seq) = encode_frame(records);
        let frame = LEAD..buf.len();
        let len = frame.len() as u64;
        let mut ring = self.ring.lock();
        let number = ring.next_frame;
        buf[LEAD + 4..LEAD + 12].copy_from_slice(&number.to_le_bytes());
        buf[LEAD + 20..LEAD + 28].copy_from_slice(&ring.tail.epoch.to_le_bytes());
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(&buf[LEAD..LEAD + FRAME_CRC]),
            &buf[LEAD + FRAME_HEAD..],
        );
        buf[LEAD + FRAME_CRC..LEAD + FRAME_HEAD].copy_from_slice(&crc.to_le_bytes());
        let Some(at) = self.place(&ring, len) else {
            return Err(BlockError::new(ErrorKind::SpaceExhausted, Op::Write, 0, len)
                .with_device(format!("write journal log {}", self.path.display()))
                .with_detail(format!(
                    "the log ({} bytes) has no room for {len} more; it must be larger than the journal's room",
                    self.capacity()
                )));
        };
        // Whole pages: the head page's earlier bytes again before the frame, zeros after it
        // up to its last page's end, but never into a live frame (or the ring's end).
        let lead = if at == ring.head {
            &ring.head_page[..]
        } else {
            &[]
        };
        let start = LEAD - lead.len();
        buf[start..LEAD].copy_from_slice(lead);
        let free_until = ring
            .frames
            .front()
            .map(|f| f.offset)
            .filter(|&tail| tail > at)
            .unwrap_or(self.end);
        let frame_end = at + len;
        let pad =
            (frame_end.next_multiple_of(PAGE).min(free_until)).saturating_sub(frame_end) as usize;
        buf.resize(buf.len() + pad, 0);
        self.file
            .write_all_at(&buf[start..], at - lead.len() as u64)
            .map_err(|e| io_err(Op::Write, &self.path, e))?;
        let kept = (frame_end % PAGE) as usize;
        ring.head_page.clear();
        ring.head_page
            .extend_from_slice(&buf[frame.end - kept..frame.end]);
        ring.frames.push_back(Frame {
            offset: at,
            end: frame_end,
            max_seq,
        });
        ring.head = frame_end;
        ring.next_frame += 1;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| io_err(Op::Flush, &self.path, e))
    }

    fn retire(&self, upto: u64) -> Result<()> {
        let _one = self.super_lock.lock();
        // The frames dropped stay counted until the superblock that drops them is durable,
        // so no append overwrites them while a power loss could still bring them back.
        let (tail, dropped) = {
            let ring = self.ring.lock();
            let dropped = ring.frames.iter().take_while(|f| f.max_seq <= upto).count();
            let offset = ring.frames.get(dropped).map_or(ring.head, |f| f.offset);
            let tail = Tail {
                offset,
                frame: ring.tail.frame + dropped as u64,
                retired: ring.tail.retired.max(upto),
                epoch: ring.tail.epoch,
                owner: ring.tail.owner,
            };
            (tail, dropped)
        };
        self.file
            .write_all_at(&encode_super(tail, self.end), 0)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_err(Op::Write, &self.path, e))?;
        let mut ring = self.ring.lock();
        ring.frames.drain(..dropped);
        ring.tail = tail;
        Ok(())
    }

    fn retired(&self) -> u64 {
        self.ring.lock().tail.retired
    }

    fn records(&self) -> Result<Records> {
        let tail = self.ring.lock().tail;
        Ok(scan(&self.file, tail, self.end).1)
    }
}

#[cfg(test)]
mod tests;
