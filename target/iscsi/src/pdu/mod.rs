//! iSCSI PDUs (RFC 7143 section 11): one typed header per PDU type, parsed from and
//! encoded into the 48-byte Basic Header Segment (BHS).
//!
//! A PDU on the wire is `BHS | AHS* | header digest? | data segment + pad | data digest?`.
//! Framing and digests are [`crate::codec`]'s job; this module only maps the BHS (and the
//! AHS of a SCSI Command) to typed values and back. Every parser checks lengths and never
//! panics; fields the target does not use are kept so `encode(parse(x)) == x` where the
//! RFC gives the field a meaning.

mod data;
mod login;
mod logout;
mod nop;
mod reject;
mod scsi;
mod text;
mod tmf;

pub use data::{DataIn, DataOut, R2t};
pub use login::{LoginRequest, LoginResponse, Stage};
pub use logout::{LogoutReason, LogoutRequest, LogoutResponse};
pub use nop::{NopIn, NopOut};
pub use reject::{AsyncMessage, Reject, RejectReason, Snack};
pub use scsi::{ScsiCommand, ScsiResponse};
pub use text::{TextRequest, TextResponse};
pub use tmf::{TmfFunction, TmfRequest, TmfResponse, TmfResult};

use bytes::Bytes;

use crate::error::PduError;

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;
/// The reserved "no tag" value of ITT and TTT.
pub const NO_TAG: u32 = 0xFFFF_FFFF;

/// The opcode field (byte 0, low six bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Opcode {
    NopOut = 0x00,
    ScsiCommand = 0x01,
    TmfRequest = 0x02,
    LoginRequest = 0x03,
    TextRequest = 0x04,
    DataOut = 0x05,
    LogoutRequest = 0x06,
    Snack = 0x10,
    NopIn = 0x20,
    ScsiResponse = 0x21,
    TmfResponse = 0x22,
    LoginResponse = 0x23,
    TextResponse = 0x24,
    DataIn = 0x25,
    LogoutResponse = 0x26,
    R2t = 0x31,
    AsyncMessage = 0x32,
    Reject = 0x3F,
}

impl Opcode {
    /// Decodes the low six bits of byte 0.
    pub fn from_byte(b: u8) -> Option<Self> {
        use Opcode::*;
        Some(match b & 0x3F {
            0x00 => NopOut,
            0x01 => ScsiCommand,
            0x02 => TmfRequest,
            0x03 => LoginRequest,
            0x04 => TextRequest,
            0x05 => DataOut,
            0x06 => LogoutRequest,
            0x10 => Snack,
            0x20 => NopIn,
            0x21 => ScsiResponse,
            0x22 => TmfResponse,
            0x23 => LoginResponse,
            0x24 => TextResponse,
            0x25 => DataIn,
            0x26 => LogoutResponse,
            0x31 => R2t,
            0x32 => AsyncMessage,
            0x3F => Reject,
            _ => return None,
        })
    }
}

/// A raw Basic Header Segment with checked accessors for the fields every PDU shares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bhs(pub [u8; BHS_LEN]);

impl std::fmt::Debug for Bhs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bhs")
            .field("opcode", &format_args!("{:#04x}", self.opcode_byte()))
            .field("itt", &format_args!("{:#010x}", self.itt()))
            .field("data_len", &self.data_len())
            .finish()
    }
}

impl Default for Bhs {
    fn default() -> Self {
        Self([0; BHS_LEN])
    }
}

impl Bhs {
    /// Opcode byte without the immediate bit.
    pub fn opcode_byte(&self) -> u8 {
        self.0[0] & 0x3F
    }
    /// The immediate (I) bit.
    pub fn immediate(&self) -> bool {
        self.0[0] & 0x40 != 0
    }
    /// The final (F) bit (byte 1, bit 7).
    pub fn final_bit(&self) -> bool {
        self.0[1] & 0x80 != 0
    }
    /// TotalAHSLength in bytes.
    pub fn ahs_len(&self) -> usize {
        usize::from(self.0[4]) * 4
    }
    /// DataSegmentLength in bytes (without padding).
    pub fn data_len(&self) -> usize {
        (usize::from(self.0[5]) << 16) | (usize::from(self.0[6]) << 8) | usize::from(self.0[7])
    }
    /// Sets TotalAHSLength (in bytes, a multiple of four) and DataSegmentLength.
    pub fn set_lengths(&mut self, ahs: usize, data: usize) {
        self.0[4] = (ahs / 4) as u8;
        self.0[5] = (data >> 16) as u8;
        self.0[6] = (data >> 8) as u8;
        self.0[7] = data as u8;
    }
    /// The LUN field (bytes 8..16).
    pub fn lun(&self) -> [u8; 8] {
        let mut l = [0; 8];
        l.copy_from_slice(&self.0[8..16]);
        l
    }
    /// Initiator Task Tag.
    pub fn itt(&self) -> u32 {
        self.u32_at(16)
    }
    /// A big-endian u32 at `off` (`off + 4 <= 48`).
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_be_bytes([
            self.0[off],
            self.0[off + 1],
            self.0[off + 2],
            self.0[off + 3],
        ])
    }
    /// A big-endian u16 at `off`.
    pub fn u16_at(&self, off: usize) -> u16 {
        u16::from_be_bytes([self.0[off], self.0[off + 1]])
    }
    /// Stores a big-endian u32 at `off`.
    pub fn put_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_be_bytes());
    }
    /// Stores a big-endian u16 at `off`.
    pub fn put_u16(&mut self, off: usize, v: u16) {
        self.0[off..off + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// A fresh header with `opcode` and the immediate bit.
    pub fn with_opcode(opcode: Opcode, immediate: bool) -> Self {
        let mut b = Self::default();
        b.0[0] = opcode as u8 | if immediate { 0x40 } else { 0 };
        b
    }
}

/// One PDU as framed on the wire: the BHS, any AHS, and the data segment (padding and
/// digests removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawPdu {
    pub bhs: Bhs,
    pub ahs: Bytes,
    pub data: Bytes,
}

/// A typed PDU header. The data segment travels beside it in [`RawPdu::data`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pdu {
    NopOut(NopOut),
    ScsiCommand(ScsiCommand),
    TmfRequest(TmfRequest),
    LoginRequest(LoginRequest),
    TextRequest(TextRequest),
    DataOut(DataOut),
    LogoutRequest(LogoutRequest),
    Snack(Snack),
    NopIn(NopIn),
    ScsiResponse(ScsiResponse),
    TmfResponse(TmfResponse),
    LoginResponse(LoginResponse),
    TextResponse(TextResponse),
    DataIn(DataIn),
    LogoutResponse(LogoutResponse),
    R2t(R2t),
    AsyncMessage(AsyncMessage),
    Reject(Reject),
}

impl Pdu {
    /// Parses the typed header of a framed PDU.
    pub fn parse(raw: &RawPdu) -> Result<Pdu, PduError> {
        let b = &raw.bhs;
        let op = Opcode::from_byte(b.0[0]).ok_or(PduError::UnknownOpcode(b.opcode_byte()))?;
        Ok(match op {
            Opcode::NopOut => Pdu::NopOut(NopOut::parse(b)),
            Opcode::ScsiCommand => Pdu::ScsiCommand(ScsiCommand::parse(b, &raw.ahs)?),
            Opcode::TmfRequest => Pdu::TmfRequest(TmfRequest::parse(b)),
            Opcode::LoginRequest => Pdu::LoginRequest(LoginRequest::parse(b)),
            Opcode::TextRequest => Pdu::TextRequest(TextRequest::parse(b)),
            Opcode::DataOut => Pdu::DataOut(DataOut::parse(b)),
            Opcode::LogoutRequest => Pdu::LogoutRequest(LogoutRequest::parse(b)),
            Opcode::Snack => Pdu::Snack(Snack::parse(b)),
            Opcode::NopIn => Pdu::NopIn(NopIn::parse(b)),
            Opcode::ScsiResponse => Pdu::ScsiResponse(ScsiResponse::parse(b)),
            Opcode::TmfResponse => Pdu::TmfResponse(TmfResponse::parse(b)),
            Opcode::LoginResponse => Pdu::LoginResponse(LoginResponse::parse(b)),
            Opcode::TextResponse => Pdu::TextResponse(TextResponse::parse(b)),
            Opcode::DataIn => Pdu::DataIn(DataIn::parse(b)),
            Opcode::LogoutResponse => Pdu::LogoutResponse(LogoutResponse::parse(b)),
            Opcode::R2t => Pdu::R2t(R2t::parse(b)),
            Opcode::AsyncMessage => Pdu::AsyncMessage(AsyncMessage::parse(b)),
            Opcode::Reject => Pdu::Reject(Reject::parse(b)),
        })
    }

    /// Encodes the header; `data_len` is the data segment length to announce. Returns the
    /// BHS and the AHS bytes (only a SCSI Command with a long CDB has any).
    pub fn encode(&self, data_len: usize) -> (Bhs, Vec<u8>) {
        let mut ahs = Vec::new();
        let mut b = match self {
            Pdu::NopOut(p) => p.encode(),
            Pdu::ScsiCommand(p) => p.encode(&mut ahs),
            Pdu::TmfRequest(p) => p.encode(),
            Pdu::LoginRequest(p) => p.encode(),
            Pdu::TextRequest(p) => p.encode(),
            Pdu::DataOut(p) => p.encode(),
            Pdu::LogoutRequest(p) => p.encode(),
            Pdu::Snack(p) => p.encode(),
            Pdu::NopIn(p) => p.encode(),
            Pdu::ScsiResponse(p) => p.encode(),
            Pdu::TmfResponse(p) => p.encode(),
            Pdu::LoginResponse(p) => p.encode(),
            Pdu::TextResponse(p) => p.encode(),
            Pdu::DataIn(p) => p.encode(),
            Pdu::LogoutResponse(p) => p.encode(),
            Pdu::R2t(p) => p.encode(),
            Pdu::AsyncMessage(p) => p.encode(),
            Pdu::Reject(p) => p.encode(),
        };
        b.set_lengths(ahs.len(), data_len);
        (b, ahs)
    }

    /// The opcode of this PDU.
    pub fn opcode(&self) -> Opcode {
        match self {
            Pdu::NopOut(_) => Opcode::NopOut,
            Pdu::ScsiCommand(_) => Opcode::ScsiCommand,
            Pdu::TmfRequest(_) => Opcode::TmfRequest,
            Pdu::LoginRequest(_) => Opcode::LoginRequest,
            Pdu::TextRequest(_) => Opcode::TextRequest,
            Pdu::DataOut(_) => Opcode::DataOut,
            Pdu::LogoutRequest(_) => Opcode::LogoutRequest,
            Pdu::Snack(_) => Opcode::Snack,
            Pdu::NopIn(_) => Opcode::NopIn,
            Pdu::ScsiResponse(_) => Opcode::ScsiResponse,
            Pdu::TmfResponse(_) => Opcode::TmfResponse,
            Pdu::LoginResponse(_) => Opcode::LoginResponse,
            Pdu::TextResponse(_) => Opcode::TextResponse,
            Pdu::DataIn(_) => Opcode::DataIn,
            Pdu::LogoutResponse(_) => Opcode::LogoutResponse,
            Pdu::R2t(_) => Opcode::R2t,
            Pdu::AsyncMessage(_) => Opcode::AsyncMessage,
            Pdu::Reject(_) => Opcode::Reject,
        }
    }
}

/// The sequence numbers a target PDU carries, filled in by the connection's writer at the
/// moment the PDU is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqNums {
    pub stat_sn: u32,
    pub exp_cmd_sn: u32,
    pub max_cmd_sn: u32,
}

impl SeqNums {
    fn parse(b: &Bhs) -> Self {
        Self {
            stat_sn: b.u32_at(24),
            exp_cmd_sn: b.u32_at(28),
            max_cmd_sn: b.u32_at(32),
        }
    }
    fn put(&self, b: &mut Bhs) {
        b.put_u32(24, self.stat_sn);
        b.put_u32(28, self.exp_cmd_sn);
        b.put_u32(32, self.max_cmd_sn);
    }
}

#[cfg(test)]
mod tests;
