use super::*;
use crate::raid::{MemJournal, RaidLevel, RaidMember, RaidSet};
use proptest::prelude::*;
use std::collections::HashMap;
use vsa_blockdev::testing::{FaultyDevice, MemDevice};
use vsa_blockdev::Allocation;

const CS: u64 = 64 * 1024;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<MetaStore>,
    data: Arc<FaultyDevice<MemDevice>>,
    device: Arc<dyn BlockDevice>,
    mgr: VolumeManager,
}

fn fixture(chunks: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MetaStore::open(dir.path(), &[]).unwrap());
    let data = Arc::new(FaultyDevice::new(MemDevice::new(chunks * CS, 512)));
    let mgr = VolumeManager::open(store.clone(), 1, "p", data.clone(), CS).unwrap();
    Fixture {
        _dir: dir,
        store,
        device: data.clone(),
        data,
        mgr,
    }
}

/// A fixture whose data device sits behind a read cache of `cache` bytes (so volume I/O
/// goes through the cache, as in a pool); faults are injected below the cache.
fn cached_fixture(chunks: u64, cache: u64) -> Fixture {
    let mut f = fixture(chunks);
    f.device = Arc::new(crate::cache::ReadCache::new(f.data.clone(), cache));
    f.mgr = VolumeManager::open(f.store.clone(), 1, "p", f.device.clone(), CS).unwrap();
    f
}

/// A fixture whose data device is a RAID set of in-memory members with `chunks` chunks.
fn raid_fixture(level: RaidLevel, chunks: u64) -> Fixture {
    let mut f = fixture(1);
    let n = 4u64;
    let data_cols = match level {
        RaidLevel::Raid0 => n,
        RaidLevel::Raid1 => 1,
        RaidLevel::Raid5 => n - 1,
        RaidLevel::Raid6 => n - 2,
        RaidLevel::Raid10 => n / 2,
    };
    let member = (chunks * CS)
        .div_ceil(data_cols)
        .next_multiple_of(16 * 1024);
    let members = (0..n)
        .map(|i| RaidMember {
            name: format!("m{i}"),
            dev: Arc::new(MemDevice::new(member, 512)),
        })
        .collect();
    let raid = RaidSet::open(
        level,
        16 * 1024,
        members,
        Vec::new(),
        None,
        true,
        Arc::new(MemJournal::new()),
    )
    .unwrap();
    f.device = Arc::new(raid);
    f.mgr = VolumeManager::open(f.store.clone(), 1, "p", f.device.clone(), CS).unwrap();
    f
}

impl Fixture {
    fn reopen(&mut self) {
        self.mgr =
            VolumeManager::open(self.store.clone(), 1, "p", self.device.clone(), CS).unwrap();
    }
}

fn read_all(v: &Volume) -> Vec<u8> {
    let mut buf = vec![0u8; v.size() as usize];
    v.read_at(&mut buf, 0).unwrap();
    buf
}

fn assert_ok(mgr: &VolumeManager) {
    let r = mgr.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
}

#[test]
fn thin_volume_reads_zeros_and_allocates_on_write() {
    let f = fixture(64);
    f.mgr.create("a", 10 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    let before = f.data.ops();
    let mut buf = vec![1u8; 4096];
    v.read_at(&mut buf, 3 * CS).unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(
        f.data.ops(),
        before,
        "reads of unwritten space must not touch the disk"
    );
    assert_eq!(f.mgr.space().allocated, 0);
    v.write_at(&[7u8; 4096], CS + 512).unwrap();
    assert_eq!(f.mgr.space().allocated, CS);
    assert_eq!(f.mgr.info("a").unwrap().allocated, CS);
    let all = read_all(&v);
    assert!(all[CS as usize + 512..CS as usize + 4608]
        .iter()
        .all(|&b| b == 7));
    assert_eq!(all.iter().filter(|&&b| b != 0).count(), 4096);
    let ext = v.allocation(0, 3 * CS).unwrap();
    assert_eq!(
        ext.iter().map(|e| e.status).collect::<Vec<_>>(),
        vec![
            Allocation::Deallocated,
            Allocation::Mapped,
            Allocation::Deallocated
        ]
    );
    assert_ok(&f.mgr);
}

#[test]
fn unmap_returns_whole_chunks_and_zeros_partial_ones() {
    let f = fixture(64);
    f.mgr.create("a", 8 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    v.write_at(&vec![5u8; 4 * CS as usize], 0).unwrap();
    assert_eq!(f.mgr.space().allocated, 4 * CS);
    v.unmap(CS / 2, 2 * CS).unwrap();
    assert_eq!(f.mgr.space().allocated, 3 * CS);
    let all = read_all(&v);
    assert!(all[..CS as usize / 2].iter().all(|&b| b == 5));
    assert!(all[CS as usize / 2..5 * CS as usize / 2]
        .iter()
        .all(|&b| b == 0));
    assert!(all[5 * CS as usize / 2..4 * CS as usize]
        .iter()
        .all(|&b| b == 5));
    assert_ok(&f.mgr);
}

#[test]
fn snapshot_clone_rollback_and_delete() {
    let mut f = fixture(64);
    f.mgr.create("vol", 4 * CS, false).unwrap();
    let v = f.mgr.volume("vol").unwrap();
    v.write_at(&vec![1u8; 4 * CS as usize], 0).unwrap();
    f.mgr.snapshot("vol", "s1").unwrap();
    v.write_at(&vec![2u8; 4096], 0).unwrap();
    assert_eq!(f.mgr.space().allocated, 5 * CS, "one chunk copied on write");
    let snap = f.mgr.snapshot_view("vol", "s1").unwrap();
    assert!(read_all(&snap).iter().all(|&b| b == 1));
    assert_eq!(
        snap.write_at(&[0u8; 512], 0).unwrap_err().kind(),
        ErrorKind::ReadOnly
    );
    let c = f.mgr.clone_snapshot("vol", "s1", "clone").unwrap();
    assert_eq!(c.record.origin.as_deref(), Some("vol@s1"));
    let cv = f.mgr.volume("clone").unwrap();
    cv.write_at(&[3u8; 512], CS).unwrap();
    assert_eq!(read_all(&cv)[CS as usize], 3);
    assert_eq!(read_all(&cv)[0], 1);
    assert!(matches!(
        f.mgr.delete("vol"),
        Err(VolumeError::HasClones { .. })
    ));
    assert!(matches!(
        f.mgr.delete_snapshot("vol", "s1"),
        Err(VolumeError::HasClones { .. })
    ));
    f.mgr.rollback("vol", "s1").unwrap();
    assert!(read_all(&v).iter().all(|&b| b == 1));
    assert_ok(&f.mgr);
    f.reopen();
    let v = f.mgr.volume("vol").unwrap();
    assert!(read_all(&v).iter().all(|&b| b == 1));
    f.mgr.delete("clone").unwrap();
    f.mgr.delete_snapshot("vol", "s1").unwrap();
    assert_eq!(f.mgr.space().allocated, 4 * CS);
    f.mgr.delete("vol").unwrap();
    assert_eq!(f.mgr.space().allocated, 0);
    assert!(f.mgr.names().is_empty());
    assert_ok(&f.mgr);
}

#[test]
fn thick_volumes_reserve_space_and_read_zeros() {
    let f = fixture(16);
    f.mgr.create("thick", 10 * CS, true).unwrap();
    assert_eq!(f.mgr.space().allocated, 10 * CS);
    let v = f.mgr.volume("thick").unwrap();
    assert!(read_all(&v).iter().all(|&b| b == 0));
    v.write_at(&[9u8; 512], 5 * CS).unwrap();
    assert_eq!(f.mgr.space().allocated, 10 * CS);
    let e = f.mgr.create("big", 7 * CS, true).unwrap_err();
    assert!(
        matches!(
            e,
            VolumeError::SpaceExhausted {
                needed: 7,
                free: 6,
                ..
            }
        ),
        "{e}"
    );
    assert!(f.mgr.names() == vec!["thick".to_owned()]);
    assert_ok(&f.mgr);
}

#[test]
fn a_full_pool_fails_writes_without_harming_data() {
    let f = fixture(4);
    f.mgr.create("a", 16 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    for i in 0..4u64 {
        v.write_at(&vec![i as u8 + 1; CS as usize], i * CS).unwrap();
    }
    let e = v.write_at(&[1u8; 512], 10 * CS).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SpaceExhausted);
    assert!(e.to_string().contains("out of space"), "{e}");
    // A write spanning an owned chunk and a new one fails whole, before writing anything.
    let e = v
        .write_at(&vec![0xEE; 2 * CS as usize], 3 * CS)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SpaceExhausted);
    let all = read_all(&v);
    for i in 0..4usize {
        assert!(all[i * CS as usize..(i + 1) * CS as usize]
            .iter()
            .all(|&b| b == i as u8 + 1));
    }
    assert!(f.mgr.space().low);
    assert_ok(&f.mgr);
}

#[test]
fn a_write_short_of_chunks_marks_the_pool_exhausted_until_space_is_freed() {
    let f = fixture(4);
    assert!(f.mgr.create("big", 5 * CS, true).is_err());
    assert!(
        !f.mgr.space().exhausted,
        "a refused thick create is not a failed write"
    );
    f.mgr.create("a", 16 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    for i in 0..3u64 {
        v.write_at(&[1u8; 512], i * CS).unwrap();
    }
    assert_eq!((f.mgr.space().free, f.mgr.space().exhausted), (CS, false));
    // Two new chunks wanted, one free.
    let e = v.write_at(&vec![2u8; 2 * CS as usize], 8 * CS).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SpaceExhausted);
    assert_eq!((f.mgr.space().free, f.mgr.space().exhausted), (CS, true));
    v.unmap(0, CS).unwrap();
    assert_eq!(
        (f.mgr.space().free, f.mgr.space().exhausted),
        (2 * CS, false)
    );
    v.write_at(&vec![2u8; 2 * CS as usize], 8 * CS).unwrap();
    assert_ok(&f.mgr);
}

#[test]
fn resize_grows_and_refuses_to_drop_data() {
    let f = fixture(64);
    f.mgr.create("a", 4 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    v.write_at(&[1u8; 512], 2 * CS + 1024).unwrap();
    let e = f.mgr.resize("a", 2 * CS).unwrap_err();
    match e {
        VolumeError::ShrinkWouldDropData { data_at, .. } => assert_eq!(data_at, 2 * CS + 1024),
        other => panic!("{other}"),
    }
    assert!(f.mgr.resize("a", 2 * CS + 1024).is_err());
    f.mgr.resize("a", 2 * CS + 1536).unwrap();
    assert_eq!(v.size(), 2 * CS + 1536);
    f.mgr.resize("a", 8 * CS).unwrap();
    assert_eq!(v.size(), 8 * CS);
    let all = read_all(&v);
    assert_eq!(all[2 * CS as usize + 1024], 1);
    assert!(matches!(
        f.mgr.resize("a", 1000),
        Err(VolumeError::InvalidSize { .. })
    ));
    assert!(matches!(
        f.mgr.resize("nope", CS),
        Err(VolumeError::NoSuchVolume(_))
    ));
    assert_ok(&f.mgr);
}

#[test]
fn bad_names_and_sizes_are_refused() {
    let f = fixture(8);
    for bad in ["", "-x", ".x", "a/b", "a@b", &"x".repeat(65)] {
        assert!(
            matches!(
                f.mgr.create(bad, CS, false),
                Err(VolumeError::InvalidName { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        f.mgr.create("a", 0, false),
        Err(VolumeError::InvalidSize { .. })
    ));
    assert!(matches!(
        f.mgr.create("a", 100, false),
        Err(VolumeError::InvalidSize { .. })
    ));
    f.mgr.create("a", CS, false).unwrap();
    assert!(matches!(
        f.mgr.create("a", CS, false),
        Err(VolumeError::VolumeExists(_))
    ));
    assert!(matches!(
        f.mgr.snapshot("a", "x@"),
        Err(VolumeError::InvalidName { .. })
    ));
    f.mgr.snapshot("a", "s").unwrap();
    assert!(matches!(
        f.mgr.snapshot("a", "s"),
        Err(VolumeError::SnapshotExists { .. })
    ));
    assert!(matches!(
        f.mgr.clone_snapshot("a", "zz", "b"),
        Err(VolumeError::NoSuchSnapshot { .. })
    ));
    let v = f.mgr.volume("a").unwrap();
    assert_eq!(
        v.read_at(&mut [0u8; 512], CS).unwrap_err().kind(),
        ErrorKind::OutOfRange
    );
    assert_eq!(
        v.write_at(&[0u8; 100], 0).unwrap_err().kind(),
        ErrorKind::Misaligned
    );
}

#[test]
fn a_failed_data_write_leaves_no_mapping() {
    failed_data_write_leaves_no_mapping(fixture(16));
    failed_data_write_leaves_no_mapping(cached_fixture(16, 1 << 20));
}

fn failed_data_write_leaves_no_mapping(f: Fixture) {
    f.mgr.create("a", 4 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    f.data.fail(true);
    assert_eq!(
        v.write_at(&[1u8; 4096], 0).unwrap_err().kind(),
        ErrorKind::Io
    );
    f.data.fail(false);
    assert_eq!(f.mgr.space().allocated, 0);
    assert!(read_all(&v).iter().all(|&b| b == 0));
    assert_ok(&f.mgr);
}

#[test]
fn concurrent_writers_share_one_allocation_per_chunk() {
    let f = fixture(64);
    f.mgr.create("a", 8 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let v = v.clone();
            s.spawn(move || {
                for i in 0..16u64 {
                    let off = (i % 8) * CS + t * 4096;
                    v.write_at(&[t as u8 + 1; 4096], off).unwrap();
                }
            });
        }
    });
    assert_eq!(f.mgr.space().allocated, 8 * CS);
    let all = read_all(&v);
    for c in 0..8usize {
        for t in 0..8usize {
            let at = c * CS as usize + t * 4096;
            assert!(all[at..at + 4096].iter().all(|&b| b == t as u8 + 1));
        }
    }
    assert_ok(&f.mgr);
}

#[derive(Debug, Clone)]
enum Action {
    Write {
        vol: usize,
        block: u64,
        blocks: u64,
        byte: u8,
    },
    Unmap {
        vol: usize,
        block: u64,
        blocks: u64,
    },
    Snapshot {
        vol: usize,
    },
    Clone {
        snap: usize,
    },
    Rollback {
        snap: usize,
    },
    DeleteSnapshot {
        snap: usize,
    },
    Resize {
        vol: usize,
        blocks: u64,
    },
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0..4usize, 0..96u64, 1..40u64, 1..255u8).prop_map(|(vol, block, blocks, byte)| Action::Write { vol, block, blocks, byte }),
        2 => (0..4usize, 0..96u64, 1..80u64).prop_map(|(vol, block, blocks)| Action::Unmap { vol, block, blocks }),
        2 => (0..4usize).prop_map(|vol| Action::Snapshot { vol }),
        1 => (0..8usize).prop_map(|snap| Action::Clone { snap }),
        1 => (0..8usize).prop_map(|snap| Action::Rollback { snap }),
        1 => (0..8usize).prop_map(|snap| Action::DeleteSnapshot { snap }),
        1 => (0..4usize, 8..128u64).prop_map(|(vol, blocks)| Action::Resize { vol, blocks }),
        1 => Just(Action::Reopen),
    ]
}

/// Runs actions against the manager and a plain in-memory model, comparing all content.
fn run_model(mut f: Fixture, actions: Vec<Action>) {
    const BS: u64 = 4096;
    let mut model: HashMap<String, Vec<u8>> = HashMap::new();
    let mut snaps: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut counter = 0;
    f.mgr.create("v0", 64 * BS, false).unwrap();
    model.insert("v0".into(), vec![0; 64 * BS as usize]);
    let pick = |model: &HashMap<String, Vec<u8>>, i: usize| {
        let mut names: Vec<String> = model.keys().cloned().collect();
        names.sort();
        names[i % names.len()].clone()
    };
    for a in actions {
        match a {
            Action::Write {
                vol,
                block,
                blocks,
                byte,
            } => {
                let name = pick(&model, vol);
                let m = model.get_mut(&name).unwrap();
                let size = m.len() as u64;
                let off = (block * BS).min(size - BS);
                let len = (blocks * BS).min(size - off);
                f.mgr
                    .volume(&name)
                    .unwrap()
                    .write_at(&vec![byte; len as usize], off)
                    .unwrap();
                m[off as usize..(off + len) as usize].fill(byte);
            }
            Action::Unmap { vol, block, blocks } => {
                let name = pick(&model, vol);
                let m = model.get_mut(&name).unwrap();
                let size = m.len() as u64;
                let off = (block * BS).min(size - BS);
                let len = (blocks * BS).min(size - off);
                f.mgr.volume(&name).unwrap().unmap(off, len).unwrap();
                m[off as usize..(off + len) as usize].fill(0);
            }
            Action::Snapshot { vol } => {
                let name = pick(&model, vol);
                counter += 1;
                let s = format!("s{counter}");
                f.mgr.snapshot(&name, &s).unwrap();
                snaps.push((name.clone(), s, model[&name].clone()));
            }
            Action::Clone { snap, .. } if !snaps.is_empty() => {
                let (v, s, content) = snaps[snap % snaps.len()].clone();
                counter += 1;
                let new = format!("c{counter}");
                f.mgr.clone_snapshot(&v, &s, &new).unwrap();
                model.insert(new, content);
            }
            Action::Rollback { snap, .. } if !snaps.is_empty() => {
                let (v, s, content) = snaps[snap % snaps.len()].clone();
                f.mgr.rollback(&v, &s).unwrap();
                model.insert(v, content);
            }
            Action::DeleteSnapshot { snap, .. } if !snaps.is_empty() => {
                let i = snap % snaps.len();
                let (v, s, _) = snaps[i].clone();
                match f.mgr.delete_snapshot(&v, &s) {
                    Ok(()) => {
                        snaps.remove(i);
                    }
                    Err(VolumeError::HasClones { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Action::Resize { vol, blocks } => {
                let name = pick(&model, vol);
                let m = model.get_mut(&name).unwrap();
                let new = blocks * BS;
                match f.mgr.resize(&name, new) {
                    Ok(_) => m.resize(new as usize, 0),
                    Err(VolumeError::ShrinkWouldDropData { data_at, .. }) => {
                        assert!(new < m.len() as u64);
                        assert!(m[new as usize..].iter().any(|&b| b != 0));
                        assert_ne!(m[data_at as usize], 0);
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            Action::Reopen => f.reopen(),
            _ => {}
        }
        for (name, content) in &model {
            let vol = f.mgr.volume(name).unwrap();
            let got = read_all(&vol);
            if got != *content {
                let first = got.iter().zip(content.iter()).position(|(a, b)| a != b);
                panic!("volume {name} differs from the model from byte {first:?}");
            }
            // A read once (past the cache, which keeps none of it) reads the same.
            let mut once = vec![0u8; content.len()];
            vol.read_once_at(&mut once, 0).unwrap();
            assert!(once == *content, "read_once_at of {name}");
            // What a non-blocking read serves (after the read above cached it, when the
            // fixture has a cache) is the same, and a refusal leaves the buffer as it was.
            let mut parts = vec![vsa_blockdev::Bytes::from_static(b"x")];
            match vol.try_read_shared(&mut parts, 0, content.len()) {
                Some(r) => {
                    r.unwrap();
                    assert!(
                        parts[1..].concat() == content[..] && parts[0][..] == b"x"[..],
                        "try_read_shared of {name}"
                    );
                }
                None => assert_eq!(parts.len(), 1),
            }
        }
        for (v, s, content) in &snaps {
            let got = read_all(&f.mgr.snapshot_view(v, s).unwrap());
            assert!(got == *content, "snapshot {v}@{s} differs from the model");
        }
        assert_ok(&f.mgr);
    }
    // Deleting everything returns all space.
    let mut names: Vec<String> = model.keys().cloned().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.starts_with('c')));
    while !names.is_empty() {
        names.retain(|n| match f.mgr.delete(n) {
            Ok(()) => false,
            Err(VolumeError::HasClones { .. }) => true,
            Err(e) => panic!("{e}"),
        });
    }
    assert_eq!(f.mgr.space().allocated, 0);
    assert_ok(&f.mgr);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn volumes_match_a_model(actions in proptest::collection::vec(action(), 1..30)) {
        run_model(fixture(256), actions);
    }

    /// The same through a read cache small enough to evict.
    #[test]
    fn volumes_over_a_read_cache_match_a_model(actions in proptest::collection::vec(action(), 1..30)) {
        run_model(cached_fixture(256, 256 * 1024), actions);
    }
}

/// The same model run on a volume over each RAID level (members in memory).
#[test]
fn volumes_on_every_raid_level_match_a_model() {
    use proptest::test_runner::{Config, TestRunner};
    for level in [
        RaidLevel::Raid0,
        RaidLevel::Raid1,
        RaidLevel::Raid5,
        RaidLevel::Raid6,
        RaidLevel::Raid10,
    ] {
        let mut runner = TestRunner::new(Config {
            cases: 10,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&proptest::collection::vec(action(), 1..25), |actions| {
                run_model(raid_fixture(level, 256), actions);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{level}: {e}"));
    }
}

/// A volume's reads once pass its pool's read cache by: nothing of them is brought in,
/// while a plain read of the same range is.
#[test]
fn a_volume_read_once_brings_nothing_into_the_read_cache() {
    let mut f = fixture(16);
    let cache = Arc::new(crate::cache::ReadCache::new(f.data.clone(), 4 << 20));
    f.device = cache.clone();
    f.mgr = VolumeManager::open(f.store.clone(), 1, "p", f.device.clone(), CS).unwrap();
    f.mgr.create("t", 4 * CS, false).unwrap();
    let v = f.mgr.volume("t").unwrap();
    let data: Vec<u8> = (0..2 * CS).map(|i| (i % 251) as u8).collect();
    v.write_at(&data, CS).unwrap();
    let mut got = vec![0u8; data.len()];
    v.read_once_at(&mut got, CS).unwrap();
    assert!(got == data);
    assert_eq!(cache.stats().bytes_cached, 0, "nothing brought in");
    v.read_at(&mut got, CS).unwrap();
    assert!(got == data);
    assert!(
        cache.stats().bytes_cached > 0,
        "a plain read brings pages in"
    );
}

#[test]
fn align_chunks_is_the_least_whole_number_of_units() {
    assert_eq!(align_chunks(1 << 20, 192 << 10), 3); // RAID 5 of 3 × 64 KiB
    assert_eq!(align_chunks(1 << 20, 128 << 10), 1); // RAID 6 of 2 × 64 KiB
    assert_eq!(align_chunks(1 << 20, 4 << 20), 4); // 16 × 256 KiB
    assert_eq!(align_chunks(64 << 10, 48 << 10), 3);
    assert_eq!(align_chunks(1 << 20, 512), 1);
    assert_eq!(align_chunks(1 << 20, 0), 1);
    assert_eq!(align_chunks(4096, 7 << 40), 1024, "capped");
}

#[test]
fn thin_chunks_keep_their_place_in_the_stripes_whatever_is_written_first() {
    // RAID 5 of 3 data × 16 KiB: 48 KiB stripes, so every third 64 KiB chunk starts one.
    let f = raid_fixture(RaidLevel::Raid5, 30);
    assert_eq!(f.device.io_granularity(), 48 << 10);
    // A first volume takes physical chunks 0..5, where its logical ones say.
    f.mgr.create("a", 5 * CS, false).unwrap();
    let a = f.mgr.volume("a").unwrap();
    for l in [3, 0, 4, 1, 2] {
        a.write_at(&vec![100 + l as u8; CS as usize], l * CS)
            .unwrap();
    }
    // Then a second one, written from its chunk 1: that one cannot have physical chunk 1
    // and goes to the next free one (5); the rest follow a layout shifted by a whole
    // number of stripes (6 chunks, not 4), so each keeps its logical index mod 3.
    f.mgr.create("v", 20 * CS, false).unwrap();
    let v = f.mgr.volume("v").unwrap();
    let order: Vec<u64> = std::iter::once(1)
        .chain((0..20).filter(|&l| l != 1))
        .collect();
    for &l in &order {
        v.write_at(&vec![l as u8 + 1; CS as usize], l * CS).unwrap();
    }
    let mut seen = 0;
    let mut buf = vec![0u8; CS as usize];
    for p in 0..f.device.size() / CS {
        f.device.read_at(&mut buf, p * CS).unwrap();
        if buf[0] == 0 {
            continue;
        }
        assert!(buf.iter().all(|&b| b == buf[0]), "chunk whole at {p}");
        seen += 1;
        let (first, l) = match buf[0] {
            b @ 100.. => (false, u64::from(b - 100)),
            b => (b == 2, u64::from(b - 1)),
        };
        if !first {
            assert_eq!(p % 3, l % 3, "logical chunk {l} at physical chunk {p}");
        }
    }
    assert_eq!(seen, 25);
}

#[test]
fn the_locator_names_the_volume_and_offset_a_pool_byte_holds() {
    let f = fixture(64);
    f.mgr.create("a", 10 * CS, false).unwrap();
    let v = f.mgr.volume("a").unwrap();
    v.write_at(&pattern_bytes(4096, 1), CS + 8192).unwrap();
    v.write_at(&pattern_bytes(4096, 2), 4 * CS).unwrap();
    let locate = f.mgr.locator();
    let named = |prefix: &str| -> Vec<(u64, u64)> {
        (0..64)
            .filter_map(|p| {
                let s = locate(p * CS + 8192)?;
                let at = s.strip_prefix(prefix)?.strip_prefix(" at byte ")?;
                Some((p, at.parse().unwrap()))
            })
            .collect()
    };
    let found = named("volume a");
    assert_eq!(found.len(), 2, "{found:?}");
    for (p, at) in found {
        let mut pool = vec![0u8; 512];
        f.data.read_at(&mut pool, p * CS + 8192).unwrap();
        let mut vol = vec![0u8; 512];
        v.read_at(&mut vol, at).unwrap();
        assert_eq!(pool, vol, "pool chunk {p} is volume a's byte {at}");
    }
    assert_eq!(locate(63 * CS).as_deref(), Some("free space"));
    f.mgr.snapshot("a", "s1").unwrap();
    assert_eq!(named("snapshot a@s1").len(), 2);
}

fn pattern_bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// Found by the model test (2026-12-06): a chunk given up by a shrink fell through to the
/// snapshot's copy, so growing the volume again showed the snapshot's data, not zeros.
#[test]
fn a_volume_shrunk_and_grown_again_reads_zeros_not_its_snapshots_data() {
    run_model(
        fixture(256),
        vec![
            Action::Resize { vol: 0, blocks: 33 },
            Action::Write {
                vol: 0,
                block: 25,
                blocks: 8,
                byte: 104,
            },
            Action::Snapshot { vol: 0 },
            // Block 32 alone: the head gets its own copy of the chunk, zeroed there.
            Action::Unmap {
                vol: 0,
                block: 12,
                blocks: 25,
            },
            Action::Resize { vol: 0, blocks: 20 },
            Action::Reopen,
            Action::Resize { vol: 0, blocks: 40 },
        ],
    );
}

/// Found by CI's model test (2026-12-06): deleting the snapshot under a shrunk head merged
/// it into the head, dropping the chunks past the head's size, so an older snapshot's data
/// showed through when the volume grew again.
#[test]
fn a_volume_grown_after_its_snapshot_was_merged_away_reads_zeros() {
    let actions = || {
        vec![
            Action::Write {
                vol: 0,
                block: 43,
                blocks: 1,
                byte: 1,
            },
            Action::Snapshot { vol: 0 },
            Action::Unmap {
                vol: 0,
                block: 3,
                blocks: 41,
            },
            Action::Snapshot { vol: 0 },
            Action::Resize { vol: 0, blocks: 8 },
            Action::DeleteSnapshot { snap: 1 },
            Action::Resize { vol: 0, blocks: 44 },
        ]
    };
    run_model(fixture(256), actions());
    run_model(cached_fixture(256, 256 * 1024), actions());
}
