use super::*;
use proptest::prelude::*;

const OWNER: [u8; 16] = [7; 16];

fn rec(seq: u64, len: usize) -> (u64, Vec<u8>) {
    (
        seq,
        (0..len).map(|i| (seq as usize * 7 + i) as u8).collect(),
    )
}

#[test]
fn records_survive_reopen_in_order_and_retire_drops_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    log.append(&[rec(1, 100), rec(2, 5000)]).unwrap();
    log.append(&[rec(3, 4096)]).unwrap();
    log.sync().unwrap();
    assert_eq!(
        log.records().unwrap(),
        vec![rec(1, 100), rec(2, 5000), rec(3, 4096)]
    );
    log.retire(2).unwrap();
    drop(log);
    let log = FileLog::open(&path).unwrap();
    assert_eq!(log.records().unwrap(), vec![rec(3, 4096)]);
    log.append(&[rec(4, 10)]).unwrap();
    drop(log);
    let log = FileLog::open(&path).unwrap();
    assert_eq!(log.records().unwrap(), vec![rec(3, 4096), rec(4, 10)]);
    log.retire(4).unwrap();
    let log = FileLog::open(&path).unwrap();
    assert!(log.records().unwrap().is_empty());
    assert_eq!(
        log.retired(),
        4,
        "new records must be numbered past the retired ones"
    );
}

#[test]
fn the_ring_wraps_many_times_and_refuses_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut log = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    let mut seq = 0;
    for lap in 0..60u64 {
        // Three frames of ~100 KiB, the oldest two retired: the ring turns every ~3 laps.
        for _ in 0..3 {
            seq += 1;
            log.append(&[rec(seq, 100_000 + lap as usize)]).unwrap();
        }
        log.retire(seq - 1).unwrap();
        if lap % 7 == 0 {
            log = FileLog::open(&path).unwrap();
        }
        assert_eq!(
            log.records().unwrap(),
            vec![rec(seq, 100_000 + lap as usize)]
        );
    }
    // Fill it: the append that would overwrite the tail is refused, and nothing is lost.
    let mut stored = vec![rec(seq, 100_059)];
    let e = loop {
        seq += 1;
        let r = rec(seq, 200_000);
        match log.append(std::slice::from_ref(&r)) {
            Ok(()) => stored.push(r),
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), ErrorKind::SpaceExhausted);
    assert!(
        stored.len() >= 4,
        "{} frames of 200 KB in 1 MiB",
        stored.len()
    );
    assert_eq!(FileLog::open(&path).unwrap().records().unwrap(), stored);
}

#[test]
fn a_torn_frame_ends_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    log.append(&[rec(1, 4096)]).unwrap();
    log.append(&[rec(2, 4096), rec(3, 4096)]).unwrap();
    log.append(&[rec(4, 4096)]).unwrap();
    drop(log);
    // A byte of the second frame's payload changed (a write torn by a power loss).
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    let at = SUPER + (FRAME_HEAD + RECORD_HEAD + 4096) as u64 + 5000;
    f.write_all_at(&[0xAB], at).unwrap();
    drop(f);
    assert_eq!(
        FileLog::open(&path).unwrap().records().unwrap(),
        vec![rec(1, 4096)]
    );
}

#[test]
fn frames_of_an_earlier_log_on_the_same_device_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let old = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    for s in 1..=4 {
        old.append(&[rec(s, 4096)]).unwrap();
    }
    drop(old);
    // The same shapes, so frame 3 of the new log would sit where the old one's is.
    let new = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    new.append(&[rec(1, 4096)]).unwrap();
    new.append(&[rec(2, 4096)]).unwrap();
    drop(new);
    let log = FileLog::open(&path).unwrap();
    assert_eq!(log.records().unwrap(), vec![rec(1, 4096), rec(2, 4096)]);
    // And appending goes on after them.
    log.append(&[rec(3, 1)]).unwrap();
    assert_eq!(FileLog::open(&path).unwrap().records().unwrap().len(), 3);
}

#[test]
fn a_log_that_is_not_one_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, vec![7u8; MIN_LOG_BYTES as usize]).unwrap();
    let e = FileLog::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(e.to_string().contains("magic"), "{e}");
    let e = FileLog::create(&path, 4096, OWNER).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SpaceExhausted);
}

#[test]
fn appends_write_whole_pages_keeping_the_frames_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
    // Old bytes where the frames go: what an append leaves after its frame must be zeros
    // (it wrote the page whole, so the system had no page to read first).
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(&vec![0xEE; 3 * PAGE as usize], SUPER + FRAME_HEAD as u64)
        .unwrap();
    let head_after = |log: &FileLog| log.ring.lock().head;
    let read = |from: u64, to: u64| {
        let mut b = vec![0u8; (to - from) as usize];
        File::open(&path)
            .unwrap()
            .read_exact_at(&mut b, from)
            .unwrap();
        b
    };
    for (seq, len) in [(1, 100), (2, 5000), (3, 7)] {
        log.append(&[rec(seq, len)]).unwrap();
        let head = head_after(&log);
        assert!(
            read(head, head.next_multiple_of(PAGE))
                .iter()
                .all(|&b| b == 0),
            "after frame {seq}: the rest of its last page"
        );
    }
    drop(log);
    let log = FileLog::open(&path).unwrap();
    // The head page's earlier bytes are read back at open, so the next append keeps them.
    log.append(&[rec(4, 30)]).unwrap();
    drop(log);
    assert_eq!(
        FileLog::open(&path).unwrap().records().unwrap(),
        vec![rec(1, 100), rec(2, 5000), rec(3, 7), rec(4, 30)]
    );
}

#[test]
fn the_zeros_after_a_frame_stop_at_the_tail_in_the_same_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let end = MIN_LOG_BYTES;
    let log = FileLog::create(&path, end, OWNER).unwrap();
    let over = (FRAME_HEAD + RECORD_HEAD) as u64;
    // Frame 1 is small, frame 2 fills the ring but for 100 bytes; with frame 1 retired,
    // the tail is in the ring's first page, and frame 3 wraps to sit just before it.
    log.append(&[rec(1, 1000)]).unwrap();
    let tail = SUPER + 1000 + over;
    log.append(&[rec(2, (end - tail - 100 - over) as usize)])
        .unwrap();
    log.retire(1).unwrap();
    log.append(&[rec(3, 100)]).unwrap();
    assert_eq!(log.ring.lock().head, SUPER + 100 + over);
    drop(log);
    let got = FileLog::open(&path).unwrap().records().unwrap();
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Appends of random sizes, retires and reopens: the log always holds exactly the
    /// records appended and not retired, in order.
    #[test]
    fn the_log_holds_what_a_simple_model_holds(
        ops in proptest::collection::vec((0u8..4, 1usize..3, 1usize..150_000), 1..80)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap();
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut seq = 0u64;
        for (op, n, len) in ops {
            match op {
                0 | 1 => {
                    let recs: Vec<_> = (0..n).map(|i| rec(seq + 1 + i as u64, len / n)).collect();
                    if log.append(&recs).is_ok() {
                        seq += n as u64;
                        model.extend(recs);
                    } else {
                        // Full: retire all but the newest record.
                        let keep = model.last().map_or(0, |r| r.0);
                        log.retire(keep.saturating_sub(1)).unwrap();
                        model.retain(|r| r.0 >= keep);
                    }
                }
                2 => {
                    if let Some(r) = model.get(model.len() / 2) {
                        let upto = r.0;
                        log.retire(upto).unwrap();
                        model.retain(|r| r.0 > upto);
                    }
                }
                _ => log = FileLog::open(&path).unwrap(),
            }
            prop_assert_eq!(&log.records().unwrap(), &model);
        }
    }
}

#[test]
fn appends_and_retires_from_two_threads_keep_every_live_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = std::sync::Arc::new(FileLog::create(&path, MIN_LOG_BYTES, OWNER).unwrap());
    let appended = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let retirer = {
        let (log, appended) = (log.clone(), appended.clone());
        std::thread::spawn(move || {
            let mut upto = 0;
            while upto < 1900 {
                let now = appended.load(std::sync::atomic::Ordering::SeqCst);
                if now > upto + 10 {
                    upto = now - 10;
                    log.retire(upto).unwrap();
                }
                std::thread::yield_now();
            }
            upto
        })
    };
    for seq in 1..=2000u64 {
        // Waits for room while the retirer catches up.
        while log.append(&[rec(seq, 3000)]).is_err() {
            std::thread::yield_now();
        }
        appended.store(seq, std::sync::atomic::Ordering::SeqCst);
    }
    let upto = retirer.join().unwrap();
    drop(log);
    let want: Vec<_> = (upto + 1..=2000).map(|s| rec(s, 3000)).collect();
    assert_eq!(FileLog::open(&path).unwrap().records().unwrap(), want);
}
