use super::super::PoolSpec;
use super::*;
use crate::raid::RaidLevel;
use std::path::PathBuf;
use vsa_blockdev::BlockDevice;

const MIB: u64 = 1 << 20;

fn store(dir: &Path) -> Arc<MetaStore> {
    Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap())
}

fn spec(dir: &Path, level: RaidLevel, log: Option<PathBuf>) -> PoolSpec {
    let members = (0..4).map(|i| dir.join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", level, members);
    spec.create_size = Some(16 * MIB);
    spec.journal_bytes = 4 * MIB;
    spec.log = log;
    spec
}

/// Volume `v` of 1 MiB, every chunk allocated (so small writes are journaled).
fn with_volume(pool: &Pool) {
    pool.volumes().create("v", 1 << 20, false).unwrap();
    let v = pool.volumes().volume("v").unwrap();
    v.write_at(&[0u8; 1 << 20], 0).unwrap();
}

fn block(i: u64, round: u8) -> Vec<u8> {
    vec![(i as u8).wrapping_mul(7) ^ round; 4096]
}

/// Small writes to owned chunks of volume `v` (allocated first, so they are journaled).
fn write_blocks(pool: &Pool, round: u8) {
    let v = pool.volumes().volume("v").unwrap();
    for i in 0..64u64 {
        v.write_at(&block(i, round), i * 12288).unwrap();
    }
}

fn check_blocks(pool: &Pool, round: u8) {
    let v = pool.volumes().volume("v").unwrap();
    let mut b = vec![0u8; 4096];
    for i in 0..64u64 {
        v.read_at(&mut b, i * 12288).unwrap();
        assert!(b == block(i, round), "block {i} of round {round}");
    }
}

fn journaled(pool: &Pool) -> u64 {
    pool.status().write_journal.unwrap().pending_blocks
}

#[test]
fn a_pool_made_with_a_log_device_journals_there_and_replays_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fast/slog");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let default = journal_log::path(&store(dir.path()), 1);
    {
        let pool = Pool::create(
            store(dir.path()),
            &spec(dir.path(), RaidLevel::Raid6, Some(log.clone())),
        )
        .unwrap();
        assert_eq!(pool.status().record.log.as_deref(), Some(log.as_path()));
        with_volume(&pool);
        write_blocks(&pool, 1);
        assert!(journaled(&pool) > 0);
        assert_eq!(
            read_owner(&log),
            Some(super::super::unhex(&pool.record.uuid).unwrap())
        );
        // Dropped without a clean stop: the blocks are only in the log device.
    }
    assert!(!default.exists(), "no log file in the data directory");
    let pool = Pool::open_with(store(dir.path()), "p", 4 * MIB).unwrap();
    assert!(pool.status().write_journal.unwrap().replayed_records > 0);
    check_blocks(&pool, 1);
    assert_eq!(pool.status().record.log.as_deref(), Some(log.as_path()));
}

#[test]
fn the_log_moves_to_a_device_and_back_while_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slog");
    let pool = Arc::new(
        Pool::create(store(dir.path()), &spec(dir.path(), RaidLevel::Raid5, None)).unwrap(),
    );
    with_volume(&pool);
    let default = journal_log::path(&pool.store, pool.record.id);
    assert!(default.exists());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (pool, stop) = (pool.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut round = 0u8;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                round = round.wrapping_add(1);
                write_blocks(&pool, round);
            }
            round
        })
    };
    for _ in 0..3 {
        pool.set_log(Some(&log)).unwrap();
        assert!(!default.exists(), "the old log file is removed");
        pool.set_log(None).unwrap();
        assert!(default.exists());
    }
    pool.set_log(Some(&log)).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let round = writer.join().unwrap();
    // The writer's last round went on across the last switch.
    check_blocks(&pool, round);
    drop(pool);
    // Reopened after an unclean stop: the record names the device, which holds the rest.
    let pool = Pool::open_with(store(dir.path()), "p", 4 * MIB).unwrap();
    check_blocks(&pool, round);
    assert_eq!(pool.status().record.log.as_deref(), Some(log.as_path()));
}

#[test]
fn devices_that_cannot_be_a_log_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::create(store(dir.path()), &spec(dir.path(), RaidLevel::Raid5, None)).unwrap();
    let refused = |dev: &Path| match pool.set_log(Some(dev)) {
        Err(PoolError::BadLog { why, .. }) => why,
        other => panic!("{other:?}"),
    };
    assert!(refused(&dir.path().join("m1")).contains("member of vsa pool"));
    let data = dir.path().join("data");
    std::fs::write(&data, b"someone's file").unwrap();
    assert!(refused(&data).contains("holds data"));
    let default = journal_log::path(&pool.store, pool.record.id);
    assert!(refused(&default).contains("own log file"));
    assert!(refused(&dir.path().join("no/such/dir/log")).contains("No such file"));
    assert_no_log(&pool);

    // Another pool's log.
    let other = tempfile::tempdir().unwrap();
    let theirs = other.path().join("slog");
    let p2 = Pool::create(
        store(other.path()),
        &spec(other.path(), RaidLevel::Raid6, Some(theirs.clone())),
    )
    .unwrap();
    assert!(refused(&theirs).contains("write journal log of vsa pool"));
    // Nor is it taken as a member.
    let mut s = spec(dir.path(), RaidLevel::Raid5, None);
    s.name = "q".into();
    s.members = vec![theirs.clone(), dir.path().join("q1"), dir.path().join("q2")];
    match Pool::create(store(&dir.path().join("q")), &s) {
        Err(PoolError::BadMember { why, .. }) => {
            assert!(why.contains("write journal log"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    drop(p2);

    // A pool whose journal is off takes no log.
    let d3 = tempfile::tempdir().unwrap();
    let mut s = spec(d3.path(), RaidLevel::Raid5, Some(d3.path().join("m0")));
    assert!(matches!(
        Pool::create(store(d3.path()), &s),
        Err(PoolError::BadLog { .. })
    ));
    s.log = None;
    s.journal_bytes = 0;
    let p = Pool::create(store(d3.path()), &s).unwrap();
    match p.set_log(Some(&d3.path().join("slog"))) {
        Err(e @ PoolError::NoJournal { .. }) => {
            assert!(e.to_string().contains("write_journal = 0"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!d3.path().join("slog").exists());
}

fn assert_no_log(pool: &Pool) {
    assert_eq!(pool.status().record.log, None, "refusals change nothing");
}

/// Mirrors journal too: a RAID 10 pool made with a log device replays from it.
#[test]
fn a_raid10_pool_takes_a_log_device_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slog");
    {
        let s = spec(dir.path(), RaidLevel::Raid10, Some(log.clone()));
        let pool = Pool::create(store(dir.path()), &s).unwrap();
        with_volume(&pool);
        write_blocks(&pool, 3);
        assert!(journaled(&pool) > 0);
    }
    let pool = Pool::open_with(store(dir.path()), "p", 4 * MIB).unwrap();
    check_blocks(&pool, 3);
    assert_eq!(pool.status().record.log.as_deref(), Some(log.as_path()));
}

/// A lost log device: the pool refuses to open, naming the way out; opened discarding it,
/// the pool forgets the device (durably), keeps what had gone home, journals to a log
/// file again, and a log device that is there is never discarded.
#[test]
fn a_pool_whose_log_device_is_lost_opens_only_when_told_to_discard_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slog");
    {
        let s = spec(dir.path(), RaidLevel::Raid5, Some(log.clone()));
        let pool = Pool::create(store(dir.path()), &s).unwrap();
        with_volume(&pool);
        write_blocks(&pool, 1);
        pool.volumes().volume("v").unwrap().flush().unwrap();
        pool.settle().unwrap();
        write_blocks(&pool, 2);
        assert!(journaled(&pool) > 0);
    }
    // Discarding is asked for, but the device is there: it is used and replayed.
    {
        let (pool, lost) = Pool::open_discarding_lost_log(store(dir.path()), "p", 4 * MIB).unwrap();
        assert_eq!(lost, None);
        check_blocks(&pool, 2);
        assert_eq!(pool.status().record.log.as_deref(), Some(log.as_path()));
        write_blocks(&pool, 3);
        assert!(journaled(&pool) > 0);
    }
    std::fs::remove_file(&log).unwrap();
    let e = Pool::open_with(store(dir.path()), "p", 4 * MIB).unwrap_err();
    assert!(
        e.to_string().contains("vsa serve --discard-lost-log p"),
        "{e}"
    );
    let default = journal_log::path(&store(dir.path()), 1);
    {
        let (pool, lost) = Pool::open_discarding_lost_log(store(dir.path()), "p", 4 * MIB).unwrap();
        assert_eq!(lost.as_deref(), Some(log.as_path()));
        assert_eq!(pool.status().record.log, None);
        // Round 2 had gone home before round 3 was written; round 3 was in the log (a
        // slow machine may have sent some of it home after a second of idleness).
        let v = pool.volumes().volume("v").unwrap();
        let mut b = vec![0u8; 4096];
        for i in 0..64u64 {
            v.read_at(&mut b, i * 12288).unwrap();
            assert!(b == block(i, 2) || b == block(i, 3), "block {i}");
        }
        assert!(default.exists(), "the journal is back in a log file");
        write_blocks(&pool, 4);
    }
    // Forgotten for good: an ordinary open replays the log file.
    let pool = Pool::open_with(store(dir.path()), "p", 4 * MIB).unwrap();
    assert_eq!(pool.status().record.log, None);
    check_blocks(&pool, 4);
    assert!(!log.exists(), "the lost device's path is left alone");
}
