//! Reading CDBs and parameter lists, writing data-in: the helpers every device server uses
//! (the disk here, a tape drive or a medium changer in another crate), so none of them
//! indexes a buffer that came from the network.
//!
//! - Field readers ([`byte`], [`be`], [`be16`], [`be24`], [`be32`], [`be64`]) never
//!   panic: bytes past the end of the buffer read as zero. A handler first rejects a CDB
//!   that is too short with [`need`] (or lets [`check`] do it from the opcode's group),
//!   then reads fields freely.
//! - [`put`] writes a big-endian field into a data-in buffer, ignoring bytes past its end.
//! - [`truncate`] and [`data_in`] cut data-in to the CDB's ALLOCATION LENGTH (SPC-4 4.2.5.6:
//!   the device server returns no more than that, and it is not an error to ask for less).
//! - [`cdb_len`] and [`check`]: the CDB length an opcode's group implies (SPC-4 4.2.5.1)
//!   and the CONTROL byte (SAM-5 5.2).
//! - The operation codes and service actions of the SPC-4 commands (SPC-4 table E.2),
//!   which every device type shares.
//!
//! ```
//! use vsa_scsi::cdb;
//!
//! // A READ POSITION (SSC-4) CDB that arrived with only 4 of its 10 bytes.
//! let short = [0x34, 0x06, 0x00, 0x00];
//! assert!(cdb::need(&short, 10).is_err());
//! assert_eq!(cdb::be16(&short, 7), 0); // no panic: missing bytes read as zero
//!
//! let mut data = vec![0u8; 20];
//! cdb::put(&mut data, 0, 0x1234u16.to_be_bytes());
//! assert_eq!(cdb::truncate(data, 4), vec![0x12, 0x34, 0, 0]);
//! ```

use crate::{Response, Sense};

/// TEST UNIT READY (SPC-4 6.47).
pub const TEST_UNIT_READY: u8 = 0x00;
/// REQUEST SENSE (SPC-4 6.39).
pub const REQUEST_SENSE: u8 = 0x03;
/// INQUIRY (SPC-4 6.6).
pub const INQUIRY: u8 = 0x12;
/// MODE SELECT(6) (SPC-4 6.13).
pub const MODE_SELECT_6: u8 = 0x15;
/// RESERVE(6) (SPC-2 7.21; obsolete in SPC-4 but still served).
pub const RESERVE_6: u8 = 0x16;
/// RELEASE(6) (SPC-2 7.17).
pub const RELEASE_6: u8 = 0x17;
/// MODE SENSE(6) (SPC-4 6.11).
pub const MODE_SENSE_6: u8 = 0x1A;
/// RECEIVE DIAGNOSTIC RESULTS (SPC-4 6.28).
pub const RECEIVE_DIAGNOSTIC_RESULTS: u8 = 0x1C;
/// SEND DIAGNOSTIC (SPC-4 6.42).
pub const SEND_DIAGNOSTIC: u8 = 0x1D;
/// PREVENT ALLOW MEDIUM REMOVAL: in SPC-3; since SPC-4 each removable-medium command set
/// defines it (SBC-4 5.13, and SSC-4 and SMC-3 for tape drives and medium changers).
pub const PREVENT_ALLOW: u8 = 0x1E;
/// WRITE BUFFER (SPC-4 6.49).
pub const WRITE_BUFFER: u8 = 0x3B;
/// READ BUFFER(10) (SPC-4 6.26).
pub const READ_BUFFER_10: u8 = 0x3C;
/// LOG SELECT (SPC-4 6.7).
pub const LOG_SELECT: u8 = 0x4C;
/// LOG SENSE (SPC-4 6.8).
pub const LOG_SENSE: u8 = 0x4D;
/// MODE SELECT(10) (SPC-4 6.14).
pub const MODE_SELECT_10: u8 = 0x55;
/// RESERVE(10) (SPC-2 7.22).
pub const RESERVE_10: u8 = 0x56;
/// RELEASE(10) (SPC-2 7.18).
pub const RELEASE_10: u8 = 0x57;
/// MODE SENSE(10) (SPC-4 6.12).
pub const MODE_SENSE_10: u8 = 0x5A;
/// PERSISTENT RESERVE IN (SPC-4 6.16).
pub const PERSISTENT_RESERVE_IN: u8 = 0x5E;
/// PERSISTENT RESERVE OUT (SPC-4 6.17).
pub const PERSISTENT_RESERVE_OUT: u8 = 0x5F;
/// The variable-length CDB (SPC-4 4.2.3): its length is 8 + ADDITIONAL CDB LENGTH.
pub const VARIABLE_LENGTH: u8 = 0x7F;
/// EXTENDED COPY (SPC-4 6.4); service action 00h is LID1.
pub const EXTENDED_COPY: u8 = 0x83;
/// RECEIVE COPY RESULTS (SPC-4 6.24), with service actions.
pub const RECEIVE_COPY_RESULTS: u8 = 0x84;
/// READ ATTRIBUTE (SPC-4 6.21; tape cartridges keep their MAM this way).
pub const READ_ATTRIBUTE: u8 = 0x8C;
/// WRITE ATTRIBUTE (SPC-4 6.48).
pub const WRITE_ATTRIBUTE: u8 = 0x8D;
/// REPORT LUNS (SPC-4 6.33).
pub const REPORT_LUNS: u8 = 0xA0;
/// SECURITY PROTOCOL IN (SPC-4 6.40).
pub const SECURITY_PROTOCOL_IN: u8 = 0xA2;
/// MAINTENANCE IN (SPC-4 6.33-6.36 service actions).
pub const MAINTENANCE_IN: u8 = 0xA3;
/// MAINTENANCE OUT (SPC-4 service actions).
pub const MAINTENANCE_OUT: u8 = 0xA4;
/// SECURITY PROTOCOL OUT (SPC-4 6.41).
pub const SECURITY_PROTOCOL_OUT: u8 = 0xB5;

/// MAINTENANCE IN service action REPORT TARGET PORT GROUPS (SPC-4 6.37).
pub const SA_REPORT_TARGET_PORT_GROUPS: u8 = 0x0A;
/// MAINTENANCE IN service action REPORT SUPPORTED OPERATION CODES (SPC-4 6.35).
pub const SA_REPORT_SUPPORTED_OPCODES: u8 = 0x0C;
/// MAINTENANCE IN service action REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.36).
pub const SA_REPORT_SUPPORTED_TMFS: u8 = 0x0D;

/// Fails with INVALID FIELD IN CDB unless the CDB has at least `len` bytes.
pub fn need(cdb: &[u8], len: usize) -> Result<(), Sense> {
    if cdb.len() < len {
        return Err(Sense::invalid_field_in_cdb(0, None));
    }
    Ok(())
}

/// The byte at `at`, or zero past the end.
pub fn byte(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// The `n`-byte big-endian number at `at` (`n` <= 8; more wraps the high bytes away);
/// missing bytes read as zero.
pub fn be(buf: &[u8], at: usize, n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| {
        (acc << 8) | u64::from(byte(buf, at.saturating_add(i)))
    })
}

/// A 16-bit big-endian field at `at`, zero-filled past the end.
pub fn be16(buf: &[u8], at: usize) -> u16 {
    be(buf, at, 2) as u16
}

/// A 24-bit big-endian field at `at` (SSC transfer lengths, block lengths in block
/// descriptors), zero-filled past the end.
pub fn be24(buf: &[u8], at: usize) -> u32 {
    be(buf, at, 3) as u32
}

/// A 32-bit big-endian field at `at`, zero-filled past the end.
pub fn be32(buf: &[u8], at: usize) -> u32 {
    be(buf, at, 4) as u32
}

/// A 64-bit big-endian field at `at`, zero-filled past the end.
pub fn be64(buf: &[u8], at: usize) -> u64 {
    be(buf, at, 8)
}

/// Writes `v` (big-endian bytes, e.g. `x.to_be_bytes()`) into `buf[at..at + N]`,
/// ignoring bytes past the end.
pub fn put<const N: usize>(buf: &mut [u8], at: usize, v: [u8; N]) {
    for (i, b) in v.into_iter().enumerate() {
        if let Some(slot) = buf.get_mut(at.saturating_add(i)) {
            *slot = b;
        }
    }
}

/// Cuts data-in to the allocation length.
pub fn truncate(mut data: Vec<u8>, alloc: usize) -> Vec<u8> {
    data.truncate(alloc);
    data
}

/// GOOD status with `data` cut to the allocation length.
pub fn data_in(data: Vec<u8>, alloc: usize) -> Response {
    Response::with_data(truncate(data, alloc))
}

/// Copies `s` into a fixed-width, space-padded ASCII field (SPC-4 4.3.1: printable ASCII
/// only; anything else becomes a space), as INQUIRY's identification strings, a tape's
/// medium serial or a changer's volume tag want.
pub fn ascii_field(s: &str, width: usize) -> Vec<u8> {
    let mut out: Vec<u8> = s
        .bytes()
        .take(width)
        .map(|c| if (0x20..=0x7E).contains(&c) { c } else { b' ' })
        .collect();
    out.resize(width, b' ');
    out
}

/// The CDB length an opcode implies, from its group code (SPC-4 4.2.5.1); `None` for the
/// reserved and vendor-specific groups, whose length only the device knows.
pub fn cdb_len(cdb: &[u8]) -> Option<usize> {
    let op = *cdb.first()?;
    match op >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        // Group 3: reserved, except the variable-length CDB (8 + ADDITIONAL CDB LENGTH).
        3 if op == VARIABLE_LENGTH => Some(8 + usize::from(byte(cdb, 7))),
        3 => None,
        4 => Some(16),
        5 => Some(12),
        _ => None,
    }
}

/// Byte offset of the CONTROL byte.
fn control_index(cdb: &[u8]) -> Option<usize> {
    if cdb.first() == Some(&VARIABLE_LENGTH) {
        return Some(1);
    }
    cdb_len(cdb).map(|n| n - 1)
}

/// Checks that the CDB is as long as its opcode says and that the CONTROL byte asks for
/// nothing this crate lacks: NACA (no ACA support, NormACA = 0) and LINK (linked commands
/// are obsolete) both get INVALID FIELD IN CDB; an empty CDB is an INVALID COMMAND
/// OPERATION CODE. [`crate::spc::Unit`] runs it before any handler.
pub fn check(cdb: &[u8]) -> Result<(), Sense> {
    if cdb.is_empty() {
        return Err(Sense::invalid_opcode());
    }
    if let Some(n) = cdb_len(cdb) {
        need(cdb, n)?;
    }
    if let Some(i) = control_index(cdb) {
        let control = byte(cdb, i);
        let at = u16::try_from(i).unwrap_or(u16::MAX);
        if control & 0x04 != 0 {
            return Err(Sense::invalid_field_in_cdb(at, Some(2)));
        }
        if control & 0x01 != 0 {
            return Err(Sense::invalid_field_in_cdb(at, Some(0)));
        }
    }
    Ok(())
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

    #[test]
    fn group_lengths() {
        assert_eq!(cdb_len(&[0x12]), Some(6));
        assert_eq!(cdb_len(&[0x28]), Some(10));
        assert_eq!(cdb_len(&[0x5A]), Some(10));
        assert_eq!(cdb_len(&[0x88]), Some(16));
        assert_eq!(cdb_len(&[0xA3]), Some(12));
        assert_eq!(cdb_len(&[0xC0]), None);
        assert_eq!(cdb_len(&[0x7F, 0, 0, 0, 0, 0, 0, 0x18]), Some(32));
    }

    #[test]
    fn control_byte_naca_and_link_are_rejected() {
        assert!(check(&[0x00, 0, 0, 0, 0, 0]).is_ok());
        let e = check(&[0x00, 0, 0, 0, 0, 0x04]).unwrap_err();
        assert_eq!((e.asc, e.ascq), (0x24, 0));
        assert_eq!(e.field.map(|f| f.byte), Some(5));
        assert!(check(&[0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]).is_err());
        // Bytes past the opcode's length (the rest of iSCSI's 16-byte field) are ignored.
        assert!(check(&[0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0]).is_ok());
        assert!(check(&[0x28, 0, 0]).is_err());
        assert_eq!(check(&[]).unwrap_err().asc, 0x20);
    }

    #[test]
    fn readers_are_bounded() {
        assert_eq!(be32(&[1, 2], 0), 0x0102_0000);
        assert_eq!(be64(&[], 5), 0);
        assert_eq!(ascii_field("ab\u{7f}", 4), b"ab  ".to_vec());
        assert_eq!(be24(&[1, 2, 3, 4], 1), 0x0002_0304);
        assert_eq!(be64(&[0xFF; 4], usize::MAX - 1), 0);
        let mut out = [0u8; 2];
        put(&mut out, usize::MAX, [1, 2]);
        assert_eq!(out, [0, 0]);
        assert_eq!(data_in(vec![1, 2, 3], 2).data, vec![1, 2]);
    }
}
