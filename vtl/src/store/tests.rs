#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::kv::MemKv;
use vsa_blockdev::testing::MemDevice;

fn store(segments: u64) -> (Arc<MemDevice>, Arc<MemKv>, Arc<Store>) {
    let dev = Arc::new(MemDevice::new(segments * SEGMENT, 4096));
    let kv = Arc::new(MemKv::new());
    let s = Store::open(dev.clone(), kv.clone()).unwrap();
    // These tests are about the stream; deduplicated records are in `dedup/tests.rs`.
    s.set_dedup(false);
    (dev, kv, s)
}

fn block(n: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 31 + i) as u8).collect()
}

fn read_all(t: &Tape) -> Vec<Option<Vec<u8>>> {
    (0..t.index().objects())
        .map(|n| {
            let o = t.index().get(n).unwrap();
            o.data.map(|_| t.read(&o).unwrap())
        })
        .collect()
}

#[test]
fn records_read_back_after_reopening_and_unsynced_ones_are_gone() {
    let (dev, kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "VSA001L8").unwrap();
    t.append(&[&block(0, 1000), &block(1, 70_000)], false)
        .unwrap();
    t.append_filemarks(2).unwrap();
    t.append(&[&block(3, 5)], false).unwrap();
    t.sync().unwrap();
    t.append(&[&block(4, 4096)], false).unwrap(); // not synced: a crash loses it
    let want = read_all(&t);
    assert_eq!(want.len(), 6);
    drop(t);
    // A crash: the catalog as committed, a fresh store over the same volume.
    let s2 = Store::open(dev.clone(), Arc::new(kv.snapshot())).unwrap();
    s2.set_dedup(false);
    let t2 = Tape::open(s2, "VSA001L8").unwrap();
    assert_eq!(t2.index().objects(), 5);
    assert_eq!(read_all(&t2), want[..5].to_vec());
    assert_eq!(t2.index().next_filemark(0), Some(2));
    let _ = s;
}

#[test]
fn appends_after_reopening_keep_the_partial_block() {
    let (_dev, kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "A1L8").unwrap();
    t.append(&[&block(0, 100)], false).unwrap();
    t.sync().unwrap();
    drop(t);
    let mut t = Tape::open(s.clone(), "A1L8").unwrap();
    t.append(&[&block(1, 200)], false).unwrap();
    t.sync().unwrap();
    let got = read_all(&t);
    assert_eq!(got, vec![Some(block(0, 100)), Some(block(1, 200))]);
    let _ = kv;
}

#[test]
fn records_cross_segments_and_truncation_returns_the_space() {
    let (dev, _kv, s) = store(8);
    let mut t = Tape::open(s.clone(), "B1L8").unwrap();
    let big = block(9, 1 << 20);
    for _ in 0..70 {
        t.append(&[&big], false).unwrap();
    }
    t.sync().unwrap();
    assert_eq!(s.segments().0, 3);
    let o = t.index().get(40).unwrap();
    assert_eq!(t.read(&o).unwrap(), big);
    let before = dev.resident_bytes();
    t.truncate(1).unwrap();
    assert_eq!(s.segments().0, 1);
    assert!(
        dev.resident_bytes() < before / 20,
        "{} of {before}",
        dev.resident_bytes()
    );
    assert_eq!(read_all(&t), vec![Some(big.clone())]);
    // A second cartridge gets the freed segments.
    let mut u = Tape::open(s.clone(), "C1L8").unwrap();
    u.append(&[&block(1, 10)], false).unwrap();
    u.sync().unwrap();
    assert_eq!(s.segments().0, 2);
}

#[test]
fn truncation_is_durable_at_once() {
    let (dev, kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "D1L8").unwrap();
    t.append(&[&block(0, 10), &block(1, 10), &block(2, 10)], false)
        .unwrap();
    t.sync().unwrap();
    t.truncate(1).unwrap();
    let s2 = Store::open(dev, Arc::new(kv.snapshot())).unwrap();
    assert_eq!(Tape::open(s2, "D1L8").unwrap().index().objects(), 1);
}

#[test]
fn a_failed_catalog_commit_keeps_the_old_records_and_stops_writes() {
    let (dev, kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "E1L8").unwrap();
    t.append(&[&block(0, 10), &block(1, 10)], false).unwrap();
    t.sync().unwrap();
    kv.fail(true);
    assert!(t.truncate(0).is_err());
    assert!(t.append(&[&block(2, 10)], false).is_err());
    kv.fail(false);
    let s2 = Store::open(dev, Arc::new(kv.snapshot())).unwrap();
    let t2 = Tape::open(s2, "E1L8").unwrap();
    assert_eq!(read_all(&t2), vec![Some(block(0, 10)), Some(block(1, 10))]);
}

#[test]
fn a_full_store_refuses_and_the_tape_stays_consistent() {
    let (_dev, _kv, s) = store(1);
    let mut t = Tape::open(s.clone(), "F1L8").unwrap();
    let big = block(1, 8 << 20);
    for _ in 0..3 {
        t.append(&[&big], false).unwrap();
    }
    assert!(matches!(t.append(&[&big], false), Err(VtlError::Full(_))));
    assert_eq!(t.index().objects(), 3);
    t.sync().unwrap();
    assert_eq!(read_all(&t).len(), 3);
}

#[test]
fn deleting_a_cartridge_frees_its_segments() {
    let (dev, kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "G1L8").unwrap();
    t.append(&[&block(0, 3 << 20)], false).unwrap();
    t.sync().unwrap();
    drop(t);
    s.delete("G1L8").unwrap();
    assert_eq!(s.segments().0, 0);
    assert_eq!(dev.resident_bytes(), 0);
    assert!(kv.scan(b"").unwrap().is_empty());
}

#[test]
fn damage_at_a_record_is_reported_not_returned() {
    let (dev, _kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "H1L8").unwrap();
    t.append(&[&block(0, 5000)], false).unwrap();
    t.sync().unwrap();
    let seg = t.segments[0];
    dev.write_at(&[0xAA; 4096], seg * SEGMENT).unwrap();
    let o = t.index().get(0).unwrap();
    assert!(matches!(t.read(&o), Err(ReadError::Damaged { .. })));
}

#[test]
fn compressed_records_take_less_space_and_read_back() {
    let (_dev, _kv, s) = store(4);
    let mut t = Tape::open(s.clone(), "K1L8").unwrap();
    let text: Vec<u8> = b"backup data repeats itself "
        .iter()
        .copied()
        .cycle()
        .take(64 << 10)
        .collect();
    let noise = block(3, 4096);
    t.append(&[&text, &noise], true).unwrap();
    t.sync().unwrap();
    let st = t.stats();
    assert_eq!(st.logical_bytes, (64 << 10) + 4096);
    assert!(st.stored_bytes < 8192 + 4096, "{st:?}");
    assert_eq!(read_all(&t), vec![Some(text), Some(noise)]);
}

#[test]
fn blank_means_no_segment() {
    let (_dev, _kv, s) = store(4);
    assert!(s.is_blank("L1L8").unwrap());
    let mut t = Tape::open(s.clone(), "L1L8").unwrap();
    t.append_filemarks(1).unwrap();
    t.sync().unwrap();
    assert!(!s.is_blank("L1L8").unwrap());
    t.truncate(0).unwrap();
    assert!(s.is_blank("L1L8").unwrap());
}

#[test]
fn reading_in_sequence_past_many_windows_and_after_a_rewrite_reads_what_is_there() {
    let (_dev, _kv, s) = store(8);
    let mut t = Tape::open(s.clone(), "R1L8").unwrap();
    // 40 MiB of 300,000-byte records: windows read ahead (4 MiB) cross records and the
    // 32 MiB segment boundary.
    let recs: Vec<Vec<u8>> = (0..140).map(|n| block(n, 300_000)).collect();
    for r in &recs {
        t.append(&[r], false).unwrap();
    }
    t.sync().unwrap();
    let want: Vec<_> = recs.iter().cloned().map(Some).collect();
    assert_eq!(read_all(&t), want);
    // Half way through a second pass, the tape is cut there and written again: what is
    // read after is the new data, not a window read ahead before the write.
    for n in 0..70 {
        let o = t.index().get(n).unwrap();
        assert_eq!(t.read(&o).unwrap(), recs[n as usize]);
    }
    t.truncate(70).unwrap();
    let new: Vec<Vec<u8>> = (1000..1070).map(|n| block(n, 300_000)).collect();
    for r in &new {
        t.append(&[r], false).unwrap();
    }
    t.sync().unwrap();
    for n in 70..140 {
        let o = t.index().get(n).unwrap();
        assert_eq!(t.read(&o).unwrap(), new[n as usize - 70], "record {n}");
    }
}

#[test]
fn runs_group_consecutive_units_in_any_order() {
    assert_eq!(runs([7, 3, 4, 5, 5, 9, 8, 1]), vec![(1, 1), (3, 3), (7, 3)]);
    assert_eq!(runs([]), Vec::<(u64, u64)>::new());
    assert_eq!(runs([u64::MAX - 1, u64::MAX]), vec![(u64::MAX - 1, 2)]);
}
