//! The write journal under `kill -9` at random moments: four iSCSI sessions write random
//! 4 KiB blocks (each a stamp of its block and a generation) to a LUN of a RAID 5 or
//! RAID 6 pool, with the log in the data directory or on a log device of its own; the
//! daemon is killed when a random number of writes has been acknowledged, and started
//! again. Then every block holds its last acknowledged write, or the one that was in
//! flight, whole (never a mix inside a block, never older), and a scrub finds parity
//! consistent. Three rounds per pool, so replays follow replays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use vsa_e2e::initiator::Initiator;
use vsa_e2e::{wait_for, Daemon};

const IQN: &str = "iqn.2026-01.invalid.vsa:crash";
/// 4 KiB blocks in the volume.
const BLOCKS: u64 = 2048;
const SESSIONS: u64 = 4;
const ROUNDS: usize = 3;

/// The bytes a write of generation `gen` puts in `block`: 16-byte stamps throughout.
fn stamp(block: u64, gen: u64) -> Vec<u8> {
    let mut one = [0u8; 16];
    one[..8].copy_from_slice(&block.to_le_bytes());
    one[8..].copy_from_slice(&gen.to_le_bytes());
    one.repeat(256)
}

/// A small xorshift generator: reproducible from the seed the test prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What one session knows of its blocks (block % SESSIONS == its number).
#[derive(Default, Clone)]
struct Known {
    /// The generation of the last acknowledged write of each block.
    acked: HashMap<u64, u64>,
    /// The write under way when the daemon died.
    in_flight: Option<(u64, u64)>,
    next_gen: u64,
}

fn login(addr: &str, isid: u64) -> Initiator {
    let mut i = Initiator::login(addr, IQN, "iqn.2026-01.invalid:crash", isid).expect("login");
    i.clear_unit_attentions(0).unwrap();
    i
}

/// The LUN's logical block size (READ CAPACITY(10)); `None` if the daemon is gone.
fn try_block_size(i: &mut Initiator) -> Option<u64> {
    let r = i
        .command(0, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[], 8)
        .ok()?;
    assert_eq!(r.status, 0, "{r:?}");
    Some(u64::from(u32::from_be_bytes([
        r.data[4], r.data[5], r.data[6], r.data[7],
    ])))
}

fn block_size(i: &mut Initiator) -> u64 {
    try_block_size(i).expect("READ CAPACITY")
}

fn cdb10(op: u8, lba: u64, blocks: u16) -> [u8; 10] {
    let mut c = [0u8; 10];
    c[0] = op;
    c[2..6].copy_from_slice(&(lba as u32).to_be_bytes());
    c[7..9].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn write(i: &mut Initiator, bs: u64, block: u64, data: &[u8]) -> std::io::Result<u8> {
    let cdb = cdb10(0x2A, block * 4096 / bs, (4096 / bs) as u16);
    i.command(0, &cdb, data, 0).map(|r| r.status)
}

fn read(i: &mut Initiator, bs: u64, block: u64) -> Vec<u8> {
    let cdb = cdb10(0x28, block * 4096 / bs, (4096 / bs) as u16);
    let r = i.command(0, &cdb, &[], 4096).unwrap();
    assert_eq!(r.status, 0, "{r:?}");
    r.data
}

/// One session writing random blocks of its own until the daemon dies.
fn writer(addr: &str, n: u64, mut known: Known, seed: u64, acks: Arc<AtomicU64>) -> Known {
    // On a loaded machine the others may reach the count, and the daemon be killed,
    // before this session is in: then it wrote nothing this round.
    let session = Initiator::login(addr, IQN, "iqn.2026-01.invalid:crash", 0x0200_0000_0000 + n)
        .and_then(|mut i| i.clear_unit_attentions(0).map(|()| i));
    let Ok(mut i) = session else {
        return known;
    };
    let Some(bs) = try_block_size(&mut i) else {
        return known;
    };
    let mut rng = Rng(seed | 1);
    loop {
        let block = rng.next() % (BLOCKS / SESSIONS) * SESSIONS + n;
        known.next_gen += 1;
        let gen = known.next_gen;
        known.in_flight = Some((block, gen));
        match write(&mut i, bs, block, &stamp(block, gen)) {
            Ok(0) => {
                known.acked.insert(block, gen);
                known.in_flight = None;
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Ok(status) => panic!("session {n}: WRITE of block {block} got status {status:#x}"),
            // The daemon is gone.
            Err(_) => return known,
        }
    }
}

/// Checks every block the sessions wrote; a write that was in flight and landed counts as
/// acknowledged from now on.
fn check(d: &Daemon, known: &mut [Known]) {
    let mut i = login(&d.iscsi_addr(), 0x0300_0000_0000);
    let bs = block_size(&mut i);
    for k in known.iter_mut() {
        let mut blocks: Vec<u64> = k.acked.keys().copied().collect();
        blocks.extend(k.in_flight.map(|(b, _)| b));
        blocks.sort_unstable();
        blocks.dedup();
        for block in blocks {
            let got = read(&mut i, bs, block);
            let acked = k.acked.get(&block).copied();
            let old = acked.map_or_else(|| vec![0u8; 4096], |g| stamp(block, g));
            let flying = k.in_flight.filter(|&(b, _)| b == block).map(|(_, g)| g);
            if got == old {
                continue;
            }
            match flying {
                Some(g) if got == stamp(block, g) => {
                    k.acked.insert(block, g);
                }
                _ => panic!(
                    "block {block}: neither its last acknowledged write (generation {acked:?}) \
                     nor the one in flight ({flying:?}); it starts {:02x?}",
                    &got[..16]
                ),
            }
        }
        k.in_flight = None;
    }
}

fn config(dir: &Path, raid: &str, log: bool) -> std::path::PathBuf {
    let members: Vec<String> = (0..4)
        .map(|i| format!("{:?}", dir.join(format!("m{i}.img")).display().to_string()))
        .collect();
    let mut text = format!(
        "[settings]\nwrite_journal = \"16M\"\n\n[[pool]]\nname = \"p\"\nraid = \"{raid}\"\nmembers = [{}]\ncreate_size = \"64M\"\n",
        members.join(", ")
    );
    if log {
        text.push_str(&format!(
            "log = {:?}\n",
            dir.join("slog").display().to_string()
        ));
    }
    let path = dir.join("vsa.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn crash_rounds(raid: &str, log: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = config(tmp.path(), raid, log);
    let args = ["--config", cfg.to_str().unwrap()];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("RAID {raid}, log device {log}: seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let mut d = Daemon::start(&data, &args);
    let p = d.json(&["pool", "show", "p"]);
    assert_eq!(
        p["write_journal"]["log_device"].as_str().is_some(),
        log,
        "{p}"
    );
    d.ok(&["volume", "create", "v", "--pool", "p", "--size", "8M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "v"]);
    {
        // Every chunk allocated first, so the writes are the journaled kind.
        let mut i = login(&d.iscsi_addr(), 0x0100_0000_0000);
        let bs = block_size(&mut i);
        for block in 0..BLOCKS {
            assert_eq!(write(&mut i, bs, block, &[0u8; 4096]).unwrap(), 0);
        }
    }
    let mut known = vec![Known::default(); SESSIONS as usize];
    for round in 0..ROUNDS {
        let acks = Arc::new(AtomicU64::new(0));
        let target = 200 + rng.next() % 1500;
        let addr = d.iscsi_addr();
        let mut running = Some(d);
        let results: Vec<Known> = std::thread::scope(|s| {
            let handles: Vec<_> = known
                .iter()
                .enumerate()
                .map(|(n, k)| {
                    let (k, acks, addr) = (k.clone(), acks.clone(), addr.as_str());
                    let seed = rng.next();
                    s.spawn(move || writer(addr, n as u64, k, seed, acks))
                })
                .collect();
            wait_for(300, || {
                (acks.load(Ordering::SeqCst) >= target).then_some(())
            })
            .unwrap_or_else(|| panic!("round {round}: fewer than {target} writes acknowledged"));
            // While the sessions write.
            if let Some(d) = running.take() {
                d.kill9();
            }
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        known = results;
        d = Daemon::start(&data, &args);
        let p = d.json(&["pool", "show", "p"]);
        eprintln!(
            "round {round}: killed after {} acknowledged writes; {} records replayed",
            acks.load(Ordering::SeqCst),
            p["write_journal"]["replayed_records"]
        );
        check(&d, &mut known);
        d.ok(&["pool", "scrub", "p"]);
        let p = d.wait_scrub("p");
        assert_eq!(p["last_scrub"]["mismatches"], 0, "round {round}: {p}");
    }
    assert!(d.stop().success());
}

#[test]
fn raid5_loses_no_acknowledged_write_to_kill_9() {
    crash_rounds("5", false);
}

#[test]
fn raid6_loses_no_acknowledged_write_to_kill_9() {
    crash_rounds("6", false);
}

#[test]
fn raid5_with_a_log_device_loses_no_acknowledged_write_to_kill_9() {
    crash_rounds("5", true);
}

#[test]
fn raid6_with_a_log_device_loses_no_acknowledged_write_to_kill_9() {
    crash_rounds("6", true);
}
