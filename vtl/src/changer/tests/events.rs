//! Unit attentions from the operator's work, persistence, and failed commits.

use super::*;

#[test]
fn import_and_export_raise_one_unit_attention_per_nexus() {
    let l = lib();
    l.inv.import_new(cart("B00001L8")).unwrap();
    for n in [a(), b()] {
        assert_eq!(sense_of(&l.run(&n, &[0; 6])), (0x6, 0x28, 0x01));
        assert_eq!(l.run(&n, &[0; 6]).status, Status::Good, "once");
    }
    // Two events before anyone asks: still one unit attention.
    l.inv.export(&Barcode::parse("B00001L8").unwrap()).unwrap();
    l.inv.import(&Barcode::parse("B00001L8").unwrap()).unwrap();
    for n in [a(), b()] {
        assert_eq!(sense_of(&l.run(&n, &[0; 6])), (0x6, 0x28, 0x01));
        assert_eq!(l.run(&n, &[0; 6]).status, Status::Good);
    }
    // Cartridges added to slots: the medium may have changed.
    l.inv.add(vec![cart("A00009L8")]).unwrap();
    for n in [a(), b()] {
        assert_eq!(sense_of(&l.run(&n, &[0; 6])), (0x6, 0x28, 0x00));
        assert_eq!(l.run(&n, &[0; 6]).status, Status::Good);
    }
    // The robot's own moves raise nothing.
    l.good(&move_cdb(10, 1005));
    assert_eq!(l.run(&b(), &[0; 6]).status, Status::Good);
}

#[test]
fn the_library_reopens_as_it_was_left() {
    let l = lib();
    l.good(&move_cdb(1000, 500));
    l.good(&exchange_cdb(1001, 1002, 1004));
    l.good(&move_cdb(1004, 10));
    let again = Inventory::open(
        Arc::new(l.kv.snapshot()),
        Model::StkL700.layout(2, 6, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(again.elements(), l.elements());
    assert_eq!(l.at(500).as_deref(), Some("A00001L8"));
    assert_eq!(l.at(1002).as_deref(), Some("A00002L8"));
    assert_eq!(l.at(10).as_deref(), Some("CLN001CU"));
}

#[test]
fn a_failed_commit_is_a_hardware_error_that_changes_nothing() {
    let l = lib();
    l.good(&move_cdb(1001, 501));
    let before = l.elements();
    l.kv.fail(true);
    let check = |c: &[u8]| assert_eq!(sense_of(&l.run(&a(), c)), (0x4, 0x44, 0x00), "{c:02x?}");
    check(&move_cdb(1000, 1003));
    check(&move_cdb(1000, 500));
    check(&move_cdb(501, 1003));
    check(&move_cdb(501, 500));
    check(&exchange_cdb(1000, 501, 1000));
    check(&exchange_cdb(501, 1000, 500));
    assert_eq!(l.elements(), before);
    assert_eq!(l.drives[0].holds(), None);
    assert_eq!(l.drives[1].holds().as_deref(), Some("A00002L8"));
    l.kv.fail(false);
    let again = Inventory::open(
        Arc::new(l.kv.snapshot()),
        Model::StkL700.layout(2, 6, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(again.elements(), before);
}
