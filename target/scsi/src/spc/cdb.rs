//! CDB helpers shared by the SPC handlers: operation codes, the CDB length each opcode
//! group implies (SPC-4 4.2.5), the control byte check (SAM-5 5.2), big-endian field
//! readers that never index out of bounds, and allocation-length truncation.

use crate::{Response, Sense};

pub(crate) const TEST_UNIT_READY: u8 = 0x00;
pub(crate) const REQUEST_SENSE: u8 = 0x03;
pub(crate) const INQUIRY: u8 = 0x12;
pub(crate) const MODE_SELECT_6: u8 = 0x15;
pub(crate) const RESERVE_6: u8 = 0x16;
pub(crate) const RELEASE_6: u8 = 0x17;
pub(crate) const MODE_SENSE_6: u8 = 0x1A;
pub(crate) const PREVENT_ALLOW: u8 = 0x1E;
pub(crate) const LOG_SENSE: u8 = 0x4D;
pub(crate) const MODE_SELECT_10: u8 = 0x55;
pub(crate) const RESERVE_10: u8 = 0x56;
pub(crate) const RELEASE_10: u8 = 0x57;
pub(crate) const MODE_SENSE_10: u8 = 0x5A;
pub(crate) const PERSISTENT_RESERVE_IN: u8 = 0x5E;
pub(crate) const PERSISTENT_RESERVE_OUT: u8 = 0x5F;
pub(crate) const VARIABLE_LENGTH: u8 = 0x7F;
pub(crate) const REPORT_LUNS: u8 = 0xA0;
pub(crate) const MAINTENANCE_IN: u8 = 0xA3;

/// MAINTENANCE IN service actions.
pub(crate) const SA_REPORT_TARGET_PORT_GROUPS: u8 = 0x0A;
pub(crate) const SA_REPORT_SUPPORTED_OPCODES: u8 = 0x0C;
pub(crate) const SA_REPORT_SUPPORTED_TMFS: u8 = 0x0D;

/// The CDB length an opcode implies, from its group code; `None` for the reserved and
/// vendor-specific groups, whose length only the device knows.
pub(crate) fn cdb_len(cdb: &[u8]) -> Option<usize> {
    let op = *cdb.first()?;
    match op >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        // Group 3: reserved, except the variable-length CDB (8 + ADDITIONAL CDB LENGTH).
        3 if op == VARIABLE_LENGTH => Some(8 + usize::from(cdb.get(7).copied().unwrap_or(0))),
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

/// Checks that the CDB is as long as its opcode says and that the control byte asks for
/// nothing this unit lacks: NACA (no ACA support, NormACA = 0) and LINK (linked commands
/// are obsolete) both get INVALID FIELD IN CDB.
pub(crate) fn check(cdb: &[u8]) -> Result<(), Sense> {
    if cdb.is_empty() {
        return Err(Sense::invalid_opcode());
    }
    if let Some(n) = cdb_len(cdb) {
        if cdb.len() < n {
            return Err(Sense::invalid_field_in_cdb(0, None));
        }
    }
    if let Some(i) = control_index(cdb) {
        let control = cdb.get(i).copied().unwrap_or(0);
        let byte = u16::try_from(i).unwrap_or(u16::MAX);
        if control & 0x04 != 0 {
            return Err(Sense::invalid_field_in_cdb(byte, Some(2)));
        }
        if control & 0x01 != 0 {
            return Err(Sense::invalid_field_in_cdb(byte, Some(0)));
        }
    }
    Ok(())
}

/// Byte `i` of `b`, zero past the end.
pub(crate) fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Big-endian u16 at `i`, zero-filled past the end.
pub(crate) fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([byte(b, i), byte(b, i + 1)])
}

/// Big-endian u32 at `i`, zero-filled past the end.
pub(crate) fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([byte(b, i), byte(b, i + 1), byte(b, i + 2), byte(b, i + 3)])
}

/// Big-endian u64 at `i`, zero-filled past the end.
pub(crate) fn be64(b: &[u8], i: usize) -> u64 {
    (u64::from(be32(b, i)) << 32) | u64::from(be32(b, i + 4))
}

/// GOOD with `data` cut to the allocation length.
pub(crate) fn data_in(mut data: Vec<u8>, alloc: usize) -> Response {
    data.truncate(alloc);
    Response::with_data(data)
}

/// Copies `s` into a fixed-width, space-padded ASCII field (SPC-4 4.3.1: printable ASCII
/// only; anything else becomes a space).
pub(crate) fn ascii_field(s: &str, width: usize) -> Vec<u8> {
    let mut out: Vec<u8> = s
        .bytes()
        .take(width)
        .map(|c| if (0x20..=0x7E).contains(&c) { c } else { b' ' })
        .collect();
    out.resize(width, b' ');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
