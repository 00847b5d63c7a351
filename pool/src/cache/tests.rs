use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use vsa_blockdev::testing::{FaultyDevice, MemDevice};
use vsa_blockdev::{Allocation, ErrorKind};

const KIB: u64 = 1024;
const PAGE: u64 = 4 * KIB;
const MIB: u64 = 1 << 20;

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

fn cached(size: u64, capacity: u64) -> ReadCache<FaultyDevice<MemDevice>> {
    ReadCache::new(FaultyDevice::new(MemDevice::new(size, 512)), capacity)
}

fn read(dev: &dyn BlockDevice, offset: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len as usize];
    dev.read_at(&mut buf, offset).unwrap();
    buf
}

#[test]
fn hits_and_misses_are_counted_and_misses_read_in_runs() {
    // (At the smallest capacity that holds whole runs; smaller ones are tested below.)
    let c = cached(MIB, MIN_READ_CACHE_BYTES);
    let data = pattern(1, MIB as usize);
    c.inner().write_at(&data, 0).unwrap();
    assert_eq!(read(&c, 0, 2 * PAGE), data[..2 * PAGE as usize]);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.bytes_cached), (0, 2, 2 * PAGE));
    // Partial pages hit too.
    assert_eq!(
        read(&c, 2 * KIB, PAGE),
        data[2 * KIB as usize..6 * KIB as usize]
    );
    assert_eq!((c.stats().hits, c.stats().misses), (2, 2));
    // Pages 0-1 and 4 cached: a read of pages 0-7 needs two device reads (2-3 and 5-7).
    read(&c, 4 * PAGE, PAGE);
    let ops = c.inner().ops();
    assert_eq!(read(&c, 0, 8 * PAGE), data[..8 * PAGE as usize]);
    assert_eq!(c.inner().ops() - ops, 2);
    // A read starting and ending mid-page fetches whole pages, in one call.
    let ops = c.inner().ops();
    let got = read(&c, 10 * PAGE + 512, 3 * PAGE);
    assert_eq!(
        got,
        data[(10 * PAGE + 512) as usize..(13 * PAGE + 512) as usize]
    );
    assert_eq!(c.inner().ops() - ops, 1);
    assert_eq!(
        read(&c, 10 * PAGE, 4 * PAGE),
        data[(10 * PAGE) as usize..(14 * PAGE) as usize]
    );
    assert_eq!(c.inner().ops() - ops, 1, "pages 10-13 were all cached");
    assert!(c.stale_pages().is_empty());
}

#[test]
fn reads_once_come_from_the_device_and_leave_the_cache_as_it_was() {
    let c = cached(MIB, MIB);
    let data = pattern(3, MIB as usize);
    c.write_at(&data, 0).unwrap();
    assert_eq!(read(&c, 0, PAGE), data[..PAGE as usize]);
    let before = c.stats();
    let ops = c.inner().ops();
    let mut buf = vec![0u8; 64 * PAGE as usize];
    c.read_once_at(&mut buf, 0).unwrap();
    assert_eq!(buf, data[..buf.len()]);
    assert_eq!(
        c.inner().ops() - ops,
        1,
        "one read of the device, page 0 cached or not"
    );
    let after = c.stats();
    assert_eq!(
        (after.hits, after.misses, after.bytes_cached),
        (before.hits, before.misses, PAGE),
        "nothing counted, nothing brought in"
    );
    // What is written afterwards is what a read once sees.
    c.write_at(&[5u8; PAGE as usize], 0).unwrap();
    c.read_once_at(&mut buf[..PAGE as usize], 0).unwrap();
    assert_eq!(&buf[..PAGE as usize], &[5u8; PAGE as usize]);
    assert!(c.stale_pages().is_empty());
}

#[test]
fn writes_refresh_cached_pages_and_bring_none_in() {
    let c = cached(MIB, MIB);
    c.write_at(&[7u8; 2 * PAGE as usize], 0).unwrap();
    assert_eq!(c.stats().bytes_cached, 0, "a write brings no page in");
    assert_eq!(read(&c, 0, 2 * PAGE), vec![7u8; 2 * PAGE as usize]);
    assert_eq!(c.stats().bytes_cached, 2 * PAGE);
    // Over two cached pages and one that is not: the two are refreshed, the third stays out.
    c.write_at(&[8u8; 3 * PAGE as usize], 0).unwrap();
    assert_eq!(c.stats().bytes_cached, 2 * PAGE);
    let ops = c.inner().ops();
    assert_eq!(read(&c, 0, 2 * PAGE), vec![8u8; 2 * PAGE as usize]);
    assert_eq!(
        c.inner().ops(),
        ops,
        "refreshed pages are served from memory"
    );
    // A 512-byte write drops its page instead of patching it.
    c.write_at(&[9u8; 512], 512).unwrap();
    assert_eq!(c.stats().bytes_cached, PAGE);
    let got = read(&c, 0, PAGE);
    assert_eq!(&got[..512], &[8u8; 512]);
    assert_eq!(&got[512..1024], &[9u8; 512]);
    c.unmap(0, 2 * PAGE).unwrap();
    assert_eq!(c.stats().bytes_cached, 0);
    assert_eq!(read(&c, 0, 2 * PAGE), vec![0u8; 2 * PAGE as usize]);
    assert!(c.stale_pages().is_empty());
}

#[test]
fn eviction_keeps_the_cache_within_its_capacity() {
    let cap = 512 * KIB;
    let c = cached(8 * MIB, cap);
    c.inner()
        .write_at(&pattern(2, 8 * MIB as usize), 0)
        .unwrap();
    for round in 0..2 {
        for i in 0..64 {
            read(&c, i * 128 * KIB, 128 * KIB);
            assert!(c.stats().bytes_cached <= cap, "round {round}, read {i}");
        }
    }
    let s = c.stats();
    assert!(s.bytes_cached > cap / 2, "{s:?}");
    assert!(s.evictions > 0, "{s:?}");
    c.set_capacity(64 * KIB);
    assert!(c.stats().bytes_cached <= 64 * KIB);
    c.set_capacity(0);
    let s = c.stats();
    assert_eq!((s.bytes_cached, s.capacity), (0, 0));
    assert!(c.stale_pages().is_empty());
}

#[test]
fn try_read_at_serves_only_what_is_wholly_cached() {
    let c = cached(MIB, MIB);
    let data = pattern(4, 64 * KIB as usize);
    c.inner().write_at(&data, 0).unwrap();
    let mut buf = vec![0u8; 3 * PAGE as usize];
    assert!(c.try_read_at(&mut buf, 0).is_none(), "nothing cached yet");
    assert_eq!(c.stats().misses, 0, "a try that gives up counts no miss");
    read(&c, 0, 2 * PAGE);
    let ops = c.inner().ops();
    assert!(c.try_read_at(&mut buf, 0).is_none(), "page 2 is not cached");
    let mut two = vec![0u8; (2 * PAGE - 1024) as usize];
    assert!(matches!(c.try_read_at(&mut two, 512), Some(Ok(()))));
    assert_eq!(two, data[512..(2 * PAGE - 512) as usize]);
    let mut parts = vec![Bytes::from_static(b"x")];
    assert!(matches!(
        c.try_read_shared(&mut parts, 512, two.len()),
        Some(Ok(()))
    ));
    assert_eq!(parts.len(), 3, "one piece per page");
    assert!(parts[0][..] == b"x"[..] && parts[1..].concat() == two);
    assert!(c.try_read_shared(&mut parts, 0, buf.len()).is_none());
    assert_eq!(parts.len(), 3, "a refused read appends nothing");
    assert_eq!(c.inner().ops(), ops, "served from memory");
    // Writes keep what a try serves current.
    c.write_at(&[5u8; PAGE as usize], PAGE).unwrap();
    assert!(matches!(c.try_read_at(&mut two, 512), Some(Ok(()))));
    assert_eq!(two[..(PAGE - 512) as usize], data[512..PAGE as usize]);
    assert!(two[(PAGE - 512) as usize..].iter().all(|&b| b == 5));
    c.write_at(&[6u8; 512], 0).unwrap();
    assert!(
        c.try_read_at(&mut two, 512).is_none(),
        "a partial write drops the page"
    );
    c.set_capacity(0);
    assert!(
        c.try_read_at(&mut two, PAGE).is_none(),
        "off: the device's answer"
    );
}

#[test]
fn capacity_zero_passes_everything_through() {
    let c = cached(MIB, 0);
    let data = pattern(3, 64 * KIB as usize);
    c.write_at(&data, 0).unwrap();
    for _ in 0..3 {
        assert_eq!(read(&c, 0, 64 * KIB), data);
    }
    assert_eq!(c.inner().ops(), 4, "every call reached the device");
    assert_eq!(
        c.stats(),
        ReadCacheStats {
            page_size: PAGE,
            ..ReadCacheStats::default()
        }
    );
    // Turned on at run time, it caches; turned off, it empties.
    c.set_capacity(MIN_READ_CACHE_BYTES);
    read(&c, 0, 64 * KIB);
    assert_eq!(c.stats().bytes_cached, 64 * KIB);
    c.set_capacity(0);
    assert_eq!(c.stats().bytes_cached, 0);
}

#[test]
fn a_failed_write_leaves_no_page_behind() {
    let c = cached(MIB, MIB);
    c.write_at(&[1u8; 16 * PAGE as usize], 0).unwrap();
    read(&c, 0, 16 * PAGE);
    c.inner().fail(true);
    let e = c.write_at(&[2u8; 8 * PAGE as usize], 4 * PAGE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(c.unmap(0, PAGE).unwrap_err().kind(), ErrorKind::Io);
    c.inner().fail(false);
    assert!(c.stale_pages().is_empty());
    // A device that stores part of a write and then fails.
    let dev = HalfWrites {
        dev: MemDevice::new(MIB, 512),
        armed: false.into(),
    };
    let c = ReadCache::new(dev, MIB);
    c.write_at(&[1u8; 16 * PAGE as usize], 0).unwrap();
    assert_eq!(read(&c, 0, 16 * PAGE), vec![1u8; 16 * PAGE as usize]);
    c.inner().armed.store(true, Ordering::SeqCst);
    assert!(c.write_at(&[2u8; 8 * PAGE as usize], 0).is_err());
    assert!(c.stale_pages().is_empty());
    let got = read(&c, 0, 16 * PAGE);
    assert_eq!(got, read(&c.inner().dev, 0, 16 * PAGE));
    assert_eq!(got[0], 2, "the device holds half the failed write");
}

#[test]
fn read_errors_propagate_and_cache_nothing() {
    let c = cached(MIB, MIB);
    c.inner().fail_reads_only(true);
    c.inner().fail(true);
    let mut buf = vec![0u8; 8 * PAGE as usize];
    let e = c.read_at(&mut buf[..3 * KIB as usize], 512).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!((e.offset(), e.len()), (512, 3 * KIB), "the caller's range");
    assert_eq!(c.stats().bytes_cached, 0);
    c.inner().fail(false);
    // Bad ranges get the device's own errors even when the pages are cached.
    read(&c, 0, PAGE);
    let e = c.read_at(&mut buf[..100], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    let e = c.read_at(&mut buf[..PAGE as usize], MIB - 512).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    let e = c
        .write_at(&buf[..PAGE as usize], u64::MAX - 511)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert_eq!(c.unmap(1, 512).unwrap_err().kind(), ErrorKind::Misaligned);
}

#[test]
fn other_methods_are_forwarded() {
    let c = ReadCache::new(LowSpace(MemDevice::new(MIB + 1536, 512)), MIB);
    assert_eq!((c.block_size(), c.size()), (512, MIB + 1536));
    assert!(c.space_low());
    c.flush().unwrap();
    c.flush().unwrap();
    assert_eq!(c.inner().0.flushes(), 2);
    c.write_at(&[5u8; 4096], 64 * KIB).unwrap();
    assert_eq!(
        c.allocation(0, 128 * KIB).unwrap(),
        c.inner().0.allocation(0, 128 * KIB).unwrap()
    );
    assert_eq!(
        c.allocation(64 * KIB, 64 * KIB).unwrap()[0].status,
        Allocation::Mapped
    );
    // The partial page at the end of the device is read but never cached (and the write
    // above brought no page in).
    let tail = read(&c, MIB - PAGE, PAGE + 1536);
    assert_eq!(tail.len() as u64, PAGE + 1536);
    assert_eq!(c.stats().bytes_cached, PAGE);
}

#[test]
fn large_blocks_make_large_pages() {
    let c = ReadCache::new(MemDevice::new(MIB, 8192), MIB);
    assert_eq!(c.page_size(), 8192);
    c.write_at(&[3u8; 8192], 8192).unwrap();
    assert_eq!(read(&c, 8192, 8192), vec![3u8; 8192]);
    assert_eq!(read(&c, 8192, 8192), vec![3u8; 8192]);
    assert_eq!((c.stats().misses, c.stats().hits), (1, 1));
    assert_eq!(c.stats().bytes_cached, 8192);
}

/// A read that fetched a page before a write and inserts it after must not: the
/// generation moved.
#[test]
fn a_read_overtaken_by_a_write_does_not_insert_the_old_page() {
    let c = Arc::new(ReadCache::new(Gated::new(MIB), MIB));
    c.write_at(&[1u8; PAGE as usize], 0).unwrap();
    c.invalidate_all();
    let go = c.inner().arm(Op::Read);
    let reader = {
        let c = c.clone();
        std::thread::spawn(move || read(&*c, 0, PAGE))
    };
    c.inner().wait_paused();
    c.write_at(&[2u8; PAGE as usize], 0).unwrap();
    go.send(()).unwrap();
    assert_eq!(reader.join().unwrap(), vec![1u8; PAGE as usize]);
    assert!(c.stale_pages().is_empty());
    assert_eq!(read(&*c, 0, PAGE), vec![2u8; PAGE as usize]);
}

/// A read while a write is under way reads either content but caches none.
#[test]
fn a_read_during_a_write_does_not_insert() {
    let c = Arc::new(ReadCache::new(Gated::new(MIB), MIB));
    c.write_at(&[1u8; PAGE as usize], 0).unwrap();
    let go = c.inner().arm(Op::Write);
    let writer = {
        let c = c.clone();
        std::thread::spawn(move || c.write_at(&[2u8; 512], 0))
    };
    c.inner().wait_paused();
    assert_eq!(read(&*c, 0, PAGE), vec![1u8; PAGE as usize]);
    go.send(()).unwrap();
    writer.join().unwrap().unwrap();
    assert!(c.stale_pages().is_empty());
    assert_eq!(read(&*c, 0, 512), vec![2u8; 512]);
}

/// Turning the cache on while a write that began with it off is under way waits for that
/// write; reads meanwhile cache nothing, and no stale page is left.
#[test]
fn turning_the_cache_on_during_a_write_leaves_no_stale_page() {
    let c = Arc::new(ReadCache::new(Gated::new(MIB), 0));
    c.write_at(&[1u8; PAGE as usize], 0).unwrap();
    let go = c.inner().arm(Op::Write);
    let writer = {
        let c = c.clone();
        std::thread::spawn(move || c.write_at(&[2u8; PAGE as usize], 0))
    };
    c.inner().wait_paused();
    let turn_on = {
        let c = c.clone();
        std::thread::spawn(move || c.set_capacity(MIB))
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!turn_on.is_finished(), "it waits for the write under way");
    assert_eq!(read(&*c, 0, PAGE), vec![1u8; PAGE as usize]);
    assert_eq!(c.stats().bytes_cached, 0);
    go.send(()).unwrap();
    writer.join().unwrap().unwrap();
    turn_on.join().unwrap();
    assert_eq!(c.stats().capacity, MIB);
    assert!(c.stale_pages().is_empty());
    assert_eq!(read(&*c, 0, PAGE), vec![2u8; PAGE as usize]);
}

/// Rounds of a few threads writing distinct patterns over overlapping ranges of a small
/// region while others read, one sometimes resizing the cache (through 0, so the
/// pass-through path races too). Every 512-byte block a reader sees must be whole (one
/// write's), and after each round every cached page must equal the device. Rounds are
/// short so that a race near the end of one is not hidden by later writes.
#[test]
fn concurrent_writers_and_readers_leave_no_stale_page() {
    const SPAN: u64 = 16 * PAGE / 512;
    let c = Arc::new(ReadCache::new(Jittery(MemDevice::new(MIB, 512)), MIB));
    let range = |rng: &mut rand::rngs::StdRng| {
        let blk = rng.gen_range(0..SPAN);
        let n = rng.gen_range(1..=24).min(SPAN - blk);
        (blk * 512, n * 512)
    };
    for round in 0..300u64 {
        let resize = round % 3 == 0;
        std::thread::scope(|s| {
            for w in 0..2u64 {
                let c = c.clone();
                s.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(round * 8 + w);
                    for i in 0..20u64 {
                        let (off, len) = range(&mut rng);
                        if i % 7 == 6 {
                            c.unmap(off, len).unwrap();
                        } else {
                            let byte = (w * 100 + i + 1) as u8;
                            c.write_at(&vec![byte; len as usize], off).unwrap();
                        }
                    }
                });
            }
            for r in 2..4u64 {
                let c = c.clone();
                s.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(round * 8 + r);
                    for _ in 0..30 {
                        let (off, len) = range(&mut rng);
                        let got = read(&*c, off, len);
                        for sector in got.chunks(512) {
                            assert!(sector.iter().all(|&b| b == sector[0]), "torn sector");
                        }
                    }
                });
            }
            if resize {
                let c = c.clone();
                s.spawn(move || {
                    for cap in [0, MIB, 0, 8 * PAGE, MIB] {
                        c.set_capacity(cap);
                        std::thread::yield_now();
                    }
                });
            }
        });
        let stale = c.stale_pages();
        assert!(stale.is_empty(), "round {round}: stale pages {stale:?}");
    }
    assert!(c.stats().hits > 0);
    assert!(read(&*c, 0, MIB) == read(&c.inner().0, 0, MIB));
}

#[derive(Debug, Clone)]
enum CacheOp {
    Read(u64, u64),
    Write(u64, u64, u64),
    Unmap(u64, u64),
}

fn cache_op() -> impl Strategy<Value = CacheOp> {
    // Offsets and lengths in 512-byte blocks of a 64-page device with a partial last page.
    prop_oneof![
        4 => (0..515u64, 1..40u64).prop_map(|(b, n)| CacheOp::Read(b, n)),
        3 => (0..515u64, 1..40u64, any::<u64>()).prop_map(|(b, n, s)| CacheOp::Write(b, n, s)),
        1 => (0..515u64, 1..40u64).prop_map(|(b, n)| CacheOp::Unmap(b, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Whatever the capacity, reads through the cache equal reads of the device, and the
    /// device equals a plain model.
    #[test]
    fn reads_equal_the_device(
        capacity_pages in prop_oneof![Just(0u64), 1..48u64, Just(512u64)],
        ops in proptest::collection::vec(cache_op(), 1..60),
    ) {
        let size = 64 * PAGE + 1536;
        let c = cached(size, capacity_pages * PAGE);
        let mut model = vec![0u8; size as usize];
        let mut held: Vec<(Vec<Bytes>, Vec<u8>)> = Vec::new();
        for op in ops {
            let clip = |b: u64, n: u64| {
                let off = (b * 512).min(size - 512);
                (off, (n * 512).min(size - off))
            };
            match op {
                CacheOp::Read(b, n) => {
                    let (off, len) = clip(b, n);
                    let want = &model[off as usize..(off + len) as usize];
                    let mut hot = vec![0u8; len as usize];
                    if let Some(r) = c.try_read_at(&mut hot, off) {
                        prop_assert!(r.is_ok() && hot[..] == want[..]);
                    }
                    let mut parts = Vec::new();
                    match c.try_read_shared(&mut parts, off, len as usize) {
                        Some(r) => {
                            prop_assert!(r.is_ok() && parts.concat()[..] == want[..]);
                            // Kept while later writes change the pages it came from.
                            held.push((parts, want.to_vec()));
                        }
                        None => prop_assert!(parts.is_empty()),
                    }
                    let got = read(&c, off, len);
                    prop_assert!(got == read(c.inner(), off, len));
                    prop_assert!(got[..] == want[..]);
                }
                CacheOp::Write(b, n, seed) => {
                    let (off, len) = clip(b, n);
                    let data = pattern(seed, len as usize);
                    c.write_at(&data, off).unwrap();
                    model[off as usize..(off + len) as usize].copy_from_slice(&data);
                }
                CacheOp::Unmap(b, n) => {
                    let (off, len) = clip(b, n);
                    c.unmap(off, len).unwrap();
                    model[off as usize..(off + len) as usize].fill(0);
                }
            }
            prop_assert!(c.stats().bytes_cached <= capacity_pages * PAGE);
            for (parts, was) in &held {
                prop_assert!(parts.concat() == *was, "a shared read changed after the fact");
            }
        }
        prop_assert!(c.stale_pages().is_empty());
        prop_assert!(read(&c, 0, size) == model);
    }
}

/// Yields around every operation, to widen the windows between the cache's steps.
#[derive(Debug)]
struct Jittery(MemDevice);

impl BlockDevice for Jittery {
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        std::thread::yield_now();
        let r = self.0.read_at(buf, offset);
        std::thread::yield_now();
        r
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        std::thread::yield_now();
        let r = self.0.write_at(buf, offset);
        std::thread::yield_now();
        r
    }
    fn flush(&self) -> Result<()> {
        self.0.flush()
    }
    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        std::thread::yield_now();
        let r = self.0.unmap(offset, len);
        std::thread::yield_now();
        r
    }
}

/// Pauses one armed operation (a read after reading, a write before writing) until told
/// to go on, so tests can order steps of concurrent calls exactly.
#[derive(Debug)]
struct Gated {
    dev: MemDevice,
    armed: parking_lot::Mutex<Option<(Op, std::sync::mpsc::Receiver<()>)>>,
    paused: (
        std::sync::mpsc::SyncSender<()>,
        parking_lot::Mutex<std::sync::mpsc::Receiver<()>>,
    ),
}

impl Gated {
    fn new(size: u64) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        Gated {
            dev: MemDevice::new(size, 512),
            armed: parking_lot::Mutex::new(None),
            paused: (tx, parking_lot::Mutex::new(rx)),
        }
    }

    /// Arms the next `op`; sending on the returned channel lets it go on.
    fn arm(&self, op: Op) -> std::sync::mpsc::Sender<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        *self.armed.lock() = Some((op, rx));
        tx
    }

    /// Waits until the armed operation has paused.
    fn wait_paused(&self) {
        self.paused.1.lock().recv().unwrap();
    }

    fn pause(&self, op: Op) {
        let gate = {
            let mut armed = self.armed.lock();
            match armed.take() {
                Some((o, rx)) if o == op => Some(rx),
                other => {
                    *armed = other;
                    None
                }
            }
        };
        if let Some(go) = gate {
            self.paused.0.send(()).unwrap();
            go.recv().unwrap();
        }
    }
}

impl BlockDevice for Gated {
    fn block_size(&self) -> u32 {
        self.dev.block_size()
    }
    fn size(&self) -> u64 {
        self.dev.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let r = self.dev.read_at(buf, offset);
        self.pause(Op::Read);
        r
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.pause(Op::Write);
        self.dev.write_at(buf, offset)
    }
    fn flush(&self) -> Result<()> {
        self.dev.flush()
    }
}

/// Once armed, stores the first half of every write and then reports an I/O error.
#[derive(Debug)]
struct HalfWrites {
    dev: MemDevice,
    armed: std::sync::atomic::AtomicBool,
}

impl BlockDevice for HalfWrites {
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
        if !self.armed.load(Ordering::SeqCst) {
            return self.dev.write_at(buf, offset);
        }
        let half = buf.len() / 2;
        self.dev.write_at(&buf[..half], offset)?;
        Err(BlockError::io(
            Op::Write,
            offset,
            buf.len() as u64,
            std::io::Error::other("half written"),
        ))
    }
    fn flush(&self) -> Result<()> {
        self.dev.flush()
    }
}

/// Reports low space, to see that the cache says so too.
#[derive(Debug)]
struct LowSpace(MemDevice);

impl BlockDevice for LowSpace {
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.0.write_at(buf, offset)
    }
    fn flush(&self) -> Result<()> {
        self.0.flush()
    }
    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        self.0.allocation(offset, len)
    }
    fn space_low(&self) -> bool {
        true
    }
}

/// A device that takes writes without waiting while `open` is set.
#[derive(Debug)]
struct NoWait {
    inner: MemDevice,
    open: std::sync::atomic::AtomicBool,
}

impl BlockDevice for NoWait {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
        self.open
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| self.inner.write_at(buf, offset))
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_declined_write_leaves_the_cache_as_it_was_and_a_taken_one_refreshes_it() {
    let c = ReadCache::new(
        NoWait {
            inner: MemDevice::new(MIB, 512),
            open: false.into(),
        },
        MIN_READ_CACHE_BYTES,
    );
    let data = pattern(3, 4 * PAGE as usize);
    c.write_at(&data, 0).unwrap();
    assert_eq!(read(&c, 0, 4 * PAGE), data);
    let cached = c.stats().bytes_cached;
    assert_eq!(cached, 4 * PAGE);
    assert!(c.try_write_at(&[9u8; 4096], PAGE).is_none());
    assert_eq!(c.stats().bytes_cached, cached, "declined: nothing dropped");
    let hits = c.stats().hits;
    assert_eq!(read(&c, 0, 4 * PAGE), data);
    assert_eq!(c.stats().hits, hits + 4);
    c.inner()
        .open
        .store(true, std::sync::atomic::Ordering::SeqCst);
    c.try_write_at(&[9u8; 4096], PAGE).expect("taken").unwrap();
    assert_eq!(read(&c, PAGE, PAGE), vec![9u8; 4096]);
    assert_eq!(c.stats().bytes_cached, cached, "refreshed in place");
    assert!(c.stale_pages().is_empty());
}
