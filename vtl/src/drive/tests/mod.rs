//! The drive through the shared SPC layer, as an initiator sees it: exact status, data,
//! sense keys, codes, bits and residuals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod motion;
mod rw;
mod security;

use super::model::DriveModel;
use super::TapeDrive;
use crate::bay::DriveBay;
use crate::kv::MemKv;
use crate::media::{Barcode, CartridgeInfo, Generation};
use crate::store::{Store, SEGMENT};
use std::sync::Arc;
use vsa_blockdev::testing::{FaultyDevice, MemDevice};
use vsa_scsi::spc::{MemPrStore, Unit, UnitOptions};
use vsa_scsi::{Command, LogicalUnit, Nexus, Response, Status};

pub(super) struct Rig {
    pub unit: Unit<TapeDrive>,
    pub drive: TapeDrive,
    /// The store's volume, which tests can make fail.
    pub dev: Arc<FaultyDevice<MemDevice>>,
    pub kv: Arc<MemKv>,
    pub nexus: Nexus,
}

pub(super) fn nexus(name: &str) -> Nexus {
    Nexus {
        initiator: name.into(),
        isid: 1,
        target: "iqn.2026-01.test:vtl".into(),
        tpgt: 1,
    }
}

/// A drive of `model` over a fresh store, powered on (its POWER ON attention seen).
pub(super) fn rig_with(model: DriveModel) -> Rig {
    let dev = Arc::new(FaultyDevice::new(MemDevice::new(16 * SEGMENT, 4096)));
    let kv = Arc::new(MemKv::new());
    let store = Store::open(dev.clone(), kv.clone()).unwrap();
    let drive = TapeDrive::new(model, "1013000001", store);
    let unit = Unit::new(
        drive.clone(),
        model.identity("1013000001", [0x60; 16]),
        UnitOptions::default(),
        Arc::new(MemPrStore::new()),
    )
    .unwrap();
    let r = Rig {
        unit,
        drive,
        dev,
        kv,
        nexus: nexus("iqn.a"),
    };
    assert_eq!(sense_of(&r.run(&[0; 6], &[])), (0x6, 0x29, 0x00));
    r
}

/// An IBM LTO-8 drive with cartridge `barcode` loaded (capacity `cap` if given).
pub(super) fn loaded(barcode: &str, cap: Option<u64>) -> Rig {
    let r = rig_with(DriveModel::DEFAULT);
    r.insert(barcode, cap);
    r
}

impl Rig {
    pub fn insert(&self, barcode: &str, cap: Option<u64>) {
        let info =
            CartridgeInfo::for_barcode(Barcode::parse(barcode).unwrap(), Generation::Lto8, cap);
        self.drive.insert(&info).unwrap();
        // The medium may have changed: once per nexus.
        assert_eq!(sense_of(&self.run(&[0; 6], &[])), (0x6, 0x28, 0x00));
        assert_eq!(self.run(&[0; 6], &[]).status, Status::Good);
    }

    pub fn run(&self, cdb: &[u8], data: &[u8]) -> Response {
        self.run_as(&self.nexus, cdb, data)
    }

    /// The response, its data-in in one piece (`data`: what the device handed out
    /// shared, the records of a READ, follows what it built).
    pub fn run_as(&self, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
        let mut r = self.unit.execute(&Command {
            cdb,
            data_out: &vsa_scsi::Bytes::copy_from_slice(data),
            expected_len: 16 << 20,
            nexus: n,
            attr: Default::default(),
        });
        for b in std::mem::take(&mut r.shared) {
            r.data.extend_from_slice(&b);
        }
        r
    }

    pub fn good(&self, cdb: &[u8], data: &[u8]) -> Response {
        let r = self.run(cdb, data);
        assert_eq!(
            r.status,
            Status::Good,
            "{cdb:02x?}: sense {:?}",
            sense_of(&r)
        );
        r
    }

    /// WRITE(6) of one variable block.
    pub fn write(&self, data: &[u8]) -> Response {
        let n = (data.len() as u32).to_be_bytes();
        self.run(&[0x0A, 0, n[1], n[2], n[3], 0], data)
    }

    /// READ(6) of one variable block of up to `len` bytes.
    pub fn read(&self, len: u32, sili: bool) -> Response {
        let n = len.to_be_bytes();
        self.run(&[0x08, u8::from(sili) << 1, n[1], n[2], n[3], 0], &[])
    }

    pub fn filemarks(&self, n: u8, immed: bool) -> Response {
        self.run(&[0x10, u8::from(immed), 0, 0, n, 0], &[])
    }

    pub fn rewind(&self) {
        self.good(&[0x01, 0, 0, 0, 0, 0], &[]);
    }

    /// SPACE(6) with a signed count.
    pub fn space(&self, code: u8, count: i32) -> Response {
        let c = count.to_be_bytes();
        self.run(&[0x11, code, c[1], c[2], c[3], 0], &[])
    }

    /// The logical object number (READ POSITION, long form).
    pub fn pos(&self) -> u64 {
        let d = self.good(&[0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0], &[]).data;
        u64::from_be_bytes(d[8..16].try_into().unwrap())
    }

    /// The file number (READ POSITION, long form).
    pub fn file(&self) -> u64 {
        let d = self.good(&[0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0], &[]).data;
        u64::from_be_bytes(d[16..24].try_into().unwrap())
    }
}

/// (key, ASC, ASCQ) of a response's sense data.
pub(super) fn sense_of(r: &Response) -> (u8, u8, u8) {
    let s = r.sense.as_deref().unwrap_or_default();
    if s.is_empty() {
        return (0, 0, 0);
    }
    (s[2] & 0x0F, s[12], s[13])
}

/// FILEMARK, EOM and ILI bits of fixed-format sense.
pub(super) fn bits(r: &Response) -> (bool, bool, bool) {
    let b = r.sense.as_deref().map_or(0, |s| s[2]);
    (b & 0x80 != 0, b & 0x40 != 0, b & 0x20 != 0)
}

/// The INFORMATION field as a signed residual, if VALID.
pub(super) fn residual(r: &Response) -> Option<i32> {
    let s = r.sense.as_deref()?;
    (s[0] & 0x80 != 0).then(|| i32::from_be_bytes(s[3..7].try_into().unwrap()))
}

pub(super) fn block(n: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 7 + i) as u8).collect()
}
