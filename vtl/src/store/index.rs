//! The index of a cartridge's records: where logical object N (a data block or a
//! filemark) starts in the cartridge's stream, found in O(log n) without reading the tape.
//!
//! Records are grouped in extents keyed by their first object number: a run of filemarks,
//! a run of data records of one size (what backup software writes: fixed-size blocks), or
//! up to [`MIXED_MAX`] records of varying sizes. The filemarks' object numbers are kept
//! sorted besides, so SPACE over files and READ POSITION's file count are binary searches.

use super::record::HEADER_LEN;
use std::collections::BTreeMap;

/// The most records a mixed extent holds.
pub const MIXED_MAX: usize = 64;
/// A run of equal records shorter than this becomes a mixed extent when a different record
/// follows, so alternating sizes cannot make an extent per record.
const SHORT_RUN: u64 = 8;

/// The records of one extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Filemarks {
        count: u64,
    },
    /// `count` data records of `logical` bytes, each stored in `stored` bytes.
    Uniform {
        count: u64,
        logical: u32,
        stored: u32,
    },
    /// Data records of these (logical, stored) sizes.
    Mixed {
        lens: Vec<(u32, u32)>,
    },
}

/// Consecutive records starting at stream byte `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub body: Body,
}

/// One logical object as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    pub number: u64,
    /// Stream offset of its header.
    pub offset: u64,
    /// `None` for a filemark; `Some((logical, stored))` for a data block.
    pub data: Option<(u32, u32)>,
}

impl Extent {
    pub fn count(&self) -> u64 {
        match &self.body {
            Body::Filemarks { count } | Body::Uniform { count, .. } => *count,
            Body::Mixed { lens } => lens.len() as u64,
        }
    }

    /// Stream bytes the extent covers.
    pub fn bytes(&self) -> u64 {
        match &self.body {
            Body::Filemarks { count } => count * HEADER_LEN,
            Body::Uniform { count, stored, .. } => count * (HEADER_LEN + u64::from(*stored)),
            Body::Mixed { lens } => lens.iter().map(|l| HEADER_LEN + u64::from(l.1)).sum(),
        }
    }

    /// Logical and stored data bytes of its first `k` records.
    fn data_bytes(&self, k: u64) -> (u64, u64) {
        match &self.body {
            Body::Filemarks { .. } => (0, 0),
            Body::Uniform {
                logical, stored, ..
            } => (k * u64::from(*logical), k * u64::from(*stored)),
            Body::Mixed { lens } => lens
                .iter()
                .take(k as usize)
                .fold((0, 0), |a, l| (a.0 + u64::from(l.0), a.1 + u64::from(l.1))),
        }
    }

    /// Record `k` of the extent (k < count), which starts at object `first`.
    fn object(&self, first: u64, k: u64) -> Object {
        let number = first + k;
        match &self.body {
            Body::Filemarks { .. } => Object {
                number,
                offset: self.offset + k * HEADER_LEN,
                data: None,
            },
            Body::Uniform {
                logical, stored, ..
            } => Object {
                number,
                offset: self.offset + k * (HEADER_LEN + u64::from(*stored)),
                data: Some((*logical, *stored)),
            },
            Body::Mixed { lens } => {
                let before: u64 = lens
                    .iter()
                    .take(k as usize)
                    .map(|l| HEADER_LEN + u64::from(l.1))
                    .sum();
                Object {
                    number,
                    offset: self.offset + before,
                    data: lens.get(k as usize).copied(),
                }
            }
        }
    }

    /// Keeps the first `k` records.
    fn keep(&mut self, k: u64) {
        match &mut self.body {
            Body::Filemarks { count } | Body::Uniform { count, .. } => *count = k,
            Body::Mixed { lens } => lens.truncate(k as usize),
        }
    }

    /// Encodes the extent as a catalog value (see `vtl/FORMAT.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.offset.to_be_bytes().to_vec();
        match &self.body {
            Body::Filemarks { count } => {
                v.push(1);
                v.extend_from_slice(&count.to_be_bytes());
            }
            Body::Uniform {
                count,
                logical,
                stored,
            } => {
                v.push(2);
                v.extend_from_slice(&count.to_be_bytes());
                v.extend_from_slice(&logical.to_be_bytes());
                v.extend_from_slice(&stored.to_be_bytes());
            }
            Body::Mixed { lens } => {
                v.push(3);
                v.extend_from_slice(&(lens.len() as u16).to_be_bytes());
                for (l, s) in lens {
                    v.extend_from_slice(&l.to_be_bytes());
                    v.extend_from_slice(&s.to_be_bytes());
                }
            }
        }
        v
    }

    /// Decodes a catalog value; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Extent> {
        let u64_at = |at: usize| Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?));
        let offset = u64_at(0)?;
        let body = match *b.get(8)? {
            1 if b.len() == 17 => Body::Filemarks { count: u64_at(9)? },
            2 if b.len() == 25 => Body::Uniform {
                count: u64_at(9)?,
                logical: u32_at(17)?,
                stored: u32_at(21)?,
            },
            3 => {
                let n = usize::from(u16::from_be_bytes(b.get(9..11)?.try_into().ok()?));
                if n > MIXED_MAX || b.len() != 11 + 8 * n {
                    return None;
                }
                let lens = (0..n)
                    .map(|i| Some((u32_at(11 + 8 * i)?, u32_at(15 + 8 * i)?)))
                    .collect::<Option<Vec<_>>>()?;
                Body::Mixed { lens }
            }
            _ => return None,
        };
        let e = Extent { offset, body };
        (e.count() > 0).then_some(e)
    }
}

/// The index of one cartridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    extents: BTreeMap<u64, Extent>,
    filemarks: Vec<u64>,
    objects: u64,
    end: u64,
    logical_bytes: u64,
    stored_bytes: u64,
    /// The first extent changed since [`Index::take_dirty`].
    dirty_from: Option<u64>,
}

impl Index {
    /// Rebuilds the index from its extents (in object order). `Err` names what does not
    /// fit (a gap, an overlap).
    pub fn from_extents(list: Vec<(u64, Extent)>) -> Result<Index, String> {
        let mut ix = Index::default();
        for (first, e) in list {
            if first != ix.objects || e.offset != ix.end {
                return Err(format!(
                    "extent at object {first} (byte {}) does not follow object {} (byte {})",
                    e.offset, ix.objects, ix.end
                ));
            }
            ix.account(first, &e);
            ix.extents.insert(first, e);
        }
        Ok(ix)
    }

    fn account(&mut self, first: u64, e: &Extent) {
        if let Body::Filemarks { count } = e.body {
            self.filemarks.extend(first..first + count);
        }
        let (l, s) = e.data_bytes(e.count());
        self.logical_bytes += l;
        self.stored_bytes += s;
        self.objects = first + e.count();
        self.end = e.offset + e.bytes();
    }

    /// Number of logical objects (the end of data).
    pub fn objects(&self) -> u64 {
        self.objects
    }
    /// Stream bytes used.
    pub fn end(&self) -> u64 {
        self.end
    }
    /// Data bytes as written by initiators, and as stored.
    pub fn data_bytes(&self) -> (u64, u64) {
        (self.logical_bytes, self.stored_bytes)
    }
    /// Number of extents.
    pub fn extent_count(&self) -> usize {
        self.extents.len()
    }

    /// Object `n`, or `None` at or past the end of data.
    pub fn get(&self, n: u64) -> Option<Object> {
        let (first, e) = self.extents.range(..=n).next_back()?;
        let k = n - first;
        (k < e.count()).then(|| e.object(*first, k))
    }

    /// The first filemark at or after object `from`.
    pub fn next_filemark(&self, from: u64) -> Option<u64> {
        let i = self.filemarks.partition_point(|&f| f < from);
        self.filemarks.get(i).copied()
    }

    /// The last filemark before object `before`.
    pub fn prev_filemark(&self, before: u64) -> Option<u64> {
        let i = self.filemarks.partition_point(|&f| f < before);
        i.checked_sub(1)
            .and_then(|i| self.filemarks.get(i).copied())
    }

    /// How many filemarks lie before object `n`.
    pub fn filemarks_before(&self, n: u64) -> u64 {
        self.filemarks.partition_point(|&f| f < n) as u64
    }

    /// The `k`-th filemark (0-based) counting from the first at or after `from`.
    pub fn nth_filemark_from(&self, from: u64, k: u64) -> Option<u64> {
        let i = self.filemarks.partition_point(|&f| f < from) as u64 + k;
        self.filemarks.get(usize::try_from(i).ok()?).copied()
    }

    /// The `k`-th filemark (0-based) counting back from the last before `before`.
    pub fn nth_filemark_back(&self, before: u64, k: u64) -> Option<u64> {
        let i = (self.filemarks.partition_point(|&f| f < before) as u64).checked_sub(k + 1)?;
        self.filemarks.get(usize::try_from(i).ok()?).copied()
    }

    fn touch(&mut self, first: u64) {
        self.dirty_from = Some(self.dirty_from.map_or(first, |d| d.min(first)));
    }

    /// Appends a data record; returns its object number and stream offset.
    pub fn push_data(&mut self, logical: u32, stored: u32) -> Object {
        let number = self.objects;
        let offset = self.end;
        let last = self.extents.iter_mut().next_back();
        let merged = match last {
            Some((&first, e)) => {
                let fits = match &mut e.body {
                    Body::Uniform {
                        count,
                        logical: l,
                        stored: s,
                    } if *l == logical && *s == stored => {
                        *count += 1;
                        true
                    }
                    Body::Uniform {
                        count,
                        logical: l,
                        stored: s,
                    } if *count < SHORT_RUN => {
                        let mut lens = vec![(*l, *s); *count as usize];
                        lens.push((logical, stored));
                        e.body = Body::Mixed { lens };
                        true
                    }
                    Body::Mixed { lens } if lens.len() < MIXED_MAX => {
                        lens.push((logical, stored));
                        true
                    }
                    _ => false,
                };
                fits.then_some(first)
            }
            None => None,
        };
        let first = merged.unwrap_or_else(|| {
            self.extents.insert(
                number,
                Extent {
                    offset,
                    body: Body::Uniform {
                        count: 1,
                        logical,
                        stored,
                    },
                },
            );
            number
        });
        self.touch(first);
        self.objects += 1;
        self.end += HEADER_LEN + u64::from(stored);
        self.logical_bytes += u64::from(logical);
        self.stored_bytes += u64::from(stored);
        Object {
            number,
            offset,
            data: Some((logical, stored)),
        }
    }

    /// Appends `count` filemarks; returns the stream offset of the first.
    pub fn push_filemarks(&mut self, count: u64) -> u64 {
        let offset = self.end;
        if count == 0 {
            return offset;
        }
        let first = match self.extents.iter_mut().next_back() {
            Some((&first, e)) => match &mut e.body {
                Body::Filemarks { count: c } => {
                    *c += count;
                    Some(first)
                }
                _ => None,
            },
            None => None,
        };
        let first = first.unwrap_or_else(|| {
            self.extents.insert(
                self.objects,
                Extent {
                    offset,
                    body: Body::Filemarks { count },
                },
            );
            self.objects
        });
        self.touch(first);
        self.filemarks.extend(self.objects..self.objects + count);
        self.objects += count;
        self.end += count * HEADER_LEN;
        offset
    }

    /// Forgets objects `n..` (the new end of data is `n`).
    pub fn truncate(&mut self, n: u64) {
        if n >= self.objects {
            return;
        }
        let doomed: Vec<u64> = self.extents.range(n..).map(|(k, _)| *k).collect();
        for k in doomed {
            if let Some(e) = self.extents.remove(&k) {
                let (l, s) = e.data_bytes(e.count());
                self.logical_bytes -= l;
                self.stored_bytes -= s;
            }
        }
        let mut end = self
            .extents
            .values()
            .next_back()
            .map_or(0, |e| e.offset + e.bytes());
        if let Some((&first, e)) = self.extents.iter_mut().next_back() {
            let total = e.count();
            if first + total > n {
                let keep = n - first;
                let (l0, s0) = e.data_bytes(total);
                e.keep(keep);
                let (l1, s1) = e.data_bytes(keep);
                self.logical_bytes -= l0 - l1;
                self.stored_bytes -= s0 - s1;
                end = e.offset + e.bytes();
                self.touch(first);
            }
        }
        self.filemarks
            .truncate(self.filemarks.partition_point(|&f| f < n));
        self.objects = n;
        self.end = end;
        self.dirty_from = Some(self.dirty_from.map_or(n, |d| d.min(n)));
    }

    /// The extents changed since the last call (first object, extent), to be saved; the
    /// index is clean afterwards.
    pub fn take_dirty(&mut self) -> Vec<(u64, Extent)> {
        let Some(from) = self.dirty_from.take() else {
            return Vec::new();
        };
        let start = self
            .extents
            .range(..=from)
            .next_back()
            .map_or(from, |(k, _)| *k);
        self.extents
            .range(start..)
            .map(|(k, e)| (*k, e.clone()))
            .collect()
    }

    /// Every extent, in order.
    pub fn extents(&self) -> impl Iterator<Item = (&u64, &Extent)> {
        self.extents.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The simple model: a list of objects.
    fn model_offsets(objs: &[Option<(u32, u32)>]) -> Vec<u64> {
        let mut off = 0;
        objs.iter()
            .map(|o| {
                let at = off;
                off += HEADER_LEN + o.map_or(0, |d| u64::from(d.1));
                at
            })
            .collect()
    }

    fn build(objs: &[Option<(u32, u32)>]) -> Index {
        let mut ix = Index::default();
        for o in objs {
            match o {
                Some((l, s)) => {
                    ix.push_data(*l, *s);
                }
                None => {
                    ix.push_filemarks(1);
                }
            }
        }
        ix
    }

    fn object() -> impl Strategy<Value = Option<(u32, u32)>> {
        prop_oneof![
            1 => Just(None),
            3 => Just(Some((512, 512))),
            2 => (1u32..5, 1u32..5).prop_map(|(a, b)| Some((a * 100, b * 90))),
        ]
    }

    proptest! {
        #[test]
        fn the_index_agrees_with_a_list_of_objects(
            objs in proptest::collection::vec(object(), 0..300),
            cut in 0usize..320,
        ) {
            let mut ix = build(&objs);
            let offsets = model_offsets(&objs);
            for (n, o) in objs.iter().enumerate() {
                let got = ix.get(n as u64).expect("object within the end of data");
                prop_assert_eq!(got.offset, offsets[n]);
                prop_assert_eq!(got.data, *o);
            }
            prop_assert!(ix.get(objs.len() as u64).is_none());
            let fms: Vec<u64> = (0..objs.len() as u64).filter(|&n| objs[n as usize].is_none()).collect();
            for p in 0..=objs.len() as u64 {
                prop_assert_eq!(ix.next_filemark(p), fms.iter().copied().find(|&f| f >= p));
                prop_assert_eq!(ix.prev_filemark(p), fms.iter().copied().rfind(|&f| f < p));
            }
            // Saved and loaded, then truncated: the same as building the shorter list.
            let saved: Vec<(u64, Extent)> =
                ix.extents().map(|(k, e)| (*k, Extent::decode(&e.encode()).expect("decodes"))).collect();
            prop_assert_eq!(Index::from_extents(saved).map(|i| (i.objects(), i.end(), i.data_bytes())),
                Ok((ix.objects(), ix.end(), ix.data_bytes())));
            let cut = cut.min(objs.len());
            ix.truncate(cut as u64);
            let short = build(&objs[..cut]);
            prop_assert_eq!(ix.objects(), short.objects());
            prop_assert_eq!(ix.end(), short.end());
            prop_assert_eq!(ix.data_bytes(), short.data_bytes());
            for n in 0..cut as u64 {
                prop_assert_eq!(ix.get(n), short.get(n));
            }
            prop_assert_eq!(ix.next_filemark(0), short.next_filemark(0));
        }

        #[test]
        fn decoding_any_value_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Extent::decode(&b);
        }
    }

    #[test]
    fn equal_blocks_make_one_extent_and_alternating_sizes_stay_bounded() {
        let mut ix = Index::default();
        for _ in 0..10_000 {
            ix.push_data(65536, 65536);
        }
        assert_eq!(ix.extent_count(), 1);
        let mut ix = Index::default();
        for i in 0..6400u32 {
            ix.push_data(100 + i % 2, 100 + i % 2);
        }
        assert_eq!(ix.extent_count(), 100);
    }

    #[test]
    fn gaps_in_saved_extents_are_refused() {
        let a = Extent {
            offset: 0,
            body: Body::Filemarks { count: 2 },
        };
        let b = Extent {
            offset: 64,
            body: Body::Filemarks { count: 1 },
        };
        assert!(Index::from_extents(vec![(0, a.clone()), (2, b.clone())]).is_ok());
        assert!(Index::from_extents(vec![(0, a), (3, b)]).is_err());
    }
}
