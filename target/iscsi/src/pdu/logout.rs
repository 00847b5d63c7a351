//! Logout Request (11.14) and Logout Response (11.15).

use super::{Bhs, Opcode, SeqNums};

/// Why the initiator logs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogoutReason {
    CloseSession,
    CloseConnection,
    RemoveForRecovery,
    /// A reserved reason code.
    Other(u8),
}

impl LogoutReason {
    fn from_bits(b: u8) -> Self {
        match b & 0x7F {
            0 => Self::CloseSession,
            1 => Self::CloseConnection,
            2 => Self::RemoveForRecovery,
            x => Self::Other(x),
        }
    }
    fn bits(self) -> u8 {
        match self {
            Self::CloseSession => 0,
            Self::CloseConnection => 1,
            Self::RemoveForRecovery => 2,
            Self::Other(x) => x & 0x7F,
        }
    }
}

/// Logout Request PDU (opcode 0x06).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub immediate: bool,
    pub reason: LogoutReason,
    pub itt: u32,
    pub cid: u16,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
}

impl LogoutRequest {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            immediate: b.immediate(),
            reason: LogoutReason::from_bits(b.0[1]),
            itt: b.itt(),
            cid: b.u16_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::LogoutRequest, self.immediate);
        b.0[1] = 0x80 | self.reason.bits();
        b.put_u32(16, self.itt);
        b.put_u16(20, self.cid);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        b
    }
}

/// Logout Response PDU (opcode 0x26).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutResponse {
    /// 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed.
    pub response: u8,
    pub itt: u32,
    pub sn: SeqNums,
    pub time2wait: u16,
    pub time2retain: u16,
}

impl LogoutResponse {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            response: b.0[2],
            itt: b.itt(),
            sn: SeqNums::parse(b),
            time2wait: b.u16_at(40),
            time2retain: b.u16_at(42),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::LogoutResponse, false);
        b.0[1] = 0x80;
        b.0[2] = self.response;
        b.put_u32(16, self.itt);
        self.sn.put(&mut b);
        b.put_u16(40, self.time2wait);
        b.put_u16(42, self.time2retain);
        b
    }
}
