//! Crash test of the write journal: a child process writes random 4 KiB blocks from
//! several threads through a RAID 5 or RAID 6 pool volume (every such write is journaled)
//! and is killed with SIGKILL at a random moment, many times over. A write is logged before
//! it is issued and again once acknowledged; no flush is ever asked for. After each kill the
//! pool is reopened (replaying the journal): every block must hold the last acknowledged
//! write to it or a later one that was in flight, whole (never a mix inside a block); the
//! metadata check must pass and a scrub must find every stripe consistent.
//!
//! The RAID 5 run gives the journal 1 MiB of room, so the child is often killed while
//! destaging; the RAID 6 run the default 64 MiB, so most kills leave records to replay.
//!
//! The child is this test binary run again with `VSA_JOURNAL_CHILD` set (and the room in
//! `VSA_JOURNAL_BYTES`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

mod common;

use common::block;

use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsa_blockdev::BlockDevice;
use vsa_pool::raid::RaidLevel;
use vsa_pool::{MetaStore, Pool, PoolSpec};

const MIB: u64 = 1 << 20;
const BS: u64 = 4096;
const VOL: u64 = 16 * MIB;
const BLOCKS: u64 = VOL / BS;
const THREADS: u64 = 4;

fn create(dir: &Path, level: RaidLevel) {
    let n = if level == RaidLevel::Raid6 { 5 } else { 4 };
    let members = (0..n).map(|i| dir.join(format!("m{i}"))).collect();
    let mut s = PoolSpec::new("p", level, members);
    s.create_size = Some(32 * MIB);
    s.chunk_size = 256 * 1024;
    s.raid_chunk = 16 * 1024;
    let store = Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap());
    let pool = Pool::create(store, &s).unwrap();
    pool.volumes().create("v", VOL, false).unwrap();
}

/// Writes to each slot in issue order, as (seq, acknowledged), from every thread's log
/// (`W seq slot` before a write, `A seq` after; a torn last line is ignored). A thread owns
/// the slots `slot % THREADS == t`, so its log orders all writes to them.
fn read_logs(dir: &Path) -> (HashMap<u64, Vec<(u64, bool)>>, u64) {
    let mut slots: HashMap<u64, Vec<(u64, bool)>> = HashMap::new();
    let mut last = 0;
    for t in 0..THREADS {
        let text = std::fs::read_to_string(dir.join(format!("log{t}"))).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |i| &text[..i]);
        let mut slot_of = HashMap::new();
        for line in whole.lines() {
            let f: Vec<u64> = line
                .split(' ')
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            match (line.as_bytes().first(), f.as_slice()) {
                (Some(b'W'), [seq, slot]) => {
                    slots.entry(*slot).or_default().push((*seq, false));
                    slot_of.insert(*seq, *slot);
                    last = last.max(*seq);
                }
                (Some(b'A'), [seq]) => {
                    let slot = slot_of[seq];
                    let ops = slots.get_mut(&slot).unwrap();
                    ops.iter_mut().rev().find(|o| o.0 == *seq).unwrap().1 = true;
                }
                _ => panic!("bad log line {line:?}"),
            }
        }
    }
    (slots, last)
}

fn child(dir: &Path) {
    let store = Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap());
    let bytes = std::env::var("VSA_JOURNAL_BYTES").unwrap().parse().unwrap();
    let pool = Arc::new(Pool::open_with(store, "p", bytes).unwrap());
    let (_, last) = read_logs(dir);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            let dir = dir.to_owned();
            std::thread::spawn(move || {
                let v = pool.volumes().volume("v").unwrap();
                let mut log = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(dir.join(format!("log{t}")))
                    .unwrap();
                let mut rng = rand::rngs::StdRng::seed_from_u64(last + t);
                for i in 1.. {
                    let seq = last + i * THREADS + t;
                    let slot = rng.gen_range(0..BLOCKS / THREADS) * THREADS + t;
                    log.write_all(format!("W {seq} {slot}\n").as_bytes())
                        .unwrap();
                    v.write_at(&block(seq, slot), slot * BS).unwrap();
                    log.write_all(format!("A {seq}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn verify(dir: &Path, round: usize) -> u64 {
    let (slots, _) = read_logs(dir);
    let store = Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap());
    let pool = Pool::open(store, "p").unwrap();
    let replayed = pool.status().write_journal.unwrap().replayed_records;
    let check = pool.check().unwrap();
    assert!(check.is_ok(), "round {round}: {:?}", check.problems);
    let v = pool.volumes().volume("v").unwrap();
    let mut all = vec![0u8; VOL as usize];
    v.read_at(&mut all, 0).unwrap();
    for slot in 0..BLOCKS {
        let got = &all[(slot * BS) as usize..((slot + 1) * BS) as usize];
        let ops = slots.get(&slot).map(Vec::as_slice).unwrap_or(&[]);
        let acked = ops.iter().rposition(|o| o.1);
        let allowed: Vec<u64> = ops[acked.unwrap_or(0)..].iter().map(|o| o.0).collect();
        if acked.is_none() && got.iter().all(|&b| b == 0) {
            continue;
        }
        let seq = u64::from_le_bytes(got[..8].try_into().unwrap());
        assert!(
            allowed.contains(&seq) && got == block(seq, slot).as_slice(),
            "round {round}: block {slot} holds {:?}… (seq {seq}); allowed {allowed:?}",
            &got[..16]
        );
    }
    pool.start_scrub(false).unwrap();
    pool.join_tasks(false);
    let scrub = pool.last_scrub().unwrap();
    assert_eq!(scrub.mismatches, 0, "round {round}: {scrub:?}");
    replayed
}

fn kill_rounds(level: RaidLevel, seed: u64, journal_bytes: u64) {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), level);
    let rounds: usize = std::env::var("VSA_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut replayed = 0;
    for round in 0..rounds {
        let env = [
            ("VSA_JOURNAL_CHILD", dir.path().display().to_string()),
            ("VSA_JOURNAL_BYTES", journal_bytes.to_string()),
        ];
        common::kill_at_random_moment("journal_child", &env, &mut rng, round);
        replayed += verify(dir.path(), round);
    }
    let (slots, _) = read_logs(dir.path());
    let acked = slots.values().flatten().filter(|o| o.1).count();
    assert!(
        acked > 100,
        "the children did too little work: {acked} writes"
    );
    eprintln!("{level:?}: {acked} acknowledged writes, {replayed} records replayed");
}

#[test]
fn journal_child() {
    if let Some(dir) = std::env::var_os("VSA_JOURNAL_CHILD") {
        child(&PathBuf::from(dir));
    }
}

#[test]
fn kill_9_under_random_4k_writes_on_raid5_loses_no_acknowledged_write() {
    kill_rounds(RaidLevel::Raid5, 5, MIB);
}

#[test]
fn kill_9_under_random_4k_writes_on_raid6_loses_no_acknowledged_write() {
    kill_rounds(RaidLevel::Raid6, 6, 64 * MIB);
}
