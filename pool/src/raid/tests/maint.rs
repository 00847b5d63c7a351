//! Rebuild, scrub and resync.

use super::*;

const MEMBER: u64 = 1 << 20;

fn filled(level: RaidLevel, n: usize, chunk: u32) -> (Rig, Vec<u8>) {
    let r = rig(level, n, MEMBER, chunk);
    let mut model = vec![0u8; r.set.size() as usize];
    let data = pattern(model.len(), 11);
    write(&r.set, &mut model, 0, &data);
    (r, model)
}

/// Fail a member, write more, add a spare, rebuild, then lose other members: the data
/// must still be there, which proves the rebuild restored full redundancy.
fn rebuild_then_lose_others(level: RaidLevel, n: usize, fail: usize, later: &[usize]) {
    let (r, mut model) = filled(level, n, 4096);
    r.devs[fail].fail(true);
    write(&r.set, &mut model, 12288 + 1024, &pattern(200_192, 5));
    assert_eq!(r.set.status().members[fail].state, MemberState::Faulty);
    let (spare_dev, spare) = spare("spare0", MEMBER);
    r.set.add_spare(spare).unwrap();
    let st = r.set.status();
    assert_eq!(
        st.members[fail].state,
        MemberState::Rebuilding { rebuilt: 0 }
    );
    assert_eq!(st.members[fail].name, "spare0");
    assert!(st.needs_rebuild);
    write(&r.set, &mut model, 4096, &pattern(70_144, 6));
    let progress = Progress::default();
    r.set.rebuild(&progress, 0).unwrap();
    let rep = progress.snapshot();
    assert_eq!(rep.done, rep.total);
    assert_eq!(rep.total, MEMBER);
    assert!(rep.finished);
    let st = r.set.status();
    assert!(!st.degraded && !st.needs_rebuild, "{st:?}");
    assert_eq!(
        r.journal.state().unwrap().members[fail],
        ("spare0".to_string(), MemberState::Active)
    );
    assert_eq!(scrub(&r.set, false).mismatches, 0);
    for &m in later {
        r.devs[m].fail(true);
    }
    assert_model(&r.set, &model);
    assert!(spare_dev.ops() > 0);
}

#[test]
fn raid5_rebuild_restores_redundancy() {
    rebuild_then_lose_others(RaidLevel::Raid5, 4, 1, &[2]);
}

#[test]
fn raid6_rebuild_restores_redundancy() {
    rebuild_then_lose_others(RaidLevel::Raid6, 5, 0, &[2, 4]);
}

#[test]
fn raid1_and_raid10_rebuild_restores_redundancy() {
    rebuild_then_lose_others(RaidLevel::Raid1, 2, 0, &[1]);
    rebuild_then_lose_others(RaidLevel::Raid10, 4, 3, &[2, 0]);
}

#[test]
fn rebuild_resumes_after_cancel_and_replace_member_works() {
    let (r, model) = filled(RaidLevel::Raid6, 4, 4096);
    let (_, new) = spare("new1", MEMBER);
    r.set.fail_member(1).unwrap();
    r.set.replace_member(1, new).unwrap();
    let progress = Progress::default();
    progress.cancel();
    r.set.rebuild(&progress, 0).unwrap();
    assert!(r.set.needs_rebuild());
    // Reopen from the saved state, as after a restart.
    let st = r.journal.state().unwrap();
    assert_eq!(st.members[1].0, "new1");
    let mut ms = members(&r.devs);
    ms[1] = RaidMember {
        name: "new1".into(),
        dev: r.set.members.view()[1].dev.clone(),
    };
    let states = st.members.iter().map(|m| m.1).collect();
    let set = RaidSet::open(
        RaidLevel::Raid6,
        4096,
        ms,
        vec![],
        Some(states),
        true,
        r.journal.clone(),
    )
    .unwrap();
    set.rebuild(&Progress::default(), 0).unwrap();
    assert!(!set.status().degraded);
    r.devs[0].fail(true);
    r.devs[2].fail(true);
    assert_model(&set, &model);
}

/// Writes garbage straight onto a member, under the RAID set.
fn corrupt(d: &Dev, offset: u64, len: usize) {
    d.inner().write_at(&pattern(len, 999), offset).unwrap();
}

#[test]
fn raid6_scrub_locates_and_repairs_a_bad_chunk() {
    let (r, model) = filled(RaidLevel::Raid6, 5, 4096);
    // Stripe 0: P on member 4, Q on 0, data on 1, 2, 3. Stripe 1: P 3, Q 4, data 0, 1, 2.
    corrupt(&r.devs[2], 0, 4096);
    corrupt(&r.devs[0], 4096 + 512, 1024);
    corrupt(&r.devs[4], 2 * 4096, 4096);
    let rep = scrub(&r.set, false);
    assert_eq!((rep.mismatches, rep.repaired), (3, 0));
    let rep = scrub(&r.set, true);
    assert_eq!((rep.mismatches, rep.repaired, rep.unrecoverable), (3, 3, 0));
    assert_eq!(scrub(&r.set, false).mismatches, 0);
    assert_model(&r.set, &model);
}

#[test]
fn raid1_three_way_scrub_repairs_by_majority() {
    let (r, model) = filled(RaidLevel::Raid1, 3, 4096);
    corrupt(&r.devs[1], 8192, 4096);
    corrupt(&r.devs[0], 65536, 512);
    let rep = scrub(&r.set, true);
    assert_eq!(
        (rep.mismatches, rep.repaired, rep.repaired_unverified),
        (2, 2, 0)
    );
    for d in &r.devs {
        let mut buf = vec![0u8; model.len()];
        d.inner().read_at(&mut buf, 0).unwrap();
        assert!(buf == model);
    }
}

#[test]
fn raid5_and_two_way_mirror_scrub_counts_and_makes_consistent() {
    for (level, n) in [
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid1, 2),
        (RaidLevel::Raid10, 4),
    ] {
        let (r, _) = filled(level, n, 4096);
        corrupt(&r.devs[1], 12288, 4096);
        let rep = scrub(&r.set, false);
        assert_eq!(rep.mismatches, 1, "{level}");
        let rep = scrub(&r.set, true);
        assert_eq!((rep.mismatches, rep.repaired_unverified), (1, 1), "{level}");
        assert_eq!(scrub(&r.set, false).mismatches, 0, "{level}");
    }
}

#[test]
fn scrub_rewrites_unreadable_chunks() {
    let (r, model) = filled(RaidLevel::Raid5, 4, 4096);
    r.devs[2].fail_reads_only(true);
    r.devs[2].fail(true);
    let rep = scrub(&r.set, true);
    assert!(rep.read_errors > 0);
    r.devs[2].fail(false);
    assert_eq!(r.set.status().members[2].state, MemberState::Active);
    r.devs[0].fail(true);
    assert_model(&r.set, &model);
}

#[test]
fn resync_after_unclean_stop_fixes_parity() {
    for (level, n) in [
        (RaidLevel::Raid5, 4),
        (RaidLevel::Raid6, 5),
        (RaidLevel::Raid1, 2),
    ] {
        let (r, model) = filled(level, n, 4096);
        assert_eq!(r.journal.dirty(), vec![0]);
        // The crash: a parity (or mirror) chunk never got its new contents.
        corrupt(&r.devs[n - 1], 0, 4096);
        let states = r
            .journal
            .state()
            .unwrap()
            .members
            .iter()
            .map(|m| m.1)
            .collect();
        drop(r.set);
        let set = RaidSet::open(
            level,
            4096,
            members(&r.devs),
            vec![],
            Some(states),
            false,
            r.journal.clone(),
        )
        .unwrap();
        assert!(set.status().needs_resync);
        set.flush().unwrap();
        assert_eq!(
            r.journal.dirty(),
            vec![0],
            "flush must not clean a region awaiting resync"
        );
        let progress = Progress::default();
        assert_eq!(set.resync(&progress).unwrap(), 1);
        assert_eq!(progress.snapshot().done, progress.snapshot().total);
        assert!(r.journal.dirty().is_empty());
        assert_eq!(scrub(&set, false).mismatches, 0, "{level}");
        assert_model(&set, &model);
    }
}
