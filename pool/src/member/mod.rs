//! [`Member`]: one pool member, a regular file or a block device, behind a label.
//!
//! A member begins with a 4096-byte [label](MemberLabel) (the rest of its first MiB is
//! reserved); the data area that the [`BlockDevice`] implementation exposes starts at the
//! label's `data_offset` (1 MiB). The label names the pool and the member by id, so the pool
//! finds its members after device names change (`/dev/sdb` becomes `/dev/sdc`) and refuses
//! a disk that belongs to another pool.
//!
//! # Label layout
//!
//! All integers little-endian; the label is 4096 bytes at offset 0 of the device:
//!
//! | offset | size | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | magic, `b"VSAMEMB1"` |
//! | 8 | 4 | format version, u32 = 1 |
//! | 12 | 4 | label length in bytes, u32 = 4096 |
//! | 16 | 16 | pool id |
//! | 32 | 16 | member id |
//! | 48 | 8 | data offset in bytes, u64 (1 MiB; a multiple of 4096, at least 4096) |
//! | 56 | 8 | data size in bytes, u64 (a multiple of 4096, not 0) |
//! | 64 | 4028 | reserved, zero |
//! | 4092 | 4 | CRC32C (Castagnoli) of bytes 0..4092, u32 |
//!
//! # I/O
//!
//! A member is opened once, with `O_DIRECT` when the file system allows it (otherwise with
//! buffered I/O), and block devices are opened with `O_EXCL` so that a mounted disk or one
//! held by another program is refused. Buffers that are not 4096-byte aligned in memory go
//! through a per-thread aligned bounce buffer (at most 1 MiB + 4 KiB per thread, grown on
//! demand). Any OS error on read, write, flush or unmap marks the member faulty; from then on
//! every operation fails with [`ErrorKind::Io`] until the member is replaced.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use vsa_blockdev::{
    check_range, write_zeros, Allocation, BlockDevice, BlockError, ErrorKind, Extent, Op,
};

/// Size of the label in bytes.
pub const LABEL_SIZE: usize = 4096;
/// The label's first eight bytes.
pub const LABEL_MAGIC: [u8; 8] = *b"VSAMEMB1";
/// The label format version this code writes and reads.
pub const LABEL_VERSION: u32 = 1;
/// Where the data area starts on members this code formats.
pub const DATA_OFFSET: u64 = 1 << 20;
/// The smallest data area a member may have.
pub const MIN_DATA_SIZE: u64 = 1 << 20;
/// The smallest file or device that can be a member.
pub const MIN_MEMBER_SIZE: u64 = DATA_OFFSET + MIN_DATA_SIZE;

/// The data size is rounded down to this, whatever the block size, so that it stays a
/// multiple of the block size whether the member is later opened with direct or buffered
/// I/O.
const DATA_ALIGN: u64 = 4096;
/// Memory alignment of buffers handed to the kernel under `O_DIRECT`.
const MEM_ALIGN: usize = crate::scratch::ALIGN;
/// Largest piece copied through the bounce buffer at once.
const BOUNCE_MAX: usize = 1 << 20;
const CRC_OFFSET: usize = LABEL_SIZE - 4;

const FAULTY_DETAIL: &str = "the member was marked faulty after an I/O error; replace it";
const NOW_FAULTY_DETAIL: &str = "the member is now marked faulty; replace it";

/// The identity of a member, as stored in its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberLabel {
    /// The pool this member belongs to.
    pub pool_id: [u8; 16],
    /// This member's id within the pool.
    pub member_id: [u8; 16],
    /// Byte offset of the data area on the device.
    pub data_offset: u64,
    /// Size of the data area in bytes.
    pub data_size: u64,
}

/// Why a label could not be decoded.
enum LabelProblem {
    /// No magic: this was never a member.
    NoMagic,
    /// Magic present, but the label is damaged or not understood.
    Bad(String),
}

impl MemberLabel {
    /// The 4096-byte on-disk form (see the module documentation for the layout).
    pub fn encode(&self) -> [u8; LABEL_SIZE] {
        let mut b = [0u8; LABEL_SIZE];
        b[0..8].copy_from_slice(&LABEL_MAGIC);
        b[8..12].copy_from_slice(&LABEL_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(LABEL_SIZE as u32).to_le_bytes());
        b[16..32].copy_from_slice(&self.pool_id);
        b[32..48].copy_from_slice(&self.member_id);
        b[48..56].copy_from_slice(&self.data_offset.to_le_bytes());
        b[56..64].copy_from_slice(&self.data_size.to_le_bytes());
        let crc = crc32c::crc32c(&b[..CRC_OFFSET]);
        b[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<MemberLabel, LabelProblem> {
        if b.len() < LABEL_SIZE || b[0..8] != LABEL_MAGIC {
            return Err(LabelProblem::NoMagic);
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(x)
        };
        let version = u32_at(8);
        if version != LABEL_VERSION {
            return Err(LabelProblem::Bad(format!(
                "label format version {version} is not understood by this vsa (it reads version {LABEL_VERSION}); upgrade vsa"
            )));
        }
        let len = u32_at(12);
        if len as usize != LABEL_SIZE {
            return Err(LabelProblem::Bad(format!(
                "the label says it is {len} bytes long, not {LABEL_SIZE}"
            )));
        }
        let stored = u32_at(CRC_OFFSET);
        let computed = crc32c::crc32c(&b[..CRC_OFFSET]);
        if stored != computed {
            return Err(LabelProblem::Bad(format!(
                "label checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            )));
        }
        let mut pool_id = [0u8; 16];
        pool_id.copy_from_slice(&b[16..32]);
        let mut member_id = [0u8; 16];
        member_id.copy_from_slice(&b[32..48]);
        let label = MemberLabel {
            pool_id,
            member_id,
            data_offset: u64_at(48),
            data_size: u64_at(56),
        };
        if label.data_offset < LABEL_SIZE as u64 || label.data_offset % DATA_ALIGN != 0 {
            return Err(LabelProblem::Bad(format!(
                "data offset {} is not a multiple of {DATA_ALIGN} past the label",
                label.data_offset
            )));
        }
        if label.data_size == 0
            || label.data_size % DATA_ALIGN != 0
            || label.data_offset.checked_add(label.data_size).is_none()
        {
            return Err(LabelProblem::Bad(format!(
                "data size {} is not a positive multiple of {DATA_ALIGN}",
                label.data_size
            )));
        }
        Ok(label)
    }
}

/// Why a member could not be created, formatted or opened. Each message names the path,
/// the problem and what to do about it.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum MemberError {
    /// The path does not exist.
    #[error("{} does not exist; check the path (device names can change after a reboot: use a /dev/disk/by-id path)", .path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The path exists but should not.
    #[error("{} already exists; choose another path, or remove the file first if it is not needed", .path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The file or device is too small to be a member.
    #[error("{} holds {size} bytes, but a pool member needs at least {min} bytes; use a larger file or disk", .path.display())]
    TooSmall {
        /// The path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The minimum in bytes.
        min: u64,
    },
    /// The device has no member label.
    #[error("{} is not a vsa pool member (no label)", .path.display())]
    NotAMember {
        /// The path.
        path: PathBuf,
    },
    /// The device has a label, but it is damaged or not understood.
    #[error("{} has a bad vsa member label: {why}", .path.display())]
    BadLabel {
        /// The path.
        path: PathBuf,
        /// What is wrong with the label.
        why: String,
    },
    /// The path is neither a regular file nor a block device.
    #[error("{} is {what}; a pool member must be a regular file or a block device", .path.display())]
    Unsupported {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// The block device is mounted or held exclusively by another program.
    #[error("{} is in use (mounted, part of another RAID or volume group, or opened by another program); unmount or release it first", .path.display())]
    Busy {
        /// The path.
        path: PathBuf,
    },
    /// The filesystem cannot hold a member file of this size (ENOSPC, EFBIG or EINVAL
    /// while creating or sizing it): the request's size is the problem, not the machine.
    #[error("{} cannot be created as a member file of {size} bytes: {source}{}", .path.display(), free_text(*.free))]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The size asked for, in bytes.
        size: u64,
        /// Bytes free for this user on the file's filesystem, if known.
        free: Option<u64>,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Any other operating-system error.
    #[error("I/O error on {}: {source}; check that the device is present and readable, its permissions, and the kernel log", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn free_text(free: Option<u64>) -> String {
    match free {
        Some(f) => format!(" (its filesystem has {f} bytes free)"),
        None => String::new(),
    }
}

/// Bytes free for unprivileged users on the filesystem that holds `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let st = rustix::fs::statvfs(dir).ok()?;
    st.f_bavail.checked_mul(st.f_frsize)
}

impl MemberError {
    /// An error creating or sizing a new member file of `size` bytes: the filesystem
    /// refusing the size (no space, file too large, a size it cannot represent) is
    /// [`MemberError::TooLarge`]; anything else as [`MemberError::from_io`].
    fn from_create(path: &Path, size: u64, e: io::Error) -> MemberError {
        match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EFBIG | libc::EINVAL) => MemberError::TooLarge {
                path: path.to_path_buf(),
                size,
                free: free_bytes(path),
                source: e,
            },
            _ => MemberError::from_io(path, e),
        }
    }

    fn from_io(path: &Path, e: io::Error) -> MemberError {
        let path = path.to_path_buf();
        match e.kind() {
            io::ErrorKind::NotFound => MemberError::NotFound { path },
            io::ErrorKind::AlreadyExists => MemberError::Exists { path },
            _ if e.raw_os_error() == Some(libc::EBUSY) => MemberError::Busy { path },
            _ => MemberError::Io { path, source: e },
        }
    }
}

/// A device opened for member I/O.
struct Opened {
    file: File,
    direct: bool,
    block_device: bool,
    block_size: u32,
    dev_size: u64,
}

/// Opens `path` (read-write if `write`), with `O_DIRECT` when possible, and works out its
/// block size and size.
fn open_device(path: &Path, write: bool) -> Result<Opened, MemberError> {
    let meta = std::fs::metadata(path).map_err(|e| MemberError::from_io(path, e))?;
    let ft = meta.file_type();
    let block_device = ft.is_block_device();
    if !block_device && !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() {
            "a character device"
        } else {
            "neither a regular file nor a block device"
        };
        return Err(MemberError::Unsupported {
            path: path.to_path_buf(),
            what,
        });
    }
    // O_EXCL on a block device (without O_CREAT) makes the open fail with EBUSY if the
    // device is mounted or claimed by another exclusive opener.
    let excl = if block_device && write {
        libc::O_EXCL
    } else {
        0
    };
    let mut opts = OpenOptions::new();
    opts.read(true).write(write);
    let direct_file = match opts.clone().custom_flags(libc::O_DIRECT | excl).open(path) {
        Ok(f) => Some(f),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
        Err(e) => return Err(MemberError::from_io(path, e)),
    };
    let mut direct = None;
    if let Some(f) = direct_file {
        if let Some(bs) = direct_block_size(&f, block_device) {
            direct = Some((f, bs));
        }
        // else: the file system accepted O_DIRECT at open but not for I/O; reopen buffered.
    }
    let (file, is_direct, block_size) = match direct {
        Some((f, bs)) => (f, true, bs),
        None => {
            let f = opts
                .custom_flags(excl)
                .open(path)
                .map_err(|e| MemberError::from_io(path, e))?;
            let bs = if block_device {
                logical_block_size(&f).unwrap_or(512)
            } else {
                512
            };
            (f, false, bs)
        }
    };
    let dev_size = (&file)
        .seek(SeekFrom::End(0))
        .map_err(|e| MemberError::from_io(path, e))?;
    Ok(Opened {
        file,
        direct: is_direct,
        block_device,
        block_size,
        dev_size,
    })
}

/// The logical block size of a block device, if sane.
fn logical_block_size(f: &File) -> Option<u32> {
    rustix::fs::ioctl_blksszget(f)
        .ok()
        .filter(|bs| bs.is_power_of_two() && (512..=65536).contains(bs))
}

/// The block size to use with `O_DIRECT`, or `None` if direct I/O does not work at all.
fn direct_block_size(f: &File, block_device: bool) -> Option<u32> {
    if block_device {
        return Some(logical_block_size(f).unwrap_or(4096));
    }
    let probe = |len: usize, offset: u64| with_bounce(len, |b| f.read_exact_at(b, offset)).is_ok();
    if probe(512, 512) {
        Some(512)
    } else if probe(4096, 4096) {
        Some(4096)
    } else {
        None
    }
}

thread_local! {
    static BOUNCE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a zeroed-or-stale, `MEM_ALIGN`-aligned scratch slice of `len` bytes
/// (`len <= BOUNCE_MAX`), reusing this thread's buffer.
fn with_bounce<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    use crate::scratch::aligned;
    BOUNCE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => f(aligned(&mut v, len)),
        Err(_) => {
            let mut v = Vec::new();
            f(aligned(&mut v, len))
        }
    })
}

fn is_aligned(buf: &[u8]) -> bool {
    buf.as_ptr().align_offset(MEM_ALIGN) == 0
}

/// Positional read of the whole of `buf` at absolute device offset `pos`.
fn pread(file: &File, direct: bool, buf: &mut [u8], pos: u64) -> io::Result<()> {
    if !direct || is_aligned(buf) {
        return file.read_exact_at(buf, pos);
    }
    let mut at = pos;
    for chunk in buf.chunks_mut(BOUNCE_MAX) {
        with_bounce(chunk.len(), |b| {
            file.read_exact_at(b, at)?;
            chunk.copy_from_slice(b);
            Ok::<(), io::Error>(())
        })?;
        at += chunk.len() as u64;
    }
    Ok(())
}

/// Positional write of the whole of `buf` at absolute device offset `pos`.
fn pwrite(file: &File, direct: bool, buf: &[u8], pos: u64) -> io::Result<()> {
    if !direct || is_aligned(buf) {
        return file.write_all_at(buf, pos);
    }
    let mut at = pos;
    for chunk in buf.chunks(BOUNCE_MAX) {
        with_bounce(chunk.len(), |b| {
            b.copy_from_slice(chunk);
            file.write_all_at(b, at)
        })?;
        at += chunk.len() as u64;
    }
    Ok(())
}

fn read_label_of(o: &Opened, path: &Path) -> Result<MemberLabel, MemberError> {
    let mut buf = [0u8; LABEL_SIZE];
    match pread(&o.file, o.direct, &mut buf, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(MemberError::NotAMember {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(MemberError::from_io(path, e)),
    }
    MemberLabel::decode(&buf).map_err(|p| match p {
        LabelProblem::NoMagic => MemberError::NotAMember {
            path: path.to_path_buf(),
        },
        LabelProblem::Bad(why) => MemberError::BadLabel {
            path: path.to_path_buf(),
            why,
        },
    })
}

/// Reads and checks the label of `path` without keeping it open (read-only, no `O_EXCL`).
pub fn read_label(path: &Path) -> Result<MemberLabel, MemberError> {
    let o = open_device(path, false)?;
    read_label_of(&o, path)
}

/// A pool member: a labelled regular file or block device whose data area is a
/// [`BlockDevice`].
#[derive(Debug)]
pub struct Member {
    path: PathBuf,
    name: String,
    file: File,
    label: MemberLabel,
    block_size: u32,
    direct: bool,
    block_device: bool,
    faulty: AtomicBool,
    /// Whether `fallocate(PUNCH_HOLE)` is still worth trying.
    punch_hole: AtomicBool,
}

impl Member {
    /// Creates a new sparse file of `size` bytes (refuses if it exists), writes the label
    /// with `label_ids` = (pool id, member id), and makes both durable.
    pub fn create_file(
        path: &Path,
        size: u64,
        label_ids: ([u8; 16], [u8; 16]),
    ) -> Result<Member, MemberError> {
        if size < MIN_MEMBER_SIZE {
            return Err(MemberError::TooSmall {
                path: path.to_path_buf(),
                size,
                min: MIN_MEMBER_SIZE,
            });
        }
        if i64::try_from(size).is_err() {
            // Beyond any file offset: what ftruncate(2) would say.
            let e = io::Error::from_raw_os_error(libc::EFBIG);
            return Err(MemberError::from_create(path, size, e));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOSPC) => MemberError::from_create(path, size, e),
                _ => MemberError::from_io(path, e),
            })?;
        let result = file
            .set_len(size)
            .map_err(|e| MemberError::from_create(path, size, e))
            .and_then(|()| {
                drop(file);
                Member::format(path, label_ids.0, label_ids.1).map_err(|e| match e {
                    // The label did not fit: the filesystem is full.
                    MemberError::Io { source, .. }
                        if source.raw_os_error() == Some(libc::ENOSPC) =>
                    {
                        MemberError::from_create(path, size, source)
                    }
                    e => e,
                })
            })
            .and_then(|m| {
                sync_parent_dir(path)?;
                Ok(m)
            });
        if result.is_err() {
            // Best effort: do not leave a half-made member behind.
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Writes a label onto an existing file or block device (for adding a disk),
    /// overwriting what was there, and makes it durable. The data area is everything from
    /// 1 MiB to the end, rounded down to 4096 bytes.
    pub fn format(
        path: &Path,
        pool_id: [u8; 16],
        member_id: [u8; 16],
    ) -> Result<Member, MemberError> {
        let o = open_device(path, true)?;
        if o.dev_size < MIN_MEMBER_SIZE {
            return Err(MemberError::TooSmall {
                path: path.to_path_buf(),
                size: o.dev_size,
                min: MIN_MEMBER_SIZE,
            });
        }
        let data_size = (o.dev_size - DATA_OFFSET) / DATA_ALIGN * DATA_ALIGN;
        let label = MemberLabel {
            pool_id,
            member_id,
            data_offset: DATA_OFFSET,
            data_size,
        };
        pwrite(&o.file, o.direct, &label.encode(), 0)
            .and_then(|()| o.file.sync_data())
            .map_err(|e| MemberError::from_io(path, e))?;
        tracing::info!(path = %path.display(), data_size, direct = o.direct, "formatted pool member");
        Ok(Member::new(path, o, label))
    }

    /// Opens an existing member, reads and checks its label.
    pub fn open(path: &Path) -> Result<Member, MemberError> {
        let o = open_device(path, true)?;
        let label = read_label_of(&o, path)?;
        let end = label.data_offset + label.data_size; // checked in decode
        if o.dev_size < end {
            return Err(MemberError::BadLabel {
                path: path.to_path_buf(),
                why: format!(
                    "the device holds {} bytes but its label says the data area ends at byte {end} (was it truncated, or did the disk shrink?)",
                    o.dev_size
                ),
            });
        }
        if label.data_size % u64::from(o.block_size) != 0
            || label.data_offset % u64::from(o.block_size) != 0
        {
            return Err(MemberError::BadLabel {
                path: path.to_path_buf(),
                why: format!(
                    "the data area is not aligned to the device's {}-byte blocks",
                    o.block_size
                ),
            });
        }
        Ok(Member::new(path, o, label))
    }

    fn new(path: &Path, o: Opened, label: MemberLabel) -> Member {
        Member {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            file: o.file,
            label,
            block_size: o.block_size,
            direct: o.direct,
            block_device: o.block_device,
            faulty: AtomicBool::new(false),
            punch_hole: AtomicBool::new(true),
        }
    }

    /// The member's label.
    pub fn label(&self) -> &MemberLabel {
        &self.label
    }

    /// The path the member was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the member is a block device (rather than a regular file).
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }

    /// Whether the member was opened with `O_DIRECT`.
    pub fn uses_direct_io(&self) -> bool {
        self.direct
    }

    /// Whether an I/O error (or [`Member::mark_faulty`]) has failed the member.
    pub fn is_faulty(&self) -> bool {
        self.faulty.load(Ordering::Acquire)
    }

    /// Fails the member: every later operation returns [`ErrorKind::Io`].
    pub fn mark_faulty(&self) {
        if !self.faulty.swap(true, Ordering::AcqRel) {
            tracing::warn!(path = %self.name, "pool member marked faulty");
        }
    }

    /// Refuses I/O on a faulty member and checks the range.
    fn check(&self, op: Op, offset: u64, len: u64) -> vsa_blockdev::Result<()> {
        if self.is_faulty() {
            return Err(BlockError::new(ErrorKind::Io, op, offset, len)
                .with_device(self.name.clone())
                .with_detail(FAULTY_DETAIL));
        }
        check_range(self, op, offset, len).map_err(|e| e.with_device(self.name.clone()))
    }

    /// Turns an OS error into a [`BlockError`] and fails the member.
    fn fail(&self, op: Op, offset: u64, len: u64, e: io::Error) -> BlockError {
        tracing::error!(path = %self.name, %op, offset, len, error = %e, "I/O error on pool member");
        self.mark_faulty();
        BlockError::io(op, offset, len, e)
            .with_device(self.name.clone())
            .with_detail(NOW_FAULTY_DETAIL)
    }

    fn all_mapped(offset: u64, len: u64) -> Vec<Extent> {
        vec![Extent {
            offset,
            len,
            status: Allocation::Mapped,
        }]
    }

    /// Allocation of a regular file's data area via `SEEK_DATA`/`SEEK_HOLE`. Boundaries
    /// are rounded outward to whole blocks for mapped runs.
    fn scan_allocation(&self, offset: u64, len: u64) -> io::Result<Vec<Extent>> {
        use rustix::fs::SeekFrom as RSeek;
        let bs = u64::from(self.block_size);
        let base = self.label.data_offset;
        let end = offset + len;
        let mut out: Vec<Extent> = Vec::new();
        let mut push = |offset: u64, len: u64, status: Allocation| {
            if let Some(last) = out.last_mut() {
                if last.status == status && last.offset + last.len == offset {
                    last.len += len;
                    return;
                }
            }
            out.push(Extent {
                offset,
                len,
                status,
            });
        };
        let mut pos = offset;
        while pos < end {
            let data = match rustix::fs::seek(&self.file, RSeek::Data(base + pos)) {
                Ok(d) => d.saturating_sub(base),
                Err(rustix::io::Errno::NXIO) => end,
                Err(e) => return Err(e.into()),
            };
            let data = (data.min(end) / bs * bs).max(pos);
            if data > pos {
                push(pos, data - pos, Allocation::Deallocated);
                pos = data;
                continue;
            }
            let hole = match rustix::fs::seek(&self.file, RSeek::Hole(base + pos)) {
                Ok(h) => h.saturating_sub(base),
                Err(rustix::io::Errno::NXIO) => end,
                Err(e) => return Err(e.into()),
            };
            let hole = hole.div_ceil(bs).saturating_mul(bs).max(pos + bs).min(end);
            push(pos, hole - pos, Allocation::Mapped);
            pos = hole;
        }
        Ok(out)
    }
}

/// fsyncs the directory holding `path`, so that a newly created file's name is durable.
fn sync_parent_dir(path: &Path) -> Result<(), MemberError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MemberError::from_io(dir, e))
}

impl BlockDevice for Member {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn size(&self) -> u64 {
        self.label.data_size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        let len = buf.len() as u64;
        self.check(Op::Read, offset, len)?;
        pread(
            &self.file,
            self.direct,
            buf,
            self.label.data_offset + offset,
        )
        .map_err(|e| self.fail(Op::Read, offset, len, e))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        let len = buf.len() as u64;
        self.check(Op::Write, offset, len)?;
        pwrite(
            &self.file,
            self.direct,
            buf,
            self.label.data_offset + offset,
        )
        .map_err(|e| self.fail(Op::Write, offset, len, e))
    }

    fn read_vectored_at(&self, bufs: &mut [&mut [u8]], offset: u64) -> vsa_blockdev::Result<()> {
        let len = bufs.iter().map(|b| b.len() as u64).sum();
        self.check(Op::Read, offset, len)?;
        let pos = self.label.data_offset + offset;
        vectored::preadv(&self.file, self.direct, self.block_size, bufs, pos)
            .map_err(|e| self.fail(Op::Read, offset, len, e))
    }

    fn write_vectored_at(&self, bufs: &[&[u8]], offset: u64) -> vsa_blockdev::Result<()> {
        let len = bufs.iter().map(|b| b.len() as u64).sum();
        self.check(Op::Write, offset, len)?;
        let pos = self.label.data_offset + offset;
        vectored::pwritev(&self.file, self.direct, self.block_size, bufs, pos)
            .map_err(|e| self.fail(Op::Write, offset, len, e))
    }

    fn flush(&self) -> vsa_blockdev::Result<()> {
        self.check(Op::Flush, 0, 0)?;
        self.file
            .sync_data()
            .map_err(|e| self.fail(Op::Flush, 0, 0, e))
    }

    /// Punches a hole (`fallocate(PUNCH_HOLE | KEEP_SIZE)`): on a regular file this frees
    /// the blocks; on a block device the kernel zeroes the range, unmapping it where the
    /// device supports that. Where the call is not supported, writes zeros instead.
    fn unmap(&self, offset: u64, len: u64) -> vsa_blockdev::Result<()> {
        self.check(Op::Unmap, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        if self.punch_hole.load(Ordering::Relaxed) {
            use rustix::fs::FallocateFlags as F;
            use rustix::io::Errno;
            match rustix::fs::fallocate(
                &self.file,
                F::PUNCH_HOLE | F::KEEP_SIZE,
                self.label.data_offset + offset,
                len,
            ) {
                Ok(()) => return Ok(()),
                Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS || e == Errno::INVAL => {
                    tracing::debug!(path = %self.name, error = %e, "hole punching not supported; unmap writes zeros");
                    self.punch_hole.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(self.fail(Op::Unmap, offset, len, e.into())),
            }
        }
        write_zeros(self, offset, len).map_err(|e| e.at(Op::Unmap, offset, len))
    }

    fn allocation(&self, offset: u64, len: u64) -> vsa_blockdev::Result<Vec<Extent>> {
        self.check(Op::Allocation, offset, len)?;
        if self.block_device || len == 0 {
            return Ok(Member::all_mapped(offset, len));
        }
        // SEEK_DATA/SEEK_HOLE failing (an old file system) is no media error: report mapped.
        Ok(self
            .scan_allocation(offset, len)
            .unwrap_or_else(|_| Member::all_mapped(offset, len)))
    }
}

mod vectored;

#[cfg(test)]
mod tests;
