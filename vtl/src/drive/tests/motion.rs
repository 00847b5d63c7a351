//! SPACE, LOCATE, READ POSITION, LOAD UNLOAD, PREVENT ALLOW, ERASE, and the drive's
//! parameter pages.

use super::*;
use crate::drive::opcodes::OPCODES;
use proptest::prelude::*;

/// Blocks 0-2, filemark 3, blocks 4-5, filemark 6, filemark 7, block 8; end of data 9.
fn two_files() -> Rig {
    let r = loaded("VSA001L8", None);
    for i in 0..3 {
        r.write(&block(i, 100));
    }
    r.filemarks(1, false);
    r.write(&block(4, 100));
    r.write(&block(5, 100));
    r.filemarks(2, false);
    r.write(&block(8, 100));
    r.rewind();
    r
}

#[test]
fn spacing_over_blocks_stops_at_filemarks_on_the_correct_side() {
    let r = two_files();
    let s = r.space(0, 5);
    assert_eq!(
        (sense_of(&s), bits(&s).0, residual(&s)),
        ((0, 0, 1), true, Some(2))
    );
    assert_eq!(r.pos(), 4, "after the filemark, going forward");
    let s = r.space(0, -2);
    assert_eq!(
        (sense_of(&s), bits(&s).0, residual(&s)),
        ((0, 0, 1), true, Some(2))
    );
    assert_eq!(r.pos(), 3, "before the filemark, going back");
    assert_eq!(r.space(0, -3).status, Status::Good);
    assert_eq!(r.pos(), 0);
    let s = r.space(0, -1);
    assert_eq!(
        (sense_of(&s), bits(&s).1, residual(&s)),
        ((0, 0, 4), true, Some(1))
    );
    r.good(&[0x2B, 0, 0, 0, 0, 0, 8, 0, 0, 0], &[]);
    let s = r.space(0, 4);
    assert_eq!((sense_of(&s), residual(&s)), ((0x8, 0, 5), Some(3)));
    assert_eq!(r.pos(), 9);
}

#[test]
fn spacing_over_filemarks_reports_what_was_not_spaced() {
    let r = two_files();
    assert_eq!(r.space(1, 2).status, Status::Good);
    assert_eq!((r.pos(), r.file()), (7, 2));
    // Past the end of data: BLANK CHECK and the count not spaced (st computes the file
    // number from it).
    let s = r.space(1, 5);
    assert_eq!((sense_of(&s), residual(&s)), ((0x8, 0, 5), Some(4)));
    assert_eq!((r.pos(), r.file()), (9, 3));
    // Back over one filemark: on its beginning-of-partition side.
    assert_eq!(r.space(1, -1).status, Status::Good);
    assert_eq!(r.pos(), 7);
    let s = r.space(1, -4);
    assert_eq!(
        (sense_of(&s), bits(&s).1, residual(&s)),
        ((0, 0, 4), true, Some(2))
    );
    assert_eq!(r.pos(), 0);
    r.good(&[0x11, 0x03, 0, 0, 0, 0], &[]);
    assert_eq!(r.pos(), 9);
    // SPACE(16) over filemarks, backwards.
    let mut c = [0u8; 16];
    c[0] = 0x91;
    c[1] = 1;
    c[4..12].copy_from_slice(&(-1i64).to_be_bytes());
    r.good(&c, &[]);
    assert_eq!(r.pos(), 7);
}

#[test]
fn locate_and_read_position_agree() {
    let r = two_files();
    r.good(&[0x2B, 0, 0, 0, 0, 0, 5, 0, 0, 0], &[]);
    assert_eq!(r.read(100, false).data, block(5, 100));
    // Short form: BOP clear, first and last block location 6.
    let d = r.good(&[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]).data;
    assert_eq!(
        (d.len(), d[0], &d[4..12]),
        (20, 0, &[0, 0, 0, 6, 0, 0, 0, 6][..])
    );
    // Extended form, cut to the allocation length.
    let d = r.good(&[0x34, 0x08, 0, 0, 0, 0, 0, 0, 32, 0], &[]).data;
    assert_eq!(
        (&d[2..4], &d[8..16]),
        (&[0, 0x1C][..], &6u64.to_be_bytes()[..])
    );
    // LOCATE(16) to file 2 (after the second filemark).
    let mut c = [0u8; 16];
    c[0] = 0x92;
    c[1] = 1 << 3;
    c[4..12].copy_from_slice(&2u64.to_be_bytes());
    r.good(&c, &[]);
    assert_eq!(r.pos(), 7);
    // Past the end of data: BLANK CHECK at the end of data.
    let s = r.run(&[0x2B, 0, 0, 0, 0, 0, 50, 0, 0, 0], &[]);
    assert_eq!(sense_of(&s), (0x8, 0, 5));
    assert_eq!(r.pos(), 9);
    r.rewind();
    let d = r.good(&[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]).data;
    assert_eq!(d[0], 0x80, "BOP");
    // Another partition does not exist.
    assert_eq!(
        sense_of(&r.run(&[0x2B, 0x02, 0, 0, 0, 0, 0, 0, 1, 0], &[])),
        (0x5, 0x24, 0)
    );
}

#[test]
fn erase_returns_space_and_ends_the_data_at_the_position() {
    let r = loaded("VSA001L8", None);
    for i in 0..40 {
        r.write(&crate::store::dedup::chunk::noise(i, 1 << 20));
    }
    r.filemarks(1, false);
    let full = r.dev.inner().resident_bytes();
    r.rewind();
    r.space(0, 1);
    r.good(&[0x19, 0x01, 0, 0, 0, 0], &[]);
    r.good(&[0x11, 0x03, 0, 0, 0, 0], &[]);
    assert_eq!(r.pos(), 1);
    assert!(r.dev.inner().resident_bytes() < full / 10);
}

#[test]
fn unload_load_and_prevent_medium_removal() {
    let r = loaded("VSA001L8", None);
    r.write(&block(1, 10));
    r.good(&[0x1E, 0, 0, 0, 1, 0], &[]);
    assert_eq!(
        sense_of(&r.run(&[0x1B, 0, 0, 0, 0, 0], &[])),
        (0x5, 0x53, 0x02)
    );
    assert_eq!(
        r.drive.remove(),
        Err(super::super::sense::removal_prevented())
    );
    r.good(&[0x1E, 0, 0, 0, 0, 0], &[]);
    r.good(&[0x1B, 0, 0, 0, 0, 0], &[]);
    assert!(r.drive.unloaded());
    assert_eq!(sense_of(&r.run(&[0; 6], &[])), (0x2, 0x3A, 0));
    r.good(&[0x1B, 0, 0, 0, 1, 0], &[]);
    assert_eq!(r.read(10, false).data, block(1, 10));
    // A prevent from a nexus that goes away does not hold the cartridge.
    let other = nexus("iqn.b");
    r.run_as(&other, &[0; 6], &[]);
    r.run_as(&other, &[0x1E, 0, 0, 0, 1, 0], &[]);
    vsa_scsi::LogicalUnit::nexus_lost(&r.unit, &other);
    assert_eq!(r.drive.remove(), Ok(()));
}

#[test]
fn parameters_backup_software_reads() {
    let r = loaded("VSA001L8", None);
    let d = r.good(&[0x05, 0, 0, 0, 0, 0], &[]).data;
    assert_eq!(d, [0, 0x80, 0, 0, 0, 1]);
    let d = r.good(&[0x44, 0, 0, 0, 0, 0, 0, 0x10, 0, 0], &[]).data;
    assert_eq!(
        (d.len(), d[4], d[6], d[56], d[58]),
        (4 + 2 * 52, 0x5E, 0xA0, 0x5C, 0x80)
    );
    let d = r.good(&[0x4D, 0, 0x00, 0, 0, 0, 0, 0, 64, 0], &[]).data;
    assert_eq!(&d[4..], &[0x00, 0x02, 0x03, 0x0C, 0x1B, 0x2E, 0x31]);
    // Compression: DCE is changeable through the data compression page.
    let mut page = r.good(&[0x1A, 0x08, 0x0F, 0, 255, 0], &[]).data;
    assert_eq!(page[4] & 0x3F, 0x0F);
    page[0] = 0;
    page[4 + 2] |= 0x80;
    r.good(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    assert!(r.drive.status().compression);
    let inq = r.good(&[0x12, 0, 0, 0, 96, 0], &[]).data;
    assert_eq!(&inq[8..27], b"IBM     ULT3580-TD8");
    assert_eq!(inq[0], 0x01);
}

#[test]
fn every_listed_opcode_reaches_its_handler() {
    // REPORT SUPPORTED OPERATION CODES and the dispatcher read one list: a command the
    // list names is served, never refused as an unknown operation code.
    let r = two_files();
    for info in OPCODES {
        let mut cdb = vec![0; info.usage.len()];
        cdb[0] = info.opcode;
        let s = r.run(&cdb, &[]);
        assert_ne!(
            sense_of(&s),
            (0x5, 0x20, 0x00),
            "opcode {:#04x}",
            info.opcode
        );
    }
    assert_eq!(
        sense_of(&r.run(&[0xC0, 0, 0, 0, 0, 0], &[])),
        (0x5, 0x20, 0x00)
    );
}

proptest! {
    #[test]
    fn random_cdbs_never_panic(
        op in prop::sample::select(
            OPCODES.iter().map(|info| info.opcode).chain([0x1E]).collect::<Vec<u8>>()
        ),
        rest in prop::collection::vec(any::<u8>(), 5..16),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let r = two_files();
        let mut cdb = vec![op];
        cdb.extend(rest);
        let _ = r.run(&cdb, &data);
        let _ = r.run(&[0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    }
}

#[test]
fn tapealert_asks_for_cleaning_until_a_cleaning_cartridge_loads() {
    let r = rig_with(DriveModel::DEFAULT);
    r.drive.set_clean_every(2);
    let flags = |r: &Rig| {
        let d = r.good(&[0x4D, 0, 0x2E, 0, 0, 0, 0, 2, 0, 0], &[]).data;
        // Parameter n (1-based) is 5 bytes at 4 + 5 (n - 1); its value is the last byte.
        (d[4 + 5 * 19 + 4], d[4 + 5 * 20 + 4])
    };
    r.insert("VSA001L8", None);
    assert_eq!(flags(&r), (0, 0));
    r.drive.remove().unwrap();
    r.insert("VSA001L8", None);
    assert_eq!(flags(&r), (1, 1));
    assert!(r.drive.status().cleaning_due);
    r.drive.remove().unwrap();
    // The cleaning cartridge cleans and is unloaded at once, for the robot to take.
    let clean =
        CartridgeInfo::for_barcode(Barcode::parse("CLN001CU").unwrap(), Generation::Lto8, None);
    r.drive.insert(&clean).unwrap();
    assert!(r.drive.unloaded());
    let _ = r.run(&[0; 6], &[]);
    assert_eq!(sense_of(&r.run(&[0; 6], &[])), (0x2, 0x3A, 0x00));
    assert_eq!(flags(&r), (0, 0));
    assert!(!r.drive.status().cleaning_due);
    r.drive.remove().unwrap();
}
