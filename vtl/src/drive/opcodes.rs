//! The tape drive's commands: operation codes, their CDB usage maps (REPORT SUPPORTED
//! OPERATION CODES), how each touches the medium (reservations) and which handler serves
//! it.

use super::{motion, pages, rw, security, State, TapeDrive};
use vsa_scsi::cdb::{byte, PREVENT_ALLOW, SECURITY_PROTOCOL_IN, SECURITY_PROTOCOL_OUT};
use vsa_scsi::{Access, Command, OpcodeInfo, Response, Sense, UnitCtx};

pub const REWIND: u8 = 0x01;
pub const READ_BLOCK_LIMITS: u8 = 0x05;
pub const READ_6: u8 = 0x08;
pub const WRITE_6: u8 = 0x0A;
pub const WRITE_FILEMARKS_6: u8 = 0x10;
pub const SPACE_6: u8 = 0x11;
pub const ERASE_6: u8 = 0x19;
pub const LOAD_UNLOAD: u8 = 0x1B;
pub const LOCATE_10: u8 = 0x2B;
pub const READ_POSITION: u8 = 0x34;
pub const REPORT_DENSITY_SUPPORT: u8 = 0x44;
pub const LOG_SELECT: u8 = 0x4C;
pub const LOG_SENSE: u8 = 0x4D;
pub const WRITE_FILEMARKS_16: u8 = 0x80;
pub const SPACE_16: u8 = 0x91;
pub const LOCATE_16: u8 = 0x92;
pub const ERASE_16: u8 = 0x93;

const fn op(opcode: u8, usage: &'static [u8]) -> OpcodeInfo {
    OpcodeInfo {
        opcode,
        service_action: None,
        usage,
    }
}

/// The commands the drive serves itself (the SPC layer adds its own).
pub static OPCODES: &[OpcodeInfo] = &[
    op(REWIND, &[REWIND, 0x01, 0, 0, 0, 0x07]),
    op(READ_BLOCK_LIMITS, &[READ_BLOCK_LIMITS, 0x01, 0, 0, 0, 0x07]),
    op(READ_6, &[READ_6, 0x03, 0xFF, 0xFF, 0xFF, 0x07]),
    op(WRITE_6, &[WRITE_6, 0x01, 0xFF, 0xFF, 0xFF, 0x07]),
    op(
        WRITE_FILEMARKS_6,
        &[WRITE_FILEMARKS_6, 0x03, 0xFF, 0xFF, 0xFF, 0x07],
    ),
    op(SPACE_6, &[SPACE_6, 0x0F, 0xFF, 0xFF, 0xFF, 0x07]),
    op(ERASE_6, &[ERASE_6, 0x03, 0, 0, 0, 0x07]),
    op(LOAD_UNLOAD, &[LOAD_UNLOAD, 0x01, 0, 0, 0x0F, 0x07]),
    op(PREVENT_ALLOW, &[PREVENT_ALLOW, 0, 0, 0, 0x03, 0x07]),
    op(
        LOCATE_10,
        &[LOCATE_10, 0x07, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0x07],
    ),
    op(
        READ_POSITION,
        &[READ_POSITION, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x07],
    ),
    op(
        REPORT_DENSITY_SUPPORT,
        &[
            REPORT_DENSITY_SUPPORT,
            0x03,
            0,
            0,
            0,
            0,
            0,
            0xFF,
            0xFF,
            0x07,
        ],
    ),
    op(
        LOG_SELECT,
        &[LOG_SELECT, 0x03, 0xC0, 0, 0, 0, 0, 0xFF, 0xFF, 0x07],
    ),
    op(
        LOG_SENSE,
        &[LOG_SENSE, 0x01, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
    ),
    op(
        SECURITY_PROTOCOL_IN,
        &[
            SECURITY_PROTOCOL_IN,
            0xFF,
            0xFF,
            0xFF,
            0x80,
            0,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0,
            0x07,
        ],
    ),
    op(
        SECURITY_PROTOCOL_OUT,
        &[
            SECURITY_PROTOCOL_OUT,
            0xFF,
            0xFF,
            0xFF,
            0x80,
            0,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0,
            0x07,
        ],
    ),
    op(
        WRITE_FILEMARKS_16,
        &[
            WRITE_FILEMARKS_16,
            0x03,
            0,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0x07,
        ],
    ),
    op(
        SPACE_16,
        &[
            SPACE_16, 0x0F, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0,
            0x07,
        ],
    ),
    op(
        LOCATE_16,
        &[
            LOCATE_16, 0x3B, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0,
            0x07,
        ],
    ),
    op(
        ERASE_16,
        &[
            ERASE_16, 0x03, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x07,
        ],
    ),
];

/// How a command touches the medium.
pub fn access(cdb: &[u8]) -> Access {
    match byte(cdb, 0) {
        WRITE_6
        | WRITE_FILEMARKS_6
        | WRITE_FILEMARKS_16
        | ERASE_6
        | ERASE_16
        | LOAD_UNLOAD
        | SECURITY_PROTOCOL_OUT => Access::Write,
        READ_6 | SPACE_6 | SPACE_16 | LOCATE_10 | LOCATE_16 | REWIND => Access::Read,
        _ => Access::None,
    }
}

/// Serves `cmd`; `None` for an opcode the drive does not have.
pub fn dispatch(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Option<Result<Response, Sense>> {
    let op = byte(cmd.cdb, 0);
    if !handles(op) {
        return None;
    }
    // Every command but WRITE(6) sees the cartridge with the writes queued before it
    // placed (WRITE places those already cut and queues its own); one that could not be
    // placed is reported to this command, which is then not performed.
    if let Err(s) = super::settle(st, op != WRITE_6) {
        return Some(Err(s));
    }
    Some(match op {
        REWIND => motion::rewind(d, st),
        READ_BLOCK_LIMITS => pages::read_block_limits(cmd),
        READ_6 => rw::read(d, st, cmd, ctx),
        WRITE_6 => rw::write(d, st, cmd, ctx),
        WRITE_FILEMARKS_6 | WRITE_FILEMARKS_16 => rw::write_filemarks(d, st, cmd, ctx),
        SPACE_6 | SPACE_16 => motion::space(d, st, cmd),
        ERASE_6 | ERASE_16 => motion::erase(d, st, cmd, ctx),
        LOAD_UNLOAD => security::load_unload(st, cmd),
        PREVENT_ALLOW => prevent_allow(st, cmd),
        LOCATE_10 | LOCATE_16 => motion::locate(d, st, cmd),
        READ_POSITION => motion::read_position(d, st, cmd),
        REPORT_DENSITY_SUPPORT => pages::report_density(d, st, cmd),
        LOG_SELECT => pages::log_select(st, cmd),
        LOG_SENSE => pages::log_sense(st, cmd),
        SECURITY_PROTOCOL_IN => security::security_in(d, st, cmd),
        SECURITY_PROTOCOL_OUT => security::security_out(st, cmd, ctx),
        _ => return None,
    })
}

/// Whether [`dispatch`] serves `op` (the rest are the shared SPC commands): those
/// [`OPCODES`] lists, one list for both this and REPORT SUPPORTED OPERATION CODES.
fn handles(op: u8) -> bool {
    OPCODES.iter().any(|info| info.opcode == op)
}

/// PREVENT ALLOW MEDIUM REMOVAL: kept per nexus; the cartridge stays while any prevents.
fn prevent_allow(st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    match byte(cmd.cdb, 4) & 0x03 {
        0 => {
            st.prevent.remove(cmd.nexus);
        }
        1 => {
            st.prevent.insert(cmd.nexus.clone());
        }
        _ => return Err(Sense::invalid_field_in_cdb(4, Some(1))),
    }
    Ok(Response::good())
}
