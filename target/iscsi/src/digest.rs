//! CRC32C header and data digests (RFC 7143 13.1, `HeaderDigest`/`DataDigest=CRC32C`).
//!
//! The digest is sent little-endian on the wire (the byte order iSCSI implementations use
//! for CRC32C, RFC 7143 appendix B.4).

/// CRC32C of `parts` as one run of bytes.
pub fn crc32c(parts: &[&[u8]]) -> u32 {
    parts.iter().fold(0, |crc, p| crc32c::crc32c_append(crc, p))
}

/// The 4 wire bytes of the digest of `parts`.
pub fn digest_bytes(parts: &[&[u8]]) -> [u8; 4] {
    crc32c(parts).to_le_bytes()
}

/// Padding needed after `len` bytes of data segment.
pub fn pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        // RFC 3720 B.4: 32 bytes of zeros and of 0xFF.
        assert_eq!(crc32c(&[&[0u8; 32]]), 0x8A91_36AA);
        assert_eq!(crc32c(&[&[0xFFu8; 32]]), 0x62A8_AB43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&[&inc]), 0x46DD_794E);
        assert_eq!(crc32c(&[&inc[..10], &inc[10..]]), 0x46DD_794E);
    }

    #[test]
    fn padding() {
        assert_eq!(pad_len(0), 0);
        assert_eq!(pad_len(1), 3);
        assert_eq!(pad_len(4), 0);
        assert_eq!(pad_len(7), 1);
    }
}
