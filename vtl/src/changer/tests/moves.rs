//! MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT, INITIALIZE ELEMENT STATUS (WITH
//! RANGE), PREVENT ALLOW MEDIUM REMOVAL, and the drives the robot loads and unloads.

use super::*;
use vsa_scsi::SenseKey;

#[test]
fn moves_between_slots_and_their_errors() {
    let l = lib();
    l.good(&move_cdb(1000, 1005));
    assert_eq!(l.at(1005).as_deref(), Some("A00001L8"));
    assert_eq!(l.at(1000), None);
    // From an empty element, to a full one.
    assert_eq!(
        sense_of(&l.run(&a(), &move_cdb(1000, 1003))),
        (0x5, 0x3B, 0x0E)
    );
    assert_eq!(
        sense_of(&l.run(&a(), &move_cdb(1001, 1005))),
        (0x5, 0x3B, 0x0D)
    );
    assert_eq!(
        sense_of(&l.run(&a(), &move_cdb(1001, 1001))),
        (0x5, 0x3B, 0x0D)
    );
    // Addresses that are no element's, with the field pointer on the address.
    let r = l.run(&a(), &move_cdb(999, 1003));
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 4])
    );
    let r = l.run(&a(), &move_cdb(1001, 502));
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 6])
    );
    let mut c = move_cdb(1001, 1003);
    c[3] = 5;
    let r = l.run(&a(), &c);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 2])
    );
    c[10] = 0x01; // INVERT
    c[3] = 1;
    let r = l.run(&a(), &c);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x24, 0x00), [0xC8, 0, 10])
    );
    // The transport's own address works like 0; the transport can hold a cartridge.
    c[10] = 0;
    l.good(&c);
    l.good(&move_cdb(1003, 1));
    assert_eq!(l.at(1).as_deref(), Some("A00002L8"));
}

#[test]
fn moves_load_and_unload_drives() {
    let l = lib();
    l.good(&move_cdb(1001, 501));
    assert_eq!(l.drives[1].holds().as_deref(), Some("A00002L8"));
    l.good(&move_cdb(501, 500));
    assert_eq!(l.drives[0].holds().as_deref(), Some("A00002L8"));
    assert_eq!(l.drives[1].holds(), None);
    l.good(&move_cdb(500, 1004));
    assert_eq!(l.drives[0].holds(), None);
    // Back in a slot, it still names the slot it first left.
    let e = l
        .elements()
        .into_iter()
        .find(|e| e.address == 1004)
        .unwrap();
    assert_eq!(e.occupant.unwrap().source, Some(1001));
    assert!(
        l.inv.move_medium(1004, 500).is_err(),
        "drives only through the changer"
    );
    l.unit.device().move_medium(1004, 500).unwrap();
    assert_eq!(l.drives[0].holds().as_deref(), Some("A00002L8"));
}

#[test]
fn a_drive_that_keeps_its_cartridge_fails_the_move() {
    let l = lib();
    l.good(&move_cdb(1000, 500));
    let before = l.elements();
    *l.drives[0].refuse_remove.lock() = Some(Sense::removal_prevented());
    let r = l.run(&a(), &move_cdb(500, 1003));
    assert_eq!(sense_of(&r), (0x5, 0x53, 0x02));
    assert_eq!(l.elements(), before);
    assert_eq!(l.drives[0].holds().as_deref(), Some("A00001L8"));
    let e = l.unit.device().move_medium(500, 1003).unwrap_err();
    assert!(e.to_string().contains("allow removal"), "{e}");
}

#[test]
fn a_drive_that_refuses_a_cartridge_leaves_everything_in_place() {
    let l = lib();
    l.good(&move_cdb(1000, 500));
    let before = l.elements();
    let failed = Sense::new(SenseKey::HardwareError, 0x44, 0x00);
    *l.drives[1].refuse_insert.lock() = Some(failed);
    assert_eq!(
        sense_of(&l.run(&a(), &move_cdb(500, 501))),
        (0x4, 0x44, 0x00)
    );
    assert_eq!(l.elements(), before);
    assert_eq!(l.drives[0].holds().as_deref(), Some("A00001L8"), "put back");
    assert_eq!(l.drives[1].holds(), None);
}

#[test]
fn exchanges_swap_and_rotate() {
    let l = lib();
    l.good(&exchange_cdb(1000, 1001, 1000));
    assert_eq!(l.at(1000).as_deref(), Some("A00002L8"));
    assert_eq!(l.at(1001).as_deref(), Some("A00001L8"));
    l.good(&exchange_cdb(1000, 1001, 1003));
    assert_eq!(l.at(1001).as_deref(), Some("A00002L8"));
    assert_eq!(l.at(1003).as_deref(), Some("A00001L8"));
    assert_eq!(l.at(1000), None);
    // With a drive: the drive swaps cartridges.
    l.good(&move_cdb(1001, 500));
    l.good(&exchange_cdb(500, 1003, 500));
    assert_eq!(l.drives[0].holds().as_deref(), Some("A00001L8"));
    assert_eq!(l.at(1003).as_deref(), Some("A00002L8"));
    // Errors: an empty source or first destination, a full second destination.
    let e = |c: [u8; 12]| sense_of(&l.run(&a(), &c));
    assert_eq!(e(exchange_cdb(1000, 1003, 1000)), (0x5, 0x3B, 0x0E));
    assert_eq!(e(exchange_cdb(1003, 1004, 1003)), (0x5, 0x3B, 0x0E));
    assert_eq!(e(exchange_cdb(1003, 1002, 500)), (0x5, 0x3B, 0x0D));
    let r = l.run(&a(), &exchange_cdb(1003, 1002, 9));
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 8])
    );
    let mut c = exchange_cdb(1003, 1002, 1003);
    c[10] = 0x02; // INV2
    let r = l.run(&a(), &c);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x24, 0x00), [0xC9, 0, 10])
    );
}

#[test]
fn position_and_initialize_check_addresses() {
    let l = lib();
    l.good(&[0x2B, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 0]);
    let r = l.run(&a(), &[0x2B, 0, 0, 0, 0x03, 0xE7, 0, 0, 0, 0]);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 4])
    );
    let r = l.run(&a(), &[0x2B, 0, 0, 0, 0x03, 0xE8, 0, 0, 1, 0]);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x24, 0x00), [0xC8, 0, 8])
    );
    l.good(&[0x07, 0, 0, 0, 0, 0]);
    l.good(&[0x37, 0x03, 0x01, 0xF4, 0, 0, 0, 2, 0, 0]);
    l.good(&[0x37, 0x00, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0]);
    let r = l.run(&a(), &[0x37, 0x01, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0]);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x21, 0x01), [0xC0, 0, 2])
    );
}

#[test]
fn prevent_locks_the_mail_slots_per_nexus() {
    let l = lib();
    l.inv.import_new(cart("B00001L8")).unwrap();
    for n in [a(), b()] {
        assert_eq!(sense_of(&l.run(&n, &[0; 6])), (0x6, 0x28, 0x01));
    }
    let bc = Barcode::parse("B00001L8").unwrap();
    let prevent = [0x1E, 0, 0, 0, 1, 0];
    let allow = [0x1E, 0, 0, 0, 0, 0];
    l.good(&prevent);
    assert_eq!(l.run(&b(), &prevent).status, Status::Good);
    assert!(l.inv.export(&bc).is_err());
    l.good(&allow);
    assert!(l.inv.removal_prevented(), "B still prevents");
    vsa_scsi::LogicalUnit::nexus_lost(&l.unit, &b());
    assert!(!l.inv.removal_prevented());
    l.good(&prevent);
    vsa_scsi::LogicalUnit::reset(&l.unit, vsa_scsi::Reset::LogicalUnit, &a());
    assert!(!l.inv.removal_prevented());
    let r = l.run(&a(), &[0x1E, 0, 0, 0, 2, 0]);
    assert_eq!(
        sense_of(&r),
        (0x6, 0x29, 0x03),
        "the reset's unit attention first"
    );
    let r = l.run(&a(), &[0x1E, 0, 0, 0, 2, 0]);
    assert_eq!(
        (sense_of(&r), sks_of(&r)),
        ((0x5, 0x24, 0x00), [0xC9, 0, 4])
    );
    // The robot may still put cartridges into a locked mail slot.
    l.good(&prevent);
    l.good(&move_cdb(1000, 11));
    l.good(&allow);
    l.inv.export(&bc).unwrap();
}
