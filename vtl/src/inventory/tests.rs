#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::kv::MemKv;
use crate::media::Generation;

/// 1 transport at 1, 2 mail slots from 10, 2 drives from 500, 4 slots from 1000.
pub(crate) fn layout() -> Layout {
    Layout {
        transport: Range { first: 1, count: 1 },
        import_export: Range {
            first: 10,
            count: 2,
        },
        drives: Range {
            first: 500,
            count: 2,
        },
        storage: Range {
            first: 1000,
            count: 4,
        },
    }
}

pub(crate) fn cart(label: &str) -> CartridgeInfo {
    CartridgeInfo::for_barcode(Barcode::parse(label).unwrap(), Generation::Lto8, None)
}

fn bc(label: &str) -> Barcode {
    Barcode::parse(label).unwrap()
}

fn open(kv: &Arc<MemKv>) -> Inventory {
    Inventory::open(kv.clone(), layout()).unwrap()
}

fn at(inv: &Inventory, label: &str) -> Option<u16> {
    inv.find(&bc(label)).and_then(|p| p.element).map(|(a, _)| a)
}

#[test]
fn layouts_are_checked() {
    let mut l = layout();
    assert!(l.check().is_ok());
    l.drives.first = 1001;
    assert!(l.check().is_err(), "drives overlap slots");
    let mut l = layout();
    l.transport.count = 2;
    assert!(l.check().is_err());
    let mut l = layout();
    l.storage = Range {
        first: 0xFFFF,
        count: 2,
    };
    assert!(l.check().is_err());
    assert_eq!(layout().kind(501), Some(ElementType::DataTransfer));
    assert_eq!(layout().kind(502), None);
    assert_eq!(layout().drive_index(501), Some(1));
    assert_eq!(layout().elements().len(), 9);
}

#[test]
fn add_fills_the_lowest_free_slots_and_refuses_duplicates_and_overflow() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    assert_eq!(
        inv.add(vec![cart("A00001L8"), cart("A00002L8")]).unwrap(),
        [1000, 1001]
    );
    let e = inv
        .add(vec![cart("A00003L8"), cart("A00001L8")])
        .unwrap_err();
    assert!(e.to_string().contains("already in the library"), "{e}");
    assert_eq!(inv.find(&bc("A00003L8")), None, "all or nothing");
    inv.add(vec![cart("A00003L8"), cart("A00004L8")]).unwrap();
    let e = inv.add(vec![cart("A00005L8")]).unwrap_err();
    assert!(matches!(e, VtlError::Full(_)), "{e}");
    assert_eq!(inv.door_events(), 2);
}

#[test]
fn moves_keep_the_source_slot_and_exchanges_swap() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    inv.add(vec![cart("A00001L8"), cart("A00002L8")]).unwrap();
    inv.move_medium(1000, 1003).unwrap();
    let e = &inv.elements()[8];
    assert_eq!(e.address, 1003);
    assert_eq!(e.occupant.as_ref().unwrap().source, Some(1000));
    assert!(matches!(
        inv.move_medium(1000, 1002),
        Err(VtlError::Conflict(_))
    ));
    assert!(matches!(
        inv.move_medium(1001, 1003),
        Err(VtlError::Conflict(_))
    ));
    assert!(matches!(
        inv.move_medium(1001, 7),
        Err(VtlError::NotFound(_))
    ));
    assert!(matches!(
        inv.move_medium(1001, 500),
        Err(VtlError::Invalid(_))
    ));
    inv.exchange(1001, 1003, 1001).unwrap();
    assert_eq!(at(&inv, "A00001L8"), Some(1001));
    assert_eq!(at(&inv, "A00002L8"), Some(1003));
    inv.exchange(1001, 1003, 1000).unwrap();
    assert_eq!(at(&inv, "A00001L8"), Some(1003));
    assert_eq!(at(&inv, "A00002L8"), Some(1000));
}

#[test]
fn import_and_export_go_through_the_mail_slots() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    assert_eq!(inv.import_new(cart("B00001L8")).unwrap(), 10);
    let e = &inv.elements()[1];
    assert!(e.occupant.as_ref().unwrap().by_operator);
    inv.add(vec![cart("A00001L8")]).unwrap();
    // From a storage slot, through the free mail slot, to the shelf.
    assert_eq!(inv.export(&bc("A00001L8")).unwrap(), 1000);
    assert_eq!(at(&inv, "A00001L8"), None);
    assert!(inv.find(&bc("A00001L8")).is_some(), "kept on the shelf");
    assert_eq!(inv.import(&bc("A00001L8")).unwrap(), 11);
    // Both mail slots full: no export from a storage slot, no import.
    inv.move_medium(11, 1000).unwrap();
    inv.import_new(cart("B00002L8")).unwrap();
    assert!(matches!(
        inv.export(&bc("A00001L8")),
        Err(VtlError::Full(_))
    ));
    assert!(matches!(
        inv.import_new(cart("B00003L8")),
        Err(VtlError::Full(_))
    ));
    inv.set_removal_prevented(true);
    let e = inv.export(&bc("B00001L8")).unwrap_err();
    assert!(e.to_string().contains("prevents medium removal"), "{e}");
    assert!(inv.delete(&bc("B00001L8")).is_err());
    let e = inv.export(&bc("Z00001L8")).unwrap_err();
    assert!(matches!(e, VtlError::NotFound(_)), "{e}");
    inv.set_removal_prevented(false);
    inv.export(&bc("B00001L8")).unwrap();
    assert_eq!(inv.import_export_events(), 5);
}

#[test]
fn cartridges_in_drives_are_neither_deleted_nor_exported() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    inv.add(vec![cart("A00001L8")]).unwrap();
    inv.lock()
        .apply(|c| {
            c.apply_move(1000, 500);
            Ok(())
        })
        .unwrap();
    for e in [
        inv.delete(&bc("A00001L8")).unwrap_err(),
        inv.export(&bc("A00001L8")).unwrap_err(),
    ] {
        assert!(e.to_string().contains("drive at 0x01f4"), "{e}");
    }
    inv.set_write_protect(&bc("A00001L8"), true).unwrap();
    assert!(inv.find(&bc("A00001L8")).unwrap().cartridge.write_protected);
    assert!(inv.delete(&bc("Z00001L8")).is_err());
}

#[test]
fn the_inventory_survives_reopening() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    inv.add(vec![cart("A00001L8"), cart("A00002L8"), cart("CLN001CU")])
        .unwrap();
    inv.move_medium(1001, 1).unwrap();
    inv.import_new(cart("B00001L8")).unwrap();
    inv.export(&bc("A00001L8")).unwrap();
    inv.set_write_protect(&bc("CLN001CU"), true).unwrap();
    inv.delete(&bc("B00001L8")).unwrap();
    let syncs = kv.syncs();
    assert_eq!(syncs, 7, "one synced commit per change (and the creation)");
    let again = Inventory::open(Arc::new(kv.snapshot()), layout()).unwrap();
    assert_eq!(again.elements(), inv.elements());
    assert_eq!(again.cartridges(), inv.cartridges());
    let mut other = layout();
    other.storage.count = 5;
    assert!(Inventory::open(kv.clone(), other).is_err());
}

#[test]
fn a_failed_commit_changes_nothing() {
    let kv = Arc::new(MemKv::new());
    let inv = open(&kv);
    inv.add(vec![cart("A00001L8")]).unwrap();
    let before = (inv.elements(), inv.cartridges());
    kv.fail(true);
    assert!(inv.add(vec![cart("A00002L8")]).is_err());
    assert!(inv.move_medium(1000, 1001).is_err());
    assert!(inv.exchange(1000, 1000, 1000).is_err());
    assert!(inv.import_new(cart("B00001L8")).is_err());
    assert!(inv.export(&bc("A00001L8")).is_err());
    assert!(inv.delete(&bc("A00001L8")).is_err());
    assert!(inv.set_write_protect(&bc("A00001L8"), true).is_err());
    assert_eq!((inv.elements(), inv.cartridges()), before);
    assert_eq!((inv.import_export_events(), inv.door_events()), (0, 1));
    kv.fail(false);
    let again = Inventory::open(Arc::new(kv.snapshot()), layout()).unwrap();
    assert_eq!(again.elements(), before.0);
}

#[test]
fn damaged_records_are_reported() {
    let kv = Arc::new(MemKv::new());
    open(&kv).add(vec![cart("A00001L8")]).unwrap();
    let mut b = Batch::default();
    b.put(
        b"inv/e/03E9".to_vec(),
        br#"{"barcode":"A00001L8"}"#.to_vec(),
    );
    kv.commit(b, true).unwrap();
    let e = Inventory::open(kv.clone(), layout()).unwrap_err();
    assert!(e.to_string().contains("in two elements"), "{e}");
    let mut b = Batch::default();
    b.put(b"inv/e/03E9".to_vec(), b"{".to_vec());
    kv.commit(b, true).unwrap();
    assert!(matches!(
        Inventory::open(kv, layout()),
        Err(VtlError::Corrupt { .. })
    ));
}
