//! The changer through `spc::Unit`, bytes on the wire: element status in `status.rs`,
//! moves and drives in `moves.rs`, unit attentions, persistence and failures in
//! `events.rs`, random CDBs in `fuzz.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod events;
mod fuzz;
mod moves;
mod status;

use super::{Changer, Model};
use crate::bay::DriveBay;
use crate::inventory::{Element, Inventory};
use crate::kv::MemKv;
use crate::media::{Barcode, CartridgeInfo, Generation};
use parking_lot::Mutex;
use std::sync::Arc;
use vsa_scsi::spc::{MemPrStore, Unit, UnitOptions};
use vsa_scsi::{Command, LogicalUnit, Nexus, Response, Sense, Status};

/// A drive that takes any cartridge, gives it up unless told to refuse, and reports its
/// identifier as `VENDOR  PRODUCT         SERIAL`.
#[derive(Debug, Default)]
pub(super) struct FakeDrive {
    pub(super) serial: String,
    pub(super) loaded: Mutex<Option<CartridgeInfo>>,
    pub(super) refuse_remove: Mutex<Option<Sense>>,
    pub(super) refuse_insert: Mutex<Option<Sense>>,
    pub(super) unloaded: Mutex<bool>,
}

impl FakeDrive {
    pub(super) fn new(serial: &str) -> Arc<FakeDrive> {
        Arc::new(FakeDrive {
            serial: serial.into(),
            ..FakeDrive::default()
        })
    }

    pub(super) fn holds(&self) -> Option<String> {
        self.loaded.lock().as_ref().map(|c| c.barcode.to_string())
    }
}

impl DriveBay for FakeDrive {
    fn device_identifier(&self) -> Vec<u8> {
        format!("IBM     ULT3580-TD8     {}", self.serial).into_bytes()
    }
    fn insert(&self, cartridge: &CartridgeInfo) -> Result<(), Sense> {
        if let Some(s) = self.refuse_insert.lock().clone() {
            return Err(s);
        }
        let mut l = self.loaded.lock();
        assert!(l.is_none(), "the robot put a cartridge into a full drive");
        *l = Some(cartridge.clone());
        Ok(())
    }
    fn remove(&self) -> Result<(), Sense> {
        if let Some(s) = self.refuse_remove.lock().clone() {
            return Err(s);
        }
        let mut l = self.loaded.lock();
        assert!(
            l.is_some(),
            "the robot took a cartridge from an empty drive"
        );
        *l = None;
        Ok(())
    }
    fn unloaded(&self) -> bool {
        *self.unloaded.lock()
    }
}

/// A library and its changer unit.
pub(super) struct Lib {
    pub(super) kv: Arc<MemKv>,
    pub(super) inv: Arc<Inventory>,
    pub(super) drives: Vec<Arc<FakeDrive>>,
    pub(super) unit: Unit<Changer>,
}

/// An STK L700 with 2 drives (500, 501), 6 slots (1000..1005) and 2 mail slots (10, 11);
/// slots 1000 and 1001 hold A00001L8 and A00002L8, slot 1002 the cleaning cartridge
/// CLN001CU.
pub(super) fn lib() -> Lib {
    lib_on(Arc::new(MemKv::new()), true)
}

pub(super) fn lib_on(kv: Arc<MemKv>, fill: bool) -> Lib {
    let layout = Model::StkL700.layout(2, 6, 2).unwrap();
    let inv = Arc::new(Inventory::open(kv.clone(), layout).unwrap());
    if fill {
        inv.add(["A00001L8", "A00002L8", "CLN001CU"].map(cart).to_vec())
            .unwrap();
    }
    let drives = vec![FakeDrive::new("1000000001"), FakeDrive::new("1000000002")];
    let bays: Vec<Arc<dyn DriveBay>> = drives.iter().map(|d| d.clone() as _).collect();
    let changer = Changer::new(inv.clone(), bays, Model::StkL700).unwrap();
    let identity = Model::StkL700.identity("VSA0001", [0x60; 16]);
    let pr = Arc::new(MemPrStore::new());
    let unit = Unit::new(changer, identity, UnitOptions::default(), pr).unwrap();
    let l = Lib {
        kv,
        inv,
        drives,
        unit,
    };
    // Each nexus's POWER ON unit attention, out of the way.
    for n in [a(), b()] {
        assert_eq!(sense_of(&l.run(&n, &[0; 6])), (0x6, 0x29, 0x00));
    }
    l
}

pub(super) fn cart(label: &str) -> CartridgeInfo {
    CartridgeInfo::for_barcode(Barcode::parse(label).unwrap(), Generation::Lto8, None)
}

pub(super) fn nexus(isid: u64) -> Nexus {
    Nexus {
        initiator: "iqn.2024-01.test:host".into(),
        isid,
        target: "iqn.2024-01.test:vtl".into(),
        tpgt: 1,
    }
}

pub(super) fn a() -> Nexus {
    nexus(1)
}

pub(super) fn b() -> Nexus {
    nexus(2)
}

impl Lib {
    pub(super) fn run(&self, n: &Nexus, cdb: &[u8]) -> Response {
        self.unit.execute(&Command {
            cdb,
            data_out: &vsa_scsi::Bytes::new(),
            expected_len: 1 << 20,
            nexus: n,
            attr: Default::default(),
        })
    }

    pub(super) fn run_out(&self, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
        self.unit.execute(&Command {
            cdb,
            data_out: &vsa_scsi::Bytes::copy_from_slice(data),
            expected_len: 1 << 20,
            nexus: n,
            attr: Default::default(),
        })
    }

    /// Runs `cdb` from nexus A and expects GOOD.
    pub(super) fn good(&self, cdb: &[u8]) -> Vec<u8> {
        let r = self.run(&a(), cdb);
        assert_eq!(r.status, Status::Good, "{cdb:02x?}: {:02x?}", r.sense);
        r.data
    }

    /// The barcode in element `addr`.
    pub(super) fn at(&self, addr: u16) -> Option<String> {
        self.elements()
            .into_iter()
            .find(|e| e.address == addr)
            .and_then(|e| e.occupant)
            .map(|o| o.barcode.to_string())
    }

    pub(super) fn elements(&self) -> Vec<Element> {
        self.inv.elements()
    }
}

/// (key, ASC, ASCQ) of a CHECK CONDITION in fixed format.
pub(super) fn sense_of(r: &Response) -> (u8, u8, u8) {
    assert_eq!(r.status, Status::CheckCondition, "expected CHECK CONDITION");
    let s = r.sense.as_ref().expect("sense data");
    (s[2] & 0x0F, s[12], s[13])
}

/// The sense-key-specific bytes (SKSV, C/D, BPV, bit; field pointer).
pub(super) fn sks_of(r: &Response) -> [u8; 3] {
    let s = r.sense.as_ref().expect("sense data");
    [s[15], s[16], s[17]]
}

/// MOVE MEDIUM from `src` to `dst` with the default transport.
pub(super) fn move_cdb(src: u16, dst: u16) -> [u8; 12] {
    let [s0, s1] = src.to_be_bytes();
    let [d0, d1] = dst.to_be_bytes();
    [0xA5, 0, 0, 0, s0, s1, d0, d1, 0, 0, 0, 0]
}

/// EXCHANGE MEDIUM.
pub(super) fn exchange_cdb(src: u16, d1: u16, d2: u16) -> [u8; 12] {
    let [s0, s1] = src.to_be_bytes();
    let [a0, a1] = d1.to_be_bytes();
    let [b0, b1] = d2.to_be_bytes();
    [0xA6, 0, 0, 0, s0, s1, a0, a1, b0, b1, 0, 0]
}

/// READ ELEMENT STATUS.
pub(super) fn res_cdb(flags: u8, start: u16, count: u16, dvcid: bool, alloc: u32) -> [u8; 12] {
    let [s0, s1] = start.to_be_bytes();
    let [c0, c1] = count.to_be_bytes();
    let [_, l0, l1, l2] = alloc.to_be_bytes();
    [
        0xB8,
        flags,
        s0,
        s1,
        c0,
        c1,
        u8::from(dvcid),
        l0,
        l1,
        l2,
        0,
        0,
    ]
}
