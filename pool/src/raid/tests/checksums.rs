//! RAID sets over members that keep checksums, with silent corruption injected into the
//! members behind the set's back: reads return the right data or a medium error, never
//! wrong bytes; bad copies are rewritten; scrub repairs everything repairable.

use super::*;
use crate::integrity::{IntegrityDevice, MemSums};
use proptest::prelude::*;
use vsa_blockdev::ErrorKind;

type Checked = Arc<IntegrityDevice<Arc<MemDevice>>>;

struct Checksummed {
    raw: Vec<Arc<MemDevice>>,
    checked: Vec<Checked>,
    set: RaidSet,
}

const MEMBER: u64 = 1 << 20;
const CHUNK: u32 = 16 << 10;

fn checksummed(level: RaidLevel, n: usize) -> Checksummed {
    let store = Arc::new(MemSums::new());
    let raw: Vec<Arc<MemDevice>> = (0..n)
        .map(|_| Arc::new(MemDevice::new(MEMBER, 512)))
        .collect();
    let checked: Vec<Checked> = raw
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let key = [i as u8; 16];
            Arc::new(
                IntegrityDevice::open(d.clone(), format!("disk{i}"), key, store.clone(), true)
                    .unwrap(),
            )
        })
        .collect();
    let members = checked
        .iter()
        .enumerate()
        .map(|(i, d)| RaidMember {
            name: format!("disk{i}"),
            dev: d.clone(),
        })
        .collect();
    let journal = Arc::new(MemJournal::new());
    let set = RaidSet::open(level, CHUNK, members, vec![], None, true, journal).unwrap();
    Checksummed { raw, checked, set }
}

/// Flips the bytes of a 512-byte sector of member `m`'s medium at member offset `at`.
fn rot(r: &Checksummed, m: usize, at: u64) {
    let mut b = vec![0u8; 512];
    r.raw[m].read_at(&mut b, at).unwrap();
    for x in b.iter_mut() {
        *x ^= 0xA5;
    }
    r.raw[m].write_at(&b, at).unwrap();
}

fn errors(r: &Checksummed) -> u64 {
    r.set
        .status()
        .members
        .iter()
        .map(|m| m.checksum_errors)
        .sum()
}

#[test]
fn a_bad_block_on_any_redundant_level_is_read_around_and_rewritten() {
    for (level, n) in [
        (RaidLevel::Raid1, 2),
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid6, 4),
        (RaidLevel::Raid10, 4),
    ] {
        let r = checksummed(level, n);
        let size = r.set.size();
        let mut model = vec![0u8; size as usize];
        write(&r.set, &mut model, 0, &pattern(size as usize, 1));
        // Rot one sector on every member at a different place.
        for m in 0..n {
            rot(&r, m, (m as u64 * 7 + 3) * 4096 + 512);
        }
        assert_eq!(read_all(&r.set), model, "{level:?}");
        assert!(errors(&r) >= 1, "{level:?}: bad blocks were counted");
        // Mirrors serve each stripe from one copy: a scrub reads the others.
        r.set.scrub(true, &crate::Progress::default(), 0).unwrap();
        // Rewritten: the members now read clean on their own.
        for (m, d) in r.checked.iter().enumerate() {
            let mut b = vec![0u8; 4096];
            d.read_at(&mut b, (m as u64 * 7 + 3) * 4096)
                .unwrap_or_else(|e| panic!("{level:?} member {m} still bad: {e}"));
        }
        assert_eq!(
            r.set
                .status()
                .members
                .iter()
                .filter(|m| m.state != MemberState::Active)
                .count(),
            0
        );
    }
}

#[test]
fn raid0_answers_a_bad_block_with_a_medium_error() {
    let r = checksummed(RaidLevel::Raid0, 2);
    let mut model = vec![0u8; r.set.size() as usize];
    write(&r.set, &mut model, 0, &pattern(64 << 10, 2));
    rot(&r, 1, 0);
    let mut buf = vec![0u8; 64 << 10];
    let e = r.set.read_at(&mut buf, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    // The other member's data still reads.
    let mut first = vec![0u8; CHUNK as usize];
    r.set.read_at(&mut first, 0).unwrap();
    assert_eq!(first, model[..CHUNK as usize]);
}

#[test]
fn unaligned_writes_over_a_bad_block_keep_the_data_right() {
    for (level, n) in [
        (RaidLevel::Raid1, 2),
        (RaidLevel::Raid5, 3),
        (RaidLevel::Raid6, 4),
    ] {
        let r = checksummed(level, n);
        let mut model = vec![0u8; r.set.size() as usize];
        write(&r.set, &mut model, 0, &pattern(256 << 10, 3));
        // A different block on each member (one bad copy per block: recoverable).
        for m in 0..n {
            rot(&r, m, (m as u64 + 1) * 4096 + 512);
        }
        // 512-byte writes into blocks whose other bytes rotted on some copy.
        for at in [
            0u64,
            4096 + 1024,
            CHUNK as u64 + 512,
            3 * CHUNK as u64 + 3584,
        ] {
            write(&r.set, &mut model, at, &pattern(1024, at));
        }
        assert_eq!(read_all(&r.set), model, "{level:?}");
    }
}

#[test]
fn scrub_repairs_each_bad_copy_knowing_which_it_is() {
    for (level, n) in [
        (RaidLevel::Raid1, 2),
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid6, 5),
    ] {
        let r = checksummed(level, n);
        let mut model = vec![0u8; r.set.size() as usize];
        write(&r.set, &mut model, 0, &pattern(r.set.size() as usize, 4));
        rot(&r, 0, 8192);
        rot(&r, n - 1, 200 << 10);
        let report = r.set.scrub(true, &crate::Progress::default(), 0).unwrap();
        assert_eq!(report.repaired, 2, "{level:?}: {report:?}");
        assert_eq!(report.repaired_unverified, 0, "{level:?}: {report:?}");
        assert_eq!(report.unrecoverable, 0, "{level:?}: {report:?}");
        // The report names the two ranges, on their members.
        let covers = |member: String, at: u64| {
            report
                .repairs
                .iter()
                .any(|x| x.member == member && x.offset <= at && at < x.offset + x.len)
        };
        assert_eq!(report.repairs.len(), 2, "{level:?}: {report:?}");
        assert!(covers("disk0".into(), 8192), "{level:?}: {report:?}");
        assert!(
            covers(format!("disk{}", n - 1), 200 << 10),
            "{level:?}: {report:?}"
        );
        let again = r.set.scrub(true, &crate::Progress::default(), 0).unwrap();
        assert_eq!(
            again.mismatches, 0,
            "{level:?}: a second scrub finds nothing: {again:?}"
        );
        assert_eq!(read_all(&r.set), model);
    }
}

#[test]
fn stale_parity_is_recomputed_as_a_verified_repair() {
    let r = checksummed(RaidLevel::Raid5, 3);
    let mut model = vec![0u8; r.set.size() as usize];
    write(&r.set, &mut model, 0, &pattern(r.set.size() as usize, 5));
    // A data block changed on the medium together with its checksum (a write that
    // reached the data but not the parity): every block verifies, parity disagrees.
    let d0 = r.set.layout.data_member(0, 0);
    r.checked[d0].write_at(&pattern(4096, 99), 0).unwrap();
    let report = r.set.scrub(true, &crate::Progress::default(), 0).unwrap();
    assert_eq!(
        (
            report.mismatches,
            report.repaired,
            report.repaired_unverified
        ),
        (1, 1, 0),
        "{report:?}"
    );
}

#[test]
fn a_crash_between_data_and_checksum_raises_no_false_alarm_after_resync() {
    for level in [RaidLevel::Raid0, RaidLevel::Raid5] {
        let store = Arc::new(MemSums::new());
        let raw: Vec<Arc<MemDevice>> = (0..3)
            .map(|_| Arc::new(MemDevice::new(MEMBER, 512)))
            .collect();
        let open = |new: bool, journal: Arc<MemJournal>| {
            let members = raw
                .iter()
                .enumerate()
                .map(|(i, d)| RaidMember {
                    name: format!("disk{i}"),
                    dev: Arc::new(
                        IntegrityDevice::open(
                            d.clone(),
                            format!("disk{i}"),
                            [i as u8; 16],
                            store.clone(),
                            new,
                        )
                        .unwrap(),
                    ),
                })
                .collect();
            RaidSet::open(
                level,
                CHUNK,
                members,
                vec![],
                (!new).then(|| vec![MemberState::Active; 3]),
                true,
                journal,
            )
            .unwrap()
        };
        let journal = Arc::new(MemJournal::new());
        let set = open(true, journal.clone());
        let mut model = vec![0u8; set.size() as usize];
        write(&set, &mut model, 0, &pattern(128 << 10, 6));
        set.flush().unwrap();
        write(&set, &mut model, 64 << 10, &pattern(96 << 10, 7));
        // Crash: the data reached the media, the checksum pages were never saved.
        drop(set);
        let dirty = journal.dirty();
        assert!(
            !dirty.is_empty(),
            "{level:?}: the written region stays dirty until a flush"
        );
        let set = open(false, journal.clone());
        assert!(set.status().needs_resync, "{level:?}");
        set.resync(&crate::Progress::default()).unwrap();
        let mut buf = vec![0u8; 256 << 10];
        set.read_at(&mut buf, 0).unwrap();
        assert_eq!(buf, model[..256 << 10], "{level:?}");
        assert_eq!(
            set.status()
                .members
                .iter()
                .map(|m| m.checksum_errors)
                .sum::<u64>(),
            0
        );
    }
}

#[test]
fn a_crash_after_a_rebuild_raises_no_false_alarm() {
    let store = Arc::new(MemSums::new());
    let mut raw: Vec<Arc<MemDevice>> = (0..3)
        .map(|_| Arc::new(MemDevice::new(MEMBER, 512)))
        .collect();
    let member = |i: usize, d: &Arc<MemDevice>, key: u8, new: bool| RaidMember {
        name: format!("disk{i}"),
        dev: Arc::new(
            IntegrityDevice::open(d.clone(), format!("disk{i}"), [key; 16], store.clone(), new)
                .unwrap(),
        ),
    };
    let journal = Arc::new(MemJournal::new());
    let members = (0..3).map(|i| member(i, &raw[i], i as u8, true)).collect();
    let set = RaidSet::open(
        RaidLevel::Raid5,
        CHUNK,
        members,
        vec![],
        None,
        true,
        journal.clone(),
    )
    .unwrap();
    let mut model = vec![0u8; set.size() as usize];
    write(&set, &mut model, 0, &pattern(set.size() as usize, 9));
    set.settle().unwrap();
    // Member 2 is replaced by a new device and rebuilt; then the process dies without
    // another flush.
    set.fail_member(2).unwrap();
    raw[2] = Arc::new(MemDevice::new(MEMBER, 512));
    set.replace_member(2, member(2, &raw[2], 9, true)).unwrap();
    set.rebuild(&crate::Progress::default(), 0).unwrap();
    let states = journal
        .state()
        .unwrap()
        .members
        .iter()
        .map(|m| m.1)
        .collect();
    drop(set);
    let keys = [0u8, 1, 9];
    let members = (0..3).map(|i| member(i, &raw[i], keys[i], false)).collect();
    let set = RaidSet::open(
        RaidLevel::Raid5,
        CHUNK,
        members,
        vec![],
        Some(states),
        true,
        journal,
    )
    .unwrap();
    if set.status().needs_resync {
        set.resync(&crate::Progress::default()).unwrap();
    }
    assert_eq!(read_all(&set), model);
    let errors: u64 = set.status().members.iter().map(|m| m.checksum_errors).sum();
    assert_eq!(
        errors, 0,
        "the rebuilt member's checksums were saved with its progress"
    );
}

#[test]
fn a_member_past_the_error_limit_is_failed() {
    let mut r = checksummed(RaidLevel::Raid1, 3);
    r.set.checksum_error_limit = 4;
    let mut model = vec![0u8; r.set.size() as usize];
    write(&r.set, &mut model, 0, &pattern(r.set.size() as usize, 8));
    // Sixteen bad blocks in sixteen stripes of member 1.
    for s in 0..16u64 {
        rot(&r, 1, s * u64::from(CHUNK));
    }
    r.set.scrub(true, &crate::Progress::default(), 0).unwrap();
    assert_eq!(read_all(&r.set), model);
    let states: Vec<MemberState> = r.set.status().members.iter().map(|m| m.state).collect();
    assert_eq!(states[1], MemberState::Faulty, "{states:?}");
}

fn level() -> impl Strategy<Value = (RaidLevel, usize)> {
    prop_oneof![
        Just((RaidLevel::Raid0, 2)),
        Just((RaidLevel::Raid1, 2)),
        Just((RaidLevel::Raid1, 3)),
        Just((RaidLevel::Raid5, 3)),
        Just((RaidLevel::Raid5, 4)),
        Just((RaidLevel::Raid6, 4)),
        Just((RaidLevel::Raid6, 5)),
        Just((RaidLevel::Raid10, 4)),
    ]
}

#[derive(Debug, Clone)]
enum Op2 {
    Write(u64, u64, u64),
    Read(u64, u64),
    Rot(usize, u64),
}

fn ops() -> impl Strategy<Value = Vec<Op2>> {
    let range = (0u64..512, 1u64..160);
    proptest::collection::vec(
        prop_oneof![
            3 => (range.clone(), any::<u64>()).prop_map(|((a, l), s)| Op2::Write(a * 512, l * 512, s)),
            3 => range.prop_map(|(a, l)| Op2::Read(a * 512, l * 512)),
            2 => (0usize..8, 0u64..(MEMBER / 512)).prop_map(|(m, s)| Op2::Rot(m, s * 512)),
        ],
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever rots where, every read gives the right bytes or a medium error, and a
    /// medium error only where the level cannot know the right bytes.
    #[test]
    fn reads_are_right_or_medium_errors((level, n) in level(), steps in ops()) {
        let r = checksummed(level, n);
        let size = r.set.size();
        let mut model = vec![0u8; size as usize];
        let mut rotted = 0usize;
        for step in steps {
            match step {
                Op2::Write(at, len, seed) => {
                    let (at, len) = (at % size, len.min(size - at % size));
                    let data = pattern(len as usize, seed);
                    match r.set.write_at(&data, at) {
                        Ok(()) => model[at as usize..(at + len) as usize].copy_from_slice(&data),
                        Err(e) => {
                            prop_assert_eq!(e.kind(), ErrorKind::Corrupt, "{}", e);
                            prop_assert!(level == RaidLevel::Raid0 || rotted >= 2, "{}", e);
                            return Ok(());
                        }
                    }
                }
                Op2::Read(at, len) => {
                    let (at, len) = (at % size, len.min(size - at % size));
                    let mut buf = vec![0u8; len as usize];
                    match r.set.read_at(&mut buf, at) {
                        Ok(()) => prop_assert_eq!(&buf[..], &model[at as usize..(at + len) as usize]),
                        Err(e) => {
                            prop_assert_eq!(e.kind(), ErrorKind::Corrupt, "{}", e);
                            // Only without redundancy, or after several members rotted.
                            prop_assert!(level == RaidLevel::Raid0 || rotted >= 2, "{}", e);
                        }
                    }
                }
                Op2::Rot(m, at) => {
                    rot(&r, m % n, at);
                    rotted += 1;
                }
            }
        }
    }
}
