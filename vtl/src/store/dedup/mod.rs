//! Deduplication across a library's cartridges: records are cut into chunks
//! ([`chunk`]) kept once in **chunk segments** of the store volume, with a reference count
//! per distinct chunk in the catalog. [`Chunks`] is the library-wide table in memory: the
//! chunks written but not yet in the catalog, the references open cartridges hold but have
//! not committed, and how many live chunks touch each 1 MiB region of the volume, so a
//! region whose chunks are all gone goes back to the pool (unmapped) at once.
//!
//! ```text
//!  catalog keys          value
//!  c/<SHA-256: 32 bytes>  chunk::Entry (location, references)
//!  k/<segment: u64 BE>    empty: the segment holds chunks
//! ```

pub mod chunk;
mod writer;

pub use writer::Writer;

use super::SEGMENT;
use crate::error::Result;
use crate::kv::{Batch, Kv};
use chunk::{Entry, Hash, Loc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use vsa_blockdev::BlockDevice;

/// The catalog key of a chunk.
pub fn chunk_key(h: &Hash) -> Vec<u8> {
    [b"c/".as_slice(), h].concat()
}

/// The catalog key marking a chunk segment.
pub fn seg_key(seg: u64) -> Vec<u8> {
    [b"k/".as_slice(), &seg.to_be_bytes()].concat()
}

/// A cartridge's references to one chunk not yet in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    pub loc: Loc,
    /// References added by records written since the last commit.
    pub added: u64,
    /// References dropped by records cut off (truncation).
    pub removed: u64,
}

/// Space saving of the whole library, from the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DedupStats {
    /// Distinct chunks.
    pub chunks: u64,
    /// Bytes they take on the volume.
    pub unique_bytes: u64,
    /// Bytes the records referring to them would take without deduplication.
    pub referenced_bytes: u64,
    /// Bytes of those records as written (before compression).
    pub referenced_logical: u64,
}

/// The library-wide chunk table (see the module).
#[derive(Debug, Default)]
pub struct Chunks {
    fresh: HashMap<Hash, Loc>,
    held: HashMap<Hash, u64>,
    regions: HashMap<u64, u32>,
    /// Live chunks (fresh or in the catalog) per chunk segment.
    segs: HashMap<u64, u32>,
    /// Chunk segments the catalog names (`k/`).
    registered: BTreeSet<u64>,
    /// Chunk segments cartridges are filling, and their writers.
    active: HashSet<u64>,
    writers: HashMap<u64, Writer>,
    /// Buffers of closed writers, for the next one (a cartridge's stream goes from one
    /// chunk segment to the next without allocating them again).
    spare: Vec<super::aligned::Buf>,
    stats: DedupStats,
}

/// What a commit changes, worked out before the catalog batch so nothing in memory
/// changes if the batch fails.
#[derive(Debug, Default)]
pub struct Plan {
    batch: Batch,
    held: Vec<(Hash, u64)>,
    committed: Vec<Hash>,
    dead: Vec<(Hash, Loc, bool)>,
    register: Vec<u64>,
    /// Changes of [`DedupStats`]' fields.
    d_chunks: i64,
    d_unique: i64,
    d_referenced: i64,
    d_logical: i64,
}

impl Plan {
    /// The catalog changes, to commit with the cartridge's own.
    pub fn take_batch(&mut self) -> Batch {
        std::mem::take(&mut self.batch)
    }
}

/// What to give back after a commit: regions to unmap and segments to free.
#[derive(Debug, Default)]
pub struct Freed {
    pub regions: Vec<u64>,
    pub segments: Vec<u64>,
}

impl Chunks {
    /// Loads the table from the catalog. Chunks with no reference left (a crash between
    /// a truncation's commit and a later one) and chunk segments with no chunk are swept:
    /// the returned batch deletes them, and `Freed` names what to give back.
    pub fn load(kv: &dyn Kv) -> Result<(Chunks, Batch, Freed)> {
        let mut c = Chunks::default();
        let mut sweep = Batch::default();
        for (k, _) in kv.scan(b"k/")? {
            let seg = k
                .get(2..)
                .and_then(super::be64)
                .ok_or_else(|| super::corrupt(&k, "not a segment number"))?;
            c.registered.insert(seg);
        }
        for (k, v) in kv.scan(b"c/")? {
            let e = Entry::decode(&v).ok_or_else(|| super::corrupt(&k, "not a chunk entry"))?;
            let seg = e.loc.at / SEGMENT;
            if k.len() != 34 || !c.registered.contains(&seg) {
                return Err(super::corrupt(&k, "a chunk outside the chunk segments"));
            }
            if e.refs == 0 {
                sweep.delete(k);
                continue;
            }
            c.count(&e.loc, 1);
            c.stats.chunks += 1;
            c.stats.unique_bytes += u64::from(e.loc.stored);
            c.stats.referenced_bytes += e.refs * u64::from(e.loc.stored);
            c.stats.referenced_logical += e.refs * u64::from(e.loc.logical);
        }
        let mut freed = Freed::default();
        for &seg in &c.registered {
            if !c.segs.contains_key(&seg) {
                sweep.delete(seg_key(seg));
                freed.segments.push(seg);
                continue;
            }
            // Regions written by chunks that never reached the catalog (a crash).
            let first = (seg * SEGMENT) >> 20;
            let n = SEGMENT >> 20;
            freed
                .regions
                .extend((first..first + n).filter(|r| !c.regions.contains_key(r)));
        }
        for s in &freed.segments {
            c.registered.remove(s);
        }
        Ok((c, sweep, freed))
    }

    /// Chunk segments in use (the store must not hand them out).
    pub fn segments(&self) -> impl Iterator<Item = u64> + '_ {
        self.registered.iter().copied()
    }

    pub fn stats(&self) -> DedupStats {
        self.stats
    }

    /// Whether the library holds no chunk at all (so no record is deduplicated).
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty() && self.registered.is_empty()
    }

    fn count(&mut self, loc: &Loc, up: i64) {
        for r in loc.regions() {
            bump(&mut self.regions, r, up);
        }
        bump(&mut self.segs, loc.at / SEGMENT, up);
    }

    /// Where chunk `h` is, if the library has it (written or in the catalog).
    pub fn lookup(&self, kv: &dyn Kv, h: &Hash) -> Result<Option<Loc>> {
        if let Some(l) = self.fresh.get(h) {
            return Ok(Some(*l));
        }
        match kv.get(&chunk_key(h))? {
            None => Ok(None),
            Some(v) => Entry::decode(&v)
                .map(|e| Some(e.loc))
                .ok_or_else(|| super::corrupt(&chunk_key(h), "not a chunk entry")),
        }
    }

    /// A cartridge refers to chunk `h`: it stays until that reference is committed.
    pub fn hold(&mut self, h: Hash) {
        *self.held.entry(h).or_default() += 1;
    }

    /// Chunk `h` was written at `loc` (on stable storage at the next flush).
    pub fn add_fresh(&mut self, h: Hash, loc: Loc) {
        self.count(&loc, 1);
        self.fresh.insert(h, loc);
    }

    /// A cartridge starts filling chunk segment `seg` (empty).
    pub fn open_writer(&mut self, seg: u64) {
        self.active.insert(seg);
        let buffers = std::mem::take(&mut self.spare);
        self.writers.insert(seg, Writer::new(seg, buffers));
    }

    /// Stages a chunk's stored bytes in segment `seg`; its volume offset, or `None` when
    /// the segment is full (or has no writer).
    pub fn stage(&mut self, seg: u64, bytes: &[u8]) -> Option<u64> {
        self.writers.get_mut(&seg)?.stage(bytes)
    }

    /// Starts writing what segment `seg`'s writer holds once it holds `limit` bytes or
    /// more (from a thread: see [`Writer::start`]; an error is that of the write before).
    pub fn write_behind(
        &mut self,
        seg: u64,
        dev: &Arc<dyn BlockDevice>,
        limit: usize,
    ) -> Result<()> {
        let Some(w) = self.writers.get_mut(&seg).filter(|w| w.held() >= limit) else {
            return Ok(());
        };
        let written = w.start(dev)?;
        self.unmap_dead(written, dev.as_ref());
        Ok(())
    }

    /// Writes every writer's staged chunks (before a sync flushes the volume: a chunk
    /// the catalog is about to name must be on it).
    pub fn write_out(&mut self, dev: &dyn BlockDevice) -> Result<()> {
        let segs: Vec<u64> = self.writers.keys().copied().collect();
        for seg in segs {
            self.write_writer(seg, dev)?;
        }
        Ok(())
    }

    fn write_writer(&mut self, seg: u64, dev: &dyn BlockDevice) -> Result<()> {
        let Some(w) = self.writers.get_mut(&seg) else {
            return Ok(());
        };
        let written = w.flush(dev)?;
        self.unmap_dead(written, dev);
        Ok(())
    }

    /// Chunks that died while they waited in memory were written: give their regions
    /// back again.
    fn unmap_dead(&self, written: Option<(u64, u64)>, dev: &dyn BlockDevice) {
        let Some((at, len)) = written.filter(|w| w.1 > 0) else {
            return;
        };
        let dead = ((at >> 20)..=((at + len - 1) >> 20)).filter(|r| !self.regions.contains_key(r));
        super::unmap_units(dev, dead, 1 << 20, "chunk region");
    }

    /// A cartridge stops filling chunk segment `seg`: what it staged is written, and
    /// the writer goes.
    pub fn close_writer(&mut self, seg: u64, dev: &dyn BlockDevice) -> Result<()> {
        self.write_writer(seg, dev)?;
        if let Some(mut w) = self.writers.remove(&seg) {
            if self.spare.is_empty() {
                self.spare = w.take_buffers();
            }
        }
        self.active.remove(&seg);
        Ok(())
    }

    /// The parts of volume bytes `at..at + len` that writers hold in memory (see
    /// [`Writer::held_parts`]): what is not among them is on the volume.
    pub fn held(&self, at: u64, len: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        if len == 0 {
            return out;
        }
        for seg in at / SEGMENT..=(at + len - 1) / SEGMENT {
            if let Some(w) = self.writers.get(&seg) {
                w.held_parts(at, len, &mut out);
            }
        }
        out
    }

    /// Whether chunk segment `seg` holds no chunk, no cartridge fills it and the catalog
    /// does not name it, so it can be freed now (one the catalog names is freed when its
    /// last chunk goes, or swept when the store next opens).
    pub fn unused(&self, seg: u64) -> bool {
        !self.active.contains(&seg)
            && self.segs.get(&seg).is_none_or(|n| *n == 0)
            && !self.registered.contains(&seg)
    }

    /// Works out the catalog changes for a cartridge's `deltas`.
    pub fn plan(&self, kv: &dyn Kv, deltas: &HashMap<Hash, Delta>) -> Result<Plan> {
        let mut p = Plan::default();
        let mut register = BTreeSet::new();
        for (h, d) in deltas {
            let held = self
                .held
                .get(h)
                .copied()
                .unwrap_or(0)
                .saturating_sub(d.added);
            p.held.push((*h, d.added));
            let key = chunk_key(h);
            let old = match kv.get(&key)? {
                Some(v) => Some(
                    Entry::decode(&v).ok_or_else(|| super::corrupt(&key, "not a chunk entry"))?,
                ),
                None => None,
            };
            let before = old.map_or(0, |e| e.refs);
            let refs = (before + d.added).saturating_sub(d.removed);
            let stored = i64::from(d.loc.stored);
            p.d_referenced += (refs as i64 - before as i64) * stored;
            p.d_logical += (refs as i64 - before as i64) * i64::from(d.loc.logical);
            if refs == 0 && held == 0 {
                if old.is_some() {
                    p.batch.delete(key);
                    p.d_chunks -= 1;
                    p.d_unique -= stored;
                }
                p.dead.push((*h, d.loc, old.is_none()));
            } else if old.is_some() || refs > 0 {
                p.batch.put(key, Entry { loc: d.loc, refs }.encode());
                if old.is_none() {
                    p.committed.push(*h);
                    p.d_chunks += 1;
                    p.d_unique += stored;
                    let seg = d.loc.at / SEGMENT;
                    if !self.registered.contains(&seg) && register.insert(seg) {
                        p.batch.put(seg_key(seg), Vec::new());
                    }
                }
            }
        }
        // Segments left with no chunk: forget them in the same batch.
        let mut left: HashMap<u64, u32> = HashMap::new();
        for (_, loc, _) in &p.dead {
            let seg = loc.at / SEGMENT;
            let n = left
                .entry(seg)
                .or_insert_with(|| self.segs.get(&seg).copied().unwrap_or(0));
            *n = n.saturating_sub(1);
        }
        for (seg, n) in left {
            if n == 0 && !self.active.contains(&seg) && self.registered.contains(&seg) {
                p.batch.delete(seg_key(seg));
            }
        }
        p.register = register.into_iter().collect();
        Ok(p)
    }

    /// Applies a plan whose batch was committed; returns what to give back.
    pub fn apply(&mut self, p: Plan) -> Freed {
        for (h, n) in p.held {
            if let Some(v) = self.held.get_mut(&h) {
                *v = v.saturating_sub(n);
                if *v == 0 {
                    self.held.remove(&h);
                }
            }
        }
        for h in p.committed {
            self.fresh.remove(&h);
        }
        self.registered.extend(p.register);
        let mut freed = Freed::default();
        for (h, loc, fresh) in p.dead {
            if fresh {
                self.fresh.remove(&h);
            }
            self.kill(&loc, &mut freed);
        }
        let s = &mut self.stats;
        s.chunks = s.chunks.saturating_add_signed(p.d_chunks);
        s.unique_bytes = s.unique_bytes.saturating_add_signed(p.d_unique);
        s.referenced_bytes = s.referenced_bytes.saturating_add_signed(p.d_referenced);
        s.referenced_logical = s.referenced_logical.saturating_add_signed(p.d_logical);
        freed
    }
}

impl Chunks {
    /// A chunk is gone: its regions and segment lose it.
    fn kill(&mut self, loc: &Loc, freed: &mut Freed) {
        for r in loc.regions() {
            if bump(&mut self.regions, r, -1) == 0 {
                freed.regions.push(r);
            }
        }
        let seg = loc.at / SEGMENT;
        if bump(&mut self.segs, seg, -1) == 0 && !self.active.contains(&seg) {
            self.registered.remove(&seg);
            freed.segments.push(seg);
        }
    }

    /// Chunks just staged that nothing refers to (the write that made them failed).
    pub fn forget_fresh<'a>(&mut self, hashes: impl Iterator<Item = &'a Hash>) -> Freed {
        let mut freed = Freed::default();
        for h in hashes {
            if self.held.contains_key(h) {
                continue;
            }
            if let Some(loc) = self.fresh.remove(h) {
                self.kill(&loc, &mut freed);
            }
        }
        freed
    }

    /// A cartridge goes without committing `deltas`: its references stop holding their
    /// chunks, and chunks no one refers to that never reached the catalog are gone.
    pub fn abandon(&mut self, deltas: &HashMap<Hash, Delta>) -> Freed {
        let mut freed = Freed::default();
        for (h, d) in deltas.iter().filter(|(_, d)| d.added > 0) {
            let left = match self.held.get_mut(h) {
                Some(v) => {
                    *v = v.saturating_sub(d.added);
                    *v
                }
                None => 0,
            };
            if left > 0 {
                continue;
            }
            self.held.remove(h);
            if let Some(loc) = self.fresh.remove(h) {
                self.kill(&loc, &mut freed);
            }
        }
        freed
    }
}

/// Adds `up` to `map[k]`, removing the entry at zero; returns the new count.
fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, k: K, up: i64) -> u32 {
    use std::collections::hash_map::Entry as E;
    let at = |old: u32| u32::try_from((i64::from(old) + up).max(0)).unwrap_or(u32::MAX);
    match map.entry(k) {
        E::Occupied(mut o) => {
            let n = at(*o.get());
            if n == 0 {
                o.remove();
            } else {
                *o.get_mut() = n;
            }
            n
        }
        E::Vacant(v) => {
            let n = at(0);
            if n > 0 {
                v.insert(n);
            }
            n
        }
    }
}

#[cfg(test)]
mod tests;
