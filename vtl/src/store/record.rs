//! The header that starts every record of a cartridge's stream (see `vtl/FORMAT.md`): 32
//! bytes, little-endian, checked on every read so a record is never returned from the
//! wrong place.
//!
//! ```text
//!  0  magic "VTR1"          16 logical length (u32)
//!  4  kind (1 data, 2 filemark)   20 stored length (u32, bytes that follow)
//!  5  flags (bit 0 compressed,    24 CRC-32C of the stored bytes
//!     bit 1 encrypted, bit 2 chunk list)
//!  6  reserved (0)                28 CRC-32C of bytes 0..28
//!  8  object number (u64)
//! ```

/// Bytes of a record header.
pub const HEADER_LEN: u64 = 32;
const MAGIC: &[u8; 4] = b"VTR1";

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Data,
    Filemark,
}

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: RecordKind,
    pub compressed: bool,
    /// The stored bytes are sealed (AES-256-GCM, see [`super::crypt`]).
    pub encrypted: bool,
    /// The stored bytes are the record's chunk list (deduplicated, see
    /// [`super::dedup::chunk`]).
    pub chunked: bool,
    /// The record's logical object number on the tape.
    pub object: u64,
    /// Bytes the initiator wrote.
    pub logical_len: u32,
    /// Bytes stored after the header.
    pub stored_len: u32,
    /// CRC-32C of the stored bytes.
    pub crc: u32,
}

impl Header {
    /// The header of a data record holding `stored`.
    pub fn data(
        object: u64,
        logical_len: u32,
        stored: &[u8],
        compressed: bool,
        encrypted: bool,
    ) -> Header {
        Header {
            kind: RecordKind::Data,
            compressed,
            encrypted,
            chunked: false,
            object,
            logical_len,
            stored_len: stored.len() as u32,
            crc: crc32c::crc32c(stored),
        }
    }

    /// The header of a deduplicated data record whose stored bytes are chunk list `refs`.
    pub fn chunk_list(object: u64, logical_len: u32, refs: &[u8]) -> Header {
        Header {
            chunked: true,
            ..Header::data(object, logical_len, refs, false, false)
        }
    }

    /// The header of a filemark.
    pub fn filemark(object: u64) -> Header {
        Header {
            kind: RecordKind::Filemark,
            compressed: false,
            encrypted: false,
            chunked: false,
            object,
            logical_len: 0,
            stored_len: 0,
            crc: crc32c::crc32c(&[]),
        }
    }

    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..4].copy_from_slice(MAGIC);
        h[4] = match self.kind {
            RecordKind::Data => 1,
            RecordKind::Filemark => 2,
        };
        h[5] = self.flags();
        h[8..16].copy_from_slice(&self.object.to_le_bytes());
        h[16..20].copy_from_slice(&self.logical_len.to_le_bytes());
        h[20..24].copy_from_slice(&self.stored_len.to_le_bytes());
        h[24..28].copy_from_slice(&self.crc.to_le_bytes());
        let sum = crc32c::crc32c(&h[..28]);
        h[28..32].copy_from_slice(&sum.to_le_bytes());
        h
    }

    /// The flags byte: bit 0 compressed, bit 1 encrypted, bit 2 chunk list.
    pub fn flags(&self) -> u8 {
        u8::from(self.compressed) | (u8::from(self.encrypted) << 1) | (u8::from(self.chunked) << 2)
    }

    /// Decodes a header; `None` if it is not one (wrong magic, kind, checksum, or a flag
    /// this version does not know).
    pub fn decode(b: &[u8]) -> Option<Header> {
        let b = b.get(..HEADER_LEN as usize)?;
        let le32 = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        if &b[0..4] != MAGIC || le32(28)? != crc32c::crc32c(&b[..28]) {
            return None;
        }
        let kind = match b[4] {
            1 => RecordKind::Data,
            2 => RecordKind::Filemark,
            _ => return None,
        };
        // A chunk list is neither compressed nor sealed as a whole (its chunks may be).
        if b[5] & !0x07 != 0 || (b[5] & 4 != 0 && b[5] & 3 != 0) {
            return None;
        }
        Some(Header {
            kind,
            compressed: b[5] & 1 != 0,
            encrypted: b[5] & 2 != 0,
            chunked: b[5] & 4 != 0,
            object: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            logical_len: le32(16)?,
            stored_len: le32(20)?,
            crc: le32(24)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn headers_round_trip_and_damage_is_seen() {
        let h = Header::data(7, 10, b"0123456789", false, false);
        let mut b = h.encode();
        assert_eq!(Header::decode(&b), Some(h));
        assert_eq!(
            Header::decode(&Header::filemark(3).encode()),
            Some(Header::filemark(3))
        );
        let e = Header::data(8, 10, b"sealed", true, true);
        assert_eq!(Header::decode(&e.encode()).map(|h| h.flags()), Some(3));
        let c = Header::chunk_list(9, 70_000, &[1; 56]);
        assert_eq!(Header::decode(&c.encode()), Some(c));
        assert_eq!(c.flags(), 4);
        b[9] ^= 1;
        assert_eq!(Header::decode(&b), None);
        assert_eq!(Header::decode(&b[..31]), None);
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Header::decode(&b);
        }
    }
}
