//! SANITIZE: overwrite, block erase, IMMED, rate, aborts.

use super::*;

fn sanitize_cdb(sa: u8, len: u16) -> Vec<u8> {
    let mut c = vec![0x48, sa, 0, 0, 0, 0, 0, 0, 0, 0];
    c[7..9].copy_from_slice(&len.to_be_bytes());
    c
}

#[test]
fn sanitize_overwrite_and_block_erase() {
    let (dev, d) = disk();
    let mut params = vec![0x01, 0, 0, 4];
    params.extend_from_slice(b"wxyz");
    let r = exec(&d, &sanitize_cdb(0x01, 8), &params);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(8)));
    assert_eq!(&read(&d, BLOCKS - 1, 1)[..8], b"wxyzwxyz");
    for len in 0..5 {
        assert_eq!(
            sense(&exec(&d, &sanitize_cdb(0x01, len), &params)).0,
            ILLEGAL
        );
    }
    let mut bad = params.clone();
    bad[0] = 0;
    assert_eq!(
        sense(&exec(&d, &sanitize_cdb(0x01, 8), &bad)),
        (ILLEGAL, 0x26, 0x00)
    );
    assert_eq!(exec(&d, &sanitize_cdb(0x02, 0), &[]).status, GOOD);
    let ext = dev.allocation(0, dev.size()).unwrap();
    assert!(ext.iter().all(|e| e.status == Allocation::Deallocated));
    let r = lba_status(&d, 0, 256);
    assert_eq!(descriptors(&r.data), vec![(0, BLOCKS as u32, 1)]);
    assert_eq!(
        sense(&exec(&d, &sanitize_cdb(0x02, 8), &[0; 8])),
        (ILLEGAL, 0x24, 0x00)
    );
    assert_eq!(
        sense(&exec(&d, &sanitize_cdb(0x1F, 8), &[0; 8])),
        (ILLEGAL, 0x24, 0x00)
    );
    for sa in [0x00, 0x04, 0x1E, 0x42] {
        assert_eq!(
            sense(&exec(&d, &sanitize_cdb(sa, 0), &[])).0,
            ILLEGAL,
            "sa {sa:#x}"
        );
    }
    let mut reserved = sanitize_cdb(0x03, 0);
    reserved[4] = 4;
    assert_eq!(field_pointer(&exec(&d, &reserved, &[])), 4);
    let wp = UnitCtx {
        write_protected: true,
        ..CTX
    };
    assert_eq!(
        sense(&exec_as(&d, &sanitize_cdb(0x03, 0), &[], wp, 1)),
        (0x07, 0x27, 0x00)
    );
}

#[test]
fn sanitize_overwrite_keeps_to_its_rate() {
    let (_, d) = disk_tuned(
        options(),
        DiskTuning {
            sanitize_bytes_per_sec: 16 << 20,
            ..tuning()
        },
    );
    let started = std::time::Instant::now();
    let r = exec(&d, &sanitize_cdb(0x01, 5), &[0x01, 0, 0, 1, 0xAB]);
    assert_eq!(r.status, GOOD);
    // 4 MiB at 16 MiB/s.
    assert!(started.elapsed() >= std::time::Duration::from_millis(240));
    assert!(read(&d, 77, 1).iter().all(|&b| b == 0xAB));
}

#[test]
fn sanitize_in_progress_blocks_other_commands() {
    let (_, d) = disk();
    d.sanitize.set_state(SanitizeState::Running);
    let not_ready = (0x02, 0x04, 0x1B);
    assert_eq!(sense(&exec(&d, &cdb10(0x28, 0, 0, 1), &[])), not_ready);
    let s = d.ready().unwrap_err();
    assert_eq!((s.key as u8, s.asc, s.ascq), not_ready);
    assert!(d
        .overriding_condition()
        .is_some_and(|s| s.progress.is_some()));
    // A second SANITIZE does not start while one runs.
    assert_eq!(sense(&exec(&d, &sanitize_cdb(0x02, 0), &[])), not_ready);
    d.sanitize.set_state(SanitizeState::Failed);
    assert_eq!(
        sense(&exec(&d, &cdb10(0x28, 0, 0, 1), &[])),
        (0x03, 0x31, 0x03)
    );
    assert_eq!(d.overriding_condition(), None);
    assert_eq!(exec(&d, &sanitize_cdb(0x1F, 0), &[]).status, GOOD);
    assert_eq!(exec(&d, &cdb10(0x28, 0, 0, 1), &[]).status, GOOD);
}

/// Polls until the disk is ready again, or panics after `secs`.
fn wait_ready(d: &Disk, secs: u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while d.ready().is_err() {
        assert!(std::time::Instant::now() < until, "sanitize never ended");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn sanitize_with_immed_returns_at_once_and_runs_on() {
    let (_, d) = disk_tuned(
        options(),
        DiskTuning {
            sanitize_bytes_per_sec: 8 << 20,
            ..tuning()
        },
    );
    let started = std::time::Instant::now();
    let mut cdb = sanitize_cdb(0x01, 5);
    cdb[1] |= 0x80;
    let r = exec(&d, &cdb, &[0x01, 0, 0, 1, 0x5A]);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(5)));
    // 4 MiB at 8 MiB/s takes half a second; the command did not wait for it.
    assert!(started.elapsed() < std::time::Duration::from_millis(400));
    let s = d.overriding_condition().expect("sanitize in progress");
    assert_eq!((s.key as u8, s.asc, s.ascq), (0x02, 0x04, 0x1B));
    assert_eq!(
        sense(&exec(&d, &cdb10(0x28, 0, 0, 1), &[])),
        (0x02, 0x04, 0x1B)
    );
    assert!(d.ready().is_err());
    wait_ready(&d, 10);
    assert!(started.elapsed() >= std::time::Duration::from_millis(450));
    assert!(read(&d, BLOCKS - 1, 1).iter().all(|&b| b == 0x5A));
    assert_eq!(d.overriding_condition(), None);
}

#[test]
fn an_aborted_sanitize_without_immed_stops_waiting_and_the_operation_goes_on() {
    let (_, d) = disk_tuned(
        options(),
        DiskTuning {
            sanitize_bytes_per_sec: 4 << 20,
            ..tuning()
        },
    );
    let started = std::time::Instant::now();
    let r = std::thread::scope(|s| {
        let cmd = s.spawn(|| exec(&d, &sanitize_cdb(0x01, 5), &[0x01, 0, 0, 1, 0x33]));
        while d.overriding_condition().is_none() {
            std::thread::yield_now();
        }
        d.aborting(&nexus(2));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!cmd.is_finished(), "only its own nexus releases it");
        d.aborting(&nexus(1));
        cmd.join().expect("command")
    });
    // 4 MiB at 4 MiB/s: the command came back long before the operation ended.
    assert!(started.elapsed() < std::time::Duration::from_millis(700));
    assert_eq!(sense(&r), (0x02, 0x04, 0x1B));
    assert!(d.overriding_condition().is_some());
    wait_ready(&d, 10);
    assert!(read(&d, BLOCKS - 1, 1).iter().all(|&b| b == 0x33));
}

#[test]
fn block_erase_with_immed_ends_and_a_dropped_disk_stops_its_sanitize() {
    let (dev, d) = disk();
    exec(&d, &cdb10(0x2A, 0, 9, 1), &[7; BS]);
    let r = exec(&d, &[0x48, 0x82, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.status, GOOD);
    wait_ready(&d, 10);
    assert!(read(&d, 9, 1).iter().all(|&b| b == 0));
    drop(d);
    // Slow enough to be still running when the disk goes away.
    let d = Disk::with_tuning(
        dev.clone(),
        options(),
        DiskTuning {
            sanitize_bytes_per_sec: 1 << 20,
            ..tuning()
        },
        Arc::new(NoCopyTargets),
    );
    let tracker = d.sanitize.clone();
    let mut cdb = sanitize_cdb(0x01, 5);
    cdb[1] |= 0x80;
    assert_eq!(exec(&d, &cdb, &[0x01, 0, 0, 1, 0x5A]).status, GOOD);
    drop(d);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while tracker.state() == SanitizeState::Running {
        assert!(std::time::Instant::now() < until, "sanitize did not stop");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
