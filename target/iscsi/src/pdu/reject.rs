//! Reject (11.17), SNACK Request (11.16) and Asynchronous Message (11.9).

use super::{Bhs, Opcode, SeqNums, NO_TAG};

/// Reject reasons (11.17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    DataDigestError = 0x02,
    SnackReject = 0x03,
    ProtocolError = 0x04,
    CommandNotSupported = 0x05,
    ImmediateCommandReject = 0x06,
    TaskInProgress = 0x07,
    InvalidDataAck = 0x08,
    InvalidPduField = 0x09,
    LongOperationReject = 0x0A,
    WaitingForLogout = 0x0C,
}

/// Reject PDU (opcode 0x3F). Its data segment is the rejected PDU's BHS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reject {
    pub reason: u8,
    pub sn: SeqNums,
    pub data_sn: u32,
}

impl Reject {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            reason: b.0[2],
            sn: SeqNums::parse(b),
            data_sn: b.u32_at(36),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::Reject, false);
        b.0[1] = 0x80;
        b.0[2] = self.reason;
        b.put_u32(16, NO_TAG);
        self.sn.put(&mut b);
        b.put_u32(36, self.data_sn);
        b
    }
}

/// SNACK Request PDU (opcode 0x10). The target rejects it at ErrorRecoveryLevel 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snack {
    pub kind: u8,
    pub lun: [u8; 8],
    pub itt: u32,
    pub ttt: u32,
    pub exp_stat_sn: u32,
    pub beg_run: u32,
    pub run_length: u32,
}

impl Snack {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            kind: b.0[1] & 0x0F,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.u32_at(20),
            exp_stat_sn: b.u32_at(28),
            beg_run: b.u32_at(40),
            run_length: b.u32_at(44),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::Snack, false);
        b.0[1] = 0x80 | (self.kind & 0x0F);
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, self.itt);
        b.put_u32(20, self.ttt);
        b.put_u32(28, self.exp_stat_sn);
        b.put_u32(40, self.beg_run);
        b.put_u32(44, self.run_length);
        b
    }
}

/// Asynchronous Message PDU (opcode 0x32).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncMessage {
    pub lun: [u8; 8],
    pub sn: SeqNums,
    /// 0 SCSI event, 1 logout request, 2 connection drop, 3 session drop, 4 renegotiate.
    pub event: u8,
    pub vcode: u8,
    pub params: [u16; 3],
}

impl AsyncMessage {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            lun: b.lun(),
            sn: SeqNums::parse(b),
            event: b.0[36],
            vcode: b.0[37],
            params: [b.u16_at(38), b.u16_at(40), b.u16_at(42)],
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::AsyncMessage, false);
        b.0[1] = 0x80;
        b.0[8..16].copy_from_slice(&self.lun);
        b.put_u32(16, NO_TAG);
        self.sn.put(&mut b);
        b.0[36] = self.event;
        b.0[37] = self.vcode;
        b.put_u16(38, self.params[0]);
        b.put_u16(40, self.params[1]);
        b.put_u16(42, self.params[2]);
        b
    }
}
