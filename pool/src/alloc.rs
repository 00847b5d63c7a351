//! The free-chunk allocator of a pool: a bitmap over the pool's physical chunks, held in
//! memory and rebuilt at open from the chunk maps (which are the durable truth).

/// Which physical chunks are in use.
#[derive(Debug, Clone)]
pub struct ChunkAllocator {
    bits: Vec<u64>,
    total: u64,
    used: u64,
    cursor: u64,
    /// The free chunks when a write last found too few (see [`ChunkAllocator::short`]).
    short_at: Option<u64>,
}

impl ChunkAllocator {
    /// An allocator over `total` chunks, all free.
    pub fn new(total: u64) -> Self {
        ChunkAllocator {
            bits: vec![0; total.div_ceil(64) as usize],
            total,
            used: 0,
            cursor: 0,
            short_at: None,
        }
    }

    /// Chunks in the pool.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Chunks in use.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Chunks free.
    pub fn free(&self) -> u64 {
        self.total - self.used
    }

    /// Whether `chunk` is in use.
    pub fn is_used(&self, chunk: u64) -> bool {
        chunk < self.total && self.bits[(chunk / 64) as usize] & (1 << (chunk % 64)) != 0
    }

    /// Marks `chunk` used; returns false if it is out of range or already used.
    pub fn mark_used(&mut self, chunk: u64) -> bool {
        if chunk >= self.total || self.is_used(chunk) {
            return false;
        }
        self.bits[(chunk / 64) as usize] |= 1 << (chunk % 64);
        self.used += 1;
        true
    }

    /// Returns `chunk` to the free set; returns false if it was not in use.
    pub fn release(&mut self, chunk: u64) -> bool {
        if !self.is_used(chunk) {
            return false;
        }
        self.bits[(chunk / 64) as usize] &= !(1 << (chunk % 64));
        self.used -= 1;
        if self.short_at.is_some_and(|at| self.free() > at) {
            self.short_at = None;
        }
        true
    }

    /// Notes that a write found too few free chunks: [`ChunkAllocator::short`] holds
    /// until more chunks are free than now (a chunk taken back after a failed write does
    /// not count).
    pub fn note_shortage(&mut self) {
        self.short_at = Some(self.free());
    }

    /// Whether a write found too few free chunks and no space has been freed since.
    pub fn short(&self) -> bool {
        self.short_at.is_some()
    }

    /// Takes `n` free chunks (next fit, so a sequential writer gets sequential chunks), or
    /// none at all if fewer than `n` are free.
    pub fn allocate(&mut self, n: u64) -> Option<Vec<u64>> {
        if n > self.free() {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        let mut pos = self.cursor.min(self.total.saturating_sub(1));
        let mut seen = 0u64;
        while (out.len() as u64) < n && seen < self.total {
            let word = self.bits[(pos / 64) as usize];
            if pos % 64 == 0 && word == u64::MAX {
                let step = 64.min(self.total - pos);
                pos += step;
                seen += step;
            } else {
                if word & (1 << (pos % 64)) == 0 {
                    out.push(pos);
                }
                pos += 1;
                seen += 1;
            }
            if pos >= self.total {
                pos = 0;
            }
        }
        if (out.len() as u64) < n {
            return None;
        }
        for &c in &out {
            self.mark_used(c);
        }
        if let Some(&last) = out.last() {
            self.cursor = (last + 1) % self.total.max(1);
        }
        Some(out)
    }

    /// Takes one free chunk per entry of `hints`: the hinted chunk if it is free, else the
    /// next free one (next fit); none at all if fewer than `hints.len()` are free.
    pub fn allocate_near(&mut self, hints: &[Option<u64>]) -> Option<Vec<u64>> {
        if hints.len() as u64 > self.free() {
            return None;
        }
        let mut out = Vec::with_capacity(hints.len());
        for &hint in hints {
            if let Some(c) = hint.filter(|&c| self.mark_used(c)) {
                out.push(c);
                continue;
            }
            match self.allocate(1) {
                Some(got) => out.extend(got),
                None => {
                    // Cannot happen (enough were free), but leave nothing taken if it does.
                    for &c in &out {
                        self.release(c);
                    }
                    return None;
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn allocates_sequentially_and_wraps() {
        let mut a = ChunkAllocator::new(130);
        assert_eq!(a.allocate(3).unwrap(), vec![0, 1, 2]);
        assert!(a.release(1));
        assert_eq!(a.allocate(2).unwrap(), vec![3, 4]);
        let rest = a.allocate(126).unwrap();
        assert_eq!(rest.len(), 126);
        assert!(rest.contains(&1));
        assert_eq!(a.free(), 0);
        assert!(a.allocate(1).is_none());
        assert!(!a.mark_used(5));
        assert!(!a.mark_used(130));
    }

    #[test]
    fn hinted_chunks_are_taken_when_free() {
        let mut a = ChunkAllocator::new(10);
        assert_eq!(a.allocate_near(&[Some(5), Some(6)]).unwrap(), vec![5, 6]);
        // 6 is taken and 99 out of range: those go next fit (from the start here).
        let got = a
            .allocate_near(&[Some(6), None, Some(99), Some(9)])
            .unwrap();
        assert_eq!(got, vec![0, 1, 2, 9]);
        assert_eq!(a.used(), 6);
        assert!(a.allocate_near(&[None; 5]).is_none(), "only four are free");
        assert_eq!(a.used(), 6, "a refused allocation takes nothing");
    }

    #[test]
    fn a_shortage_lasts_until_space_is_freed() {
        let mut a = ChunkAllocator::new(10);
        let got = a.allocate(8).unwrap();
        assert!(!a.short());
        a.note_shortage(); // a write wanted 3 of the 2 free
        let one = a.allocate(1).unwrap();
        assert!(a.release(one[0]), "taken back after a failed write");
        assert!(a.short(), "as much free as at the shortage: still short");
        assert!(a.release(got[0]));
        assert!(!a.short(), "more free than at the shortage");
        a.note_shortage();
        assert!(a.allocate(3).is_some());
        assert!(a.short(), "taking chunks does not end it");
    }

    #[test]
    fn refuses_partial_allocations() {
        let mut a = ChunkAllocator::new(10);
        a.allocate(8).unwrap();
        assert!(a.allocate(3).is_none());
        assert_eq!(a.used(), 8);
    }

    proptest! {
        #[test]
        fn never_hands_out_a_used_chunk(ops in proptest::collection::vec((any::<bool>(), 1u64..20), 1..100)) {
            let mut a = ChunkAllocator::new(200);
            let mut held: Vec<u64> = Vec::new();
            for (alloc, n) in ops {
                if alloc {
                    let got = if n % 2 == 0 {
                        a.allocate(n)
                    } else {
                        let hints: Vec<Option<u64>> = (0..n).map(|i| Some(i * 37 % 250)).collect();
                        a.allocate_near(&hints)
                    };
                    if let Some(got) = got {
                        prop_assert_eq!(got.len() as u64, n);
                        for c in &got {
                            prop_assert!(!held.contains(c));
                        }
                        held.extend(got);
                    }
                } else {
                    for _ in 0..n.min(held.len() as u64) {
                        let c = held.swap_remove(0);
                        prop_assert!(a.release(c));
                    }
                }
                prop_assert_eq!(a.used(), held.len() as u64);
            }
        }
    }
}
