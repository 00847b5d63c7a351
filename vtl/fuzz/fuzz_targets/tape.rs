//! Runs arbitrary command streams (CDBs with data-out, from three I_T nexuses, with resets)
//! through an LTO-8 drive with a small cartridge loaded, over an in-memory cartridge store:
//! nothing may panic, sense comes exactly with CHECK CONDITION, and what the drive wrote
//! stays readable by a fresh reader of its catalog.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use vsa_blockdev::testing::MemDevice;
use vsa_scsi::spc::{MemPrStore, Unit, UnitOptions};
use vsa_vtl::drive::model::DriveModel;
use vsa_vtl::kv::MemKv;
use vsa_vtl::media::{Barcode, CartridgeInfo, Generation};
use vsa_vtl::store::{Store, Tape, SEGMENT};
use vsa_vtl::{DriveBay, TapeDrive};

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(4 * SEGMENT, 4096));
    let kv = Arc::new(MemKv::new());
    let Ok(store) = Store::open(dev, kv) else {
        return;
    };
    let drive = TapeDrive::new(DriveModel::DEFAULT, "1000000001", store.clone());
    let Ok(barcode) = Barcode::parse("FUZ000L8") else {
        return;
    };
    let cart = CartridgeInfo::for_barcode(barcode, Generation::Lto8, Some(8 << 20));
    if drive.insert(&cart).is_err() {
        return;
    }
    let identity = DriveModel::DEFAULT.identity("1000000001", [0x60; 16]);
    let Ok(unit) = Unit::new(
        drive.clone(),
        identity,
        UnitOptions::default(),
        Arc::new(MemPrStore::new()),
    ) else {
        return;
    };
    vsa_scsi::selfcheck::commands(&unit, data);
    // Whatever happened, a sync leaves a catalog that opens and whose records read back.
    if drive.flush().is_ok() {
        let t = Tape::open(store, "FUZ000L8").expect("the catalog opens after any commands");
        for n in 0..t.index().objects() {
            let o = t
                .index()
                .get(n)
                .expect("objects below the end of data exist");
            if o.data.is_some() {
                t.read(&o).expect("every record reads back");
            }
        }
    }
});
