//! [`Volume`]: the I/O path of a volume or snapshot, as a [`BlockDevice`].

use super::{map_key, Inner, State, VolShared, VolumeError, PHYS_MASK, UNWRITTEN, ZERO};
use crate::meta::CF_MAP;
use rocksdb::WriteBatch;
use std::sync::Arc;
use vsa_blockdev::{Allocation, BlockDevice, BlockError, Bytes, ErrorKind, Extent, Op, Result};

/// A volume (writable, following its head across snapshots and rollbacks) or a snapshot
/// (read-only), usable from many threads at once.
#[derive(Debug, Clone)]
pub struct Volume {
    inner: Arc<Inner>,
    name: String,
    view: View,
}

#[derive(Debug, Clone)]
enum View {
    Head(Arc<VolShared>),
    Frozen { node: u64, size: u64 },
}

/// One chunk's part of a request: chunk index, offset in the chunk, offset in the
/// request's buffer, length.
#[derive(Debug, Clone, Copy)]
struct Piece {
    chunk: u64,
    at: u64,
    pos: usize,
    len: usize,
}

fn pieces(offset: u64, len: u64, cs: u64) -> Vec<Piece> {
    let mut out = Vec::with_capacity((len / cs + 2) as usize);
    let mut done = 0;
    while done < len {
        let pos = offset + done;
        let at = pos % cs;
        let n = (cs - at).min(len - done);
        out.push(Piece {
            chunk: pos / cs,
            at,
            pos: done as usize,
            len: n as usize,
        });
        done += n;
    }
    out
}

/// A stretch of a request that is contiguous on the data device (`at` is its offset there)
/// or reads as zeros (`at` is `None`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    pos: usize,
    len: usize,
    at: Option<u64>,
}

/// Merges consecutive pieces whose chunks are adjacent on the data device, so sequential
/// I/O over sequentially allocated chunks reaches the RAID set as one large request (full
/// stripes, fewer member calls).
fn runs(plan: &[(Piece, Option<u64>)], cs: u64) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::with_capacity(plan.len());
    for &(p, phys) in plan {
        let at = phys.map(|ph| ph * cs + p.at);
        if let Some(last) = out.last_mut() {
            let follows = last.pos + last.len == p.pos;
            let adjacent = match (last.at, at) {
                (Some(a), Some(b)) => a + last.len as u64 == b,
                (None, None) => true,
                _ => false,
            };
            if follows && adjacent {
                last.len += p.len;
                continue;
            }
        }
        out.push(Run {
            pos: p.pos,
            len: p.len,
            at,
        });
    }
    out
}

/// Allocates a physical chunk for each of `chunks` (logical chunks of node `head`), each
/// where the node's placement puts it if that is free (see `Node::placement`; a node
/// without data yet asks for the chunk its logical index names), else next fit. `None`
/// (nothing taken) if too few are free. The placement is a multiple of `align` chunks and
/// wraps within a multiple of them, so a chunk sits at the same place in the set's stripes
/// as its logical index says.
fn place(st: &mut State, head: u64, chunks: &[u64], align: u64) -> Option<Vec<u64>> {
    let align = align.max(1);
    let total = st.alloc.total().max(1);
    let span = if total >= align {
        total - total % align
    } else {
        total
    };
    let placement = st.nodes.get_mut(&head).and_then(|node| {
        if node.placement.is_none() {
            // The first allocation since open that finds data: continue its layout,
            // rounded up to a whole alignment unit.
            node.placement = node.map.iter().find_map(|(&l, &e)| {
                has_data(Some(e)).map(|p| {
                    let d = (p % span + span - l % span) % span;
                    d.div_ceil(align) * align % span
                })
            });
        }
        // A node with no data yet asks for the places a thick volume at the start of
        // the pool would have.
        node.placement.or(Some(0))
    });
    let hints: Vec<Option<u64>> = chunks
        .iter()
        .map(|&l| placement.map(|d| (l % span + d) % span))
        .collect();
    st.alloc.allocate_near(&hints)
}

/// Appends `len` zero bytes to `out` as shared buffers of one static block of zeros.
fn push_zeros(out: &mut Vec<Bytes>, mut len: usize) {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    while len > 0 {
        let n = len.min(ZEROS.len());
        out.push(Bytes::from_static(&ZEROS[..n]));
        len -= n;
    }
}

/// Whether a map entry holds data that must be read from disk.
fn has_data(entry: Option<u64>) -> Option<u64> {
    entry
        .filter(|e| e & (ZERO | UNWRITTEN) == 0)
        .map(|e| e & PHYS_MASK)
}

impl Volume {
    pub(super) fn head(inner: Arc<Inner>, name: &str, shared: Arc<VolShared>) -> Self {
        Volume {
            inner,
            name: name.to_owned(),
            view: View::Head(shared),
        }
    }

    pub(super) fn frozen(inner: Arc<Inner>, name: &str, node: u64, size: u64) -> Self {
        Volume {
            inner,
            name: name.to_owned(),
            view: View::Frozen { node, size },
        }
    }

    /// The volume's name (`vol@snap` for a snapshot).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether writes are refused (a snapshot).
    pub fn is_read_only(&self) -> bool {
        matches!(self.view, View::Frozen { .. })
    }

    /// The node and size this handle reads from now.
    fn current(&self, st: &State) -> std::result::Result<(u64, u64), VolumeError> {
        match &self.view {
            View::Frozen { node, size } => Ok((*node, *size)),
            View::Head(_) => st
                .volumes
                .get(&self.name)
                .map(|v| (v.rec.head, v.rec.size))
                .ok_or_else(|| VolumeError::NoSuchVolume(self.name.clone())),
        }
    }

    fn fail(&self, e: VolumeError, op: Op, offset: u64, len: u64) -> BlockError {
        e.into_block(op, offset, len)
            .with_device(format!("volume {}", self.name))
    }

    fn check(&self, size: u64, op: Op, offset: u64, len: u64) -> Result<()> {
        let bs = u64::from(self.inner.data.block_size());
        if offset % bs != 0 || len % bs != 0 {
            return Err(BlockError::new(ErrorKind::Misaligned, op, offset, len)
                .with_device(format!("volume {}", self.name))
                .with_detail(format!(
                    "offset and length must be multiples of the {bs}-byte block size"
                )));
        }
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(BlockError::new(ErrorKind::OutOfRange, op, offset, len)
                .with_device(format!("volume {}", self.name))
                .with_detail(format!("the volume holds {size} bytes"))),
        }
    }

    /// Where each piece of `[offset, offset + len)` of `node` is (`None`: reads as zeros).
    fn read_plan(&self, st: &State, node: u64, offset: u64, len: u64) -> Vec<(Piece, Option<u64>)> {
        pieces(offset, len, self.inner.chunk_size)
            .into_iter()
            .map(|p| (p, has_data(st.resolve(node, p.chunk))))
            .collect()
    }

    /// Reads `buf` at `offset` following `plan`, with `read` for the mapped runs and zeros
    /// elsewhere. `Err(B)` when `read` gave up (a non-blocking read that would block).
    fn read_planned<B>(
        &self,
        plan: &[(Piece, Option<u64>)],
        buf: &mut [u8],
        offset: u64,
        mut read: impl FnMut(&mut [u8], u64) -> std::result::Result<Result<()>, B>,
    ) -> std::result::Result<Result<()>, B> {
        for run in runs(plan, self.inner.chunk_size) {
            let dst = &mut buf[run.pos..run.pos + run.len];
            match run.at {
                Some(at) => {
                    if let Err(e) = read(dst, at)? {
                        return Ok(Err(e.at(Op::Read, offset, dst.len() as u64)));
                    }
                }
                None => dst.fill(0),
            }
        }
        Ok(Ok(()))
    }

    /// For the non-blocking reads: takes the volume's locks without waiting, checks the
    /// range and runs `read` over the plan of `[offset, offset + len)` with them held.
    /// `None` when a lock is contended or `read` would wait.
    fn try_planned(
        &self,
        offset: u64,
        len: u64,
        read: impl FnOnce(&[(Piece, Option<u64>)]) -> Option<Result<()>>,
    ) -> Option<Result<()>> {
        let _gate = self.inner.gate.try_read()?;
        let _io = match &self.view {
            View::Head(shared) => Some(shared.io.try_read()?),
            View::Frozen { .. } => None,
        };
        let plan = {
            let st = self.inner.state.try_read()?;
            let (node, size) = match self.current(&st) {
                Ok(c) => c,
                Err(e) => return Some(Err(self.fail(e, Op::Read, offset, len))),
            };
            if let Err(e) = self.check(size, Op::Read, offset, len) {
                return Some(Err(e));
            }
            self.read_plan(&st, node, offset, len)
        };
        let r = read(&plan)?;
        Some(r.map_err(|e| e.with_device(format!("volume {}", self.name))))
    }

    /// Reads `node`'s data through the pool's device (with its read cache: see
    /// [`BlockDevice::read_once_at`] for `once`).
    fn read_node(&self, node: u64, buf: &mut [u8], offset: u64, once: bool) -> Result<()> {
        let plan = self.read_plan(&self.inner.state.read(), node, offset, buf.len() as u64);
        let data = &self.inner.data;
        let Ok(r) = self.read_planned::<std::convert::Infallible>(&plan, buf, offset, |d, at| {
            Ok(if once {
                data.read_once_at(d, at)
            } else {
                data.read_at(d, at)
            })
        });
        r
    }

    /// `read_at` and `read_once_at`: the range checked with the volume's locks held.
    fn read_locked(&self, buf: &mut [u8], offset: u64, once: bool) -> Result<()> {
        let _gate = self.inner.gate.read();
        let _io = match &self.view {
            View::Head(shared) => Some(shared.io.read()),
            View::Frozen { .. } => None,
        };
        let (node, size) = {
            let st = self.inner.state.read();
            self.current(&st)
                .map_err(|e| self.fail(e, Op::Read, offset, buf.len() as u64))?
        };
        self.check(size, Op::Read, offset, buf.len() as u64)?;
        self.read_node(node, buf, offset, once)
            .map_err(|e| e.with_device(format!("volume {}", self.name)))
    }

    /// Writes with the gate and the volume's I/O lock held (shared or exclusive).
    fn write_locked(&self, shared: &VolShared, buf: &[u8], offset: u64) -> Result<()> {
        let cs = self.inner.chunk_size;
        let (head, size) = {
            let st = self.inner.state.read();
            self.current(&st)
                .map_err(|e| self.fail(e, Op::Write, offset, buf.len() as u64))?
        };
        self.check(size, Op::Write, offset, buf.len() as u64)?;
        let all = pieces(offset, buf.len() as u64, cs);
        let owned = |st: &State, p: &Piece| {
            has_data(
                st.nodes
                    .get(&head)
                    .and_then(|n| n.map.get(&p.chunk).copied()),
            )
        };
        let needs_alloc = {
            let st = self.inner.state.read();
            all.iter().any(|p| owned(&st, p).is_none())
        };
        let written = if needs_alloc {
            self.allocate_and_write(shared, head, &all, buf)
                .map_err(|e| self.fail(e, Op::Write, offset, buf.len() as u64))?
        } else {
            Vec::new()
        };
        // Every piece is now owned by the head: write in place what the allocation did not.
        let plan: Vec<(Piece, Option<u64>)> = {
            let st = self.inner.state.read();
            all.iter()
                .filter(|p| !written.contains(&p.chunk))
                .map(|p| (*p, owned(&st, p)))
                .collect()
        };
        for run in runs(&plan, cs) {
            let Some(at) = run.at else { continue };
            self.inner
                .data
                .write_at(&buf[run.pos..run.pos + run.len], at)
                .map_err(|e| e.at(Op::Write, offset, buf.len() as u64))?;
        }
        Ok(())
    }
}

/// A piece whose chunk the head must get: where its old content is (`base`), and the
/// reserved chunk of a thick volume to use (`reuse`).
struct Need {
    piece: Piece,
    base: Option<u64>,
    reuse: Option<u64>,
}

impl Volume {
    /// Gives the head its own chunk for every piece that lacks one: copies the old content
    /// (or zeros) with the new data over it into fresh chunks, makes them durable, then
    /// records the mappings durably. Returns the chunks it wrote, which the in-place pass
    /// then skips.
    fn allocate_and_write(
        &self,
        shared: &VolShared,
        head: u64,
        all: &[Piece],
        buf: &[u8],
    ) -> std::result::Result<Vec<u64>, VolumeError> {
        // Claim the logical chunks this write must allocate, waiting while another writer
        // allocates any of them (then they are owned when the wait ends).
        let needs = {
            let mut pending = shared.pending.lock();
            loop {
                let needs = self.plan_allocation(head, all);
                if needs.iter().any(|n| pending.contains(&n.piece.chunk)) {
                    shared.allocated.wait(&mut pending);
                    continue;
                }
                pending.extend(needs.iter().map(|n| n.piece.chunk));
                break needs;
            }
        };
        let result = self.fill_and_commit(head, &needs, buf);
        let mut pending = shared.pending.lock();
        for n in &needs {
            pending.remove(&n.piece.chunk);
        }
        shared.allocated.notify_all();
        result
    }

    /// The pieces whose chunk the head does not own yet, with where their old content is.
    fn plan_allocation(&self, head: u64, all: &[Piece]) -> Vec<Need> {
        let st = self.inner.state.read();
        let node = st.nodes.get(&head);
        let parent = node.and_then(|n| n.rec.as_ref()).and_then(|r| r.parent);
        let mut needs = Vec::new();
        for p in all {
            let own = node.and_then(|n| n.map.get(&p.chunk).copied());
            if has_data(own).is_some() {
                continue;
            }
            let reuse = own.filter(|e| e & UNWRITTEN != 0).map(|e| e & PHYS_MASK);
            // A zero or unwritten entry of the head's own hides the parents' content.
            let base = match own {
                Some(_) => None,
                None => parent.and_then(|pn| has_data(st.resolve(pn, p.chunk))),
            };
            needs.push(Need {
                piece: *p,
                base,
                reuse,
            });
        }
        needs
    }

    /// Allocates, fills and durably maps the chunks of `needs` (claimed by this writer).
    fn fill_and_commit(
        &self,
        head: u64,
        needs: &[Need],
        buf: &[u8],
    ) -> std::result::Result<Vec<u64>, VolumeError> {
        let inner = &self.inner;
        let cs = inner.chunk_size;
        if needs.is_empty() {
            return Ok(Vec::new());
        }
        let fresh_chunks: Vec<u64> = needs
            .iter()
            .filter(|n| n.reuse.is_none())
            .map(|n| n.piece.chunk)
            .collect();
        let fresh_count = fresh_chunks.len() as u64;
        let mut fresh = {
            let mut st = inner.state.write();
            let free = st.alloc.free();
            match place(&mut st, head, &fresh_chunks, self.inner.align) {
                Some(fresh) => fresh,
                None => {
                    // The pool reports itself full until space is freed.
                    st.alloc.note_shortage();
                    return Err(VolumeError::SpaceExhausted {
                        pool: inner.pool_name.clone(),
                        needed: fresh_count,
                        free,
                        chunk_size: cs,
                    });
                }
            }
        }
        .into_iter();
        let targets: Vec<u64> = needs
            .iter()
            .map(|n| n.reuse.or_else(|| fresh.next()).unwrap_or(u64::MAX))
            .collect();
        let result = self.fill_chunks(
            &needs.iter().map(|n| (n.piece, n.base)).collect::<Vec<_>>(),
            &targets,
            buf,
        );
        let result = result.and_then(|()| {
            let mut batch = WriteBatch::default();
            let cf = inner.store.cf(CF_MAP)?;
            for (n, &t) in needs.iter().zip(&targets) {
                batch.put_cf(
                    cf,
                    map_key(inner.pool, head, n.piece.chunk),
                    t.to_be_bytes(),
                );
            }
            inner.store.commit(batch, true)?;
            Ok(())
        });
        let mut st = inner.state.write();
        match result {
            Ok(()) => {
                let node = st.nodes.entry(head).or_default();
                for (n, &t) in needs.iter().zip(&targets) {
                    node.map.insert(n.piece.chunk, t);
                }
                Ok(needs.iter().map(|n| n.piece.chunk).collect())
            }
            Err(e) => {
                for (n, &t) in needs.iter().zip(&targets) {
                    if n.reuse.is_none() {
                        st.alloc.release(t);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes each target chunk whole: base content (or zeros) with the piece over it; then
    /// flushes, so the data is durable before any mapping names it.
    fn fill_chunks(
        &self,
        needs: &[(Piece, Option<u64>)],
        targets: &[u64],
        buf: &[u8],
    ) -> std::result::Result<(), VolumeError> {
        let cs = self.inner.chunk_size;
        let data = &self.inner.data;
        let mut scratch = Vec::new();
        for (&(p, base), &t) in needs.iter().zip(targets) {
            let src = &buf[p.pos..p.pos + p.len];
            if p.len as u64 == cs {
                data.write_at(src, t * cs)?;
                continue;
            }
            scratch.resize(cs as usize, 0);
            match base {
                Some(b) => data.read_at(&mut scratch, b * cs)?,
                None => scratch.fill(0),
            }
            scratch[p.at as usize..p.at as usize + p.len].copy_from_slice(src);
            data.write_at(&scratch, t * cs)?;
        }
        data.flush()?;
        Ok(())
    }

    /// Discards whole chunks (returning them to the pool) and zeros partial ones.
    fn unmap_locked(
        &self,
        shared: &VolShared,
        offset: u64,
        len: u64,
    ) -> std::result::Result<(), VolumeError> {
        let inner = &self.inner;
        let cs = inner.chunk_size;
        let (head, _) = {
            let st = inner.state.read();
            self.current(&st)?
        };
        let all = pieces(offset, len, cs);
        let mut whole = Vec::new();
        for p in &all {
            if p.len as u64 == cs {
                whole.push(p.chunk);
                continue;
            }
            let holds = has_data(inner.state.read().resolve(head, p.chunk)).is_some();
            if holds {
                let zeros = vec![0u8; p.len];
                self.write_locked(shared, &zeros, p.chunk * cs + p.at)
                    .map_err(VolumeError::Block)?;
            }
        }
        if whole.is_empty() {
            return Ok(());
        }
        let mut st = inner.state.write();
        let parent = st.node_rec(head).and_then(|r| r.parent);
        let cf = inner.store.cf(CF_MAP)?;
        let mut batch = WriteBatch::default();
        let mut freed = Vec::new();
        let mut changes = Vec::new();
        for chunk in whole {
            let own = st.nodes.get(&head).and_then(|n| n.map.get(&chunk).copied());
            let below = parent
                .and_then(|pn| has_data(st.resolve(pn, chunk)))
                .is_some();
            if let Some(e) = own.filter(|e| e & ZERO == 0) {
                freed.push(e & PHYS_MASK);
            }
            let k = map_key(inner.pool, head, chunk);
            if below {
                if own != Some(ZERO) {
                    batch.put_cf(cf, k, ZERO.to_be_bytes());
                    changes.push((chunk, Some(ZERO)));
                }
            } else if own.is_some() {
                batch.delete_cf(cf, k);
                changes.push((chunk, None));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        inner.store.commit(batch, true)?;
        let node = st.nodes.entry(head).or_default();
        for (chunk, e) in changes {
            match e {
                Some(e) => node.map.insert(chunk, e),
                None => node.map.remove(&chunk),
            };
        }
        for phys in freed {
            st.alloc.release(phys);
        }
        Ok(())
    }
}

impl BlockDevice for Volume {
    fn block_size(&self) -> u32 {
        self.inner.data.block_size()
    }

    fn space_low(&self) -> bool {
        self.inner.space_low()
    }

    fn size(&self) -> u64 {
        let st = self.inner.state.read();
        self.current(&st).map(|(_, size)| size).unwrap_or(0)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.read_locked(buf, offset, false)
    }

    fn read_once_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.read_locked(buf, offset, true)
    }

    fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<Result<()>> {
        self.try_planned(offset, buf.len() as u64, |plan| {
            self.read_planned(plan, buf, offset, |d, at| {
                self.inner.data.try_read_at(d, at).ok_or(())
            })
            .ok()
        })
    }

    /// Mapped runs as the data device hands them out (the read cache's pages); holes as
    /// shared zeros.
    fn try_read_shared(&self, out: &mut Vec<Bytes>, offset: u64, len: usize) -> Option<Result<()>> {
        let start = out.len();
        let r = self.try_planned(offset, len as u64, |plan| {
            for run in runs(plan, self.inner.chunk_size) {
                match run.at {
                    Some(at) => {
                        if let Err(e) = self.inner.data.try_read_shared(out, at, run.len)? {
                            return Some(Err(e.at(Op::Read, offset, run.len as u64)));
                        }
                    }
                    None => push_zeros(out, run.len),
                }
            }
            Some(Ok(()))
        });
        if !matches!(r, Some(Ok(()))) {
            out.truncate(start);
        }
        r
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let View::Head(shared) = &self.view else {
            return Err(
                BlockError::new(ErrorKind::ReadOnly, Op::Write, offset, buf.len() as u64)
                    .with_device(format!("snapshot {}", self.name))
                    .with_detail(
                        "snapshots are read-only; clone the snapshot to get a writable volume",
                    ),
            );
        };
        let _gate = self.inner.gate.read();
        let _io = shared.io.read();
        self.write_locked(shared, buf, offset)
            .map_err(|e| e.with_device(format!("volume {}", self.name)))
    }

    /// A write that lands in one run of chunks the head already owns (nothing to allocate
    /// or copy), if the data device takes it without waiting.
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
        let View::Head(shared) = &self.view else {
            return None;
        };
        let len = buf.len() as u64;
        let _gate = self.inner.gate.try_read()?;
        let _io = shared.io.try_read()?;
        let at = {
            let st = self.inner.state.try_read()?;
            let (head, size) = self.current(&st).ok()?;
            self.check(size, Op::Write, offset, len).ok()?;
            let node = st.nodes.get(&head)?;
            let plan: Vec<(Piece, Option<u64>)> = pieces(offset, len, self.inner.chunk_size)
                .into_iter()
                .map(|p| (p, has_data(node.map.get(&p.chunk).copied())))
                .collect();
            match runs(&plan, self.inner.chunk_size)[..] {
                [Run { at: Some(at), .. }] => at,
                _ => return None,
            }
        };
        let r = self.inner.data.try_write_at(buf, at)?;
        Some(r.map_err(|e| {
            e.at(Op::Write, offset, len)
                .with_device(format!("volume {}", self.name))
        }))
    }

    fn flush(&self) -> Result<()> {
        self.inner.data.flush()
    }

    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        let View::Head(shared) = &self.view else {
            return Err(BlockError::new(ErrorKind::ReadOnly, Op::Unmap, offset, len)
                .with_device(format!("snapshot {}", self.name)));
        };
        let _gate = self.inner.gate.read();
        let _io = shared.io.write();
        let size = self.size();
        self.check(size, Op::Unmap, offset, len)?;
        self.unmap_locked(shared, offset, len)
            .map_err(|e| self.fail(e, Op::Unmap, offset, len))
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        let _gate = self.inner.gate.read();
        let st = self.inner.state.read();
        let (node, size) = self
            .current(&st)
            .map_err(|e| self.fail(e, Op::Allocation, offset, len))?;
        self.check(size, Op::Allocation, offset, len)?;
        let mut out: Vec<Extent> = Vec::new();
        for p in pieces(offset, len, self.inner.chunk_size) {
            let status = match st.resolve(node, p.chunk) {
                Some(e) if e & ZERO == 0 => Allocation::Mapped,
                _ => Allocation::Deallocated,
            };
            let start = offset + p.pos as u64;
            match out.last_mut() {
                Some(last) if last.status == status => last.len += p.len as u64,
                _ => out.push(Extent {
                    offset: start,
                    len: p.len as u64,
                    status,
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[test]
    fn adjacent_chunks_merge_into_one_run() {
        let cs = 1024;
        let plan = pieces(512, 4096, cs)
            .into_iter()
            .zip([Some(7), Some(8), None, None, Some(3)])
            .collect::<Vec<_>>();
        assert_eq!(
            runs(&plan, cs),
            vec![
                Run {
                    pos: 0,
                    len: 1536,
                    at: Some(7 * 1024 + 512)
                },
                Run {
                    pos: 1536,
                    len: 2048,
                    at: None
                },
                Run {
                    pos: 3584,
                    len: 512,
                    at: Some(3 * 1024)
                },
            ]
        );
    }
}
