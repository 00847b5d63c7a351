//! Login Request (11.12) and Login Response (11.13).

use super::{Bhs, Opcode, SeqNums};

/// Login stages (CSG/NSG values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Stage {
    #[default]
    Security = 0,
    Operational = 1,
    /// Value 2 is reserved.
    Reserved = 2,
    FullFeature = 3,
}

impl Stage {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Stage::Security,
            1 => Stage::Operational,
            2 => Stage::Reserved,
            _ => Stage::FullFeature,
        }
    }
}

/// Login Request PDU (opcode 0x03, always immediate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginRequest {
    pub transit: bool,
    pub continue_bit: bool,
    pub csg: Stage,
    pub nsg: Stage,
    pub version_max: u8,
    pub version_min: u8,
    /// ISID, 6 bytes big-endian in the low 48 bits.
    pub isid: u64,
    pub tsih: u16,
    pub itt: u32,
    pub cid: u16,
    pub cmd_sn: u32,
    pub exp_stat_sn: u32,
}

fn isid_get(b: &Bhs) -> u64 {
    b.0[8..14]
        .iter()
        .fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

fn isid_put(b: &mut Bhs, isid: u64) {
    for i in 0..6 {
        b.0[8 + i] = (isid >> (8 * (5 - i))) as u8;
    }
}

impl LoginRequest {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            transit: b.0[1] & 0x80 != 0,
            continue_bit: b.0[1] & 0x40 != 0,
            csg: Stage::from_bits(b.0[1] >> 2),
            nsg: Stage::from_bits(b.0[1]),
            version_max: b.0[2],
            version_min: b.0[3],
            isid: isid_get(b),
            tsih: b.u16_at(14),
            itt: b.itt(),
            cid: b.u16_at(20),
            cmd_sn: b.u32_at(24),
            exp_stat_sn: b.u32_at(28),
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::LoginRequest, true);
        b.0[1] = u8::from(self.transit) << 7
            | u8::from(self.continue_bit) << 6
            | (self.csg as u8) << 2
            | self.nsg as u8;
        b.0[2] = self.version_max;
        b.0[3] = self.version_min;
        isid_put(&mut b, self.isid & 0xFFFF_FFFF_FFFF);
        b.put_u16(14, self.tsih);
        b.put_u32(16, self.itt);
        b.put_u16(20, self.cid);
        b.put_u32(24, self.cmd_sn);
        b.put_u32(28, self.exp_stat_sn);
        b
    }
}

/// Login Response PDU (opcode 0x23).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginResponse {
    pub transit: bool,
    pub continue_bit: bool,
    pub csg: Stage,
    pub nsg: Stage,
    pub version_max: u8,
    pub version_active: u8,
    pub isid: u64,
    pub tsih: u16,
    pub itt: u32,
    pub sn: SeqNums,
    pub status_class: u8,
    pub status_detail: u8,
}

impl LoginResponse {
    pub(super) fn parse(b: &Bhs) -> Self {
        Self {
            transit: b.0[1] & 0x80 != 0,
            continue_bit: b.0[1] & 0x40 != 0,
            csg: Stage::from_bits(b.0[1] >> 2),
            nsg: Stage::from_bits(b.0[1]),
            version_max: b.0[2],
            version_active: b.0[3],
            isid: isid_get(b),
            tsih: b.u16_at(14),
            itt: b.itt(),
            sn: SeqNums::parse(b),
            status_class: b.0[36],
            status_detail: b.0[37],
        }
    }

    pub(super) fn encode(&self) -> Bhs {
        let mut b = Bhs::with_opcode(Opcode::LoginResponse, false);
        b.0[1] = u8::from(self.transit) << 7
            | u8::from(self.continue_bit) << 6
            | (self.csg as u8) << 2
            | self.nsg as u8;
        b.0[2] = self.version_max;
        b.0[3] = self.version_active;
        isid_put(&mut b, self.isid & 0xFFFF_FFFF_FFFF);
        b.put_u16(14, self.tsih);
        b.put_u32(16, self.itt);
        self.sn.put(&mut b);
        b.0[36] = self.status_class;
        b.0[37] = self.status_detail;
        b
    }
}
