//! NOP-Out (11.18) and NOP-In (11.19).

use super::{Bhs, Opcode, SeqNums};

/// NOP-Out PDU (opcode 0x00): a ping from the initiator or its answer to a NOP-In.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NopOut {
    pub immediate: bool,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
}

impl NopOut {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            immediate: b.immediate(),
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::NopOut, self.immediate);
        b.0[1] = 0x80;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        b
    }
}

/// NOP-In PDU (opcode 0x20): the answer to a ping, or the target's own ping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NopIn {
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub sn: SeqNums,
}

impl NopIn {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            sn: SeqNums::parse(b),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::NopIn, false);
        b.0[1] = 0x80;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        self.sn.put(&mut b);
        b
    }
}
