//! The checksums of one member in memory: pages loaded from the [`SumStore`] on first use,
//! changed in place by writes, written back by [`SumTable::save_dirty`] (at flush), and
//! per-page locks that keep a verifying reader from seeing a block between its new data
//! and its new checksum.
//!
//! Writers take their pages *shared*, with the blocks they write: many writers at once, but
//! never two on one block, whose data and checksum could otherwise be left from different
//! writes (the data of the second, the checksum of the first: a false alarm at every read
//! after). A read-modify-write, a rebuild of checksums, or a reader re-checking a mismatch
//! takes its pages *exclusive*, which waits for the writers to finish. Pages are always
//! taken in ascending order.

use super::store::{MemberKey, SumStore, PAGE_BLOCKS, PAGE_BYTES};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::Arc;
use vsa_blockdev::Result;

const SHARDS: usize = 16;

/// Pages a shard keeps in memory before it drops clean ones (16 shards × 1024 pages of
/// 4 KiB: 64 MiB of checksums, which cover 64 GiB of data with 4 KiB blocks).
const SHARD_PAGES: usize = 1024;

#[derive(Debug)]
struct Page {
    sums: Box<[u32]>,
    /// Bumped by every change, so a save only marks the page clean if nothing changed
    /// it while it was being written.
    generation: u64,
    saved: u64,
}

impl Page {
    fn dirty(&self) -> bool {
        self.generation != self.saved
    }
}

#[derive(Debug, Default)]
struct Lock {
    /// The blocks (of this page) each writer holding it writes.
    writers: Vec<std::ops::Range<u64>>,
    exclusive: bool,
}

impl Lock {
    fn free(&self, exclusive: bool, blocks: &std::ops::Range<u64>) -> bool {
        !self.exclusive
            && if exclusive {
                self.writers.is_empty()
            } else {
                !self
                    .writers
                    .iter()
                    .any(|w| w.start < blocks.end && blocks.start < w.end)
            }
    }
}

#[derive(Debug, Default)]
struct ShardState {
    pages: HashMap<u64, Page>,
    locks: HashMap<u64, Lock>,
}

#[derive(Debug, Default)]
struct Shard {
    state: Mutex<ShardState>,
    changed: Condvar,
}

/// The checksum table of one member.
#[derive(Debug)]
pub(crate) struct SumTable {
    key: MemberKey,
    store: Arc<dyn SumStore>,
    shards: Box<[Shard]>,
}

/// Pages held by a writer of `blocks` (shared) or exclusively; released on drop.
#[derive(Debug)]
pub(crate) struct PageGuard<'a> {
    table: &'a SumTable,
    pages: std::ops::Range<u64>,
    blocks: std::ops::Range<u64>,
    exclusive: bool,
}

/// The blocks of `blocks` that page `page` holds checksums of.
fn in_page(page: u64, blocks: &std::ops::Range<u64>) -> std::ops::Range<u64> {
    blocks.start.max(page * PAGE_BLOCKS)..blocks.end.min((page + 1) * PAGE_BLOCKS)
}

impl Drop for PageGuard<'_> {
    fn drop(&mut self) {
        for p in self.pages.clone() {
            let shard = self.table.shard(p);
            let mut st = shard.state.lock();
            if let Some(l) = st.locks.get_mut(&p) {
                if self.exclusive {
                    l.exclusive = false;
                } else {
                    let mine = in_page(p, &self.blocks);
                    if let Some(i) = l.writers.iter().position(|w| *w == mine) {
                        l.writers.swap_remove(i);
                    }
                }
                if l.writers.is_empty() && !l.exclusive {
                    st.locks.remove(&p);
                }
            }
            drop(st);
            shard.changed.notify_all();
        }
    }
}

fn decode(bytes: &[u8]) -> Box<[u32]> {
    let mut sums = vec![0u32; PAGE_BLOCKS as usize];
    for (s, c) in sums.iter_mut().zip(bytes.chunks_exact(4)) {
        *s = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    sums.into_boxed_slice()
}

fn encode(sums: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PAGE_BYTES);
    for s in sums {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

impl SumTable {
    pub(crate) fn new(key: MemberKey, store: Arc<dyn SumStore>) -> SumTable {
        SumTable {
            key,
            store,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, page: u64) -> &Shard {
        &self.shards[(page % SHARDS as u64) as usize]
    }

    /// Takes the pages of blocks `blocks` shared, for a write of them (whole blocks): it
    /// waits for writers of any of the same blocks.
    pub(crate) fn write_guard(&self, blocks: std::ops::Range<u64>) -> PageGuard<'_> {
        self.guard(blocks, false)
    }

    /// Takes the pages of blocks `blocks` exclusive (waits for their writers).
    pub(crate) fn exclusive(&self, blocks: std::ops::Range<u64>) -> PageGuard<'_> {
        self.guard(blocks, true)
    }

    fn guard(&self, blocks: std::ops::Range<u64>, exclusive: bool) -> PageGuard<'_> {
        let pages = if blocks.is_empty() {
            0..0
        } else {
            blocks.start / PAGE_BLOCKS..(blocks.end - 1) / PAGE_BLOCKS + 1
        };
        for p in pages.clone() {
            let mine = in_page(p, &blocks);
            let shard = self.shard(p);
            let mut st = shard.state.lock();
            loop {
                let l = st.locks.entry(p).or_default();
                if l.free(exclusive, &mine) {
                    if exclusive {
                        l.exclusive = true;
                    } else {
                        l.writers.push(mine);
                    }
                    break;
                }
                shard.changed.wait(&mut st);
            }
        }
        PageGuard {
            table: self,
            pages,
            blocks,
            exclusive,
        }
    }

    /// Runs `f` on page `page`, loading it first if needed.
    fn with_page<T>(&self, page: u64, f: impl FnOnce(&mut Page) -> T) -> Result<T> {
        let shard = self.shard(page);
        let mut st = shard.state.lock();
        if !st.pages.contains_key(&page) {
            drop(st);
            let sums = match self.store.load(&self.key, page)? {
                Some(bytes) => decode(&bytes),
                None => vec![0u32; PAGE_BLOCKS as usize].into_boxed_slice(),
            };
            st = shard.state.lock();
            if st.pages.len() >= SHARD_PAGES {
                self.evict(&mut st)?;
            }
            st.pages.entry(page).or_insert(Page {
                sums,
                generation: 0,
                saved: 0,
            });
        }
        match st.pages.get_mut(&page) {
            Some(p) => Ok(f(p)),
            None => Err(vsa_blockdev::BlockError::new(
                vsa_blockdev::ErrorKind::Io,
                vsa_blockdev::Op::Read,
                page,
                0,
            )
            .with_detail("a checksum page went missing from memory")),
        }
    }

    /// Makes room in a shard: drops clean pages nobody holds; if every page is dirty,
    /// writes them back first (safe at any time: a page holds checksums of writes whose
    /// regions stay dirty until the next flush, see `super`).
    fn evict(&self, st: &mut ShardState) -> Result<()> {
        if st.pages.values().all(Page::dirty) {
            let dirty: Vec<(u64, Vec<u8>, u64)> = st
                .pages
                .iter()
                .map(|(&n, p)| (n, encode(&p.sums), p.generation))
                .collect();
            let pages: Vec<(u64, Vec<u8>)> =
                dirty.iter().map(|(n, b, _)| (*n, b.clone())).collect();
            self.store.save(&self.key, &pages, None, false)?;
            for (n, _, generation) in dirty {
                if let Some(p) = st.pages.get_mut(&n) {
                    p.saved = generation;
                }
            }
        }
        let locked: Vec<u64> = st.locks.keys().copied().collect();
        let mut drop_n = st.pages.len() / 4 + 1;
        st.pages.retain(|n, p| {
            let keep = p.dirty() || locked.contains(n) || drop_n == 0;
            if !keep {
                drop_n -= 1;
            }
            keep
        });
        Ok(())
    }

    /// The checksums of blocks `first..first + out.len()`.
    pub(crate) fn get(&self, first: u64, out: &mut [u32]) -> Result<()> {
        let mut done = 0usize;
        while done < out.len() {
            let block = first + done as u64;
            let (page, at) = (block / PAGE_BLOCKS, (block % PAGE_BLOCKS) as usize);
            let n = (PAGE_BLOCKS as usize - at).min(out.len() - done);
            self.with_page(page, |p| {
                out[done..done + n].copy_from_slice(&p.sums[at..at + n]);
            })?;
            done += n;
        }
        Ok(())
    }

    /// Sets the checksums of blocks `first..first + sums.len()`.
    pub(crate) fn set(&self, first: u64, sums: &[u32]) -> Result<()> {
        let mut done = 0usize;
        while done < sums.len() {
            let block = first + done as u64;
            let (page, at) = (block / PAGE_BLOCKS, (block % PAGE_BLOCKS) as usize);
            let n = (PAGE_BLOCKS as usize - at).min(sums.len() - done);
            self.with_page(page, |p| {
                p.sums[at..at + n].copy_from_slice(&sums[done..done + n]);
                p.generation += 1;
            })?;
            done += n;
        }
        Ok(())
    }

    /// Writes every changed page to the store (with `built` if given), unsynced (see
    /// "When checksums and data agree" in `integrity`); pages changed again stay dirty.
    pub(crate) fn save_dirty(&self, built: Option<u64>) -> Result<()> {
        let mut snapshot: Vec<(u64, Vec<u8>, u64)> = Vec::new();
        for shard in self.shards.iter() {
            let st = shard.state.lock();
            for (&n, p) in st.pages.iter().filter(|(_, p)| p.dirty()) {
                snapshot.push((n, encode(&p.sums), p.generation));
            }
        }
        if snapshot.is_empty() && built.is_none() {
            return Ok(());
        }
        let pages: Vec<(u64, Vec<u8>)> = snapshot.iter().map(|(n, b, _)| (*n, b.clone())).collect();
        self.store.save(&self.key, &pages, built, false)?;
        for (n, _, generation) in snapshot {
            let mut st = self.shard(n).state.lock();
            if let Some(p) = st.pages.get_mut(&n) {
                p.saved = p.saved.max(generation);
            }
        }
        Ok(())
    }

    /// The build watermark saved in the store.
    pub(crate) fn built(&self) -> Result<Option<u64>> {
        self.store.built(&self.key)
    }
}
