//! SCSI Command (11.3) and SCSI Response (11.4).

use super::{Bhs, Opcode, SeqNums};
use crate::error::PduError;

/// SCSI Command PDU (opcode 0x01).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiCommand {
    pub immediate: bool,
    pub final_bit: bool,
    pub read: bool,
    pub write: bool,
    /// Task attribute bits (0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA).
    pub attr: u8,
    pub lun: [u8; 8],
    pub itt: u32,
    pub expected_len: u32,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
    /// The CDB: 16 bytes from the BHS plus any extended-CDB AHS bytes.
    pub cdb: Vec<u8>,
    /// Bidirectional expected read length (AHS type 2), if sent.
    pub bidi_read_len: Option<u32>,
}

const AHS_EXT_CDB: u8 = 1;
const AHS_BIDI_READ: u8 = 2;

impl ScsiCommand {
    pub(super) fn parse(b: &Bhs, ahs: &[u8]) -> Result<Self, PduError> {
        let mut cdb = b.0[32..48].to_vec();
        let mut bidi_read_len = None;
        let mut rest = ahs;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(PduError::BadAhs);
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let kind = rest[2];
            // The AHS length counts from byte 3 (the type-specific byte) on; each AHS is
            // padded to four bytes.
            let total = (3 + len).div_ceil(4) * 4;
            if len == 0 || total > rest.len() {
                return Err(PduError::BadAhs);
            }
            let body = &rest[4..3 + len];
            match kind {
                AHS_EXT_CDB => cdb.extend_from_slice(body),
                AHS_BIDI_READ if body.len() == 4 => {
                    bidi_read_len = Some(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
                }
                _ => return Err(PduError::BadAhs),
            }
            rest = &rest[total..];
        }
        Ok(Self {
            immediate: b.immediate(),
            final_bit: b.final_bit(),
            read: b.0[1] & 0x40 != 0,
            write: b.0[1] & 0x20 != 0,
            attr: b.0[1] & 0x07,
            lun: b.lun(),
            itt: b.itt(),
            expected_len: b.u32_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
            cdb,
            bidi_read_len,
        })
    }

    pub(super) fn encode(&self, ahs: &mut Vec<u8>) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::ScsiCommand, self.immediate);
        b.0[1] = u8::from(self.final_bit) << 7
            | u8::from(self.read) << 6
            | u8::from(self.write) << 5
            | (self.attr & 7);
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.expected_len);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        let n = self.cdb.len().min(16);
        b.0[32..32 + n].copy_from_slice(&self.cdb[..n]);
        if self.cdb.len() > 16 {
            let ext = &self.cdb[16..];
            let len = ext.len() + 1;
            ahs.extend_from_slice(&(len as u16).to_be_bytes());
            ahs.push(AHS_EXT_CDB);
            ahs.push(0);
            ahs.extend_from_slice(ext);
            while ahs.len() % 4 != 0 {
                ahs.push(0);
            }
        }
        if let Some(r) = self.bidi_read_len {
            ahs.extend_from_slice(&[0, 5, AHS_BIDI_READ, 0]);
            ahs.extend_from_slice(&r.to_be_bytes());
        }
        b
    }
}

/// SCSI Response PDU (opcode 0x21). The data segment holds SenseLength + sense data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiResponse {
    pub bidi_overflow: bool,
    pub bidi_underflow: bool,
    pub overflow: bool,
    pub underflow: bool,
    /// iSCSI response code: 0 command completed at target, 1 target failure.
    pub response: u8,
    pub status: u8,
    pub itt: u32,
    pub snack_tag: u32,
    pub sn: SeqNums,
    pub exp_data_sn: u32,
    pub bidi_residual: u32,
    pub residual: u32,
}

impl ScsiResponse {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            bidi_overflow: b.0[1] & 0x10 != 0,
            bidi_underflow: b.0[1] & 0x08 != 0,
            overflow: b.0[1] & 0x04 != 0,
            underflow: b.0[1] & 0x02 != 0,
            response: b.0[2],
            status: b.0[3],
            itt: b.itt(),
            snack_tag: b.u32_at(20),
            sn: SeqNums::parse(b),
            exp_data_sn: b.u32_at(36),
            bidi_residual: b.u32_at(40),
            residual: b.u32_at(44),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::ScsiResponse, false);
        b.0[1] = 0x80
            | u8::from(self.bidi_overflow) << 4
            | u8::from(self.bidi_underflow) << 3
            | u8::from(self.overflow) << 2
            | u8::from(self.underflow) << 1;
        b.0[2] = self.response;
        b.0[3] = self.status;
        b.put_u32(16, self.itt);
        b.put_u32(20, self.snack_tag);
        self.sn.put(&mut b);
        b.put_u32(36, self.exp_data_sn);
        b.put_u32(40, self.bidi_residual);
        b.put_u32(44, self.residual);
        b
    }
}
