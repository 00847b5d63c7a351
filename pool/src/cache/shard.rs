//! One shard of the read cache: a map from page index to a slot, the slots swept by a
//! CLOCK hand for eviction, and the generation and writer count that keep readers from
//! inserting pages a concurrent write has made stale (see the parent module).

use super::RUN_BITS;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use vsa_blockdev::Bytes;

/// A cached page.
struct Slot {
    page: u64,
    /// Set by a hit, cleared by the CLOCK hand passing over it (second chance).
    referenced: bool,
    /// Never changed in place while shared: readers may still be sending an old copy.
    data: Bytes,
}

/// A shard's pages and its coherence state. Always used under its mutex.
#[derive(Default)]
pub(super) struct Shard {
    map: HashMap<u64, usize, BuildHasherDefault<PageHasher>>,
    slots: Vec<Slot>,
    hand: usize,
    /// Bumped by every write, unmap and invalidation of a page of this shard, before the
    /// device is touched and again after; a reader inserts only if it is unchanged since
    /// before its device read.
    pub(super) generation: u64,
    /// Writes (and unmaps) of this shard's pages under way on the device.
    pub(super) writers: u32,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) evictions: u64,
}

impl Shard {
    /// Number of cached pages.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Copies `dst.len()` bytes from offset `at` of `page` into `dst` if the page is
    /// cached, counting a hit or a miss.
    pub(super) fn read(&mut self, page: u64, at: usize, dst: &mut [u8]) -> bool {
        match self.hit(page) {
            Some(data) => {
                dst.copy_from_slice(&data[at..at + dst.len()]);
                true
            }
            None => {
                self.misses += 1;
                false
            }
        }
    }

    /// The cached page, marked referenced and counted as a hit; a page that is not
    /// cached counts as nothing (non-blocking readers look it up again the ordinary way).
    pub(super) fn hit(&mut self, page: u64) -> Option<&Bytes> {
        let &i = self.map.get(&page)?;
        let slot = &mut self.slots[i];
        slot.referenced = true;
        self.hits += 1;
        Some(&slot.data)
    }

    /// Caches `src` as `page`, replacing what it held; evicts first if the shard already
    /// holds `limit` pages. Does nothing when `limit` is 0.
    pub(super) fn insert(&mut self, page: u64, src: &[u8], limit: usize) {
        self.insert_reusing(page, src, limit, None);
    }

    /// Like [`Shard::insert`], but a new page takes the memory of `spare` (a page dropped
    /// earlier) when no reader holds that any more, instead of allocating.
    pub(super) fn insert_reusing(
        &mut self,
        page: u64,
        src: &[u8],
        limit: usize,
        mut spare: Option<Bytes>,
    ) {
        if let Some(&i) = self.map.get(&page) {
            let old = std::mem::take(&mut self.slots[i].data);
            self.slots[i].data = refill(old, src);
            return;
        }
        if limit == 0 {
            return;
        }
        while self.slots.len() >= limit {
            spare = Some(self.evict_one());
        }
        let data = match spare {
            Some(old) => refill(old, src),
            None => Bytes::copy_from_slice(src),
        };
        self.map.insert(page, self.slots.len());
        self.slots.push(Slot {
            page,
            referenced: false,
            data,
        });
    }

    /// Puts back `data`, a page [`Shard::remove`] gave out, unless the page is cached again
    /// (then that copy is newer) or `limit` is 0; evicts first if the shard is full.
    pub(super) fn restore(&mut self, page: u64, data: Bytes, limit: usize) {
        if limit == 0 || self.map.contains_key(&page) {
            return;
        }
        while self.slots.len() >= limit {
            self.evict_one();
        }
        self.map.insert(page, self.slots.len());
        self.slots.push(Slot {
            page,
            referenced: false,
            data,
        });
    }

    /// Drops `page` if cached, returning its memory.
    pub(super) fn remove(&mut self, page: u64) -> Option<Bytes> {
        let i = self.map.get(&page).copied()?;
        Some(self.remove_at(i))
    }

    /// Evicts (CLOCK order) until at most `limit` pages remain.
    pub(super) fn shrink_to(&mut self, limit: usize) {
        if limit == 0 {
            self.evictions += self.slots.len() as u64;
            self.release();
            return;
        }
        while self.slots.len() > limit {
            self.evict_one();
        }
    }

    /// Drops every page and gives the memory back.
    pub(super) fn release(&mut self) {
        self.map = HashMap::default();
        self.slots = Vec::new();
        self.hand = 0;
    }

    /// The cached pages, for checks.
    #[cfg(test)]
    pub(super) fn pages(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.slots.iter().map(|s| (s.page, &*s.data))
    }

    /// Advances the CLOCK hand to the first unreferenced page, clearing reference bits on
    /// the way, and evicts it, returning its buffer for reuse. The shard must not be empty.
    fn evict_one(&mut self) -> Bytes {
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let slot = &mut self.slots[self.hand];
            if slot.referenced {
                slot.referenced = false;
                self.hand += 1;
            } else {
                self.evictions += 1;
                return self.remove_at(self.hand);
            }
        }
    }

    /// Removes slot `i` by moving the last slot into its place.
    fn remove_at(&mut self, i: usize) -> Bytes {
        let slot = self.slots.swap_remove(i);
        self.map.remove(&slot.page);
        if let Some(moved) = self.slots.get(i) {
            self.map.insert(moved.page, i);
        }
        slot.data
    }
}

/// A page holding `src`: `old`'s memory if no reader still holds it and it has the size,
/// else new memory.
fn refill(old: Bytes, src: &[u8]) -> Bytes {
    match old.try_into_mut() {
        Ok(mut m) if m.len() == src.len() => {
            m.copy_from_slice(src);
            m.freeze()
        }
        _ => Bytes::copy_from_slice(src),
    }
}

/// Hashes page indexes for a shard's map: the SplitMix64 finalizer of the page's run (the
/// shard was chosen by a different, multiplicative hash of it, so the bits the map uses
/// still vary within a shard), plus the page's place in the run in the low bits (the
/// bucket) and the top ones (the map's tag). The pages of a run then sit side by side in
/// the map, and a large read finds its pages in a few cache lines instead of one memory
/// miss per page.
#[derive(Default)]
pub(super) struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mut z = (n >> RUN_BITS).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let within = n & ((1 << RUN_BITS) - 1);
        self.0 = (z ^ (z >> 31)).wrapping_add(within) ^ (within << (64 - 1 - RUN_BITS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(b: u8) -> Vec<u8> {
        vec![b; 16]
    }

    #[test]
    fn clock_gives_referenced_pages_a_second_chance() {
        let mut s = Shard::default();
        for p in 0..4 {
            s.insert(p, &page(p as u8), 4);
        }
        let mut out = [0u8; 16];
        assert!(s.read(0, 0, &mut out));
        assert!(s.read(2, 0, &mut out));
        s.insert(10, &page(10), 4);
        s.insert(11, &page(11), 4);
        assert_eq!(s.len(), 4);
        assert_eq!(s.evictions, 2);
        // Pages 1 and 3 were never hit, so they went first.
        assert!(!s.read(1, 0, &mut out));
        assert!(!s.read(3, 0, &mut out));
        assert!(s.read(0, 0, &mut out) && out == [0u8; 16]);
        assert!(s.read(2, 0, &mut out) && out == [2u8; 16]);
        assert!(s.read(11, 4, &mut out[..8]) && out[..8] == [11u8; 8]);
    }

    #[test]
    fn pages_handed_out_never_change_under_their_holder() {
        let mut s = Shard::default();
        s.insert(1, &page(1), 1);
        let held = s.hit(1).cloned().unwrap();
        // Rewritten in place while held: the holder keeps the old contents.
        s.insert(1, &page(2), 1);
        // Evicted while held (its memory is not reused).
        let held2 = s.hit(1).cloned().unwrap();
        s.insert(7, &page(7), 1);
        assert_eq!(held, page(1));
        assert_eq!(held2, page(2));
        let mut out = [0u8; 16];
        assert!(!s.read(1, 0, &mut out));
        assert!(s.read(7, 0, &mut out) && out == [7u8; 16]);
        // Not held any more: rewriting reuses the page's memory.
        drop((held, held2));
        let before = s.hit(7).unwrap().as_ptr();
        s.insert(7, &page(8), 1);
        assert_eq!(s.hit(7).unwrap().as_ptr(), before);
        assert!(s.read(7, 0, &mut out) && out == [8u8; 16]);
    }

    #[test]
    fn remove_and_shrink_keep_the_map_consistent() {
        let mut s = Shard::default();
        for p in 0..8 {
            s.insert(p, &page(p as u8), 8);
        }
        s.remove(0);
        s.remove(5);
        s.remove(42);
        assert_eq!(s.len(), 6);
        s.shrink_to(3);
        assert_eq!(s.len(), 3);
        let mut out = [0u8; 16];
        for (p, data) in s.pages().map(|(p, d)| (p, d.to_vec())).collect::<Vec<_>>() {
            assert!(s.read(p, 0, &mut out));
            assert_eq!(out.to_vec(), data);
            assert_eq!(data, page(p as u8));
        }
        s.shrink_to(0);
        assert_eq!(s.len(), 0);
        s.insert(1, &page(1), 0);
        assert_eq!(s.len(), 0);
    }
}
