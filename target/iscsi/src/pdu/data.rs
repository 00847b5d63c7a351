//! SCSI Data-Out (11.7), SCSI Data-In (11.7) and Ready To Transfer (11.8).

use super::{Bhs, Opcode, SeqNums};

/// SCSI Data-Out PDU (opcode 0x05).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataOut {
    pub final_bit: bool,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub exp_stat_sn: u32,
    pub data_sn: u32,
    pub buffer_offset: u32,
}

impl DataOut {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            final_bit: b.final_bit(),
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            exp_stat_sn: b.u32_at(28),
            data_sn: b.u32_at(36),
            buffer_offset: b.u32_at(40),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::DataOut, false);
        b.0[1] = u8::from(self.final_bit) << 7;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        b.put_u32(28, self.exp_stat_sn);
        b.put_u32(36, self.data_sn);
        b.put_u32(40, self.buffer_offset);
        b
    }
}

/// SCSI Data-In PDU (opcode 0x25). With `status` set (the S bit) it also ends the command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataIn {
    pub final_bit: bool,
    pub ack: bool,
    pub overflow: bool,
    pub underflow: bool,
    /// SCSI status, when the S bit is set.
    pub status: Option<u8>,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub sn: SeqNums,
    pub data_sn: u32,
    pub buffer_offset: u32,
    pub residual: u32,
}

impl DataIn {
    pub(super) fn parse(b: &Bhs) -> Self {
        let s = b.0[1] & 0x01 != 0;
        Self {
            final_bit: b.final_bit(),
            ack: b.0[1] & 0x40 != 0,
            overflow: b.0[1] & 0x04 != 0,
            underflow: b.0[1] & 0x02 != 0,
            status: s.then_some(b.0[3]),
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            sn: SeqNums::parse(b),
            data_sn: b.u32_at(36),
            buffer_offset: b.u32_at(40),
            residual: b.u32_at(44),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::DataIn, false);
        b.0[1] = u8::from(self.final_bit) << 7
            | u8::from(self.ack) << 6
            | u8::from(self.overflow) << 2
            | u8::from(self.underflow) << 1
            | u8::from(self.status.is_some());
        b.0[3] = self.status.unwrap_or(0);
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        self.sn.put(&mut b);
        b.put_u32(36, self.data_sn);
        b.put_u32(40, self.buffer_offset);
        b.put_u32(44, self.residual);
        b
    }
}

/// Ready To Transfer PDU (opcode 0x31).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct R2t {
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub sn: SeqNums,
    pub r2t_sn: u32,
    pub buffer_offset: u32,
    pub desired_len: u32,
}

impl R2t {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            sn: SeqNums::parse(b),
            r2t_sn: b.u32_at(36),
            buffer_offset: b.u32_at(40),
            desired_len: b.u32_at(44),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::R2t, false);
        b.0[1] = 0x80;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        self.sn.put(&mut b);
        b.put_u32(36, self.r2t_sn);
        b.put_u32(40, self.buffer_offset);
        b.put_u32(44, self.desired_len);
        b
    }
}
