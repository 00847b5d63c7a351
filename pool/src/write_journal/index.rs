//! The blocks the journal holds and the RAID set does not have yet: block offset → the
//! newest journaled copy and the sequence number of its record.

use super::record::BLOCK;
use std::collections::BTreeMap;
use vsa_blockdev::Bytes;

/// One journaled block.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The record it came from (later records replace earlier ones).
    pub seq: u64,
    /// [`BLOCK`] bytes.
    pub data: Bytes,
}

/// Journaled blocks by offset (a multiple of [`BLOCK`]).
#[derive(Debug, Default)]
pub(super) struct Index {
    blocks: BTreeMap<u64, Entry>,
    /// The highest sequence number inserted.
    pub max_seq: u64,
}

impl Index {
    /// Records that the blocks of `data` at `offset` are journaled in record `seq`.
    pub fn insert(&mut self, offset: u64, seq: u64, data: &Bytes) {
        let n = data.len() as u64 / BLOCK;
        for i in 0..n {
            let at = (i * BLOCK) as usize;
            let data = data.slice(at..at + BLOCK as usize);
            let e = self.blocks.entry(offset + i * BLOCK).or_insert(Entry {
                seq,
                data: data.clone(),
            });
            if e.seq <= seq {
                *e = Entry { seq, data };
            }
        }
        self.max_seq = self.max_seq.max(seq);
    }

    /// Whether any block of `[offset, offset + len)` is journaled.
    pub fn overlaps(&self, offset: u64, len: u64) -> bool {
        let first = offset / BLOCK * BLOCK;
        self.blocks.range(first..offset + len).next().is_some()
    }

    /// The journaled blocks that meet `[offset, offset + len)`.
    pub fn within(&self, offset: u64, len: u64) -> Vec<(u64, Bytes)> {
        let first = offset / BLOCK * BLOCK;
        self.blocks
            .range(first..offset + len)
            .map(|(&o, e)| (o, e.data.clone()))
            .collect()
    }

    /// Every journaled block, in offset order.
    pub fn all(&self) -> Vec<(u64, Bytes)> {
        self.blocks
            .iter()
            .map(|(&o, e)| (o, e.data.clone()))
            .collect()
    }

    /// Forgets the blocks whose newest record is `upto` or older (they are home).
    pub fn retire(&mut self, upto: u64) {
        self.blocks.retain(|_, e| e.seq > upto);
    }

    /// How many blocks are journaled.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }
}

/// Copies the parts of `blocks` (journaled blocks, as from [`Index::within`]) that fall in
/// `[offset, offset + buf.len())` over `buf`.
pub(super) fn overlay(buf: &mut [u8], offset: u64, blocks: &[(u64, Bytes)]) {
    let end = offset + buf.len() as u64;
    for (at, data) in blocks {
        let from = (*at).max(offset);
        let to = (at + BLOCK).min(end);
        if from >= to {
            continue;
        }
        buf[(from - offset) as usize..(to - offset) as usize]
            .copy_from_slice(&data[(from - at) as usize..(to - at) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(b: u8) -> Bytes {
        Bytes::from(vec![b; BLOCK as usize])
    }

    #[test]
    fn newer_records_win_and_retire_keeps_them() {
        let mut ix = Index::default();
        let two: Vec<u8> = [vec![1u8; 4096], vec![2u8; 4096]].concat();
        ix.insert(0, 1, &Bytes::from(two));
        ix.insert(BLOCK, 2, &block(9));
        // An older record arriving late does not replace a newer block.
        ix.insert(BLOCK, 1, &block(7));
        assert_eq!(ix.within(0, 2 * BLOCK)[1].1[0], 9);
        ix.retire(1);
        assert_eq!(ix.len(), 1);
        assert!(!ix.overlaps(0, BLOCK));
        assert!(ix.overlaps(BLOCK + 512, 512));
        assert_eq!(ix.max_seq, 2);
    }

    #[test]
    fn overlay_copies_only_the_overlapping_bytes() {
        let mut buf = vec![0u8; 6000];
        overlay(&mut buf, 2048, &[(0, block(1)), (4096, block(2))]);
        assert!(buf[..2048].iter().all(|&b| b == 1));
        assert!(buf[2048..6000].iter().all(|&b| b == 2));
    }
}
