//! Text Request (11.10) and Text Response (11.11).

use super::{Bhs, Opcode, SeqNums};

/// Text Request PDU (opcode 0x04).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextRequest {
    pub immediate: bool,
    pub final_bit: bool,
    pub continue_bit: bool,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
}

impl TextRequest {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            immediate: b.immediate(),
            final_bit: b.final_bit(),
            continue_bit: b.0[1] & 0x40 != 0,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::TextRequest, self.immediate);
        b.0[1] = u8::from(self.final_bit) << 7 | u8::from(self.continue_bit) << 6;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        b
    }
}

/// Text Response PDU (opcode 0x24).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextResponse {
    pub final_bit: bool,
    pub continue_bit: bool,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub sn: SeqNums,
}

impl TextResponse {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            final_bit: b.final_bit(),
            continue_bit: b.0[1] & 0x40 != 0,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            sn: SeqNums::parse(b),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::TextResponse, false);
        b.0[1] = u8::from(self.final_bit) << 7 | u8::from(self.continue_bit) << 6;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        self.sn.put(&mut b);
        b
    }
}
