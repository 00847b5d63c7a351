//! Chunks: the pieces a data record is cut into by content (FastCDC, so an insertion
//! early in a backup moves few boundaries), each named by the SHA-256 of its bytes. A
//! record kept deduplicated stores a list of [`ChunkRef`]s in the stream; the catalog has
//! one [`Entry`] per distinct chunk (where its bytes are, how many references it has).

use sha2::{Digest, Sha256};

/// A chunk's name: SHA-256 of its bytes as the initiator wrote them.
pub type Hash = [u8; 32];

/// Smallest, average and largest chunk, in bytes (a record shorter than the smallest is
/// one chunk).
pub const MIN_CHUNK: u32 = 16 << 10;
pub const AVG_CHUNK: u32 = 64 << 10;
pub const MAX_CHUNK: u32 = 256 << 10;

/// Bytes of an encoded [`ChunkRef`].
pub const REF_LEN: usize = 56;
/// Bytes of an encoded [`Entry`].
const ENTRY_LEN: usize = 29;

/// Where a chunk's bytes are on the store volume and what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// Byte offset on the store volume.
    pub at: u64,
    /// Bytes stored there.
    pub stored: u32,
    /// Bytes of the chunk (after decompression).
    pub logical: u32,
    /// CRC-32C of the stored bytes.
    pub crc: u32,
    /// The stored bytes are LZ4 (block format).
    pub compressed: bool,
}

impl Loc {
    fn encode_into(&self, b: &mut [u8]) {
        b[0..8].copy_from_slice(&self.at.to_le_bytes());
        b[8..12].copy_from_slice(&self.stored.to_le_bytes());
        b[12..16].copy_from_slice(&self.logical.to_le_bytes());
        b[16..20].copy_from_slice(&self.crc.to_le_bytes());
        b[20] = u8::from(self.compressed);
    }

    fn decode(b: &[u8]) -> Option<(Loc, u8)> {
        let le32 = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
        Some((
            Loc {
                at: u64::from_le_bytes(b.get(0..8)?.try_into().ok()?),
                stored: le32(8)?,
                logical: le32(12)?,
                crc: le32(16)?,
                compressed: b.get(20)? & 1 != 0,
            },
            *b.get(20)?,
        ))
    }

    /// The 1 MiB regions of the volume the stored bytes touch.
    pub fn regions(&self) -> std::ops::RangeInclusive<u64> {
        let last = self.at + u64::from(self.stored.max(1)) - 1;
        (self.at >> 20)..=(last >> 20)
    }
}

/// One chunk of a deduplicated record, as its chunk list in the stream holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    pub hash: Hash,
    pub loc: Loc,
    /// The chunk was already stored when this record was written (its bytes cost
    /// nothing): counted as this cartridge's dedup saving.
    pub dup: bool,
}

impl ChunkRef {
    /// `hash` (32) then the location (21: offset, stored, logical, CRC, flags with bit 0
    /// compressed and bit 1 dup), then 3 zero bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; REF_LEN];
        b[..32].copy_from_slice(&self.hash);
        self.loc.encode_into(&mut b[32..53]);
        b[52] |= u8::from(self.dup) << 1;
        out.extend_from_slice(&b);
    }

    /// Decodes a chunk list; `None` if it is not one (a length not a multiple of
    /// [`REF_LEN`], unknown flags, a chunk longer than [`MAX_CHUNK`]).
    pub fn decode_list(b: &[u8]) -> Option<Vec<ChunkRef>> {
        if b.len() % REF_LEN != 0 {
            return None;
        }
        b.chunks(REF_LEN)
            .map(|r| {
                let (loc, flags) = Loc::decode(&r[32..53])?;
                if flags & !3 != 0 || r[53..] != [0, 0, 0] || loc.logical > MAX_CHUNK {
                    return None;
                }
                Some(ChunkRef {
                    hash: r[..32].try_into().ok()?,
                    loc,
                    dup: flags & 2 != 0,
                })
            })
            .collect()
    }
}

/// A distinct chunk in the catalog: where it is, and how many records refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub loc: Loc,
    pub refs: u64,
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; ENTRY_LEN];
        self.loc.encode_into(&mut b[..21]);
        b[21..29].copy_from_slice(&self.refs.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Entry> {
        if b.len() != ENTRY_LEN {
            return None;
        }
        let (loc, flags) = Loc::decode(&b[..21])?;
        (flags & !1 == 0).then_some(())?;
        Some(Entry {
            loc,
            refs: u64::from_le_bytes(b[21..29].try_into().ok()?),
        })
    }
}

/// Cuts `data` into content-defined chunks.
pub fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    fastcdc::v2020::FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
        .map(move |c| &data[c.offset..c.offset + c.length])
}

/// A chunk's name.
pub fn hash(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// Bytes that do not repeat (xorshift), for tests whose data must not deduplicate.
#[cfg(test)]
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ChunkRef {
        ChunkRef {
            hash: [7; 32],
            loc: Loc {
                at: 5 << 20,
                stored: 1000,
                logical: 4096,
                crc: 0xDEAD_BEEF,
                compressed: true,
            },
            dup: true,
        }
    }

    #[test]
    fn refs_and_entries_round_trip() {
        let mut b = Vec::new();
        sample().encode_into(&mut b);
        sample().encode_into(&mut b);
        assert_eq!(b.len(), 2 * REF_LEN);
        assert_eq!(ChunkRef::decode_list(&b), Some(vec![sample(); 2]));
        assert_eq!(ChunkRef::decode_list(&b[1..]), None);
        b[52] |= 4;
        assert_eq!(ChunkRef::decode_list(&b), None);
        let e = Entry {
            loc: sample().loc,
            refs: 3,
        };
        assert_eq!(Entry::decode(&e.encode()), Some(e));
        assert_eq!(Entry::decode(&e.encode()[1..]), None);
    }

    #[test]
    fn chunks_cover_the_record_and_follow_content() {
        let data = noise(1, 1_000_000);
        let parts: Vec<&[u8]> = split(&data).collect();
        assert_eq!(parts.concat(), data);
        assert!(parts.len() > 3, "{} chunks", parts.len());
        assert!(parts.iter().all(|p| p.len() <= MAX_CHUNK as usize));
        // Bytes inserted at the front move the first boundary only: later chunks repeat.
        let mut shifted = b"a few more bytes".to_vec();
        shifted.extend_from_slice(&data);
        let again: std::collections::HashSet<Hash> = split(&shifted).map(hash).collect();
        let same = parts.iter().filter(|p| again.contains(&hash(p))).count();
        assert!(same + 2 >= parts.len(), "{same} of {}", parts.len());
        assert_eq!(split(&[]).count(), 0);
    }

    #[test]
    fn regions_are_the_mebibytes_touched() {
        let mut l = sample().loc;
        assert_eq!(l.regions(), 5..=5);
        l.at = (6 << 20) - 10;
        assert_eq!(l.regions(), 5..=6);
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ChunkRef::decode_list(&b);
            let _ = Entry::decode(&b);
        }
    }
}
