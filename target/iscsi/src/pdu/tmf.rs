//! Task Management Function Request (11.5) and Response (11.6).

use super::{Bhs, Opcode, SeqNums};

/// Task management functions (11.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TmfFunction {
    AbortTask,
    AbortTaskSet,
    ClearAca,
    ClearTaskSet,
    LogicalUnitReset,
    TargetWarmReset,
    TargetColdReset,
    TaskReassign,
    /// Any other function code.
    Other(u8),
}

impl TmfFunction {
    fn from_bits(b: u8) -> Self {
        match b & 0x7F {
            1 => Self::AbortTask,
            2 => Self::AbortTaskSet,
            3 => Self::ClearAca,
            4 => Self::ClearTaskSet,
            5 => Self::LogicalUnitReset,
            6 => Self::TargetWarmReset,
            7 => Self::TargetColdReset,
            8 => Self::TaskReassign,
            x => Self::Other(x),
        }
    }
    fn bits(self) -> u8 {
        match self {
            Self::AbortTask => 1,
            Self::AbortTaskSet => 2,
            Self::ClearAca => 3,
            Self::ClearTaskSet => 4,
            Self::LogicalUnitReset => 5,
            Self::TargetWarmReset => 6,
            Self::TargetColdReset => 7,
            Self::TaskReassign => 8,
            Self::Other(x) => x & 0x7F,
        }
    }
}

/// TMF response codes (11.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TmfResult {
    Complete = 0,
    TaskDoesNotExist = 1,
    LunDoesNotExist = 2,
    TaskStillAllegiant = 3,
    ReassignNotSupported = 4,
    NotSupported = 5,
    AuthorizationFailed = 6,
    Rejected = 255,
}

/// Task Management Function Request PDU (opcode 0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmfRequest {
    pub immediate: bool,
    pub function: TmfFunction,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ref_itt: u32,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
    pub ref_cmd_sn: u32,
    pub exp_data_sn: u32,
}

impl TmfRequest {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            immediate: b.immediate(),
            function: TmfFunction::from_bits(b.0[1]),
            lun: b.lun(),
            itt: b.itt(),
            ref_itt: b.u32_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
            ref_cmd_sn: b.u32_at(32),
            exp_data_sn: b.u32_at(36),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::TmfRequest, self.immediate);
        b.0[1] = 0x80 | self.function.bits();
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ref_itt);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        b.put_u32(32, self.ref_cmd_sn);
        b.put_u32(36, self.exp_data_sn);
        b
    }
}

/// Task Management Function Response PDU (opcode 0x22).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TmfResponse {
    /// A [`TmfResult`] code.
    pub response: u8,
    pub itt: u32,
    pub sn: SeqNums,
}

impl TmfResponse {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            response: b.0[2],
            itt: b.itt(),
            sn: SeqNums::parse(b),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::TmfResponse, false);
        b.0[1] = 0x80;
        b.0[2] = self.response;
        b.put_u32(16, self.itt);
        self.sn.put(&mut b);
        b
    }
}
