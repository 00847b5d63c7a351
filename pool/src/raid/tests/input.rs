//! Bad input gives typed errors that name the problem.

use super::*;
use vsa_blockdev::ErrorKind;

fn open(level: RaidLevel, chunk: u32, devs: &[Dev]) -> Result<RaidSet, RaidError> {
    RaidSet::open(
        level,
        chunk,
        members(devs),
        vec![],
        None,
        true,
        Arc::new(MemJournal::new()),
    )
}

#[test]
fn too_few_members() {
    let e = open(RaidLevel::Raid6, 4096, &devs(3, 1 << 20)).unwrap_err();
    assert!(
        matches!(e, RaidError::TooFewMembers { min: 4, got: 3, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("RAID 6 needs at least 4 members, but 3 were given"),
        "{e}"
    );
    assert!(open(RaidLevel::Raid5, 4096, &devs(2, 1 << 20)).is_err());
    assert!(open(RaidLevel::Raid1, 4096, &devs(1, 1 << 20)).is_err());
}

#[test]
fn odd_raid10() {
    let e = open(RaidLevel::Raid10, 4096, &devs(5, 1 << 20)).unwrap_err();
    assert!(matches!(e, RaidError::OddMemberCount { got: 5 }), "{e}");
    assert!(e.to_string().contains("even number"), "{e}");
}

#[test]
fn zero_sized_member() {
    let mut d = devs(3, 1 << 20);
    d[1] = Arc::new(FaultyDevice::new(MemDevice::new(512, 512)));
    let e = open(RaidLevel::Raid5, 4096, &d).unwrap_err();
    assert!(
        matches!(&e, RaidError::ZeroSizedMember { name, .. } if name == "disk1"),
        "{e}"
    );
    assert!(e.to_string().contains("disk1"), "{e}");
}

#[test]
fn block_size_mismatch() {
    let mut d = devs(3, 1 << 20);
    d[2] = Arc::new(FaultyDevice::new(MemDevice::new(1 << 20, 4096)));
    let e = open(RaidLevel::Raid5, 4096, &d).unwrap_err();
    assert!(
        matches!(&e, RaidError::BlockSizeMismatch { name, size: 4096, expected: 512 } if name == "disk2"),
        "{e}"
    );
}

#[test]
fn bad_chunk_sizes() {
    for chunk in [0, 512, 2048, 3 * 4096, 32 << 20] {
        let e = open(RaidLevel::Raid0, chunk, &devs(2, 1 << 20)).unwrap_err();
        assert!(
            matches!(e, RaidError::InvalidChunkSize { .. }),
            "{chunk}: {e}"
        );
        assert!(e.to_string().contains("power of two"), "{e}");
    }
}

#[test]
fn member_size_is_the_smallest_rounded_to_chunks() {
    let mut d = devs(3, 1 << 20);
    d[0] = Arc::new(FaultyDevice::new(MemDevice::new(
        (1 << 19) + 4096 + 512,
        512,
    )));
    let set = open(RaidLevel::Raid5, 8192, &d).unwrap();
    assert_eq!(set.status().member_size, 1 << 19);
    assert_eq!(set.size(), 2 << 19);
    let (_, small) = spare("tiny", 1 << 18);
    let e = set.add_spare(small).unwrap_err();
    assert!(matches!(e, RaidError::MemberTooSmall { .. }), "{e}");
}

#[test]
fn out_of_range_and_misaligned_io() {
    let r = rig(RaidLevel::Raid5, 3, 1 << 20, 4096);
    let size = r.set.size();
    let e = r.set.read_at(&mut [0u8; 512], size).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    let e = r.set.write_at(&[0u8; 1024], size - 512).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    let e = r.set.write_at(&[0u8; 100], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    assert!(matches!(
        r.set.fail_member(9),
        Err(RaidError::NoSuchMember { index: 9, last: 2 })
    ));
}

#[test]
fn level_names_parse_and_print() {
    for (s, l) in [
        ("0", RaidLevel::Raid0),
        ("raid1", RaidLevel::Raid1),
        ("RAID5", RaidLevel::Raid5),
        ("6", RaidLevel::Raid6),
        ("raid10", RaidLevel::Raid10),
    ] {
        assert_eq!(s.parse::<RaidLevel>().unwrap(), l);
        assert_eq!(l.to_string().parse::<RaidLevel>().unwrap(), l);
    }
    assert_eq!(RaidLevel::Raid5.to_string(), "raid5");
    assert!("7".parse::<RaidLevel>().is_err());
    assert_eq!(
        serde_json::to_string(&RaidLevel::Raid10).unwrap(),
        "\"raid10\""
    );
    assert_eq!(RaidLevel::Raid10.redundancy(4), 1);
    assert_eq!(RaidLevel::Raid1.redundancy(3), 2);
}

#[test]
fn fail_member_refuses_to_break_the_set() {
    let r = rig(RaidLevel::Raid5, 3, 1 << 20, 4096);
    r.set.fail_member(0).unwrap();
    let e = r.set.fail_member(1).unwrap_err();
    assert!(matches!(e, RaidError::NotRedundant { .. }), "{e}");
    let r = rig(RaidLevel::Raid0, 2, 1 << 20, 4096);
    assert!(r.set.fail_member(0).is_err());
}
