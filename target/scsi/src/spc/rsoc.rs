//! REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) and REPORT SUPPORTED TASK MANAGEMENT
//! FUNCTIONS (SPC-4 6.36), both MAINTENANCE IN service actions.

use crate::{Device, OpcodeInfo, Response, Sense};

use crate::cdb::{be16, be32, byte, data_in};

const fn op(opcode: u8, service_action: Option<u16>, usage: &'static [u8]) -> OpcodeInfo {
    OpcodeInfo {
        opcode,
        service_action,
        usage,
    }
}

const PRIN_USAGE: &[u8] = &[0x5E, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x07];
const PROUT_USAGE: &[u8] = &[0x5F, 0x1F, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x07];

/// The commands this layer serves for every device type.
pub(crate) const SPC_OPCODES: &[OpcodeInfo] = &[
    op(0x00, None, &[0x00, 0, 0, 0, 0, 0x07]),
    op(0x03, None, &[0x03, 0x01, 0, 0, 0xFF, 0x07]),
    op(0x12, None, &[0x12, 0x01, 0xFF, 0xFF, 0xFF, 0x07]),
    op(0x15, None, &[0x15, 0x11, 0, 0, 0xFF, 0x07]),
    op(0x16, None, &[0x16, 0, 0, 0, 0, 0x07]),
    op(0x17, None, &[0x17, 0, 0, 0, 0, 0x07]),
    op(0x1A, None, &[0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0x07]),
    op(0x55, None, &[0x55, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x07]),
    op(0x56, None, &[0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]),
    op(0x57, None, &[0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]),
    op(
        0x5A,
        None,
        &[0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0x07],
    ),
    op(0x5E, Some(0x00), PRIN_USAGE),
    op(0x5E, Some(0x01), PRIN_USAGE),
    op(0x5E, Some(0x02), PRIN_USAGE),
    op(0x5E, Some(0x03), PRIN_USAGE),
    op(0x5F, Some(0x00), PROUT_USAGE),
    op(0x5F, Some(0x01), PROUT_USAGE),
    op(0x5F, Some(0x02), PROUT_USAGE),
    op(0x5F, Some(0x03), PROUT_USAGE),
    op(0x5F, Some(0x04), PROUT_USAGE),
    op(0x5F, Some(0x05), PROUT_USAGE),
    op(0x5F, Some(0x06), PROUT_USAGE),
    op(0x5F, Some(0x07), PROUT_USAGE),
    op(
        0xA0,
        None,
        &[0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07],
    ),
    op(
        0xA3,
        Some(0x0C),
        &[
            0xA3, 0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07,
        ],
    ),
    op(
        0xA3,
        Some(0x0D),
        &[0xA3, 0x1F, 0x80, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07],
    ),
];

/// Recommended command timeout reported in command timeouts descriptors, in seconds.
const RECOMMENDED_TIMEOUT: u32 = 30;

/// Every supported command, SPC ones first where the device repeats an opcode, sorted by
/// opcode and service action.
pub(crate) fn all_opcodes<D: Device>(dev: &D) -> Vec<OpcodeInfo> {
    let mut v: Vec<OpcodeInfo> = SPC_OPCODES.to_vec();
    for o in dev.opcodes() {
        if !v
            .iter()
            .any(|s| s.opcode == o.opcode && s.service_action == o.service_action)
        {
            v.push(*o);
        }
    }
    v.sort_by_key(|o| (o.opcode, o.service_action));
    v
}

fn timeouts() -> [u8; 12] {
    let mut t = [0u8; 12];
    t[1] = 0x0A;
    t[8..12].copy_from_slice(&RECOMMENDED_TIMEOUT.to_be_bytes());
    t
}

/// REPORT SUPPORTED OPERATION CODES.
pub(crate) fn report_opcodes<D: Device>(dev: &D, cdb: &[u8]) -> Result<Response, Sense> {
    let rctd = byte(cdb, 2) & 0x80 != 0;
    let options = byte(cdb, 2) & 0x07;
    let opcode = byte(cdb, 3);
    let sa = be16(cdb, 4);
    let alloc = be32(cdb, 6) as usize;
    let all = all_opcodes(dev);
    let has_sa = all
        .iter()
        .any(|o| o.opcode == opcode && o.service_action.is_some());
    let found = match options {
        0 => return Ok(data_in(all_descriptors(&all, rctd), alloc)),
        1 if has_sa => return Err(Sense::invalid_field_in_cdb(2, Some(2))),
        1 => all.iter().find(|o| o.opcode == opcode),
        2 if !has_sa => return Err(Sense::invalid_field_in_cdb(2, Some(2))),
        2 => all
            .iter()
            .find(|o| o.opcode == opcode && o.service_action == Some(sa)),
        3 if has_sa => all
            .iter()
            .find(|o| o.opcode == opcode && o.service_action == Some(sa)),
        3 => all.iter().find(|o| o.opcode == opcode),
        _ => return Err(Sense::invalid_field_in_cdb(2, Some(2))),
    };
    Ok(data_in(one_command(found, rctd), alloc))
}

fn all_descriptors(all: &[OpcodeInfo], rctd: bool) -> Vec<u8> {
    let mut d = vec![0u8; 4];
    for o in all {
        let mut flags = 0u8;
        if rctd {
            flags |= 0x02;
        }
        if o.service_action.is_some() {
            flags |= 0x01;
        }
        d.push(o.opcode);
        d.push(0);
        d.extend_from_slice(&o.service_action.unwrap_or(0).to_be_bytes());
        d.push(0);
        d.push(flags);
        d.extend_from_slice(&(o.usage.len() as u16).to_be_bytes());
        if rctd {
            d.extend_from_slice(&timeouts());
        }
    }
    let len = u32::try_from(d.len() - 4).unwrap_or(u32::MAX);
    d[0..4].copy_from_slice(&len.to_be_bytes());
    d
}

fn one_command(found: Option<&OpcodeInfo>, rctd: bool) -> Vec<u8> {
    let Some(o) = found else {
        // SUPPORT 001b: not supported.
        return vec![0, 0x01, 0, 0];
    };
    let mut d = vec![0, 0x03];
    if rctd {
        d[1] |= 0x80;
    }
    d.extend_from_slice(&(o.usage.len() as u16).to_be_bytes());
    d.extend_from_slice(o.usage);
    if rctd {
        d.extend_from_slice(&timeouts());
    }
    d
}

/// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: ABORT TASK, ABORT TASK SET, CLEAR TASK
/// SET and LOGICAL UNIT RESET, which the iSCSI transport implements.
pub(crate) fn report_tmfs(cdb: &[u8]) -> Response {
    let repd = byte(cdb, 2) & 0x80 != 0;
    let alloc = be32(cdb, 6) as usize;
    let mut d = vec![0u8; if repd { 16 } else { 4 }];
    d[0] = 0x80 | 0x40 | 0x10 | 0x08; // ATS, ATSS, CTSS, LURS
    if repd {
        d[3] = 0x0C; // ADDITIONAL DATA LENGTH
    }
    data_in(d, alloc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_maps_start_with_their_opcode() {
        for o in SPC_OPCODES {
            assert_eq!(o.usage.first(), Some(&o.opcode));
        }
    }

    #[test]
    fn tmf_report() {
        let r = report_tmfs(&[0xA3, 0x0D, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0]);
        assert_eq!(r.data, vec![0xD8, 0, 0, 0]);
    }
}
