//! The SMC-3 commands the changer serves (SMC-3 table 4, beside the SPC-4 ones of
//! [`vsa_scsi::spc::Unit`]): operation codes, CDB usage maps for REPORT SUPPORTED
//! OPERATION CODES (a 1 for every bit the handler looks at) and access classes for
//! reservation checks.

use vsa_scsi::cdb::{byte, PREVENT_ALLOW};
use vsa_scsi::{Access, OpcodeInfo};

/// INITIALIZE ELEMENT STATUS (SMC-3 6.2).
pub(crate) const INITIALIZE_ELEMENT_STATUS: u8 = 0x07;
/// POSITION TO ELEMENT (SMC-3 6.8).
pub(crate) const POSITION_TO_ELEMENT: u8 = 0x2B;
/// INITIALIZE ELEMENT STATUS WITH RANGE (SMC-3 6.3).
pub(crate) const INITIALIZE_ELEMENT_STATUS_WITH_RANGE: u8 = 0x37;
/// MOVE MEDIUM (SMC-3 6.6).
pub(crate) const MOVE_MEDIUM: u8 = 0xA5;
/// EXCHANGE MEDIUM (SMC-3 6.1).
pub(crate) const EXCHANGE_MEDIUM: u8 = 0xA6;
/// READ ELEMENT STATUS (SMC-3 6.11).
pub(crate) const READ_ELEMENT_STATUS: u8 = 0xB8;

/// Every changer opcode, for tests.
#[cfg(test)]
pub(crate) const ALL: [u8; 7] = [
    INITIALIZE_ELEMENT_STATUS,
    PREVENT_ALLOW,
    POSITION_TO_ELEMENT,
    INITIALIZE_ELEMENT_STATUS_WITH_RANGE,
    MOVE_MEDIUM,
    EXCHANGE_MEDIUM,
    READ_ELEMENT_STATUS,
];

const fn row(opcode: u8, usage: &'static [u8]) -> OpcodeInfo {
    OpcodeInfo {
        opcode,
        service_action: None,
        usage,
    }
}

/// The table REPORT SUPPORTED OPERATION CODES lists.
pub(crate) const OPCODES: &[OpcodeInfo] = &[
    row(INITIALIZE_ELEMENT_STATUS, &[0x07, 0, 0, 0, 0, 0x07]),
    row(PREVENT_ALLOW, &[0x1E, 0, 0, 0, 0x03, 0x07]),
    row(
        POSITION_TO_ELEMENT,
        &[0x2B, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0x07],
    ),
    row(
        INITIALIZE_ELEMENT_STATUS_WITH_RANGE,
        &[0x37, 0x03, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0x07],
    ),
    row(
        MOVE_MEDIUM,
        &[
            0xA5, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0x07,
        ],
    ),
    row(
        EXCHANGE_MEDIUM,
        &[
            0xA6, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0x07,
        ],
    ),
    row(
        READ_ELEMENT_STATUS,
        &[
            0xB8, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0xFF, 0xFF, 0xFF, 0, 0x07,
        ],
    ),
];

/// How a changer command touches the library, for reservation checks: moving media is a
/// write, reading element status a read, PREVENT ALLOW MEDIUM REMOVAL with PREVENT 00b is
/// allowed under any reservation (SPC-4 5.13.1).
pub(crate) fn access(cdb: &[u8]) -> Access {
    match byte(cdb, 0) {
        READ_ELEMENT_STATUS => Access::Read,
        PREVENT_ALLOW if byte(cdb, 4) & 0x03 == 0 => Access::None,
        INITIALIZE_ELEMENT_STATUS
        | PREVENT_ALLOW
        | POSITION_TO_ELEMENT
        | INITIALIZE_ELEMENT_STATUS_WITH_RANGE
        | MOVE_MEDIUM
        | EXCHANGE_MEDIUM => Access::Write,
        _ => Access::None,
    }
}
