//! READ, WRITE and WRITE FILEMARKS: records, filemarks, end of data, block modes,
//! early warning and the end of the medium, protection, durability.

use super::*;
use crate::store::Tape;

#[test]
fn records_and_filemarks_read_back_with_the_sense_ssc_gives() {
    let r = loaded("VSA001L8", None);
    for i in 0..3 {
        assert_eq!(r.write(&block(i, 1000 + i as usize)).status, Status::Good);
    }
    r.good(&[0x10, 0, 0, 0, 1, 0], &[]);
    r.write(&block(9, 10));
    r.rewind();
    for i in 0..3 {
        // SILI: a block shorter than asked for is no error.
        let got = r.read(4096, true);
        assert_eq!(
            (got.status, got.data),
            (Status::Good, block(i, 1000 + i as usize))
        );
    }
    // A READ into the filemark: NO SENSE, FILEMARK, the whole request as residual, and
    // the position after the filemark.
    let fm = r.read(4096, false);
    assert_eq!(
        (fm.status, sense_of(&fm), bits(&fm)),
        (Status::CheckCondition, (0, 0, 1), (true, false, false))
    );
    assert_eq!(residual(&fm), Some(4096));
    assert_eq!((r.pos(), r.file()), (4, 1));
    assert_eq!(r.read(10, false).data, block(9, 10));
    // At the end of data: BLANK CHECK, END-OF-DATA DETECTED, never a stale block.
    for _ in 0..2 {
        let eod = r.read(4096, false);
        assert_eq!(sense_of(&eod), (0x8, 0x00, 0x05));
        assert_eq!((residual(&eod), eod.data.len()), (Some(4096), 0));
        assert_eq!(r.pos(), 5);
    }
}

#[test]
fn a_block_of_another_length_sets_ili_with_a_signed_residual() {
    let r = loaded("VSA001L8", None);
    r.write(&block(1, 100));
    r.write(&block(2, 100));
    r.write(&block(3, 100));
    r.rewind();
    // Asked for more: ILI, positive residual, the block's 100 bytes.
    let more = r.read(150, false);
    assert_eq!(
        (sense_of(&more), bits(&more)),
        ((0, 0, 0), (false, false, true))
    );
    assert_eq!((residual(&more), more.data), (Some(50), block(1, 100)));
    // With SILI the short block is no error.
    let sili = r.read(150, true);
    assert_eq!((sili.status, sili.data), (Status::Good, block(2, 100)));
    // Asked for less: ILI, negative residual, the first 40 bytes; the rest is skipped.
    let less = r.read(40, true);
    assert_eq!(bits(&less), (false, false, true));
    assert_eq!((residual(&less), less.data), (Some(-60), block(3, 40)));
    assert_eq!(r.pos(), 3);
}

#[test]
fn fixed_block_mode_counts_blocks_in_residuals() {
    let r = loaded("VSA001L8", None);
    // MODE SELECT(6): a general block descriptor with block length 512.
    let list = [0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00];
    r.good(&[0x15, 0x10, 0, 0, 12, 0], &list);
    let d = r.good(&[0x1A, 0, 0x3F, 0, 255, 0], &[]).data;
    assert_eq!(
        (d[2], &d[4..12]),
        (0x10, &[0x5E, 0, 0, 0, 0, 0, 0x02, 0][..])
    );
    let data: Vec<u8> = (0..4).flat_map(|i| block(i, 512)).collect();
    r.good(&[0x0A, 0x01, 0, 0, 4, 0], &data);
    r.filemarks(1, false);
    r.rewind();
    // Ten blocks asked for, four there, then the filemark.
    let got = r.run(&[0x08, 0x01, 0, 0, 10, 0], &[]);
    assert_eq!(
        (sense_of(&got), bits(&got).0, residual(&got)),
        ((0, 0, 1), true, Some(6))
    );
    assert_eq!(got.data, data);
    // FIXED without a block length, and FIXED with SILI, are refused.
    let both = r.run(&[0x08, 0x03, 0, 0, 1, 0], &[]);
    assert_eq!(sense_of(&both), (0x5, 0x24, 0x00));
    let list = [0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0, 0];
    r.good(&[0x15, 0x10, 0, 0, 12, 0], &list);
    assert_eq!(
        sense_of(&r.run(&[0x0A, 0x01, 0, 0, 1, 0], &[0; 512])),
        (0x5, 0x24, 0x00)
    );
}

#[test]
fn a_fixed_read_of_a_variable_block_stops_with_ili() {
    let r = loaded("VSA001L8", None);
    r.write(&block(1, 512));
    r.write(&block(2, 300));
    r.rewind();
    r.good(
        &[0x15, 0x10, 0, 0, 12, 0],
        &[0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0x02, 0x00],
    );
    let got = r.run(&[0x08, 0x01, 0, 0, 3, 0], &[]);
    assert_eq!((bits(&got).2, residual(&got)), (true, Some(2)));
    assert_eq!(got.data, block(1, 512));
    assert_eq!(r.pos(), 2);
}

#[test]
fn writing_before_the_end_of_data_discards_what_follows() {
    let r = loaded("VSA001L8", None);
    for i in 0..5 {
        r.write(&block(i, 64));
    }
    r.rewind();
    r.space(0, 2);
    r.write(&block(7, 64));
    assert_eq!(r.pos(), 3);
    r.good(&[0x11, 0x03, 0, 0, 0, 0], &[]);
    assert_eq!(r.pos(), 3, "the end of data follows the new block");
}

#[test]
fn early_warning_then_volume_overflow_with_residuals() {
    // 8 MiB: early warning 1 MiB before the end.
    let r = loaded("VSA001L8", Some(8 << 20));
    let b = block(1, 256 << 10);
    let mut warned = 0;
    loop {
        let w = r.write(&b);
        match sense_of(&w) {
            (0, 0, 0) => assert_eq!(w.status, Status::Good),
            (0, 0, 2) => {
                assert_eq!((bits(&w).1, residual(&w)), (true, Some(0)));
                warned += 1;
            }
            (0xD, 0, 2) => {
                assert_eq!((bits(&w).1, residual(&w)), (true, Some(256 << 10)));
                break;
            }
            other => panic!("unexpected sense {other:?}"),
        }
    }
    assert!(
        warned >= 2,
        "writes between early warning and the end: {warned}"
    );
    // Filemarks still fit after the last block, with the warning.
    let fm = r.filemarks(1, false);
    assert_eq!(sense_of(&fm), (0, 0, 2));
    r.rewind();
    let first = r.read(256 << 10, false);
    assert_eq!((first.status, first.data), (Status::Good, b));
}

/// Writes compressible blocks with DCE on, in buffered mode or not, to a 48 MiB
/// cartridge: how many completed before the first early warning, and in all.
fn warning_and_end(buffered: bool) -> (u32, u32) {
    let r = loaded("VSA001L8", Some(48 << 20));
    let mut page = r.good(&[0x1A, 0x08, 0x0F, 0, 255, 0], &[]).data;
    page[0] = 0;
    page[2] = if buffered { 0x10 } else { 0 };
    page[4 + 2] |= 0x80;
    r.good(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    let (mut n, mut warned_at) = (0u32, None);
    loop {
        // Half noise, half zeros: each block packs to a different size.
        let mut b = crate::store::dedup::chunk::noise(u64::from(n), 128 << 10);
        b.resize(256 << 10, 0);
        let w = r.write(&b);
        match sense_of(&w) {
            (0, 0, 0) => {}
            (0, 0, 2) => {
                warned_at.get_or_insert(n);
            }
            (0xD, 0, 2) => return (warned_at.unwrap_or(n), n),
            other => panic!("unexpected sense {other:?} at {n}"),
        }
        n += 1;
    }
}

#[test]
fn write_behind_keeps_early_warning_and_the_end_where_they_are() {
    let buffered = warning_and_end(true);
    assert!(buffered.0 > 200, "compression let more fit: {buffered:?}");
    assert_eq!(buffered, warning_and_end(false));
}

#[test]
fn worm_cartridges_append_but_never_overwrite_or_erase() {
    let r = loaded("VSA001LY", None);
    r.write(&block(1, 10));
    r.filemarks(1, false);
    r.write(&block(2, 10));
    r.rewind();
    assert_eq!(sense_of(&r.write(&block(3, 10))), (0x7, 0x30, 0x0C));
    assert_eq!(
        sense_of(&r.run(&[0x19, 0x01, 0, 0, 0, 0], &[])),
        (0x7, 0x30, 0x0C)
    );
    assert_eq!(sense_of(&r.filemarks(1, false)), (0x7, 0x30, 0x0C));
    r.good(&[0x11, 0x03, 0, 0, 0, 0], &[]);
    assert_eq!(r.write(&block(4, 10)).status, Status::Good);
    r.rewind();
    assert_eq!(r.read(10, false).data, block(1, 10));
}

#[test]
fn generations_follow_the_lto_compatibility_rules() {
    let r = loaded("VSA001L9", None);
    assert_eq!(sense_of(&r.read(10, false)), (0x3, 0x30, 0x00));
    assert_eq!(sense_of(&r.write(&[1; 10])), (0x3, 0x30, 0x00));
    // An LTO-7 drive reads LTO-5 but does not write it.
    let old = rig_with("ibm-lto7".parse().unwrap());
    old.insert("VSA001L5", None);
    assert_eq!(sense_of(&old.write(&[1; 10])), (0x7, 0x30, 0x05));
    assert_eq!(sense_of(&old.read(10, false)), (0x8, 0x00, 0x05));
    // The mode header says write-protected for it.
    let d = old.good(&[0x1A, 0, 0x3F, 0, 255, 0], &[]).data;
    assert_eq!(d[2] & 0x80, 0x80);
}

#[test]
fn no_cartridge_is_not_ready() {
    let r = rig_with(DriveModel::DEFAULT);
    for cdb in [[0u8; 6], [0x08, 0, 0, 0, 1, 0], [0x01, 0, 0, 0, 0, 0]] {
        assert_eq!(sense_of(&r.run(&cdb, &[])), (0x2, 0x3A, 0x00));
    }
}

#[test]
fn a_flush_point_makes_records_durable_and_later_ones_are_lost_in_a_crash() {
    let r = loaded("VSA001L8", None);
    r.write(&block(1, 5000));
    r.filemarks(1, false); // a flush point
    r.write(&block(2, 5000));
    r.filemarks(1, true); // IMMED: not one
    let crashed = Arc::new(r.kv.snapshot());
    let store = Store::open(r.dev.clone(), crashed).unwrap();
    let tape = Tape::open(store, "VSA001L8").unwrap();
    assert_eq!(tape.index().objects(), 2);
    let o = tape.index().get(0).unwrap();
    assert_eq!(tape.read(&o).unwrap(), block(1, 5000));
}

#[test]
fn unbuffered_mode_makes_each_write_durable() {
    let r = loaded("VSA001L8", None);
    // Buffered mode 0 in the mode parameter header.
    r.good(&[0x15, 0x10, 0, 0, 4, 0], &[0, 0, 0x00, 0]);
    let d = r.good(&[0x1A, 0, 0x3F, 0, 255, 0], &[]).data;
    assert_eq!(d[2] & 0x70, 0);
    r.write(&block(1, 100));
    let crashed = Arc::new(r.kv.snapshot());
    let store = Store::open(r.dev.clone(), crashed).unwrap();
    assert_eq!(Tape::open(store, "VSA001L8").unwrap().index().objects(), 1);
    // Buffered modes other than 0 and 1 are refused at the header byte.
    let bad = r.run(&[0x15, 0x10, 0, 0, 4, 0], &[0, 0, 0x20, 0]);
    assert_eq!(sense_of(&bad), (0x5, 0x26, 0x00));
    assert_eq!(&bad.sense.unwrap()[15..18], &[0x80, 0, 2]);
}

#[test]
fn a_buffered_write_that_fails_later_is_a_deferred_error_on_the_next_command() {
    let r = loaded("VSA001L8", None);
    for i in 0..3 {
        assert_eq!(r.write(&block(i, 256 << 10)).status, Status::Good);
    }
    r.filemarks(1, false);
    // The volume fails: writes are taken into the buffer (GOOD), until records can no
    // longer be placed; then a command gets the deferred error and is not performed.
    r.dev.fail(true);
    let mut written = 0u32;
    let failed = loop {
        let w = r.write(&crate::store::dedup::chunk::noise(
            u64::from(written),
            256 << 10,
        ));
        if w.status != Status::Good {
            break w;
        }
        written += 1;
        assert!(written < 200, "the failure never showed");
    };
    let s = failed.sense.clone().unwrap();
    assert_eq!(s[0] & 0x7F, 0x71, "deferred error, fixed format");
    assert_eq!(sense_of(&failed), (0x3, 0x0C, 0x00));
    let lost = u32::from_be_bytes(s[3..7].try_into().unwrap());
    assert!(
        s[0] & 0x80 != 0 && lost >= 1 && lost <= written,
        "lost {lost} of {written}"
    );
    r.dev.fail(false);
    // The position is the end of data: the records placed before the failure.
    let placed = r.pos();
    assert_eq!(u64::from(written - lost) + 4, placed);
    // Writing goes on from there, and everything placed reads back.
    assert_eq!(r.write(&block(7, 1000)).status, Status::Good);
    r.filemarks(1, false);
    r.rewind();
    for i in 0..3 {
        assert_eq!(r.read(256 << 10, false).data, block(i, 256 << 10));
    }
    assert_eq!(sense_of(&r.read(256 << 10, false)), (0, 0, 1));
    for i in 0..written - lost {
        let want = crate::store::dedup::chunk::noise(u64::from(i), 256 << 10);
        assert!(r.read(256 << 10, false).data == want, "record {i}");
    }
    assert_eq!(r.read(1000, false).data, block(7, 1000));
}

#[test]
fn write_protected_cartridges_refuse_writes() {
    let r = rig_with(DriveModel::DEFAULT);
    let mut info =
        CartridgeInfo::for_barcode(Barcode::parse("VSA001L8").unwrap(), Generation::Lto8, None);
    info.write_protected = true;
    r.drive.insert(&info).unwrap();
    r.run(&[0; 6], &[]);
    assert_eq!(sense_of(&r.write(&[1; 4])), (0x7, 0x27, 0x00));
}

#[test]
fn compression_on_the_data_compression_page_stores_less_and_reads_the_same() {
    let r = loaded("VSA001L8", None);
    let mut page = r.good(&[0x1A, 0x08, 0x0F, 0, 255, 0], &[]).data;
    page[0] = 0;
    page[4 + 2] |= 0x80;
    r.good(&[0x15, 0x10, 0, 0, page.len() as u8, 0], &page);
    let text: Vec<u8> = b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(256 << 10)
        .collect();
    r.write(&text);
    r.rewind();
    assert_eq!(r.read(256 << 10, false).data, text);
    let t = r.drive.status().tape.unwrap();
    assert!(t.stored_bytes * 10 < t.logical_bytes, "{t:?}");
    // LOG SENSE data compression page: the write ratio, times 100.
    let d = r.good(&[0x4D, 0, 0x1B, 0, 0, 0, 0, 1, 0, 0], &[]).data;
    assert!(u16::from_be_bytes([d[8], d[9]]) > 1000);
}
