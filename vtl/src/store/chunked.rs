//! Deduplicated records of a [`Tape`]: writing them as chunk lists (new chunks to the
//! cartridge's chunk segment, known ones referred to), reading them back, and dropping
//! their references when they are cut off.

use super::behind::{Cut, Job, Piece};
use super::dedup::chunk::{self, ChunkRef, Hash, Loc};
use super::dedup::Delta;
use super::index::Object;
use super::record::{Header, HEADER_LEN};
use super::tape::{ReadError, Tape};
use super::SEGMENT;
use crate::error::{Result, VtlError};
use std::collections::HashMap;
use std::sync::Arc;
use vsa_blockdev::{BlockDevice, BlockError, Bytes};

impl Tape {
    /// Appends data records as chunk lists, at once: see [`Tape::place`].
    pub(super) fn append_chunked(&mut self, records: &[&[u8]], compress: bool) -> Result<u64> {
        let job = Job::new(records, compress);
        let cuts = job.cut();
        self.place(&job, &cuts)
    }

    /// Appends the records of `job`, cut into `cuts`, as chunk lists: the chunks the
    /// library does not hold yet are written (packed where the cut packed them), and each
    /// record stores its list. Returns the first record's object number.
    pub(super) fn place(&mut self, job: &Job, cuts: &[Cut]) -> Result<u64> {
        let store = self.store.clone();
        let mut table = store.chunks.lock();
        let mut made: HashMap<Hash, Loc> = HashMap::new();
        let mut lists = Vec::with_capacity(cuts.len());
        let mut charge = 0;
        let mut saved = 0;
        let mut placed = || -> Result<()> {
            for cut in cuts {
                let mut list = Vec::with_capacity(cut.pieces.len() * chunk::REF_LEN);
                for p in &cut.pieces {
                    let known = match made.get(&p.hash) {
                        Some(l) => Some(*l),
                        None => table.lookup(store.kv().as_ref(), &p.hash)?,
                    };
                    let (loc, dup) = match known {
                        Some(l) => (l, true),
                        None => {
                            let l = self.place_chunk(&mut table, p, &job.data)?;
                            // Counted at once, so writing the segment never takes its
                            // region for a free one.
                            table.add_fresh(p.hash, l);
                            made.insert(p.hash, l);
                            (l, false)
                        }
                    };
                    charge += u64::from(loc.stored);
                    saved += if dup { u64::from(loc.stored) } else { 0 };
                    ChunkRef {
                        hash: p.hash,
                        loc,
                        dup,
                    }
                    .encode_into(&mut list);
                }
                lists.push(list);
            }
            Ok(())
        };
        let mut done = placed();
        if let (Ok(()), Some(seg)) = (&done, self.writer) {
            done = table.write_behind(seg, store.device(), super::tape::WRITE_BEHIND);
        }
        if let Err(e) = done {
            // What this call staged is referred to by nothing (and no one else could see
            // it: the table was locked): forgotten, its regions given back if nothing
            // else is there.
            let freed = table.forget_fresh(made.keys());
            store.unmap_regions(&freed.regions);
            store.release(&freed.segments);
            return Err(e);
        }
        for cut in cuts {
            for p in &cut.pieces {
                table.hold(p.hash);
            }
        }
        drop(table);
        for list in &lists {
            for r in ChunkRef::decode_list(list).unwrap_or_default() {
                self.delta(&r).added += 1;
            }
        }
        let first = self.index.objects();
        let mut buf = Vec::new();
        for (cut, list) in cuts.iter().zip(&lists) {
            let obj = self.index.push_data(cut.len, list.len() as u32);
            buf.extend_from_slice(&Header::chunk_list(obj.number, cut.len, list).encode());
            buf.extend_from_slice(list);
        }
        if let Err(e) = self.put(&buf) {
            self.index.truncate(first);
            // The references were never on the tape: the next commit drops them.
            for list in &lists {
                for r in ChunkRef::decode_list(list).unwrap_or_default() {
                    self.delta(&r).removed += 1;
                }
            }
            return Err(e);
        }
        self.usage.charged += HEADER_LEN * cuts.len() as u64 + charge;
        self.usage.dedup_saved += saved;
        Ok(first)
    }

    fn delta(&mut self, r: &ChunkRef) -> &mut Delta {
        self.deltas.entry(r.hash).or_insert(Delta {
            loc: r.loc,
            added: 0,
            removed: 0,
        })
    }

    /// Stages new chunk `p` (of a job whose records are `data`) in this cartridge's
    /// chunk segment (taking a new one when it is full); its location.
    fn place_chunk(
        &mut self,
        table: &mut super::dedup::Chunks,
        p: &Piece,
        data: &[u8],
    ) -> Result<Loc> {
        let stored = p.stored(data);
        let dev = self.store.device().as_ref();
        let staged = self.writer.and_then(|seg| table.stage(seg, stored));
        let at = match staged {
            Some(at) => at,
            None => {
                // The segment is full. (Chunks staged in this call are not counted yet:
                // it is never freed here.)
                if let Some(seg) = self.writer {
                    table.close_writer(seg, dev)?;
                    self.writer = None;
                }
                let seg = self.store.allocate()?;
                table.open_writer(seg);
                self.writer = Some(seg);
                table
                    .stage(seg, stored)
                    .ok_or_else(|| VtlError::Invalid("a chunk larger than a segment".into()))?
            }
        };
        Ok(Loc {
            at,
            stored: stored.len() as u32,
            logical: p.range.len() as u32,
            crc: p.crc,
            compressed: p.packed.is_some(),
        })
    }

    /// The bytes of deduplicated record `obj` from its chunk list `list`: each chunk read
    /// (neighbours in one read), checked and decompressed.
    pub(super) fn read_chunks(
        &self,
        obj: &Object,
        logical: u32,
        list: &[u8],
    ) -> Result<Bytes, ReadError> {
        let damaged = |why| ReadError::Damaged {
            object: obj.number,
            offset: obj.offset,
            why,
        };
        let refs = ChunkRef::decode_list(list).ok_or_else(|| damaged("not a chunk list"))?;
        let mut data = Vec::with_capacity(logical as usize);
        let mut i = 0;
        while i < refs.len() {
            // A run of chunks lying back to back on the volume.
            let mut j = i + 1;
            while j < refs.len()
                && refs[j].loc.at == refs[j - 1].loc.at + u64::from(refs[j - 1].loc.stored)
            {
                j += 1;
            }
            let start = refs[i].loc.at;
            let end = refs[j - 1].loc.at + u64::from(refs[j - 1].loc.stored);
            let mut bytes = self.chunk_bytes(start, end - start, false)?;
            let crc_ok = |b: &[u8]| {
                refs[i..j].iter().all(|r| {
                    let from = (r.loc.at - start) as usize;
                    let s = &b[from..from + r.loc.stored as usize];
                    crc32c::crc32c(s) == r.loc.crc
                })
            };
            if !crc_ok(&bytes) {
                // The read-ahead window may be older than the chunks: read them again.
                bytes = self.chunk_bytes(start, end - start, true)?;
                if !crc_ok(&bytes) {
                    return Err(damaged("a chunk's checksum does not match"));
                }
            }
            let plain = refs[i..j]
                .iter()
                .all(|r| !r.loc.compressed && r.loc.stored == r.loc.logical);
            if i == 0 && j == refs.len() && plain && bytes.len() == logical as usize {
                // One run of plain chunks is the record (a backup's new data): as read.
                return Ok(bytes);
            }
            for r in &refs[i..j] {
                let from = (r.loc.at - start) as usize;
                let stored = &bytes[from..from + r.loc.stored as usize];
                if r.loc.compressed {
                    match lz4_flex::block::decompress(stored, r.loc.logical as usize) {
                        Ok(d) if d.len() == r.loc.logical as usize => data.extend_from_slice(&d),
                        _ => return Err(damaged("a chunk does not decompress")),
                    }
                } else if r.loc.stored == r.loc.logical {
                    data.extend_from_slice(stored);
                } else {
                    return Err(damaged("a chunk's lengths disagree"));
                }
            }
            i = j;
        }
        if data.len() != logical as usize {
            return Err(damaged("the chunks do not add up to the record"));
        }
        Ok(Bytes::from(data))
    }

    /// Volume bytes `at..at + len` of chunks: what a writer holds in memory (staged, or
    /// being written behind) over what the read-ahead window has (unless `fresh`) or the
    /// volume (read with more when reading in sequence, [`Ahead::want`]).
    fn chunk_bytes(&self, at: u64, len: u64, fresh: bool) -> Result<Bytes, BlockError> {
        // What writers hold is taken first: what they do not hold then is on the volume
        // (a write behind leaves memory only when it is done).
        let held = self.store.chunks.lock().held(at, len);
        if let [(from, b)] = &held[..] {
            if *from == at && b.len() as u64 == len {
                return Ok(Bytes::copy_from_slice(b));
            }
        }
        let stored = self.chunk_bytes_stored(at, len, fresh)?;
        if held.is_empty() {
            return Ok(stored);
        }
        let mut out = stored.to_vec();
        for (from, b) in held {
            let i = (from - at) as usize;
            if let Some(to) = out.get_mut(i..i + b.len()) {
                to.copy_from_slice(&b);
            }
        }
        Ok(Bytes::from(out))
    }

    /// Chunk bytes `at..at + len` as the volume has them (see [`Tape::chunk_bytes`]).
    fn chunk_bytes_stored(&self, at: u64, len: u64, fresh: bool) -> Result<Bytes, BlockError> {
        let mut w = self.chunk_ahead.lock();
        let want = w.want(at, len);
        let dev = self.store.device();
        let read = |at: u64, want: u64, buf: super::aligned::Buf| {
            let want = want.min(dev.size().saturating_sub(at)).max(len);
            read_volume(dev.as_ref(), at, want, buf)
        };
        let out = if fresh {
            let buf = w.buffer();
            let (from, bytes) = read(at, want, buf)?;
            w.fill(from, bytes);
            w.slice(at, len).unwrap_or_default()
        } else {
            w.take(at, len, want, read)?
        };
        // Reading in sequence: the next window meanwhile (a chunk it holds that was
        // written since fails its checksum and is read again, fresh).
        if let Some((next, n)) = w.next_window(dev.size()) {
            let dev = Arc::clone(dev);
            w.prefetch(next, n, move |buf| read_volume(dev.as_ref(), next, n, buf));
        }
        Ok(out)
    }

    /// Objects `n..` are being cut off: drops the references of their chunk lists (to
    /// commit with the truncation) and returns the usage they took (charged bytes, dedup
    /// saving).
    pub(super) fn cut_refs(&mut self, n: u64) -> Result<(u64, u64)> {
        let end = self.index.objects();
        let Some(from) = self.index.get(n) else {
            return Ok((0, 0));
        };
        if self.store.chunks.lock().is_empty() && self.deltas.is_empty() {
            return Ok((self.index.end() - from.offset, 0));
        }
        let (mut charged, mut saved) = (0, 0);
        let mut dropped = Vec::new();
        for o in n..end {
            let Some(obj) = self.index.get(o) else { break };
            let stored = obj.data.map_or(0, |d| d.1);
            charged += HEADER_LEN;
            let h = self.read_stream_ahead(obj.offset, HEADER_LEN)?;
            let h = Header::decode(&h).ok_or_else(|| VtlError::Corrupt {
                key: self.barcode().to_owned(),
                why: format!("record {o} at stream byte {} has no header", obj.offset),
            })?;
            if !h.chunked {
                charged += u64::from(stored);
                continue;
            }
            let list = self.read_stream_ahead(obj.offset + HEADER_LEN, u64::from(stored))?;
            let refs = ChunkRef::decode_list(&list).ok_or_else(|| VtlError::Corrupt {
                key: self.barcode().to_owned(),
                why: format!("record {o} has a damaged chunk list"),
            })?;
            for r in refs {
                charged += u64::from(r.loc.stored);
                saved += if r.dup { u64::from(r.loc.stored) } else { 0 };
                dropped.push(r);
            }
        }
        for r in &dropped {
            self.delta(r).removed += 1;
        }
        Ok((charged, saved))
    }
}

/// Reads volume bytes `at..at + len` (any alignment).
fn read_volume(
    dev: &dyn BlockDevice,
    at: u64,
    len: u64,
    buf: super::aligned::Buf,
) -> super::ahead::Read<vsa_blockdev::BlockError> {
    let bs = u64::from(dev.block_size());
    let start = at - at % bs;
    let end = (at + len).div_ceil(bs) * bs;
    let mut buf = buf.sized((end - start) as usize);
    super::par::read_at(dev, &mut buf, start)?;
    buf.truncate((at + len - start) as usize);
    Ok((start, buf))
}

// Chunk regions (1 MiB) never straddle segments.
const _: () = assert!(SEGMENT % (1 << 20) == 0);
