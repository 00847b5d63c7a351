//! [`Tape`]: one cartridge's records, open in a drive. A drive's deduplicated writes are
//! queued and placed in order while the next ones arrive ([`Tape::append_behind`],
//! `behind.rs`); every other use places them first ([`Tape::settle`]). Appends gather in
//! memory and go to the store volume in large writes (whole blocks; the last partial
//! block is rewritten as the stream grows); the index reaches the catalog at
//! [`Tape::sync`], after the volume is flushed, so the catalog never names a record that
//! is not on stable storage. Truncating (a write or ERASE before the end of data) is a
//! sync of its own before any freed space is reused.

use super::crypt::{Cipher, CryptError};
use super::dedup::chunk::Hash;
use super::dedup::Delta;
use super::index::{Index, Object};
use super::record::{Header, RecordKind, HEADER_LEN};
use super::{be64, ext_prefix, key, prefix_end, seg_prefix, stream, usage_key, Store, SEGMENT};
use crate::error::{Result, VtlError};
use crate::kv::Batch;
use std::collections::HashMap;
use std::sync::Arc;
use vsa_blockdev::{BlockError, Bytes};

pub use super::ahead::Ahead;
pub use super::behind::QUEUE_BYTES;
use super::behind::{Behind, Job};

/// Stream bytes gathered in memory before they are written (and the most a drive's
/// buffer holds that is not on the volume); a sync writes them at once.
pub const WRITE_BEHIND: usize = 8 << 20;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store volume failed.
    #[error(transparent)]
    Io(#[from] BlockError),
    /// The bytes at the record's place are not the record the index names.
    #[error("record {object} at stream byte {offset} is damaged: {why}")]
    Damaged {
        object: u64,
        offset: u64,
        why: &'static str,
    },
    /// The record is encrypted and no key was given to open it.
    #[error("record {object} is encrypted")]
    Sealed { object: u64 },
    /// The record is not encrypted and the drive reads encrypted records only (decryption
    /// mode DECRYPT).
    #[error("record {object} is not encrypted")]
    Unencrypted { object: u64 },
    /// The record is encrypted and does not open with the key given (its checksum holds,
    /// so the bytes are as written: the key is another).
    #[error("record {object} does not open with the key given")]
    WrongKey { object: u64 },
}

/// A data record as read: its bytes as the initiator wrote them, and whether they were
/// stored encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Shared with the read-ahead window when the record lies in it as written.
    pub data: Bytes,
    pub encrypted: bool,
}

/// What a cartridge holds, for the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapeStats {
    /// Logical objects (data blocks and filemarks): the end of data.
    pub objects: u64,
    pub filemarks: u64,
    /// Bytes initiators wrote, and bytes stored for them.
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    /// Bytes the records take on the cartridge, 32 per record and each data record as
    /// stored without deduplication (what counts against the capacity).
    pub used: u64,
    /// Bytes of chunks this cartridge's records refer to that the library held already
    /// when they were written (the space deduplication saved).
    pub dedup_saved: u64,
    pub extents: usize,
}

/// A cartridge's usage, kept in the catalog with its index (`u/<barcode>`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// [`TapeStats::used`].
    pub charged: u64,
    /// [`TapeStats::dedup_saved`].
    pub dedup_saved: u64,
}

impl Usage {
    fn encode(&self) -> Vec<u8> {
        [self.charged.to_le_bytes(), self.dedup_saved.to_le_bytes()].concat()
    }

    fn decode(b: &[u8]) -> Option<Usage> {
        Some(Usage {
            charged: u64::from_le_bytes(b.get(0..8)?.try_into().ok()?),
            dedup_saved: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
        })
    }
}

/// One cartridge's records, open for reading and writing.
#[derive(Debug)]
pub struct Tape {
    pub(super) store: Arc<Store>,
    barcode: String,
    pub(super) index: Index,
    /// The stream's segments, in order.
    pub(super) segments: Vec<u64>,
    /// How many of `segments` the catalog has.
    saved_segments: usize,
    /// Stream bytes from the last block boundary written to the end of data: written to
    /// the volume when [`WRITE_BEHIND`] bytes gather or at a sync, so the pool gets large
    /// writes (the last, partial block stays here and is rewritten as the stream grows).
    pending: Vec<u8>,
    /// Stream bytes read ahead (reads of consecutive records cost one volume read).
    pub(super) ahead: parking_lot::Mutex<Ahead>,
    /// Set when a truncation could not be saved: the catalog and the stream disagree
    /// until the cartridge is opened again, so nothing more is written.
    poisoned: bool,
    /// The chunk segment new chunks of deduplicated records go to (its writer is in the
    /// library's chunk table, so every cartridge can read what it has not written yet).
    pub(super) writer: Option<u64>,
    /// Chunk bytes read ahead.
    pub(super) chunk_ahead: parking_lot::Mutex<Ahead>,
    /// Chunk references not yet in the catalog.
    pub(super) deltas: HashMap<Hash, Delta>,
    pub(super) usage: Usage,
    saved_usage: Usage,
    /// Deduplicated writes acknowledged and not yet placed (being cut).
    behind: Behind,
}

impl Tape {
    /// Opens cartridge `barcode`'s records (none yet: an empty tape).
    pub fn open(store: Arc<Store>, barcode: &str) -> Result<Tape> {
        let kv = store.kv().clone();
        let mut segments = Vec::new();
        for (i, (k, v)) in kv.scan(&seg_prefix(barcode))?.into_iter().enumerate() {
            let ord = be64(&k[k.len().saturating_sub(8)..]);
            match (ord, be64(&v)) {
                (Some(o), Some(s)) if o == i as u64 => segments.push(s),
                _ => return Err(super::corrupt(&k, "segment keys are not consecutive")),
            }
        }
        let xp = ext_prefix(barcode);
        let mut extents = Vec::new();
        for (k, v) in kv.scan(&xp)? {
            let first = be64(&k[xp.len()..]).ok_or_else(|| super::corrupt(&k, "bad key"))?;
            let e = super::index::Extent::decode(&v)
                .ok_or_else(|| super::corrupt(&k, "not an extent"))?;
            extents.push((first, e));
        }
        let index = Index::from_extents(extents).map_err(|why| VtlError::Corrupt {
            key: String::from_utf8_lossy(&xp).into_owned(),
            why,
        })?;
        if index.end() > segments.len() as u64 * SEGMENT {
            return Err(VtlError::Corrupt {
                key: String::from_utf8_lossy(&xp).into_owned(),
                why: format!(
                    "the records end at byte {} past the {} segments",
                    index.end(),
                    segments.len()
                ),
            });
        }
        let saved_segments = segments.len();
        let usage = match kv.get(&usage_key(barcode))? {
            Some(v) => Usage::decode(&v)
                .ok_or_else(|| super::corrupt(&usage_key(barcode), "not a usage"))?,
            // Written before deduplication: every record is in the stream.
            None => Usage {
                charged: index.end(),
                dedup_saved: 0,
            },
        };
        let mut tape = Tape {
            store,
            barcode: barcode.to_owned(),
            index,
            segments,
            saved_segments,
            pending: Vec::new(),
            ahead: Default::default(),
            poisoned: false,
            writer: None,
            chunk_ahead: Default::default(),
            deltas: HashMap::new(),
            usage,
            saved_usage: usage,
            behind: Behind::default(),
        };
        tape.pending = tape.read_tail()?;
        Ok(tape)
    }

    pub fn barcode(&self) -> &str {
        &self.barcode
    }

    /// The index (end of data, objects, filemarks) of the records placed: those of
    /// writes still queued ([`Tape::append_behind`]) are in it after [`Tape::settle`].
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Objects on the tape, queued writes' records counted: the end of data.
    pub fn objects(&self) -> u64 {
        self.index.objects() + self.behind.records()
    }

    /// Records of writes queued and not yet placed.
    pub fn queued(&self) -> u64 {
        self.behind.records()
    }

    /// Bytes counted against the capacity ([`TapeStats::used`]); queued records count
    /// what they may cost at most until they are placed.
    pub fn used(&self) -> u64 {
        self.usage.charged + self.behind.charge()
    }

    /// What the cartridge holds, queued writes counted at their length.
    pub fn stats(&self) -> TapeStats {
        let (placed_bytes, _) = self.index.data_bytes();
        let placed = self.index.objects();
        let queued_bytes = self.behind.charge() - self.behind.records() * HEADER_LEN;
        TapeStats {
            objects: self.objects(),
            filemarks: self.index.filemarks_before(u64::MAX),
            logical_bytes: placed_bytes + queued_bytes,
            stored_bytes: self.usage.charged.saturating_sub(placed * HEADER_LEN),
            used: self.used(),
            dedup_saved: self.usage.dedup_saved,
            extents: self.index.extent_count(),
        }
    }

    fn bs(&self) -> u64 {
        u64::from(self.store.device().block_size())
    }

    /// Stream bytes `off..off + len`, from the volume or from what is not written yet,
    /// read into `buf` (see [`stream::read_into`]: they may start before `off`).
    pub(super) fn read_stream(
        &self,
        off: u64,
        len: u64,
        buf: super::aligned::Buf,
    ) -> super::ahead::Read<BlockError> {
        debug_assert!(self.behind.is_empty(), "read before the queue was placed");
        let end = self.index.end();
        let from = end - self.pending.len() as u64;
        let dev = self.store.device().as_ref();
        if off + len <= from {
            return stream::read_into(dev, &self.segments, off, len, buf);
        }
        let (start, mut out) = if off < from {
            stream::read_into(dev, &self.segments, off, from - off, buf)?
        } else {
            let mut buf = buf;
            buf.truncate(0);
            (off, buf)
        };
        let a = (off.max(from) - from) as usize;
        let b = (off + len - from) as usize;
        let part = self.pending.get(a..b).ok_or_else(|| {
            BlockError::new(
                vsa_blockdev::ErrorKind::Corrupt,
                vsa_blockdev::Op::Read,
                off,
                len,
            )
            .with_detail("the range lies past the end of data")
        })?;
        out.extend_from_slice(part);
        Ok((start, out))
    }

    /// Stream bytes `off..off + len` through the read-ahead window: when they are not in
    /// it, the window moves to `off` and takes what [`Ahead::want`] says (never past the
    /// end of data). Reading in sequence, the window after it is read meanwhile (from what is on the
    /// volume: not what is still pending).
    pub(super) fn read_stream_ahead(&self, off: u64, len: u64) -> Result<Bytes, BlockError> {
        let mut w = self.ahead.lock();
        let want = w.want(off, len);
        let out = w.take(off, len, want, |off, want, buf| {
            let want = want.min(self.index.end().saturating_sub(off)).max(len);
            self.read_stream(off, want, buf)
        })?;
        let written = self.index.end() - self.pending.len() as u64;
        if let Some((at, n)) = w.next_window(written) {
            let first = at / SEGMENT;
            let last = (at + n - 1) / SEGMENT;
            if let Some(segs) = self.segments.get(first as usize..=last as usize) {
                let (segs, rel) = (segs.to_vec(), at - first * SEGMENT);
                let dev = Arc::clone(self.store.device());
                w.prefetch(at, n, move |buf| {
                    let (from, bytes) = stream::read_into(dev.as_ref(), &segs, rel, n, buf)?;
                    // Stream offsets: `rel` is `at` within the first segment.
                    Ok((at - (rel - from), bytes))
                });
            }
        }
        Ok(out)
    }

    fn read_tail(&self) -> Result<Vec<u8>> {
        let end = self.index.end();
        let part = end % self.bs();
        if part == 0 {
            return Ok(Vec::new());
        }
        Ok(stream::read(
            self.store.device().as_ref(),
            &self.segments,
            end - part,
            part,
        )?)
    }

    /// The bytes of data record `obj` (as the index gives it) as they were written,
    /// checked against its header and decompressed; an encrypted record is refused
    /// ([`ReadError::Sealed`]).
    pub fn read(&self, obj: &Object) -> Result<Vec<u8>, ReadError> {
        self.read_record(obj, None).map(|r| r.data.into())
    }

    /// Data record `obj` checked against its header, opened with `key` if it is
    /// encrypted, and decompressed.
    pub fn read_record(&self, obj: &Object, key: Option<&Cipher>) -> Result<Record, ReadError> {
        let stored = obj.data.map_or(0, |d| d.1);
        let b = self.read_stream_ahead(obj.offset, HEADER_LEN + u64::from(stored))?;
        let damaged = |why| ReadError::Damaged {
            object: obj.number,
            offset: obj.offset,
            why,
        };
        let h = Header::decode(&b).ok_or_else(|| damaged("no record header"))?;
        let kind = if obj.data.is_some() {
            RecordKind::Data
        } else {
            RecordKind::Filemark
        };
        let logical = obj.data.map_or(0, |d| d.0);
        if h.object != obj.number
            || h.kind != kind
            || h.stored_len != stored
            || h.logical_len != logical
        {
            return Err(damaged("the header names another record"));
        }
        let mut b = b.slice(HEADER_LEN as usize..);
        if crc32c::crc32c(&b) != h.crc {
            return Err(damaged("checksum mismatch"));
        }
        if h.chunked {
            return Ok(Record {
                data: self.read_chunks(obj, logical, &b)?,
                encrypted: false,
            });
        }
        if h.encrypted {
            let key = key.ok_or(ReadError::Sealed { object: obj.number })?;
            b = key
                .open(obj.number, logical, h.flags(), &b)
                .map_err(|e| match e {
                    CryptError::Open => ReadError::WrongKey { object: obj.number },
                    _ => damaged("the sealed bytes are truncated"),
                })?
                .into();
        }
        let data = if !h.compressed {
            b
        } else {
            match lz4_flex::block::decompress(&b, logical as usize) {
                Ok(d) if d.len() == logical as usize => d.into(),
                _ => return Err(damaged("the compressed bytes do not decompress")),
            }
        };
        Ok(Record {
            data,
            encrypted: h.encrypted,
        })
    }

    /// Appends data records (one per slice), each compressed (LZ4) when `compress` is set
    /// and that makes it smaller; returns the first one's object number.
    pub fn append(&mut self, records: &[&[u8]], compress: bool) -> Result<u64> {
        self.append_sealed(records, compress, None)
    }

    /// As [`Tape::append`], each record then sealed with `seal` if given (compression
    /// comes first: ciphertext does not compress).
    pub fn append_sealed(
        &mut self,
        records: &[&[u8]],
        compress: bool,
        mut seal: Option<&mut Cipher>,
    ) -> Result<u64> {
        self.takes(records)?;
        self.settle(true)?;
        if seal.is_none() && self.store.dedup() {
            return self.append_chunked(records, compress);
        }
        let first = self.index.objects();
        let per = HEADER_LEN as usize
            + if seal.is_some() {
                super::crypt::OVERHEAD
            } else {
                0
            };
        let total: usize = records.iter().map(|r| r.len() + per).sum();
        let mut buf = Vec::with_capacity(total);
        for (i, r) in records.iter().enumerate() {
            let Ok(len) = u32::try_from(r.len()) else {
                self.index.truncate(first);
                return Err(VtlError::Invalid("a record longer than 4 GiB".into()));
            };
            let packed = compress
                .then(|| lz4_flex::block::compress(r))
                .filter(|c| c.len() < r.len());
            let compressed = packed.is_some();
            let plain: &[u8] = packed.as_deref().unwrap_or(r);
            let number = first + i as u64;
            let sealed = match seal.as_deref_mut() {
                Some(c) => {
                    let flags = Header::data(number, len, &[], compressed, true).flags();
                    match c.seal(number, len, flags, plain) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            self.index.truncate(first);
                            return Err(VtlError::Invalid(format!(
                                "record {number} cannot be encrypted: {e}"
                            )));
                        }
                    }
                }
                None => None,
            };
            let stored: &[u8] = sealed.as_deref().unwrap_or(plain);
            let obj = self.index.push_data(len, stored.len() as u32);
            let header = Header::data(obj.number, len, stored, compressed, sealed.is_some());
            buf.extend_from_slice(&header.encode());
            buf.extend_from_slice(stored);
        }
        if let Err(e) = self.put(&buf) {
            // Nothing of it is on the tape: the end of data stays where it was.
            self.index.truncate(first);
            return Err(e);
        }
        self.usage.charged += buf.len() as u64;
        Ok(first)
    }

    /// Appends data records as [`Tape::append_sealed`] does, but a deduplicated write
    /// (no `seal`, deduplication on) is only queued: its records are cut meanwhile and
    /// placed at the next call that needs them ([`Tape::settle`]). Before it is queued,
    /// writes that are cut are placed, and the oldest are waited for while the queue
    /// holds [`QUEUE_BYTES`]; if one of them cannot be placed, the error is
    /// [`VtlError::Deferred`] and this write is not taken.
    ///
    /// The records are `data`, `rec_len` bytes each (the last may be shorter); a queued
    /// write holds `data` (the command's data-out, not a copy) until it is placed.
    pub fn append_behind(
        &mut self,
        data: Bytes,
        rec_len: usize,
        compress: bool,
        seal: Option<&mut Cipher>,
    ) -> Result<u64> {
        let records: Vec<&[u8]> = data.chunks(rec_len.max(1)).collect();
        if seal.is_some() || !self.store.dedup() {
            return self.append_sealed(&records, compress, seal);
        }
        self.takes(&records)?;
        self.settle(false)?;
        drop(records);
        let job = Job::shared(data, rec_len, compress);
        while !self.behind.has_room(&job) {
            self.place_next(true)?;
        }
        let first = self.objects();
        self.behind.push(job);
        Ok(first)
    }

    /// Places queued writes in order: all of them (waiting for their cuts) with `all`,
    /// else those already cut. A write that cannot be placed, after the initiator was told
    /// it was done, takes the ones queued behind it with it: the end of data stays where
    /// the last placed record left it, and the error ([`VtlError::Deferred`]) says how
    /// many records were lost.
    pub fn settle(&mut self, all: bool) -> Result<()> {
        while !self.behind.is_empty() {
            if !self.place_next(all)? {
                break;
            }
        }
        Ok(())
    }

    /// Places the oldest queued write if it is cut (waiting for it with `wait`); whether
    /// one was placed.
    fn place_next(&mut self, wait: bool) -> Result<bool> {
        let Some((job, cuts)) = self.behind.pop(wait) else {
            if self.behind.broken() || (wait && !self.behind.is_empty()) {
                return Err(VtlError::Deferred {
                    lost: self.behind.drop_all(),
                    cause: "the thread cutting the records stopped".into(),
                });
            }
            return Ok(false);
        };
        if let Err(e) = self.place(&job, &cuts) {
            let lost = job.count() + self.behind.drop_all();
            return Err(VtlError::Deferred {
                lost,
                cause: e.to_string(),
            });
        }
        Ok(true)
    }

    /// Appends `count` filemarks.
    pub fn append_filemarks(&mut self, count: u64) -> Result<()> {
        self.settle(true)?;
        let first = self.index.objects();
        let mut buf = Vec::with_capacity((count * HEADER_LEN) as usize);
        for n in first..first + count {
            buf.extend_from_slice(&Header::filemark(n).encode());
        }
        self.index.push_filemarks(count);
        if let Err(e) = self.put(&buf) {
            self.index.truncate(first);
            return Err(e);
        }
        self.usage.charged += buf.len() as u64;
        Ok(())
    }

    /// Whether data `records` can be appended: the cartridge is writable, and each
    /// record's length fits its header.
    fn takes(&self, records: &[&[u8]]) -> Result<()> {
        self.writable()?;
        if records.iter().any(|r| u32::try_from(r.len()).is_err()) {
            return Err(VtlError::Invalid("a record longer than 4 GiB".into()));
        }
        Ok(())
    }

    pub(super) fn writable(&self) -> Result<()> {
        if self.poisoned {
            return Err(VtlError::Conflict(format!(
                "cartridge {} could not save a truncation; unload and load it again",
                self.barcode
            )));
        }
        Ok(())
    }

    /// Adds `bytes`, which the index already counts, at the old end of the stream (to
    /// the volume once [`WRITE_BEHIND`] bytes gather).
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.writable()?;
        let end = self.index.end();
        while (self.segments.len() as u64) * SEGMENT < end {
            let s = self.store.allocate()?;
            self.segments.push(s);
        }
        self.ahead.get_mut().clear();
        let had = self.pending.len();
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= WRITE_BEHIND {
            if let Err(e) = self.write_out(false) {
                self.pending.truncate(had);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the pending stream bytes' whole blocks to the volume, and with `all` the
    /// last partial one too (padded with zeros; it stays pending).
    fn write_out(&mut self, all: bool) -> Result<()> {
        let bs = self.bs() as usize;
        let start = self.index.end() - self.pending.len() as u64;
        let full = self.pending.len() / bs * bs;
        let dev = self.store.device().as_ref();
        if full > 0 {
            stream::write(dev, &self.segments, start, &self.pending[..full])?;
        }
        if all && self.pending.len() > full {
            let mut last = self.pending[full..].to_vec();
            last.resize(bs, 0);
            stream::write(dev, &self.segments, start + full as u64, &last)?;
        }
        self.pending.drain(..full);
        Ok(())
    }

    /// Makes everything written so far durable: flushes the store volume, then saves the
    /// index changes and new segments in the catalog (synced).
    pub fn sync(&mut self) -> Result<()> {
        self.settle(true)?;
        self.commit(Batch::default())
    }

    fn commit(&mut self, mut b: Batch) -> Result<()> {
        self.write_out(true)?;
        let store = self.store.clone();
        let mut table = store.chunks.lock();
        table.write_out(store.device().as_ref())?;
        store.device().flush()?;
        let xp = ext_prefix(&self.barcode);
        for (first, e) in self.index.take_dirty() {
            b.put(key(&xp, first), e.encode());
        }
        let sp = seg_prefix(&self.barcode);
        for (i, s) in self.segments.iter().enumerate().skip(self.saved_segments) {
            b.put(key(&sp, i as u64), s.to_be_bytes().to_vec());
        }
        if self.usage != self.saved_usage {
            b.put(usage_key(&self.barcode), self.usage.encode());
        }
        let mut plan = table.plan(store.kv().as_ref(), &self.deltas)?;
        b.extend(plan.take_batch());
        if !b.is_empty() {
            store.kv().commit(b, true)?;
        }
        let freed = table.apply(plan);
        store.unmap_regions(&freed.regions);
        store.release(&freed.segments);
        drop(table);
        self.deltas.clear();
        self.saved_segments = self.segments.len();
        self.saved_usage = self.usage;
        Ok(())
    }

    /// Forgets objects `n..` (a write or erase at `n` before the end of data), durably,
    /// and returns the space after the new end of data to the pool.
    pub fn truncate(&mut self, n: u64) -> Result<()> {
        self.settle(true)?;
        if n >= self.index.objects() {
            return Ok(());
        }
        self.writable()?;
        let (charged, saved) = self.cut_refs(n)?;
        self.usage.charged = self.usage.charged.saturating_sub(charged);
        self.usage.dedup_saved = self.usage.dedup_saved.saturating_sub(saved);
        let from = self.index.end() - self.pending.len() as u64;
        self.index.truncate(n);
        let end = self.index.end();
        self.ahead.get_mut().clear();
        if end >= from {
            self.pending.truncate((end - from) as usize);
        } else {
            // Everything before `from` is on the volume.
            self.pending = self.read_tail()?;
        }
        let keep = end.div_ceil(SEGMENT) as usize;
        let freed = self.segments.split_off(keep.min(self.segments.len()));
        let xp = ext_prefix(&self.barcode);
        let sp = seg_prefix(&self.barcode);
        let mut b = Batch::default();
        b.delete_range(key(&xp, n), prefix_end(&xp));
        b.delete_range(key(&sp, keep as u64), prefix_end(&sp));
        self.saved_segments = self.saved_segments.min(keep);
        if let Err(e) = self.commit(b) {
            // The catalog still names the old records: keep their segments, and write
            // nothing more until the tape is opened again from the catalog.
            self.segments.extend(freed);
            self.poisoned = true;
            return Err(e);
        }
        // Unmap the rest of the last kept segment, then return the freed ones.
        if let Some(&last) = self.segments.last() {
            let from = end.div_ceil(1 << 20) << 20;
            let seg_end = keep as u64 * SEGMENT;
            if from < seg_end {
                let at = last * SEGMENT + from % SEGMENT;
                if let Err(e) = self.store.device().unmap(at, seg_end - from) {
                    tracing::warn!(
                        barcode = self.barcode,
                        "could not unmap past the end of data: {e}"
                    );
                }
            }
        }
        self.store.release(&freed);
        Ok(())
    }
}

impl Drop for Tape {
    /// References never committed (the cartridge leaves without a sync, after an error)
    /// stop holding their chunks; the chunk segment being filled is given up.
    fn drop(&mut self) {
        let mut table = self.store.chunks.lock();
        let mut freed = table.abandon(&self.deltas);
        if let Some(seg) = self.writer.take() {
            // Other cartridges may refer to chunks it holds: they are written first.
            if let Err(e) = table.close_writer(seg, self.store.device().as_ref()) {
                tracing::error!(
                    segment = seg,
                    "cannot write the chunks a cartridge left: {e}"
                );
            }
            if table.unused(seg) {
                freed.segments.push(seg);
            }
        }
        self.store.unmap_regions(&freed.regions);
        self.store.release(&freed.segments);
    }
}
