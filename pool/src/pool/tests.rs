use super::*;

const MIB: u64 = 1 << 20;

fn store(dir: &Path) -> Arc<MetaStore> {
    Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap())
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "db" && n != "journal")
        .collect();
    names.sort();
    names
}

#[test]
fn a_member_file_no_filesystem_can_hold_is_too_large_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let members = (0..3).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", RaidLevel::Raid5, members);
    spec.create_size = Some(u64::MAX - 4095);
    match Pool::create(store.clone(), &spec) {
        Err(PoolError::Member(MemberError::TooLarge { size, free, .. })) => {
            assert_eq!(size, u64::MAX - 4095);
            assert!(free.is_some(), "statvfs of a temp dir works");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(files(dir.path()), Vec::<String>::new());
    assert_eq!(Pool::names(&store).unwrap(), Vec::<String>::new());
}

#[test]
fn a_refused_create_removes_the_member_files_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // The last member exists and is too small: refused after two files were made.
    std::fs::write(dir.path().join("m2"), [0u8; 4096]).unwrap();
    let members = (0..3).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", RaidLevel::Raid5, members);
    spec.create_size = Some(8 * MIB);
    let e = Pool::create(store.clone(), &spec).unwrap_err();
    assert!(
        matches!(e, PoolError::Member(MemberError::TooSmall { .. })),
        "{e:?}"
    );
    assert_eq!(files(dir.path()), ["m2"], "only the file that was there");
    assert_eq!(Pool::names(&store).unwrap(), Vec::<String>::new());

    std::fs::remove_file(dir.path().join("m2")).unwrap();
    let pool = Pool::create(store.clone(), &spec).unwrap();
    assert_eq!(files(dir.path()), ["m0", "m1", "m2"], "the retry works");
    // A replacement too small for the set is refused, and its file removed.
    let e = pool
        .replace_member("1", &dir.path().join("small"), Some(2 * MIB))
        .unwrap_err();
    assert!(matches!(e, PoolError::Raid(_)), "{e:?}");
    let e = pool
        .add_spare(&dir.path().join("huge"), Some(u64::MAX - 4095))
        .unwrap_err();
    assert!(
        matches!(e, PoolError::Member(MemberError::TooLarge { .. })),
        "{e:?}"
    );
    assert_eq!(files(dir.path()), ["m0", "m1", "m2"]);
}

#[test]
fn a_pool_opened_with_its_journal_off_still_replays_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let members = (0..3).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", RaidLevel::Raid5, members);
    spec.create_size = Some(16 * MIB);
    {
        let pool = Pool::create(store(dir.path()), &spec).unwrap();
        pool.volumes().create("v", 4 * MIB, false).unwrap();
        let v = pool.volumes().volume("v").unwrap();
        v.write_at(&vec![9u8; 8 * MIB as usize / 4], 0).unwrap();
        v.write_at(&[7u8; 4096], 12288).unwrap();
        // Dropped without a clean stop: the small write may still be journaled.
    }
    let pool = Pool::open_with(store(dir.path()), "p", 0).unwrap();
    assert!(pool.status().write_journal.is_none());
    let v = pool.volumes().volume("v").unwrap();
    let mut b = vec![0u8; 4096];
    v.read_at(&mut b, 12288).unwrap();
    assert_eq!(b, vec![7u8; 4096]);
}

#[test]
fn small_writes_to_owned_chunks_are_taken_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<_> = (0..3).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", RaidLevel::Raid5, members.clone());
    spec.create_size = Some(16 * MIB);
    let pool = Pool::create(store(dir.path()), &spec).unwrap();
    pool.volumes().create("v", 4 * MIB, false).unwrap();
    let v = pool.volumes().volume("v").unwrap();
    assert!(
        v.try_write_at(&[1u8; 4096], 8192).is_none(),
        "a thin chunk not yet allocated"
    );
    v.write_at(&[1u8; 4096], 8192).unwrap();
    v.try_write_at(&[2u8; 8192], 4096)
        .expect("an owned chunk, room in the journal")
        .unwrap();
    let mut b = vec![0u8; 12288];
    v.read_at(&mut b, 4096).unwrap();
    assert_eq!(&b[..8192], &[2u8; 8192][..]);
    assert_eq!(&b[8192..], &[0u8; 4096][..]);
    assert_eq!(pool.status().write_journal.unwrap().records, 1);
    drop((v, pool));

    // RAID 1 journals too (its destaging writes the blocks, reading nothing).
    let dir = tempfile::tempdir().unwrap();
    let members = (0..2).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("p", RaidLevel::Raid1, members);
    spec.create_size = Some(16 * MIB);
    let pool = Pool::create(store(dir.path()), &spec).unwrap();
    pool.volumes().create("v", 4 * MIB, true).unwrap();
    let v = pool.volumes().volume("v").unwrap();
    v.write_at(&[1u8; 4096], 0).unwrap();
    v.try_write_at(&[2u8; 4096], 0)
        .expect("an owned chunk, room in the journal")
        .unwrap();
    assert_eq!(pool.status().write_journal.unwrap().records, 1);
}

#[test]
fn ids_are_random_and_keep_their_hex_format() {
    let (a, b) = (random_id().unwrap(), random_id().unwrap());
    assert_ne!(a, b);
    let text = hex::encode(a);
    assert_eq!(text.len(), 32);
    assert_eq!(unhex(&text), Some(a));
    // A record written before this change.
    let old = "00112233445566778899aabbccddeeff";
    assert_eq!(unhex(old).map(hex::encode).as_deref(), Some(old));
    for bad in ["", "0011", &format!("{old}00"), &old.replace('0', "g"), "é"] {
        assert_eq!(unhex(bad), None, "{bad}");
    }
}
