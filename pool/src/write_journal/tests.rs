use super::*;
use parking_lot::{Condvar, Mutex};
use proptest::prelude::*;
use std::time::Duration;
use vsa_blockdev::testing::MemDevice;

const STRIPE: u64 = 4 * BLOCK;
/// Long enough that destaging never starts on its own during a test.
const NEVER: Duration = Duration::from_secs(3600);

fn journal(dev: &Arc<MemDevice>, log: &Arc<MemLog>, budget: u64) -> WriteJournal<Arc<MemDevice>> {
    WriteJournal::open_tuned(dev.clone(), log.clone(), STRIPE, true, budget, NEVER).unwrap()
}

fn read(d: &dyn BlockDevice, offset: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    d.read_at(&mut b, offset).unwrap();
    b
}

#[test]
fn small_writes_are_journaled_read_back_and_go_home_on_drain() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    j.write_at(&[7u8; 4096], BLOCK).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(read(&j, 0, 8192)[4096..], [7u8; 4096]);
    assert_eq!(
        read(dev.as_ref(), BLOCK, 4096),
        vec![0u8; 4096],
        "not home yet"
    );
    j.drain().unwrap();
    assert!(log.is_empty());
    assert_eq!(read(dev.as_ref(), BLOCK, 4096), vec![7u8; 4096]);
    assert_eq!(j.stats().pending_blocks, 0);
    assert_eq!(j.stats().used_bytes, 0);
}

#[test]
fn whole_stripes_skip_the_journal_unless_a_journaled_block_is_in_them() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    j.write_at(&vec![1u8; 2 * STRIPE as usize], 0).unwrap();
    assert!(log.is_empty());
    assert_eq!(
        j.stats().direct_writes,
        1,
        "two neighbouring stripes, one write"
    );
    j.write_at(&[2u8; 4096], STRIPE).unwrap();
    j.write_at(&vec![3u8; STRIPE as usize], STRIPE).unwrap();
    assert_eq!(log.len(), 2, "the second stripe holds a journaled block");
    // A crash now: replay must end with the newest data.
    drop(j);
    let dev2 = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let j2 = journal(&dev2, &log, 1 << 20);
    assert_eq!(j2.stats().replayed_records, 2);
    assert_eq!(
        read(dev2.as_ref(), STRIPE, STRIPE as usize),
        vec![3u8; STRIPE as usize]
    );
}

#[test]
fn a_crash_loses_no_acknowledged_write_and_a_damaged_record_is_not_replayed() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    for i in 0..4u8 {
        j.write_at(&[i + 1; 4096], u64::from(i) * 3 * BLOCK)
            .unwrap();
    }
    drop(j); // no drain: as kill -9
    assert_eq!(log.len(), 4);
    let seqs: Vec<u64> = log.records().unwrap().iter().map(|r| r.0).collect();
    log.corrupt(seqs[1], 100);
    let j = journal(&dev, &log, 1 << 20);
    assert!(log.is_empty(), "replayed records leave the log");
    assert_eq!(j.stats().replayed_records, 3);
    assert_eq!(read(&j, 0, 4096), vec![1u8; 4096]);
    assert_eq!(
        read(&j, 3 * BLOCK, 4096),
        vec![0u8; 4096],
        "damaged: dropped"
    );
    assert_eq!(read(&j, 9 * BLOCK, 4096), vec![4u8; 4096]);
    // New records number on after the replayed ones.
    j.write_at(&[9u8; 4096], 0).unwrap();
    assert!(log.records().unwrap()[0].0 > seqs[3]);
}

#[test]
fn unaligned_writes_and_unmaps_drain_what_they_touch_first() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    j.write_at(&[5u8; 4096], 0).unwrap();
    j.write_at(&[6u8; 512], 512).unwrap();
    assert!(log.is_empty());
    let got = read(&j, 0, 4096);
    assert_eq!(got[..512], [5u8; 512]);
    assert_eq!(got[512..1024], [6u8; 512]);
    j.write_at(&[8u8; 4096], 2 * BLOCK).unwrap();
    j.unmap(0, STRIPE).unwrap();
    assert!(log.is_empty());
    assert_eq!(read(&j, 0, STRIPE as usize), vec![0u8; STRIPE as usize]);
}

#[test]
fn a_failed_log_append_fails_the_write_and_shows_nothing() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    log.fail(true);
    let e = j.write_at(&[1u8; 4096], 0).unwrap_err();
    assert!(e.to_string().contains("write journal"), "{e}");
    assert_eq!(read(&j, 0, 4096), vec![0u8; 4096]);
    assert_eq!(j.stats().used_bytes, 0, "the room is given back");
    log.fail(false);
    j.write_at(&[2u8; 4096], 0).unwrap();
    assert_eq!(read(&j, 0, 4096), vec![2u8; 4096]);
}

#[test]
fn writes_beyond_the_room_wait_for_destaging_and_all_land() {
    let dev = Arc::new(MemDevice::new(256 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    // The smallest room: 4 stripes (64 KiB); 200 writes need it many times over.
    let j = journal(&dev, &log, 0);
    assert_eq!(j.stats().capacity_bytes, 4 * STRIPE);
    for i in 0..200u64 {
        j.write_at(&[(i % 251) as u8 + 1; 4096], (i * 7 % 256) * BLOCK)
            .unwrap();
    }
    assert!(j.stats().destage_passes > 0);
    let mut want = vec![0u8; 256 * BLOCK as usize];
    for i in 0..200u64 {
        let at = ((i * 7 % 256) * BLOCK) as usize;
        want[at..at + 4096].fill((i % 251) as u8 + 1);
    }
    assert_eq!(read(&j, 0, want.len()), want);
}

/// A log whose appends wait while it is closed, to line writers up behind a commit.
#[derive(Debug, Default)]
struct GateLog {
    inner: MemLog,
    closed: Mutex<bool>,
    opened: Condvar,
}

impl LogStore for GateLog {
    fn append(&self, records: &[(u64, Vec<u8>)]) -> Result<()> {
        let mut c = self.closed.lock();
        while *c {
            self.opened.wait(&mut c);
        }
        drop(c);
        self.inner.append(records)
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn retire(&self, upto: u64) -> Result<()> {
        self.inner.retire(upto)
    }
    fn records(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        self.inner.records()
    }
}

#[test]
fn writers_that_queue_behind_a_commit_share_the_next_one() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(GateLog::default());
    *log.closed.lock() = true;
    let j = Arc::new(
        WriteJournal::open_tuned(dev.clone(), log.clone(), STRIPE, true, 1 << 20, NEVER).unwrap(),
    );
    let spawn = |i: u64| {
        let j = j.clone();
        std::thread::spawn(move || j.write_at(&[i as u8 + 1; 4096], i * BLOCK))
    };
    let first = spawn(0);
    // The first writer leads and waits at the gate; the others queue behind it.
    let others: Vec<_> = (1..16).map(spawn).collect();
    while j.shared.queue.lock().queued() < 15 {
        std::thread::yield_now();
    }
    *log.closed.lock() = false;
    log.opened.notify_all();
    first.join().unwrap().unwrap();
    for t in others {
        t.join().unwrap().unwrap();
    }
    assert_eq!(log.inner.appends(), 2, "16 writes, two commits");
    assert_eq!(j.stats().records, 16);
    for i in 0..16u64 {
        assert_eq!(read(j.as_ref(), i * BLOCK, 4096), vec![i as u8 + 1; 4096]);
    }
}

#[derive(Debug, Clone)]
enum Step {
    Write { at: u64, len: u64, byte: u8 },
    Unaligned { at: u64, len: u64, byte: u8 },
    Unmap { at: u64, len: u64 },
    Drain,
    Crash,
}

const SIZE: u64 = 32 * BLOCK;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..32u64, 1..10u64, 1..255u8).prop_map(|(b, n, byte)| Step::Write {
            at: b * BLOCK,
            len: n.min(32 - b) * BLOCK,
            byte
        }),
        1 => (0..SIZE / 512 - 1, 1..16u64, 1..255u8).prop_map(|(s, n, byte)| Step::Unaligned {
            at: s * 512,
            len: (n * 512).min(SIZE - s * 512),
            byte
        }),
        1 => (0..32u64, 1..8u64).prop_map(|(b, n)| Step::Unmap {
            at: b * BLOCK,
            len: n.min(32 - b) * BLOCK
        }),
        1 => Just(Step::Drain),
        1 => Just(Step::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The journal reads as a plain device would after any sequence of writes, unmaps,
    /// drains and crashes (a crash drops the journal without draining, then reopens it).
    #[test]
    fn the_journal_reads_as_a_plain_device(
        steps in proptest::collection::vec(step(), 1..40),
        parity in any::<bool>(),
    ) {
        let dev = Arc::new(MemDevice::new(SIZE, 512));
        let log = Arc::new(MemLog::new());
        let open = || WriteJournal::open_tuned(dev.clone(), log.clone(), STRIPE, parity, 0, NEVER).unwrap();
        let mut j = open();
        let mut model = vec![0u8; SIZE as usize];
        for s in steps {
            match s {
                Step::Write { at, len, byte } | Step::Unaligned { at, len, byte } => {
                    j.write_at(&vec![byte; len as usize], at).unwrap();
                    model[at as usize..(at + len) as usize].fill(byte);
                }
                Step::Unmap { at, len } => {
                    j.unmap(at, len).unwrap();
                    model[at as usize..(at + len) as usize].fill(0);
                }
                Step::Drain => j.drain().unwrap(),
                Step::Crash => {
                    drop(j);
                    j = open();
                }
            }
            prop_assert_eq!(read(&j, 0, SIZE as usize), model.clone());
        }
    }
}

#[test]
fn a_member_failing_while_blocks_are_journaled_loses_nothing() {
    use crate::raid::{MemJournal, RaidLevel, RaidMember, RaidSet};
    use vsa_blockdev::testing::FaultyDevice;
    for level in [RaidLevel::Raid5, RaidLevel::Raid6] {
        let devs: Vec<Arc<FaultyDevice<MemDevice>>> = (0..5)
            .map(|_| Arc::new(FaultyDevice::new(MemDevice::new(1 << 20, 512))))
            .collect();
        let members = devs
            .iter()
            .enumerate()
            .map(|(i, d)| RaidMember {
                name: format!("disk{i}"),
                dev: d.clone(),
            })
            .collect();
        let set = Arc::new(
            RaidSet::open(
                level,
                16384,
                members,
                vec![],
                None,
                true,
                Arc::new(MemJournal::new()),
            )
            .unwrap(),
        );
        let stripe = set.io_granularity();
        let log = Arc::new(MemLog::new());
        let open = || {
            WriteJournal::open_tuned(set.clone(), log.clone(), stripe, true, 1 << 20, NEVER)
                .unwrap()
        };
        let j = open();
        let mut model = vec![0u8; set.size() as usize];
        for i in 0..60u64 {
            let at = (i * 37 % (set.size() / BLOCK)) * BLOCK;
            let data = vec![(i % 250) as u8 + 1; 4096];
            j.write_at(&data, at).unwrap();
            model[at as usize..at as usize + 4096].copy_from_slice(&data);
        }
        assert_eq!(log.len(), 60, "{level:?}: all journaled");
        devs[2].fail(true);
        drop(j); // a crash with the blocks still in the log
        let j = open();
        assert_eq!(j.stats().replayed_records, 60, "{level:?}");
        assert_eq!(read(&j, 0, model.len()), model, "{level:?}: degraded");
        assert_eq!(read(set.as_ref(), 0, model.len()), model, "{level:?}: home");
    }
}

#[test]
fn a_whole_stripe_written_past_the_journal_is_never_undone_by_destaging() {
    for parity in [true, false] {
        a_whole_stripe_written_past_the_journal_is_never_undone(parity);
    }
}

fn a_whole_stripe_written_past_the_journal_is_never_undone(parity: bool) {
    // Thread A writes stripe `a` whole, again and again, and reads back its block 1 (only
    // A writes there); thread B journals blocks around it, so destaging fills that block
    // from the set. With parity: blocks 0 and 2 of stripe 0 (A's), written whole with the
    // gap read first. Without: blocks 0, 2 and 9 (three runs in one window), written as
    // one span with A's stripe 1 read first. A stale fill would show up as an old value.
    let (a, b_blocks): (u64, &[u64]) = if parity {
        (0, &[0, 2])
    } else {
        (1, &[0, 2, 9])
    };
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = Arc::new(
        WriteJournal::open_tuned(dev.clone(), log.clone(), STRIPE, parity, 0, NEVER).unwrap(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // B's blocks journaled before A starts, so destaging has them from the first pass.
    for &blk in b_blocks {
        j.write_at(&[255u8; 4096], blk * BLOCK).unwrap();
    }
    let b = {
        let (j, stop) = (j.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u8;
            while !stop.load(Ordering::Relaxed) {
                i = i.wrapping_add(1);
                for &blk in b_blocks {
                    j.write_at(&[i; 4096], blk * BLOCK).unwrap();
                }
                // Other stripes too, so the journal fills and destages often.
                j.write_at(&[i; 4096], (16 + u64::from(i) % 40) * BLOCK)
                    .unwrap();
            }
        })
    };
    let at = a * STRIPE;
    for round in 1..=20000u32 {
        let mut stripe = vec![0u8; STRIPE as usize];
        stripe[BLOCK as usize..2 * BLOCK as usize].copy_from_slice(&[round as u8; 4096]);
        stripe[..4].copy_from_slice(&round.to_le_bytes());
        j.write_at(&stripe, at).unwrap();
        let got = read(j.as_ref(), at + BLOCK, 4096);
        assert_eq!(
            got,
            vec![round as u8; 4096],
            "round {round}, parity {parity}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    b.join().unwrap();
    assert!(j.stats().destage_passes > 0);
}

type Faulty = Arc<vsa_blockdev::testing::FaultyDevice<MemDevice>>;

/// A journal (budget 1 MiB, no destaging on its own) over a device that can be made to fail.
fn faulty_journal(parity: bool) -> (Faulty, Arc<MemLog>, WriteJournal<Faulty>) {
    faulty_journal_striped(STRIPE, parity)
}

/// [`faulty_journal`] over a set whose stripe is `stripe` bytes.
fn faulty_journal_striped(
    stripe: u64,
    parity: bool,
) -> (Faulty, Arc<MemLog>, WriteJournal<Faulty>) {
    let dev = Arc::new(vsa_blockdev::testing::FaultyDevice::new(MemDevice::new(
        64 * BLOCK,
        512,
    )));
    let log = Arc::new(MemLog::new());
    let j =
        WriteJournal::open_tuned(dev.clone(), log.clone(), stripe, parity, 1 << 20, NEVER).unwrap();
    (dev, log, j)
}

#[test]
fn a_stripe_that_cannot_be_read_whole_still_gets_its_blocks_home() {
    let (dev, log, j) = faulty_journal(true);
    // Two blocks of one stripe: enough to write the stripe whole, which needs a read.
    j.write_at(&[3u8; 4096], 4 * BLOCK).unwrap();
    j.write_at(&[4u8; 4096], 6 * BLOCK).unwrap();
    dev.fail_reads_only(true);
    dev.fail(true);
    assert!(
        j.inner().read_at(&mut [0u8; 4096], 0).is_err(),
        "reads fail"
    );
    j.drain().unwrap();
    dev.fail(false);
    assert!(log.is_empty());
    assert_eq!(read(dev.as_ref(), 4 * BLOCK, 4096), vec![3u8; 4096]);
    assert_eq!(read(dev.as_ref(), 6 * BLOCK, 4096), vec![4u8; 4096]);
}

#[test]
fn a_read_of_journaled_blocks_only_needs_nothing_from_the_set() {
    let (dev, _log, j) = faulty_journal(true);
    j.write_at(&[5u8; 8192], 8 * BLOCK).unwrap();
    j.write_at(&[6u8; 4096], 10 * BLOCK).unwrap();
    dev.fail_reads_only(true);
    dev.fail(true);
    assert_eq!(
        read(&j, 8 * BLOCK, 3 * 4096),
        [[5u8; 8192].as_slice(), &[6u8; 4096]].concat()
    );
    assert_eq!(read(&j, 9 * BLOCK + 512, 512), vec![5u8; 512]);
    // A block the journal does not hold comes from the set, which fails here.
    assert!(j.read_at(&mut [0u8; 8192], 10 * BLOCK).is_err());
}

#[test]
fn a_record_past_the_end_of_the_device_is_dropped_at_replay() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let far = (u64::MAX / BLOCK) * BLOCK;
    log.append(&[
        (1, record::encode(far, &[1u8; 4096])),
        (2, record::encode(64 * BLOCK, &[2u8; 4096])),
        (3, record::encode(0, &[3u8; 4096])),
    ])
    .unwrap();
    let j = journal(&dev, &log, 1 << 20);
    assert_eq!(j.stats().replayed_records, 1);
    assert_eq!(read(&j, 0, 4096), vec![3u8; 4096]);
    assert!(j.read_at(&mut [0u8; 4096], u64::MAX - 100).is_err());
}

#[test]
fn a_flush_makes_journaled_writes_survive_a_power_loss() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 1 << 20);
    j.write_at(&[1u8; 4096], 0).unwrap();
    j.write_at(&[2u8; 4096], 5 * BLOCK).unwrap();
    assert_eq!(
        log.syncs(),
        0,
        "an acknowledged write is with the OS, not synced"
    );
    j.flush().unwrap();
    assert_eq!((log.syncs(), dev.flushes()), (1, 1));
    j.flush().unwrap();
    assert_eq!(log.syncs(), 1, "nothing appended since: no second sync");
    j.write_at(&[3u8; 4096], 9 * BLOCK).unwrap();
    j.write_at(&vec![4u8; STRIPE as usize], 4 * STRIPE).unwrap();
    j.flush().unwrap();
    assert_eq!((log.syncs(), dev.flushes()), (2, 3));
    j.write_at(&[5u8; 4096], 13 * BLOCK).unwrap();
    // Power loss: the write after the last flush may be lost, the ones before may not.
    drop(j);
    log.lose_unsynced();
    let dev2 = Arc::new(MemDevice::new(64 * BLOCK, 512));
    dev2.write_at(&read(dev.as_ref(), 0, 64 * BLOCK as usize), 0)
        .unwrap();
    let j2 = journal(&dev2, &log, 1 << 20);
    assert_eq!(j2.stats().replayed_records, 3);
    assert_eq!(read(&j2, 0, 4096), vec![1u8; 4096]);
    assert_eq!(read(&j2, 5 * BLOCK, 4096), vec![2u8; 4096]);
    assert_eq!(read(&j2, 9 * BLOCK, 4096), vec![3u8; 4096]);
    assert_eq!(read(&j2, 4 * STRIPE, 4096), vec![4u8; 4096]);
    assert_eq!(
        read(&j2, 13 * BLOCK, 4096),
        vec![0u8; 4096],
        "never flushed"
    );
}

/// A device that notes a write arriving while the log holds unsynced records.
#[derive(Debug)]
struct SyncCheck {
    dev: MemDevice,
    log: Arc<MemLog>,
    early: AtomicU64,
}

impl BlockDevice for SyncCheck {
    fn block_size(&self) -> u32 {
        self.dev.block_size()
    }
    fn size(&self) -> u64 {
        self.dev.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.dev.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if self.log.unsynced() > 0 {
            self.early.fetch_add(1, Ordering::Relaxed);
        }
        self.dev.write_at(buf, offset)
    }
    fn flush(&self) -> Result<()> {
        self.dev.flush()
    }
}

#[test]
fn destaging_syncs_the_log_before_a_block_goes_home() {
    let log = Arc::new(MemLog::new());
    let dev = Arc::new(SyncCheck {
        dev: MemDevice::new(64 * BLOCK, 512),
        log: log.clone(),
        early: AtomicU64::new(0),
    });
    let j =
        WriteJournal::open_tuned(dev.clone(), log.clone(), STRIPE, true, 1 << 20, NEVER).unwrap();
    for i in 0..20u64 {
        j.write_at(&[i as u8 + 1; 4096], (i * 3 % 64) * BLOCK)
            .unwrap();
    }
    assert_eq!(log.unsynced(), 20);
    j.drain().unwrap();
    assert!(log.syncs() >= 1);
    assert_eq!(
        dev.early.load(Ordering::Relaxed),
        0,
        "a block went home unsynced"
    );
    assert_eq!(read(dev.as_ref(), 57 * BLOCK, 4096), vec![20u8; 4096]);
}

/// `try_write_at`, again while it declines only because the destager held the room's
/// lock for an instant (it wakes as room is taken: a refusal by design, not a wait).
fn taken(j: &WriteJournal<Arc<MemDevice>>, buf: &[u8], at: u64, what: &str) -> Result<()> {
    for _ in 0..100_000 {
        if let Some(r) = j.try_write_at(buf, at) {
            return r;
        }
        std::thread::yield_now();
    }
    panic!("{what}: never taken");
}

#[test]
fn a_small_write_is_taken_without_waiting_only_when_nothing_would_wait() {
    let dev = Arc::new(MemDevice::new(64 * BLOCK, 512));
    let log = Arc::new(MemLog::new());
    let j = journal(&dev, &log, 4 * STRIPE);
    taken(&j, &[1u8; 8192], BLOCK, "taken").unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(read(&j, BLOCK, 8192), vec![1u8; 8192]);
    assert_eq!(
        read(dev.as_ref(), BLOCK, 8192),
        vec![0u8; 8192],
        "journaled"
    );
    // Whole stripes, pieces of two stripes, unaligned writes: the full path.
    assert!(j.try_write_at(&vec![2u8; STRIPE as usize], 0).is_none());
    assert!(j.try_write_at(&[2u8; 8192], STRIPE - BLOCK).is_none());
    assert!(j.try_write_at(&[2u8; 512], 0).is_none());
    assert!(
        j.try_write_at(&[2u8; 4096], 64 * BLOCK).is_none(),
        "past the end"
    );
    // Another writer committing: this one would wait for it.
    j.shared.queue.lock().leading = true;
    assert!(j.try_write_at(&[3u8; 4096], 0).is_none());
    j.shared.queue.lock().leading = false;
    // No room: it would wait for destaging (kept from starting on its own here). Nothing
    // was reserved by the refusals.
    let hold = j.shared.destage.lock();
    for i in 0..14u64 {
        taken(&j, &[4u8; 4096], (20 + i) * BLOCK, "room").unwrap();
    }
    assert_eq!(j.stats().used_bytes, 4 * STRIPE);
    assert!(j.try_write_at(&[5u8; 4096], 40 * BLOCK).is_none());
    drop(hold);
    j.drain().unwrap();
    taken(&j, &[5u8; 4096], 40 * BLOCK, "room again").unwrap();
    assert_eq!(read(&j, 40 * BLOCK, 4096), vec![5u8; 4096]);
    // A failed append is an answer, not a refusal.
    log.fail(true);
    let r = taken(&j, &[6u8; 4096], 41 * BLOCK, "answered");
    assert!(r.is_err());
    assert_eq!(read(&j, 41 * BLOCK, 4096), vec![0u8; 4096]);
}

/// Over a set without parity, destaging writes a run of journaled blocks as it is: it
/// reads nothing, however busy the stripe (over parity it reads the stripe and writes it
/// whole; runs close together without parity: see the next test).
#[test]
fn without_parity_destaging_writes_only_the_journaled_blocks() {
    for parity in [false, true] {
        let (dev, _log, j) = faulty_journal(parity);
        j.write_at(&[1u8; 4096], BLOCK).unwrap();
        j.write_at(&[2u8; 4096], 2 * BLOCK).unwrap();
        let before = dev.ops();
        j.drain().unwrap();
        // One run written; or the stripe read, then written.
        let want = if parity { 2 } else { 1 };
        assert_eq!(dev.ops() - before, want, "parity {parity}");
        let got = read(dev.inner(), 0, 4 * 4096);
        assert_eq!(
            got,
            [[0u8; 4096], [1u8; 4096], [2u8; 4096], [0u8; 4096]].concat()
        );
    }
}

/// Over a set without parity, journaled blocks that lie close together but not side by
/// side in one window go home as one write of their span (the gaps read first: two
/// operations instead of one per block), and the gaps keep what they held.
#[test]
fn without_parity_runs_close_together_go_home_as_one_span() {
    let (dev, log, j) = faulty_journal(false);
    // The gaps' contents, written past the journal as whole stripes.
    j.write_at(&vec![9u8; 16 * BLOCK as usize], 0).unwrap();
    j.drain().unwrap();
    // Every other block of the first 64 KiB window: eight runs.
    for b in (0..16u64).step_by(2) {
        j.write_at(&[b as u8 + 1; 4096], b * BLOCK).unwrap();
    }
    let before = dev.ops();
    j.drain().unwrap();
    assert_eq!(dev.ops() - before, 2, "one read and one write of the span");
    // Even blocks hold `base + b`, the gaps 9.
    let check = |base: u8| {
        let got = read(dev.inner(), 0, 16 * BLOCK as usize);
        for (b, block) in got.chunks(BLOCK as usize).enumerate() {
            let want = if b % 2 == 0 { base + b as u8 } else { 9 };
            assert!(block.iter().all(|&x| x == want), "block {b}, base {base}");
        }
    };
    check(1);
    // When the gaps cannot be read, the blocks still go home, each as it is.
    for b in (0..16u64).step_by(2) {
        j.write_at(&[b as u8 + 100; 4096], b * BLOCK).unwrap();
    }
    dev.fail_reads_only(true);
    dev.fail(true);
    j.drain().unwrap();
    dev.fail(false);
    assert!(log.is_empty());
    check(100);
}

/// Without parity, a run that crosses from one window into the next (neither filled)
/// stays one write (a stripe of 128 KiB holds two windows).
#[test]
fn without_parity_a_run_across_windows_is_one_write() {
    let (dev, _log, j) = faulty_journal_striped(32 * BLOCK, false);
    j.write_at(&[7u8; 8192], 15 * BLOCK).unwrap();
    let before = dev.ops();
    j.drain().unwrap();
    assert_eq!(dev.ops() - before, 1, "one run, one write");
    assert_eq!(read(dev.inner(), 15 * BLOCK, 8192), vec![7u8; 8192]);
}
