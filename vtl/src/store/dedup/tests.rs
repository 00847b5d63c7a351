//! Deduplicated cartridges end to end on a store: shared chunks, space given back when the
//! last reference goes, crashes at every stage, damage seen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::chunk::noise;
use crate::kv::{Kv, MemKv};
use crate::store::{Store, Tape, SEGMENT};
use crate::VtlError;
use std::sync::Arc;
use vsa_blockdev::testing::MemDevice;
use vsa_blockdev::BlockDevice;

fn store(segments: u64) -> (Arc<MemDevice>, Arc<MemKv>, Arc<Store>) {
    let dev = Arc::new(MemDevice::new(segments * SEGMENT, 4096));
    let kv = Arc::new(MemKv::new());
    let s = Store::open(dev.clone(), kv.clone()).unwrap();
    (dev, kv, s)
}

/// A "backup": `n` records of 256 KiB that do not repeat among themselves.
fn backup(seed: u64, n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| noise(seed * 1000 + i, 256 << 10)).collect()
}

fn write(t: &mut Tape, recs: &[Vec<u8>]) {
    for r in recs {
        t.append(&[r], false).unwrap();
    }
}

fn read_all(t: &Tape) -> Vec<Vec<u8>> {
    (0..t.index().objects())
        .filter_map(|n| {
            let o = t.index().get(n).unwrap();
            o.data.map(|_| t.read(&o).unwrap())
        })
        .collect()
}

fn chunk_keys(kv: &MemKv) -> usize {
    kv.scan(b"c/").unwrap().len()
}

#[test]
fn a_repeated_backup_is_stored_once_and_reads_back() {
    let (dev, kv, s) = store(16);
    let data = backup(1, 40);
    let mut a = Tape::open(s.clone(), "A00001L8").unwrap();
    write(&mut a, &data);
    a.append_filemarks(1).unwrap();
    a.sync().unwrap();
    let once = dev.resident_bytes();
    let mut b = Tape::open(s.clone(), "B00001L8").unwrap();
    write(&mut b, &data);
    b.sync().unwrap();
    // The second copy costs its chunk lists only (a few KiB of stream).
    assert!(
        dev.resident_bytes() < once + (2 << 20),
        "{} vs {once}",
        dev.resident_bytes()
    );
    assert_eq!(read_all(&b), data);
    assert_eq!(b.stats().dedup_saved, 40 * (256 << 10));
    assert_eq!(a.stats().dedup_saved, 0);
    assert_eq!(b.stats().used, 40 * (32 + (256 << 10)));
    let st = s.dedup_stats();
    assert_eq!(st.unique_bytes, 40 * (256 << 10));
    assert_eq!(st.referenced_bytes, 2 * st.unique_bytes);
    assert_eq!(
        st.referenced_logical, st.referenced_bytes,
        "noise does not compress"
    );
    assert_eq!(chunk_keys(&kv) as u64, st.chunks);
    // After a restart, both read back and the counts are the same.
    drop((a, b));
    let s2 = Store::open(dev.clone(), kv.clone()).unwrap();
    assert_eq!(s2.dedup_stats(), st);
    let b2 = Tape::open(s2.clone(), "B00001L8").unwrap();
    assert_eq!(read_all(&b2), data);
    assert_eq!(b2.stats().dedup_saved, 40 * (256 << 10));
}

#[test]
fn chunks_go_back_to_the_pool_with_their_last_reference() {
    let (dev, kv, s) = store(16);
    let data = backup(2, 60);
    let mut a = Tape::open(s.clone(), "A00002L8").unwrap();
    write(&mut a, &data);
    a.sync().unwrap();
    let mut b = Tape::open(s.clone(), "B00002L8").unwrap();
    write(&mut b, &data[..30]);
    b.sync().unwrap();
    drop(a);
    let full = dev.resident_bytes();
    s.delete("A00002L8").unwrap();
    // B still refers to the first half: that stays, the second half is gone.
    assert_eq!(read_all(&b), data[..30].to_vec());
    let half = dev.resident_bytes();
    assert!(half < full * 2 / 3, "{half} of {full}");
    b.truncate(0).unwrap();
    assert_eq!(chunk_keys(&kv), 0);
    assert!(dev.resident_bytes() <= 2 << 20, "{}", dev.resident_bytes());
    assert_eq!(s.dedup_stats(), Default::default());
    drop(b);
    s.delete("B00002L8").unwrap();
    assert_eq!(s.segments().0, 0, "every segment is free again");
}

#[test]
fn a_relabel_gives_the_space_back_in_a_few_unmaps_not_one_per_region() {
    let (dev, _kv, s) = store(16);
    let mut a = Tape::open(s.clone(), "A00012L8").unwrap();
    write(&mut a, &backup(12, 160)); // 40 MiB of chunks: 40 regions and more
    a.sync().unwrap();
    let full = dev.resident_bytes();
    let before = dev.unmaps();
    a.truncate(0).unwrap();
    let unmaps = dev.unmaps() - before;
    // Each unmap is a synced save of the pool's map: side-by-side regions and
    // segments go in one request each.
    assert!(unmaps <= 4, "{unmaps} unmaps");
    assert!(
        dev.resident_bytes() <= full / 8,
        "{} of {full}",
        dev.resident_bytes()
    );
    assert_eq!(s.dedup_stats(), Default::default());
}

#[test]
fn a_crash_keeps_synced_records_and_sweeps_unsynced_chunks() {
    let (dev, kv, s) = store(16);
    let data = backup(3, 20);
    let mut a = Tape::open(s.clone(), "A00003L8").unwrap();
    write(&mut a, &data[..10]);
    a.sync().unwrap();
    write(&mut a, &data[10..]);
    // A second cartridge refers to chunks A has not committed, and syncs.
    let mut b = Tape::open(s.clone(), "B00003L8").unwrap();
    write(&mut b, &data[15..]);
    b.sync().unwrap();
    let catalog = Arc::new(kv.snapshot());
    // Crash: A's last ten records were never synced.
    std::mem::forget(a);
    std::mem::forget(b);
    let s2 = Store::open(dev.clone(), catalog.clone()).unwrap();
    let a2 = Tape::open(s2.clone(), "A00003L8").unwrap();
    let b2 = Tape::open(s2.clone(), "B00003L8").unwrap();
    assert_eq!(read_all(&a2), data[..10].to_vec());
    assert_eq!(read_all(&b2), data[15..].to_vec());
    // Chunks of A's records 10..15 were written but no catalog entry names them.
    assert_eq!(s2.dedup_stats().unique_bytes, 15 * (256 << 10));
    assert_eq!(chunk_keys(&catalog), s2.dedup_stats().chunks as usize);
}

#[test]
fn a_chunk_another_cartridge_is_using_survives_its_last_committed_reference() {
    let (dev, kv, s) = store(16);
    let data = backup(4, 8);
    let mut a = Tape::open(s.clone(), "A00004L8").unwrap();
    write(&mut a, &data);
    a.sync().unwrap();
    let mut b = Tape::open(s.clone(), "B00004L8").unwrap();
    write(&mut b, &data); // not committed yet
    a.truncate(0).unwrap();
    assert_eq!(read_all(&b), data, "B's chunks are still there");
    b.sync().unwrap();
    drop((a, b));
    let s2 = Store::open(dev, kv).unwrap();
    let b2 = Tape::open(s2.clone(), "B00004L8").unwrap();
    assert_eq!(read_all(&b2), data);
    assert_eq!(s2.dedup_stats().referenced_bytes, 8 * (256 << 10));
}

#[test]
fn records_cut_off_before_a_sync_leave_nothing_behind() {
    let (dev, kv, s) = store(16);
    let mut a = Tape::open(s.clone(), "A00005L8").unwrap();
    write(&mut a, &backup(5, 10));
    a.truncate(3).unwrap();
    write(&mut a, &backup(6, 2));
    a.sync().unwrap();
    assert_eq!(a.index().objects(), 5);
    let st = s.dedup_stats();
    assert_eq!(st.unique_bytes, 5 * (256 << 10));
    assert_eq!(chunk_keys(&kv) as u64, st.chunks);
    // A cartridge that goes without syncing gives its chunks up.
    let mut b = Tape::open(s.clone(), "B00005L8").unwrap();
    let before = dev.resident_bytes();
    write(&mut b, &backup(7, 20));
    drop(b);
    assert!(dev.resident_bytes() <= before + (1 << 20));
}

#[test]
fn damage_to_a_chunk_is_a_read_error_and_plain_records_still_read() {
    let (dev, _kv, s) = store(8);
    let mut a = Tape::open(s.clone(), "A00006L8").unwrap();
    s.set_dedup(false);
    let plain = noise(60, 5000);
    a.append(&[&plain], true).unwrap();
    s.set_dedup(true);
    let rec = noise(61, 100_000);
    a.append(&[&rec], true).unwrap();
    a.sync().unwrap();
    let o = a.index().get(1).unwrap();
    assert_eq!(a.read(&o).unwrap(), rec);
    assert_eq!(a.read(&a.index().get(0).unwrap()).unwrap(), plain);
    drop(a);
    // Flip a byte of the chunk data (the first chunk segment holds it).
    let seg = (0..8)
        .find(|g| {
            let mut b = vec![0u8; 4096];
            dev.read_at(&mut b, g * SEGMENT).unwrap();
            b[..64] == rec[..64]
        })
        .unwrap();
    let mut b = vec![0u8; 4096];
    dev.read_at(&mut b, seg * SEGMENT).unwrap();
    b[100] ^= 1;
    dev.write_at(&b, seg * SEGMENT).unwrap();
    let a = Tape::open(s.clone(), "A00006L8").unwrap();
    assert_eq!(a.read(&a.index().get(0).unwrap()).unwrap(), plain);
    assert!(matches!(
        a.read(&o),
        Err(crate::store::ReadError::Damaged { object: 1, .. })
    ));
}

#[test]
fn a_full_store_refuses_deduplicated_records_cleanly() {
    let (_dev, kv, s) = store(2);
    let mut a = Tape::open(s.clone(), "A00007L8").unwrap();
    let mut n = 0;
    let err = loop {
        match a.append(&[&noise(700 + n, 1 << 20)], false) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, VtlError::Full(_)), "{err}");
    assert_eq!(a.index().objects(), n);
    a.sync().unwrap();
    assert_eq!(read_all(&a).len() as u64, n);
    assert_eq!(chunk_keys(&kv) as u64, s.dedup_stats().chunks);
}

#[test]
fn writes_that_fill_a_chunk_segment_go_on_in_the_next() {
    let (dev, kv, s) = store(8);
    let mut a = Tape::open(s.clone(), "A00008L8").unwrap();
    let recs: Vec<Vec<u8>> = (0..42).map(|i| noise(800 + i, 1 << 20)).collect();
    // Three records per call: some call straddles the end of the first chunk segment.
    for three in recs.chunks(3) {
        let refs: Vec<&[u8]> = three.iter().map(|r| r.as_slice()).collect();
        a.append(&refs, false).unwrap();
    }
    a.sync().unwrap();
    assert_eq!(read_all(&a), recs);
    drop(a);
    let s2 = Store::open(dev, kv).unwrap();
    let a2 = Tape::open(s2.clone(), "A00008L8").unwrap();
    assert_eq!(read_all(&a2), recs);
    // One stream segment and two chunk segments.
    assert_eq!(s2.segments().0, 3);
}

#[test]
fn chunks_read_in_sequence_then_rewritten_read_back_as_written() {
    let (_dev, _kv, s) = store(16);
    let mut t = Tape::open(s.clone(), "P1L8").unwrap();
    let first = backup(7, 60); // 15 MiB: several chunk windows read ahead
    write(&mut t, &first);
    t.sync().unwrap();
    assert_eq!(read_all(&t), first);
    // Read half, rewrite from there with other data, read it all again.
    for n in 0..30 {
        let o = t.index().get(n).unwrap();
        assert_eq!(t.read(&o).unwrap(), first[n as usize]);
    }
    t.truncate(30).unwrap();
    let second = backup(8, 30);
    write(&mut t, &second);
    t.sync().unwrap();
    let mut want = first[..30].to_vec();
    want.extend(second);
    assert_eq!(read_all(&t), want);
}

/// Records cut from one stream with overlaps, so a record's chunk list often names a chunk
/// of the record before it and then new ones right after it on the volume.
fn overlapping(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let stream = noise(seed, n * (192 << 10) + (64 << 10));
    (0..n)
        .map(|i| stream[i * (192 << 10)..i * (192 << 10) + (256 << 10)].to_vec())
        .collect()
}

#[test]
fn records_read_back_while_queued_and_written_behind() {
    let (dev, kv, s) = store(16);
    let mut t = Tape::open(s.clone(), "WB1L8").unwrap();
    let recs = overlapping(31, 90); // 22.5 MiB: the chunk segment is written behind twice
    for (i, r) in recs.iter().enumerate() {
        let n = t
            .append_behind(vsa_blockdev::Bytes::from(r.clone()), r.len(), false, None)
            .unwrap();
        assert_eq!(n, i as u64);
        assert_eq!(t.objects(), i as u64 + 1);
        if i % 13 == 12 {
            // Back over what was written (as a BSF and READs would): placed, then read.
            t.settle(true).unwrap();
            for (k, want) in recs.iter().enumerate().take(i + 1).skip(i - 12) {
                let o = t.index().get(k as u64).unwrap();
                assert!(t.read(&o).unwrap() == *want, "record {k} read back at {i}");
            }
        }
    }
    t.settle(true).unwrap();
    assert_eq!(t.queued(), 0);
    assert!(read_all(&t) == recs);
    t.sync().unwrap();
    drop(t);
    let s2 = Store::open(dev, kv).unwrap();
    let t2 = Tape::open(s2, "WB1L8").unwrap();
    assert!(read_all(&t2) == recs);
}

#[test]
fn queued_records_count_and_a_sync_places_them() {
    let (_dev, _kv, s) = store(8);
    let mut t = Tape::open(s.clone(), "WB2L8").unwrap();
    let recs = backup(41, 6);
    for r in &recs {
        t.append_behind(vsa_blockdev::Bytes::from(r.clone()), r.len(), false, None)
            .unwrap();
    }
    // Until placed, each counts its length and header against the capacity.
    assert!(t.used() >= 6 * (256 << 10));
    assert_eq!(t.stats().objects, 6);
    t.append_filemarks(1).unwrap();
    assert_eq!(t.queued(), 0);
    assert_eq!(t.index().objects(), 7);
    assert_eq!(t.index().filemarks_before(7), 1);
    t.sync().unwrap();
    assert!(read_all(&t) == recs);
}

#[test]
fn a_record_that_cannot_be_placed_is_a_deferred_error_and_loses_only_the_queue() {
    let dev = Arc::new(vsa_blockdev::testing::FaultyDevice::new(MemDevice::new(
        8 * SEGMENT,
        4096,
    )));
    let kv = Arc::new(MemKv::new());
    let s = Store::open(dev.clone(), kv.clone()).unwrap();
    let mut t = Tape::open(s.clone(), "WB3L8").unwrap();
    let first = backup(51, 4);
    write(&mut t, &first);
    t.sync().unwrap();
    // The store fails; writes are still taken (queued), until one is placed.
    dev.fail(true);
    let mut refused = None;
    let more = backup(52, 100); // 25 MiB: past the second write behind, which reports the first
    for (i, r) in more.iter().enumerate() {
        match t.append_behind(vsa_blockdev::Bytes::from(r.clone()), r.len(), false, None) {
            Ok(_) => {}
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let err = match refused {
        Some((_, e)) => e,
        None => t.settle(true).unwrap_err(),
    };
    let VtlError::Deferred { lost, .. } = err else {
        panic!("not a deferred error: {err}");
    };
    assert!(lost > 0);
    assert_eq!(t.queued(), 0, "the queue is dropped");
    dev.fail(false);
    // What was placed before the failure is kept; the cartridge takes writes again.
    let placed = t.index().objects();
    assert!(placed >= 4);
    let again = backup(53, 3);
    for r in &again {
        t.append_behind(vsa_blockdev::Bytes::from(r.clone()), r.len(), false, None)
            .unwrap();
    }
    t.sync().unwrap();
    let got = read_all(&t);
    assert!(got[..4] == first[..]);
    assert!(got[got.len() - 3..] == again[..]);
    assert_eq!(got.len() as u64, placed + 3);
}
