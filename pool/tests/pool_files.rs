//! Pools over real member files: create, reopen, fail and rebuild, scrub after corruption
//! written straight into a member file, the read cache, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vsa_blockdev::{BlockDevice, ErrorKind};
use vsa_pool::raid::{MemberState, RaidLevel};
use vsa_pool::{MetaStore, Pool, PoolError, PoolSpec, DEFAULT_READ_CACHE_BYTES};

const MIB: u64 = 1 << 20;

fn spec(dir: &Path, name: &str, level: RaidLevel, n: usize) -> PoolSpec {
    let members = (0..n).map(|i| dir.join(format!("{name}-m{i}"))).collect();
    let mut s = PoolSpec::new(name, level, members);
    s.create_size = Some(24 * MIB);
    s.chunk_size = 256 * 1024;
    s.raid_chunk = 16 * 1024;
    s
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn wait_rebuilt(pool: &Pool) {
    for _ in 0..600 {
        let st = pool.status();
        if !st.raid.needs_rebuild && st.rebuild.is_none_or(|r| r.finished) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("rebuild did not finish: {:?}", pool.status().raid);
}

#[test]
fn pool_survives_reopen_failure_rebuild_and_second_failure() {
    for level in [
        RaidLevel::Raid1,
        RaidLevel::Raid5,
        RaidLevel::Raid6,
        RaidLevel::Raid10,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
        let mut s = spec(dir.path(), "p", level, 4);
        s.spares = vec![dir.path().join("spare")];
        let pool = Pool::create(store.clone(), &s).unwrap();
        pool.volumes().create("v", 16 * MIB, false).unwrap();
        let v = pool.volumes().volume("v").unwrap();
        let data = pattern(level as u64 + 1, 8 * MIB as usize);
        v.write_at(&data, 3 * MIB).unwrap();
        v.flush().unwrap();
        drop(v);
        drop(pool);
        let pool = Pool::open(store.clone(), "p").unwrap();
        let v = pool.volumes().volume("v").unwrap();
        let mut got = vec![0u8; data.len()];
        v.read_at(&mut got, 3 * MIB).unwrap();
        assert!(got == data, "{level}: data after reopen");

        // Fail member 1: the spare takes over and rebuilds; reads stay correct throughout.
        pool.fail_member("1").unwrap();
        v.read_at(&mut got, 3 * MIB).unwrap();
        assert!(got == data, "{level}: degraded read");
        let more = pattern(99, MIB as usize);
        v.write_at(&more, 12 * MIB).unwrap();
        wait_rebuilt(&pool);
        let st = pool.status();
        assert!(
            st.raid
                .members
                .iter()
                .all(|m| m.state == MemberState::Active),
            "{level}: {:?}",
            st.raid
        );
        let r = st.rebuild.unwrap();
        assert_eq!(r.done, r.total);
        // Full redundancy again: a different member may fail now.
        pool.fail_member("0").unwrap();
        v.read_at(&mut got, 3 * MIB).unwrap();
        assert!(got == data, "{level}: read after second failure");
        let mut got2 = vec![0u8; more.len()];
        v.read_at(&mut got2, 12 * MIB).unwrap();
        assert!(got2 == more, "{level}: write made while degraded");
        assert!(pool.check().unwrap().is_ok());
        pool.join_tasks(true);
    }
}

fn corrupt(path: &Path, offset: u64, len: usize) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&vec![0xA5; len]).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn scrub_repairs_corruption_written_into_a_member_file() {
    for level in [RaidLevel::Raid6, RaidLevel::Raid1] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
        let n = if level == RaidLevel::Raid1 { 3 } else { 4 };
        let s = spec(dir.path(), "p", level, n);
        let pool = Pool::create(store.clone(), &s).unwrap();
        pool.volumes().create("v", 16 * MIB, false).unwrap();
        let v = pool.volumes().volume("v").unwrap();
        let data = pattern(7, 8 * MIB as usize);
        v.write_at(&data, 0).unwrap();
        v.flush().unwrap();
        drop(v);
        drop(pool);
        // Member data starts after the 1 MiB label area.
        corrupt(&s.members[1], MIB + 64 * 1024, 8192);
        let pool = Pool::open(store.clone(), "p").unwrap();
        pool.start_scrub(true).unwrap();
        pool.join_tasks(false);
        let report = pool.last_scrub().unwrap();
        assert!(report.mismatches > 0, "{level}: {report:?}");
        assert!(report.repaired > 0, "{level}: {report:?}");
        let v = pool.volumes().volume("v").unwrap();
        let mut got = vec![0u8; data.len()];
        v.read_at(&mut got, 0).unwrap();
        assert!(got == data, "{level}: data repaired");
        pool.start_scrub(false).unwrap();
        pool.join_tasks(false);
        assert_eq!(pool.last_scrub().unwrap().mismatches, 0, "{level}");
    }
}

#[test]
fn bad_pools_are_refused_with_named_problems() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
    let e = Pool::create(store.clone(), &spec(dir.path(), "a", RaidLevel::Raid6, 3)).unwrap_err();
    assert!(e.to_string().contains("at least 4"), "{e}");
    let mut s = spec(dir.path(), "b", RaidLevel::Raid5, 3);
    s.members.push(s.members[0].clone());
    let e = Pool::create(store.clone(), &s).unwrap_err();
    assert!(matches!(e, PoolError::BadMember { .. }), "{e}");
    let mut s = spec(dir.path(), "c", RaidLevel::Raid5, 3);
    s.create_size = None;
    let e = Pool::create(store.clone(), &s).unwrap_err();
    assert!(e.to_string().contains("c-m0"), "{e}");
    let empty: PathBuf = dir.path().join("empty");
    std::fs::File::create(&empty).unwrap();
    let mut s = spec(dir.path(), "d", RaidLevel::Raid1, 2);
    s.members[0] = empty;
    let e = Pool::create(store.clone(), &s).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    // A device of another pool is refused.
    let good = spec(dir.path(), "e", RaidLevel::Raid1, 2);
    Pool::create(store.clone(), &good).unwrap();
    let mut s = spec(dir.path(), "f", RaidLevel::Raid1, 2);
    s.members[1] = good.members[0].clone();
    let e = Pool::create(store.clone(), &s).unwrap_err();
    assert!(e.to_string().contains("already belongs"), "{e}");
    let e = Pool::create(store.clone(), &good).unwrap_err();
    assert!(matches!(e, PoolError::PoolExists(_)), "{e}");
    assert!(matches!(
        Pool::open(store, "zz"),
        Err(PoolError::NoSuchPool(_))
    ));
}

#[test]
fn a_full_pool_reports_space_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
    let pool = Pool::create(store, &spec(dir.path(), "p", RaidLevel::Raid0, 2)).unwrap();
    let cap = pool.volumes().space().capacity;
    pool.volumes().create("v", 2 * cap, false).unwrap();
    let v = pool.volumes().volume("v").unwrap();
    let chunk = pool.volumes().chunk_size();
    let mut off = 0;
    let err = loop {
        match v.write_at(&vec![1u8; chunk as usize], off) {
            Ok(()) => off += chunk,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::SpaceExhausted);
    assert_eq!(off, cap);
    let mut buf = vec![0u8; chunk as usize];
    v.read_at(&mut buf, off - chunk).unwrap();
    assert!(buf.iter().all(|&b| b == 1));
    assert!(pool.check().unwrap().is_ok());
}

#[test]
fn volume_reads_go_through_the_read_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
    let pool = Pool::create(store, &spec(dir.path(), "p", RaidLevel::Raid5, 3)).unwrap();
    assert_eq!(pool.read_cache_stats().capacity, DEFAULT_READ_CACHE_BYTES);
    pool.volumes().create("v", 8 * MIB, false).unwrap();
    let v = pool.volumes().volume("v").unwrap();
    let data = pattern(3, 2 * MIB as usize);
    v.write_at(&data, 0).unwrap();
    let mut got = vec![0u8; data.len()];
    v.read_at(&mut got, 0).unwrap();
    assert!(got == data);
    let s = pool.read_cache_stats();
    assert!(
        s.misses > 0 && s.bytes_cached > 0,
        "writes bring no page in: {s:?}"
    );
    v.read_at(&mut got, 0).unwrap();
    assert!(got == data);
    let s = pool.read_cache_stats();
    assert!(s.hits > 0, "{s:?}");
    // Writing over cached data, then rereading, sees the new data.
    v.write_at(&data[..MIB as usize], 4096).unwrap();
    v.read_at(&mut got[..MIB as usize], 4096).unwrap();
    assert!(got[..MIB as usize] == data[..MIB as usize]);
    pool.set_read_cache_bytes(0);
    let s = pool.read_cache_stats();
    assert_eq!((s.capacity, s.bytes_cached), (0, 0));
    let hits = s.hits;
    v.read_at(&mut got[..4096], 0).unwrap();
    assert_eq!(got[..4096], data[..4096]);
    assert_eq!(pool.read_cache_stats().hits, hits, "off: no lookups");
    assert!(pool.check().unwrap().is_ok());
}
