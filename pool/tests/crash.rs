//! Crash test: a child process writes, unmaps, snapshots and flushes through a pool volume
//! and is killed with SIGKILL at a random moment, many times over. After each kill the
//! pool is reopened: every write acknowledged before the last completed flush must read
//! back (later ones may or may not have landed, block by block), the metadata check must
//! pass and a scrub must find parity consistent.
//!
//! The child is this test binary run again with `VSA_CRASH_CHILD` set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failed test

mod common;

use common::block;

use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsa_blockdev::BlockDevice;
use vsa_pool::raid::RaidLevel;
use vsa_pool::{MetaStore, Pool, PoolSpec};

const MIB: u64 = 1 << 20;
const BS: u64 = 4096;
const VOL: u64 = 24 * MIB;
const BLOCKS: u64 = VOL / BS;

fn spec(dir: &Path) -> PoolSpec {
    let members = (0..4).map(|i| dir.join(format!("m{i}"))).collect();
    let mut s = PoolSpec::new("p", RaidLevel::Raid5, members);
    s.create_size = Some(64 * MIB);
    s.chunk_size = 256 * 1024;
    s.raid_chunk = 16 * 1024;
    s
}

/// The log: one line per operation, `W seq start n` / `U seq start n` written just before
/// the write / unmap is issued, `F seq` just after a flush completed, and `K` appended by
/// the parent after each kill (after cutting off a partly written last line).
#[derive(Default)]
struct Log {
    /// Per block: the seq of every write or unmap, in order.
    ops: HashMap<u64, Vec<u64>>,
    zero_ops: HashSet<u64>,
    /// Ops that were in flight when their child was killed: logged, never acknowledged.
    /// Each may have landed or not (block by block), even when a later child flushes.
    unacked: HashSet<u64>,
    flushed: u64,
    last_seq: u64,
}

fn read_log(path: &Path) -> Log {
    let mut log = Log::default();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // The op whose intent is the child's latest line: acknowledged only once the child
    // logs anything after it.
    let mut in_flight = None;
    for line in text.lines() {
        if line == "K" {
            log.unacked.extend(in_flight.take());
            continue;
        }
        let f: Vec<u64> = line
            .split(' ')
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        match (line.as_bytes().first(), f.as_slice()) {
            (Some(b'W'), [seq, start, n]) | (Some(b'U'), [seq, start, n]) => {
                for slot in *start..start + n {
                    log.ops.entry(slot).or_default().push(*seq);
                }
                if line.starts_with('U') {
                    log.zero_ops.insert(*seq);
                }
                log.last_seq = log.last_seq.max(*seq);
                in_flight = Some(*seq);
            }
            (Some(b'F'), [seq]) => {
                log.flushed = log.flushed.max(*seq);
                in_flight = None;
            }
            // A snapshot (its blocks are not checked): the run after a kill starts past
            // it, so a snapshot that was made is never made again under the same name.
            (Some(b'S'), [seq]) => {
                log.last_seq = log.last_seq.max(*seq);
                in_flight = None;
            }
            _ => panic!("malformed log line {line:?}"),
        }
    }
    log
}

/// Appends one line with a single write, so a kill leaves it whole or cut, never mixed.
fn log_line(log: &mut std::fs::File, line: String) {
    log.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// After a kill: drops a partly written last line (its op was never issued) and marks the
/// end of the child's session, so the parser knows its last op was in flight.
fn mark_kill(path: &Path) {
    let text = std::fs::read(path).unwrap_or_default();
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .unwrap();
    log.set_len(whole as u64).unwrap();
    log.seek(std::io::SeekFrom::End(0)).unwrap();
    log.write_all(b"K\n").unwrap();
}

fn child(dir: &Path) {
    run_ops(dir, u64::MAX);
}

/// Runs `count` random operations on a reopened pool, logging each.
fn run_ops(dir: &Path, count: u64) {
    run_ops_checked(dir, count, false)
}

/// Reads a volume and its snapshots as `mgr` sees them.
fn contents(mgr: &vsa_pool::VolumeManager) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let v = mgr.volume("v").unwrap();
    let mut all = vec![0u8; v.size() as usize];
    v.read_at(&mut all, 0).unwrap();
    out.push(("v".to_owned(), all));
    for s in mgr.snapshots("v").unwrap() {
        let sv = mgr.snapshot_view("v", &s.record.name).unwrap();
        let mut all = vec![0u8; sv.size() as usize];
        sv.read_at(&mut all, 0).unwrap();
        out.push((s.record.name.clone(), all));
    }
    out
}

/// Like `run_ops`; with `compare`, after every operation a manager loaded afresh from the
/// database must see exactly what the live one sees (what a restart would find).
fn run_ops_checked(dir: &Path, count: u64, compare: bool) {
    let store = Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap());
    let pool = Pool::open(store.clone(), "p").unwrap();
    let v = pool.volumes().volume("v").unwrap();
    let log_path = dir.join("log");
    let first = read_log(&log_path).last_seq + 1;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log_path)
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(first);
    for seq in first..first.saturating_add(count) {
        let start = rng.gen_range(0..BLOCKS);
        let n = rng.gen_range(1..=64).min(BLOCKS - start);
        match rng.gen_range(0..20) {
            0 => {
                log_line(&mut log, format!("U {seq} {start} {n}"));
                v.unmap(start * BS, n * BS).unwrap();
            }
            1 if std::env::var_os("VSA_CRASH_NOSNAP").is_none() => {
                log_line(&mut log, format!("S {seq}"));
                let name = format!("s{seq}");
                pool.volumes().snapshot("v", &name).unwrap();
                let snaps = pool.volumes().snapshots("v").unwrap();
                if snaps.len() > 3 {
                    pool.volumes()
                        .delete_snapshot("v", &snaps[0].record.name)
                        .unwrap();
                }
            }
            _ => {
                log_line(&mut log, format!("W {seq} {start} {n}"));
                let mut buf = Vec::with_capacity((n * BS) as usize);
                for slot in start..start + n {
                    buf.extend(block(seq, slot));
                }
                v.write_at(&buf, start * BS).unwrap();
            }
        }
        if rng.gen_range(0..4) == 0 {
            v.flush().unwrap();
            log_line(&mut log, format!("F {seq}"));
        }
        if compare && seq % 10 == 0 {
            // Opening the pool a second time replays its write journal into the members
            // under the live pool: write home what the journal holds first.
            pool.settle().unwrap();
            let second = Pool::open(store.clone(), "p").unwrap();
            let (a, b) = (contents(pool.volumes()), contents(second.volumes()));
            for ((na, ca), (nb, cb)) in a.iter().zip(&b) {
                assert_eq!(na, nb);
                let first = ca.iter().zip(cb).position(|(x, y)| x != y);
                assert!(
                    first.is_none(),
                    "after op {seq}: {na} differs at byte {first:?}"
                );
            }
            assert_eq!(a.len(), b.len());
        }
    }
}

fn verify(dir: &Path, round: usize) {
    let log = read_log(&dir.join("log"));
    let store = Arc::new(MetaStore::open(&dir.join("db"), &[]).unwrap());
    let pool = Pool::open(store, "p").unwrap();
    let check = pool.check().unwrap();
    assert!(check.is_ok(), "round {round}: {:?}", check.problems);
    let v = pool.volumes().volume("v").unwrap();
    let mut all = vec![0u8; VOL as usize];
    v.read_at(&mut all, 0).unwrap();
    for slot in 0..BLOCKS {
        let got = &all[(slot * BS) as usize..((slot + 1) * BS) as usize];
        let ops = log.ops.get(&slot).map(Vec::as_slice).unwrap_or(&[]);
        // The last op acknowledged before the last completed flush, then any later ones
        // (an op in flight at a kill was never acknowledged, so it is only allowed).
        let durable = ops
            .iter()
            .rposition(|&s| s <= log.flushed && !log.unacked.contains(&s));
        let allowed: Vec<u64> = match durable {
            Some(i) => ops[i..].to_vec(),
            None => ops.to_vec(),
        };
        let zero_ok = durable.is_none() || allowed.iter().any(|s| log.zero_ops.contains(s));
        if zero_ok && got.iter().all(|&b| b == 0) {
            continue;
        }
        let seq = u64::from_le_bytes(got[..8].try_into().unwrap());
        if !allowed.contains(&seq) {
            eprintln!("raid: {:?}", pool.raid().status());
            eprintln!(
                "alloc status of block {slot}: {:?}; snapshots {:?}",
                v.allocation(slot * BS, BS).unwrap(),
                pool.volumes()
                    .snapshots("v")
                    .unwrap()
                    .iter()
                    .map(|s| (s.record.name.clone(), s.record.node))
                    .collect::<Vec<_>>()
            );
            for s in pool.volumes().snapshots("v").unwrap() {
                let sv = pool.volumes().snapshot_view("v", &s.record.name).unwrap();
                let mut b = vec![0u8; BS as usize];
                sv.read_at(&mut b, slot * BS).unwrap();
                eprintln!(
                    "  in {}: seq {}",
                    s.record.name,
                    u64::from_le_bytes(b[..8].try_into().unwrap())
                );
            }
        }
        assert!(
            allowed.contains(&seq) && !log.zero_ops.contains(&seq) && got == block(seq, slot).as_slice(),
            "round {round}: block {slot} holds write {seq}; allowed {allowed:?} (flushed up to {}); head {:?}, nonzero {}, ops {:?}",
            log.flushed,
            &got[..24],
            got.iter().filter(|&&b| b != 0).count(),
            ops
        );
    }
    pool.start_scrub(false).unwrap();
    pool.join_tasks(false);
    let scrub = pool.last_scrub().unwrap();
    if std::env::var_os("VSA_NO_RESYNC").is_none() {
        assert_eq!(scrub.mismatches, 0, "round {round}: {scrub:?}");
    }
}

#[test]
fn reopen_without_crash_keeps_every_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
        let pool = Pool::create(store, &spec(dir.path())).unwrap();
        pool.volumes().create("v", VOL, false).unwrap();
    }
    for round in 0..6 {
        run_ops(dir.path(), 150);
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("log"))
            .unwrap();
        let last = read_log(&dir.path().join("log")).last_seq;
        log_line(&mut log, format!("F {last}"));
        verify(dir.path(), round);
    }
}

#[test]
fn the_durable_state_matches_the_live_state_after_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
        let pool = Pool::create(store, &spec(dir.path())).unwrap();
        pool.volumes().create("v", VOL, false).unwrap();
    }
    run_ops_checked(dir.path(), 100, true);
}

#[test]
fn crash_child() {
    if let Some(dir) = std::env::var_os("VSA_CRASH_CHILD") {
        child(&PathBuf::from(dir));
    }
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
        let pool = Pool::create(store, &spec(dir.path())).unwrap();
        pool.volumes().create("v", VOL, false).unwrap();
    }
    let rounds: usize = std::env::var("VSA_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for round in 0..rounds {
        let env = [("VSA_CRASH_CHILD", dir.path().display().to_string())];
        common::kill_at_random_moment("crash_child", &env, &mut rng, round);
        mark_kill(&dir.path().join("log"));
        verify(dir.path(), round);
    }
    let log = read_log(&dir.path().join("log"));
    assert!(
        log.flushed > 0 && log.last_seq > 20,
        "the children did too little work: {}",
        log.last_seq
    );
}

/// A child killed after making a snapshot restarts past it (a second snapshot of the
/// same name would be refused), and the write before it counts as acknowledged.
#[test]
fn a_child_restarts_after_its_last_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, "W 5 0 1\nS 6\n").unwrap();
    mark_kill(&path);
    let log = read_log(&path);
    assert_eq!(log.last_seq, 6);
    assert!(log.unacked.is_empty(), "{:?}", log.unacked);
}
