//! The disk's commands for REPORT SUPPORTED OPERATION CODES (with their CDB usage maps:
//! a 1 for every bit the handlers look at) and for reservation checks.

use super::cdb::byte;
use crate::{Access, OpcodeInfo};

const fn op(opcode: u8, usage: &'static [u8]) -> OpcodeInfo {
    OpcodeInfo {
        opcode,
        service_action: None,
        usage,
    }
}

const fn sa(opcode: u8, service_action: u16, usage: &'static [u8]) -> OpcodeInfo {
    OpcodeInfo {
        opcode,
        service_action: Some(service_action),
        usage,
    }
}

const F: u8 = 0xFF;
/// GROUP NUMBER.
const G: u8 = 0x3F;
/// DPO, FUA and the obsolete FUA_NV of READ/WRITE byte 1.
const DF: u8 = 0x1A;

const COMMON: &[OpcodeInfo] = &[
    op(0x08, &[0x08, 0x1F, F, F, F, 0x00]),
    op(0x0A, &[0x0A, 0x1F, F, F, F, 0x00]),
    op(0x28, &[0x28, DF, F, F, F, F, G, F, F, 0x00]),
    op(0x2A, &[0x2A, DF, F, F, F, F, G, F, F, 0x00]),
    op(0xA8, &[0xA8, DF, F, F, F, F, F, F, F, F, G, 0x00]),
    op(0xAA, &[0xAA, DF, F, F, F, F, F, F, F, F, G, 0x00]),
    op(
        0x88,
        &[0x88, DF, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(
        0x8A,
        &[0x8A, DF, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x2F, &[0x2F, 0x16, F, F, F, F, G, F, F, 0x00]),
    op(0xAF, &[0xAF, 0x16, F, F, F, F, F, F, F, F, G, 0x00]),
    op(
        0x8F,
        &[0x8F, 0x16, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x2E, &[0x2E, 0x12, F, F, F, F, G, F, F, 0x00]),
    op(0xAE, &[0xAE, 0x12, F, F, F, F, F, F, F, F, G, 0x00]),
    op(
        0x8E,
        &[0x8E, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(
        0x8B,
        &[0x8B, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(
        0x89,
        &[0x89, 0x18, F, F, F, F, F, F, F, F, 0, 0, 0, F, G, 0x00],
    ),
    op(
        0x9C,
        &[0x9C, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x35, &[0x35, 0x02, F, F, F, F, G, F, F, 0x00]),
    op(
        0x91,
        &[0x91, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x34, &[0x34, 0x02, F, F, F, F, G, F, F, 0x00]),
    op(
        0x90,
        &[0x90, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x25, &[0x25, 0, F, F, F, F, 0, 0, 0x01, 0x00]),
    sa(
        0x9E,
        0x10,
        &[0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0x00],
    ),
    sa(
        0x9E,
        0x12,
        &[0x9E, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0x00],
    ),
    op(0x37, &[0x37, 0, 0x1F, 0, 0, 0, 0, F, F, 0x00]),
    op(0xB7, &[0xB7, 0x1F, 0, 0, 0, 0, F, F, F, F, 0, 0x00]),
    op(0x1B, &[0x1B, 0x01, 0, 0x0F, 0xF7, 0x00]),
    op(0x1E, &[0x1E, 0, 0, 0, 0x03, 0x00]),
    sa(0x48, 0x01, &[0x48, 0xA1, 0, 0, 0, 0, 0, F, F, 0x00]),
    sa(0x48, 0x02, &[0x48, 0xA2, 0, 0, 0, 0, 0, F, F, 0x00]),
    sa(0x48, 0x03, &[0x48, 0xA3, 0, 0, 0, 0, 0, F, F, 0x00]),
    sa(0x48, 0x1F, &[0x48, 0xBF, 0, 0, 0, 0, 0, F, F, 0x00]),
    sa(
        0x83,
        0x00,
        &[0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0x00],
    ),
    sa(
        0x84,
        0x00,
        &[0x84, 0x00, F, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0x00],
    ),
    sa(
        0x84,
        0x03,
        &[0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0x00],
    ),
];

/// WRITE SAME and UNMAP of a thin disk: UNMAP bits (and NDOB) are honoured.
const THIN: &[OpcodeInfo] = &[
    op(0x41, &[0x41, 0x08, F, F, F, F, G, F, F, 0x00]),
    op(
        0x93,
        &[0x93, 0x09, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
    op(0x42, &[0x42, 0, 0, 0, 0, 0, G, F, F, 0x00]),
];

/// WRITE SAME of a fully provisioned disk: no UNMAP bit, no UNMAP command.
const THICK: &[OpcodeInfo] = &[
    op(0x41, &[0x41, 0x00, F, F, F, F, G, F, F, 0x00]),
    op(
        0x93,
        &[0x93, 0x01, F, F, F, F, F, F, F, F, F, F, F, F, G, 0x00],
    ),
];

/// Every opcode a disk serves.
pub(crate) fn table(thin: bool) -> Vec<OpcodeInfo> {
    let mut t = COMMON.to_vec();
    t.extend_from_slice(if thin { THIN } else { THICK });
    t
}

/// How a CDB touches the medium (SBC-4 table "commands allowed in the presence of
/// reservations").
pub(crate) fn access(cdb: &[u8]) -> Access {
    match byte(cdb, 0) {
        0x25 => Access::None,
        0x9E if byte(cdb, 1) & 0x1F == 0x10 => Access::None,
        0x08 | 0x28 | 0xA8 | 0x88 | 0x2F | 0xAF | 0x8F | 0x34 | 0x90 | 0x37 | 0xB7 | 0x9E
        | 0x84 => Access::Read,
        0x0A | 0x2A | 0xAA | 0x8A | 0x2E | 0xAE | 0x8E | 0x8B | 0x89 | 0x9C | 0x41 | 0x93
        | 0x42 | 0x35 | 0x91 | 0x48 | 0x83 => Access::Write,
        // START STOP UNIT that only starts, and ALLOW MEDIUM REMOVAL, are allowed.
        0x1B if byte(cdb, 4) & 0x03 == 0x01 => Access::None,
        0x1B => Access::Write,
        0x1E if byte(cdb, 4) & 0x03 == 0 => Access::None,
        0x1E => Access::Write,
        _ => Access::None,
    }
}
