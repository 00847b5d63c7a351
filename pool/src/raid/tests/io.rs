//! Reads and writes, healthy and degraded, against a flat model; the journal protocol;
//! concurrent writers.

use super::*;
use proptest::prelude::*;
use vsa_blockdev::ErrorKind;

const MEMBER: u64 = 1 << 20;

/// Random writes (sizes and offsets in 512-byte blocks, unaligned to chunks, spanning
/// stripes); members in `fail` fail at the given op index. Every byte must read back.
fn run_model(
    level: RaidLevel,
    n: usize,
    chunk: u32,
    ops: &[(u64, u64, u64)],
    fail: &[(usize, usize)],
) {
    let r = rig(level, n, MEMBER, chunk);
    let size = r.set.size();
    let mut model = vec![0u8; size as usize];
    for (i, &(blk, blocks, seed)) in ops.iter().enumerate() {
        for &(m, at) in fail {
            if at == i {
                r.devs[m].fail(true);
            }
        }
        let off = (blk * 512) % size;
        let len = (blocks * 512).min(size - off);
        write(&r.set, &mut model, off, &pattern(len as usize, seed));
        let mut back = vec![0u8; len as usize];
        r.set.read_at(&mut back, off).unwrap();
        assert!(
            back == model[off as usize..(off + len) as usize],
            "op {i} reads back wrong"
        );
    }
    assert_model(&r.set, &model);
    for &(m, at) in fail {
        if at < ops.len() {
            assert_eq!(r.set.status().members[m].state, MemberState::Faulty);
        }
    }
    r.set.settle().unwrap();
    assert!(r.journal.dirty().is_empty());
}

fn ops() -> impl Strategy<Value = Vec<(u64, u64, u64)>> {
    proptest::collection::vec((0u64..8192, 1u64..160, any::<u64>()), 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn raid0_matches_model(ops in ops()) {
        run_model(RaidLevel::Raid0, 4, 4096, &ops, &[]);
    }

    #[test]
    fn raid1_matches_model_with_two_failures(ops in ops(), a in 0usize..24, b in 0usize..24) {
        run_model(RaidLevel::Raid1, 3, 4096, &ops, &[(0, a), (2, b)]);
    }

    #[test]
    fn raid5_matches_model_with_a_failure(ops in ops(), m in 0usize..4, at in 0usize..24, chunk in prop::sample::select(vec![4096u32, 8192, 16384])) {
        run_model(RaidLevel::Raid5, 4, chunk, &ops, &[(m, at)]);
    }

    #[test]
    fn raid6_matches_model_with_two_failures(ops in ops(), m1 in 0usize..5, d in 1usize..5, a in 0usize..24, b in 0usize..24) {
        run_model(RaidLevel::Raid6, 5, 8192, &ops, &[(m1, a), ((m1 + d) % 5, b)]);
    }

    #[test]
    fn raid10_matches_model_with_one_failure_per_pair(ops in ops(), x in 0usize..2, y in 2usize..4, a in 0usize..24, b in 0usize..24) {
        run_model(RaidLevel::Raid10, 4, 4096, &ops, &[(x, a), (y, b)]);
    }
}

#[test]
fn raid6_every_pair_of_failed_members_reads_back() {
    let r = rig(RaidLevel::Raid6, 5, MEMBER, 4096);
    let mut model = vec![0u8; r.set.size() as usize];
    let data = pattern(model.len(), 7);
    write(&r.set, &mut model, 0, &data);
    let journal: Arc<dyn RaidJournal> = r.journal.clone();
    for a in 0..5 {
        for b in a + 1..5 {
            let mut states = vec![MemberState::Active; 5];
            states[a] = MemberState::Faulty;
            states[b] = MemberState::Faulty;
            let set = RaidSet::open(
                RaidLevel::Raid6,
                4096,
                members(&r.devs),
                vec![],
                Some(states),
                true,
                journal.clone(),
            )
            .unwrap();
            assert_model(&set, &model);
        }
    }
}

#[test]
fn too_many_failures_give_device_failed_naming_members() {
    let r = rig(RaidLevel::Raid5, 4, MEMBER, 4096);
    r.set.write_at(&pattern(65536, 1), 0).unwrap();
    r.devs[1].fail(true);
    r.devs[3].fail(true);
    let mut buf = vec![0u8; 65536];
    let e = r.set.read_at(&mut buf, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceFailed, "{e}");
    assert!(
        e.to_string().contains("disk1") && e.to_string().contains("disk3"),
        "{e}"
    );
    assert!(r.set.status().failed);
    let e = r.set.write_at(&buf, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceFailed, "{e}");
}

#[test]
fn raid0_member_errors_pass_through() {
    let r = rig(RaidLevel::Raid0, 2, MEMBER, 4096);
    r.devs[1].fail(true);
    let e = r.set.read_at(&mut [0u8; 8192], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(r.journal.mark_dirty_calls(), 0);
}

#[test]
fn journal_marks_a_region_once_and_the_second_idle_flush_cleans_it() {
    let r = rig(RaidLevel::Raid5, 4, MEMBER, 4096);
    for i in 0..20u64 {
        r.set.write_at(&pattern(4096, i), i * 8192).unwrap();
    }
    assert_eq!(r.journal.mark_dirty_calls(), 1);
    assert_eq!(r.journal.dirty(), vec![0]);
    r.set.flush().unwrap();
    assert!(r.devs.iter().all(|d| d.inner().flushes() == 1));
    assert_eq!(r.journal.dirty(), vec![0], "kept dirty for the next writes");
    r.set.write_at(&pattern(4096, 99), 0).unwrap();
    r.set.flush().unwrap();
    assert_eq!(r.journal.mark_dirty_calls(), 1, "no second mark");
    r.set.flush().unwrap();
    assert!(
        r.journal.dirty().is_empty(),
        "idle through a flush: cleaned"
    );
    let r0 = rig(RaidLevel::Raid0, 2, MEMBER, 4096);
    r0.set.write_at(&[1u8; 8192], 0).unwrap();
    r0.set.flush().unwrap();
    assert_eq!(r0.journal.mark_dirty_calls(), 0);
}

#[test]
fn new_set_not_assumed_clean_needs_resync() {
    let d = devs(3, MEMBER);
    let j = Arc::new(MemJournal::new());
    let set = RaidSet::open(
        RaidLevel::Raid5,
        4096,
        members(&d),
        vec![],
        None,
        false,
        j.clone(),
    )
    .unwrap();
    assert!(set.status().needs_resync);
    assert_eq!(j.dirty(), vec![0]);
    assert_eq!(set.resync(&Progress::default()).unwrap(), 1);
    assert!(!set.status().needs_resync);
    assert!(j.dirty().is_empty());
}

#[test]
fn unmap_reads_back_zeros_and_keeps_parity() {
    for level in [
        RaidLevel::Raid0,
        RaidLevel::Raid1,
        RaidLevel::Raid5,
        RaidLevel::Raid6,
        RaidLevel::Raid10,
    ] {
        let n = if level == RaidLevel::Raid1 { 2 } else { 4 };
        let r = rig(level, n, MEMBER, 4096);
        let mut model = vec![0u8; r.set.size() as usize];
        let data = pattern(model.len(), 3);
        write(&r.set, &mut model, 0, &data);
        let (off, len) = (3 * 512, 20 * 4096 + 1024);
        r.set.unmap(off, len).unwrap();
        model[off as usize..(off + len) as usize].fill(0);
        assert_model(&r.set, &model);
        if level != RaidLevel::Raid0 {
            assert_eq!(scrub(&r.set, false).mismatches, 0, "{level}");
        }
    }
}

/// Eight threads each own every eighth 512-byte block and write them in random runs that
/// share stripes with the others: no thread's update may be lost, and parity stays right.
#[test]
fn concurrent_writers_keep_data_and_parity() {
    for (level, n) in [
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid6, 5),
        (RaidLevel::Raid10, 4),
    ] {
        let r = rig(level, n, MEMBER, 4096);
        let span = 256 * 1024u64;
        let blocks = span / 512;
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let set = &r.set;
                s.spawn(move || {
                    let mut x = t + 1;
                    for i in 0..300u64 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let b = ((x >> 33) % (blocks / 8)) * 8 + t;
                        let mut buf = [0u8; 512];
                        buf.fill((t * 31 + i % 7) as u8);
                        set.write_at(&buf, b * 512).unwrap();
                        set.write_at(&[(t * 31) as u8; 512], b * 512).unwrap();
                    }
                });
            }
        });
        let all = read_all(&r.set);
        for b in 0..blocks {
            let t = b % 8;
            let blk = &all[(b * 512) as usize..(b * 512 + 512) as usize];
            assert!(
                blk.iter().all(|&v| v == 0 || v == (t * 31) as u8),
                "{level} block {b}"
            );
        }
        assert_eq!(scrub(&r.set, false).mismatches, 0, "{level}");
    }
}

/// Random overlapping writes of any size from eight threads: parity must stay consistent.
#[test]
fn concurrent_overlapping_writes_leave_no_mismatch() {
    for (level, n) in [(RaidLevel::Raid5, 4), (RaidLevel::Raid6, 5)] {
        let r = rig(level, n, MEMBER, 4096);
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let set = &r.set;
                s.spawn(move || {
                    let mut x = t * 977 + 5;
                    for _ in 0..150 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let blk = (x >> 40) % 512;
                        let len = ((x >> 20) % 96 + 1) * 512;
                        set.write_at(&pattern(len as usize, x), blk * 512).unwrap();
                    }
                });
            }
        });
        assert_eq!(scrub(&r.set, false).mismatches, 0, "{level}");
    }
}

#[test]
fn pieces_side_by_side_on_a_member_go_down_as_one_request() {
    // RAID 0 over 4 members with 64 KiB chunks: 1 MiB is four chunks on each member, at
    // separate places in the buffer but side by side on the member.
    let r = rig(RaidLevel::Raid0, 4, 4 << 20, 64 << 10);
    let data = pattern(1 << 20, 5);
    r.set.write_at(&data, 1 << 20).unwrap();
    assert!(r.devs.iter().all(|d| d.ops() == 1), "one write per member");
    let mut back = vec![0u8; 1 << 20];
    r.set.read_at(&mut back, 1 << 20).unwrap();
    assert!(back == data);
    assert!(r.devs.iter().all(|d| d.ops() == 2), "one read per member");
    // Member 0 holds chunks 16, 20, 24, 28: side by side at member offsets 256..512 KiB.
    let mut on0 = vec![0u8; 256 << 10];
    r.devs[0].read_at(&mut on0, 256 << 10).unwrap();
    for k in 0..4 {
        let from = k * 4 * (64 << 10);
        assert!(on0[k * (64 << 10)..(k + 1) * (64 << 10)] == data[from..from + (64 << 10)]);
    }
}

#[test]
fn locate_maps_member_bytes_back_to_set_bytes_and_names_parity() {
    for (level, n) in [
        (RaidLevel::Raid1, 2),
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid6, 5),
        (RaidLevel::Raid10, 4),
    ] {
        let r = rig(level, n, MEMBER, 4096);
        let data = pattern(r.set.size() as usize, 5);
        r.set.write_at(&data, 0).unwrap();
        r.set.set_locator(Box::new(|off| Some(off.to_string())));
        let mut parity = 0;
        for m in 0..n {
            for off in (0..MEMBER).step_by(4096 + 512) {
                let holds = r.set.locate(m, off);
                if holds == "parity" {
                    parity += 1;
                    continue;
                }
                let at: usize = holds.parse().unwrap();
                let mut sector = vec![0u8; 512];
                r.devs[m].read_at(&mut sector, off / 512 * 512).unwrap();
                let b = sector[(off % 512) as usize];
                assert_eq!(
                    b, data[at],
                    "{level:?} member {m} byte {off} is set byte {at}"
                );
            }
        }
        let has_parity = matches!(level, RaidLevel::Raid5 | RaidLevel::Raid6);
        assert_eq!(parity > 0, has_parity, "{level:?}");
    }
}
