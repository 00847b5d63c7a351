//! One journal record: a write of whole 4 KiB blocks at an offset of the RAID set, with the
//! checksum ([`crate::integrity::sum`]) of every block, so that replay takes only blocks
//! that read back as they were written.
//!
//! ```text
//!  0      4         12          16              16+4n            16+4n+4096n
//!  │"VSJ1"│ offset  │ blocks n  │ n × sum (u32) │ n × 4096 bytes │
//! ```
//!
//! Integers are little-endian.

use crate::integrity::sum;
use vsa_blockdev::Bytes;

/// The journal's block: records hold whole blocks of this size, aligned to it.
pub const BLOCK: u64 = 4096;

const MAGIC: [u8; 4] = *b"VSJ1";
const HEAD: usize = 16;

/// Why stored bytes are not a record that can be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Too short, wrong magic or a length that does not match the block count.
    #[error("not a journal record: {0}")]
    Malformed(&'static str),
    /// A block does not match its checksum.
    #[error("block {block} of the record at byte {offset} does not match its checksum (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// The record's offset in the RAID set.
        offset: u64,
        /// The block's index in the record.
        block: usize,
        /// The checksum in the record.
        stored: u32,
        /// The checksum of the block as read.
        computed: u32,
    },
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the blocks go in the RAID set (a multiple of [`BLOCK`]).
    pub offset: u64,
    /// Whole blocks.
    pub data: Bytes,
}

/// Encodes a record of `data` (whole blocks) for `offset`.
pub fn encode(offset: u64, data: &[u8]) -> Vec<u8> {
    debug_assert!(data.len() as u64 % BLOCK == 0 && offset % BLOCK == 0);
    let n = data.len() / BLOCK as usize;
    let mut out = Vec::with_capacity(HEAD + 4 * n + data.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for block in data.chunks(BLOCK as usize) {
        out.extend_from_slice(&sum(block).to_le_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Decodes and checks a record read back from the log.
pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
    if bytes.len() < HEAD || bytes[..4] != MAGIC {
        return Err(RecordError::Malformed("no record header"));
    }
    let mut o = [0u8; 8];
    o.copy_from_slice(&bytes[4..12]);
    let offset = u64::from_le_bytes(o);
    let mut c = [0u8; 4];
    c.copy_from_slice(&bytes[12..16]);
    let n = u32::from_le_bytes(c) as usize;
    let want = n
        .checked_mul(4 + BLOCK as usize)
        .and_then(|b| b.checked_add(HEAD));
    if want != Some(bytes.len()) || n == 0 {
        return Err(RecordError::Malformed(
            "length does not match the block count",
        ));
    }
    if offset % BLOCK != 0 {
        return Err(RecordError::Malformed("offset not block-aligned"));
    }
    let sums = &bytes[HEAD..HEAD + 4 * n];
    let data = &bytes[HEAD + 4 * n..];
    for (block, (s, d)) in sums.chunks(4).zip(data.chunks(BLOCK as usize)).enumerate() {
        let stored = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let computed = sum(d);
        if stored != computed {
            return Err(RecordError::Checksum {
                offset,
                block,
                stored,
                computed,
            });
        }
    }
    Ok(Record {
        offset,
        data: Bytes::copy_from_slice(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_reads_back_and_a_flipped_bit_is_caught() {
        let data: Vec<u8> = (0..2 * BLOCK as usize).map(|i| (i * 7) as u8).collect();
        let mut enc = encode(3 * BLOCK, &data);
        let rec = decode(&enc).unwrap();
        assert_eq!(rec.offset, 3 * BLOCK);
        assert_eq!(&rec.data[..], &data[..]);
        let last = enc.len() - 1;
        enc[last] ^= 1;
        assert!(matches!(
            decode(&enc),
            Err(RecordError::Checksum { block: 1, .. })
        ));
    }

    #[test]
    fn short_or_mislabelled_bytes_are_not_records() {
        assert!(decode(b"").is_err());
        assert!(decode(b"VSJ1").is_err());
        let mut enc = encode(0, &[0u8; BLOCK as usize]);
        enc.pop();
        assert!(decode(&enc).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_header_over_a_real_record_never_panics(head in proptest::collection::vec(any::<u8>(), 16), n in 1usize..3) {
            let mut enc = encode(0, &vec![5u8; n * BLOCK as usize]);
            enc[..16].copy_from_slice(&head);
            let _ = decode(&enc);
        }
    }
}
