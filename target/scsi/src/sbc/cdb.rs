//! Reading CDB and parameter-list fields without panicking: every accessor bounds-checks
//! and reads missing bytes as zero, after [`need`] has rejected CDBs that are too short.

use crate::Sense;

/// Fails with INVALID FIELD IN CDB unless the CDB has at least `len` bytes.
pub(crate) fn need(cdb: &[u8], len: usize) -> Result<(), Sense> {
    if cdb.len() < len {
        return Err(Sense::invalid_field_in_cdb(0, None));
    }
    Ok(())
}

/// The byte at `at`, or zero.
pub(crate) fn byte(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// The `n`-byte big-endian number at `at` (n <= 8); missing bytes read as zero.
pub(crate) fn be(buf: &[u8], at: usize, n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| (acc << 8) | u64::from(byte(buf, at + i)))
}

/// A 16-bit big-endian field.
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    be(buf, at, 2) as u16
}

/// A 32-bit big-endian field.
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    be(buf, at, 4) as u32
}

/// A 64-bit big-endian field.
pub(crate) fn be64(buf: &[u8], at: usize) -> u64 {
    be(buf, at, 8)
}

/// Writes `v` big-endian into `buf[at..at + N]`, ignoring bytes past the end.
pub(crate) fn put<const N: usize>(buf: &mut [u8], at: usize, v: [u8; N]) {
    for (i, b) in v.into_iter().enumerate() {
        if let Some(slot) = buf.get_mut(at + i) {
            *slot = b;
        }
    }
}

/// Cuts data-in to the allocation length.
pub(crate) fn truncate(mut data: Vec<u8>, alloc: usize) -> Vec<u8> {
    data.truncate(alloc);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_big_endian_and_zero_past_the_end() {
        let b = [0x12, 0x34, 0x56, 0x78, 0x9A];
        assert_eq!(be16(&b, 0), 0x1234);
        assert_eq!(be32(&b, 1), 0x3456_789A);
        assert_eq!(be32(&b, 3), 0x789A_0000);
        assert_eq!(be64(&b, 10), 0);
        assert!(need(&b, 6).is_err());
        let mut out = [0u8; 3];
        put(&mut out, 1, 0xABCDu16.to_be_bytes());
        put(&mut out, 2, 0xFFFF_FFFFu32.to_be_bytes());
        assert_eq!(out, [0, 0xAB, 0xFF]);
    }
}
