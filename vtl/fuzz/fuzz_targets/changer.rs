//! Runs arbitrary command streams through a library's medium changer (STK L700 layout,
//! two real drives, four cartridges): nothing may panic, sense comes exactly with CHECK
//! CONDITION, and the inventory still holds each cartridge exactly once and reopens from
//! its catalog as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use vsa_blockdev::testing::MemDevice;
use vsa_scsi::spc::{MemPrStore, Unit, UnitOptions};
use vsa_vtl::changer::{Changer, Model};
use vsa_vtl::drive::model::DriveModel;
use vsa_vtl::kv::MemKv;
use vsa_vtl::media::{Barcode, CartridgeInfo, Generation};
use vsa_vtl::store::{Store, SEGMENT};
use vsa_vtl::{DriveBay, Inventory, TapeDrive};

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(2 * SEGMENT, 4096));
    let kv = Arc::new(MemKv::new());
    let Ok(store) = Store::open(dev, kv.clone()) else {
        return;
    };
    let Ok(layout) = Model::StkL700.layout(2, 6, 2) else {
        return;
    };
    let Ok(inv) = Inventory::open(kv.clone(), layout) else {
        return;
    };
    let inv = Arc::new(inv);
    let carts: Vec<CartridgeInfo> = ["A00000L8", "A00001L8", "A00002L9", "CLN001CU"]
        .iter()
        .filter_map(|b| Barcode::parse(b).ok())
        .map(|b| CartridgeInfo::for_barcode(b, Generation::Lto8, Some(4 << 20)))
        .collect();
    if inv.add(carts).is_err() {
        return;
    }
    let drives: Vec<Arc<dyn DriveBay>> = (0..2)
        .map(|i| {
            Arc::new(TapeDrive::new(
                DriveModel::DEFAULT,
                &format!("100000000{i}"),
                store.clone(),
            )) as Arc<dyn DriveBay>
        })
        .collect();
    let Ok(changer) = Changer::new(inv.clone(), drives, Model::StkL700) else {
        return;
    };
    let identity = Model::StkL700.identity("C0", [0x60; 16]);
    let Ok(unit) = Unit::new(
        changer,
        identity,
        UnitOptions::default(),
        Arc::new(MemPrStore::new()),
    ) else {
        return;
    };
    vsa_scsi::selfcheck::commands(&unit, data);
    let placed = inv.cartridges();
    assert_eq!(placed.len(), 4, "no cartridge lost or made");
    let again = Inventory::open(kv, layout).expect("the inventory reopens from its catalog");
    assert_eq!(
        again.elements(),
        inv.elements(),
        "the catalog holds what the changer shows"
    );
});
