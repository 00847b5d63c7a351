//! Pool benchmark: prints a table comparing I/O through thin volumes on RAID 0/5/6 of four
//! file members with the same I/O issued straight to the four member files in parallel,
//! in the same run, plus parity throughput, snapshot time and rebuild rate.
//!
//! Run: `cargo bench -p vsa-pool --bench pool` (set `VSA_BENCH_DIR` to choose the
//! filesystem; default: a temporary directory under the build directory). The pools' read
//! cache is off, so reads reach the members as the raw ones do; `VSA_BENCH_READ_CACHE_MIB`
//! gives it a capacity (reads of pages read before are then served from RAM);
//! `VSA_BENCH_ONLY=r0t,r5t,r5tn,r5tl,r6t,r5k` (any of them; `r5tn` is RAID 5 thin without
//! its write journal, `r5tl` with the journal's log on a device of its own: a file in
//! `VSA_BENCH_LOG_DIR`, default `/dev/shm`, standing in for an NVMe or NVRAM log device)
//! runs the raw column and those only, and
//! `VSA_BENCH_LOADS=rewrite,stripes,read,randwrite,randwrite32,randread` (any of them) those loads
//! after the first write; either skips the parity, snapshot and rebuild figures.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step ends it

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_blockdev::BlockDevice;
use vsa_pool::member::Member;
use vsa_pool::raid::{gf256, RaidLevel};
use vsa_pool::{MetaStore, Pool, PoolSpec, Progress};

const MIB: u64 = 1 << 20;
const MEMBER: u64 = 1024 * MIB;
const SEQ_BYTES: u64 = 512 * MIB;
const RAND_OPS: u64 = 20_000;
const THREADS: u64 = 4;
/// Writers of the queue-depth-32 load, and their writes in all (240 MB: past half of the
/// write journal's 256 MiB, where writing home starts, so the rate includes it).
const DEEP: u64 = 32;
const DEEP_OPS: u64 = 60_000;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Runs `threads` threads; thread `t` calls `f(t)`; returns the elapsed time.
fn parallel(threads: u64, f: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let f = &f;
            s.spawn(move || f(t));
        }
    });
    start.elapsed()
}

#[derive(Clone, Copy)]
enum Load {
    SeqWrite,
    SeqRewrite,
    /// 3 MiB: 16 RAID 5 stripes (3 × 64 KiB) or 24 RAID 6 stripes (2 × 64 KiB).
    SeqStripes,
    SeqRead,
    RandWrite,
    /// 4 KiB random writes from 32 threads at once (queue depth 32).
    RandWriteDeep,
    RandRead,
}

impl Load {
    /// The name `VSA_BENCH_LOADS` knows it by.
    fn short(self) -> &'static str {
        match self {
            Load::SeqWrite => "write",
            Load::SeqRewrite => "rewrite",
            Load::SeqStripes => "stripes",
            Load::SeqRead => "read",
            Load::RandWrite => "randwrite",
            Load::RandWriteDeep => "randwrite32",
            Load::RandRead => "randread",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Load::SeqWrite => "seq write 1 MiB, first (allocating)",
            Load::SeqRewrite => "seq write 1 MiB, again",
            Load::SeqStripes => "seq write 3 MiB (full stripes), again",
            Load::SeqRead => "seq read 1 MiB",
            Load::RandWrite => "rand write 4 KiB",
            Load::RandWriteDeep => "rand write 4 KiB, queue depth 32",
            Load::RandRead => "rand read 4 KiB",
        }
    }
}

/// MB/s for sequential loads, IOPS for random ones. `devs` holds one device per thread
/// (the raw case) or the same device for every thread (the volume case: each thread works
/// in its own quarter).
fn run(load: Load, devs: &[Arc<dyn BlockDevice>], shared: bool) -> f64 {
    let span = |d: &Arc<dyn BlockDevice>| if shared { d.size() / THREADS } else { d.size() };
    match load {
        Load::SeqWrite | Load::SeqRewrite | Load::SeqStripes | Load::SeqRead => {
            let io = if matches!(load, Load::SeqStripes) {
                3 * MIB
            } else {
                MIB
            };
            let per = SEQ_BYTES / THREADS;
            let took = parallel(THREADS, |t| {
                let d = &devs[t as usize % devs.len()];
                let base = if shared { t * span(d) } else { 0 };
                let mut buf = vec![(t as u8).wrapping_add(1); io as usize];
                for i in 0..per / io {
                    let off = base + (i * io) % (span(d) / io * io);
                    match load {
                        Load::SeqWrite | Load::SeqRewrite | Load::SeqStripes => {
                            d.write_at(&buf, off).unwrap()
                        }
                        _ => d.read_at(&mut buf, off).unwrap(),
                    }
                }
            });
            SEQ_BYTES as f64 / took.as_secs_f64() / 1e6
        }
        Load::RandWrite | Load::RandWriteDeep | Load::RandRead => {
            let (threads, ops) = match load {
                Load::RandWriteDeep => (DEEP, DEEP_OPS),
                _ => (THREADS, RAND_OPS),
            };
            let per = ops / threads;
            let took = parallel(threads, |t| {
                let d = &devs[t as usize % devs.len()];
                // Thread t works in quarter t % 4 (the raw case: on member t % 4).
                let (tid, t) = (t, t % THREADS);
                let base = if shared { t * span(d) } else { 0 };
                // Stay inside the region the sequential pass wrote.
                let blocks = (SEQ_BYTES / THREADS).min(span(d)) / 4096;
                let mut x = 0x1234_5678 + tid;
                let mut buf = vec![7u8; 4096];
                for _ in 0..per {
                    let off = base + (xorshift(&mut x) % blocks) * 4096;
                    match load {
                        Load::RandRead => d.read_at(&mut buf, off).unwrap(),
                        _ => d.write_at(&buf, off).unwrap(),
                    }
                }
            });
            ops as f64 / took.as_secs_f64()
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<MetaStore>,
}

fn setup(root: &Path) -> Setup {
    let dir = tempfile::tempdir_in(root).unwrap();
    let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
    Setup { _dir: dir, store }
}

/// Where the `r5tl` pool's log device goes.
fn log_dir() -> PathBuf {
    std::env::var_os("VSA_BENCH_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"))
}

fn make_pool(s: &Setup, level: RaidLevel, name: &str, journal: bool, log: Option<PathBuf>) -> Pool {
    let members: Vec<PathBuf> = (0..4)
        .map(|i| s._dir.path().join(format!("{name}{i}")))
        .collect();
    let mut spec = PoolSpec::new(name, level, members);
    spec.create_size = Some(MEMBER);
    if !journal {
        spec.journal_bytes = 0;
    }
    spec.log = log;
    let pool = Pool::create(s.store.clone(), &spec).unwrap();
    let mib: u64 = std::env::var("VSA_BENCH_READ_CACHE_MIB").map_or(0, |v| {
        v.parse()
            .expect("VSA_BENCH_READ_CACHE_MIB must be a number of MiB")
    });
    pool.set_read_cache_bytes(mib * MIB);
    pool
}

fn raw_members(root: &Path) -> (tempfile::TempDir, Vec<Arc<dyn BlockDevice>>) {
    let dir = tempfile::tempdir_in(root).unwrap();
    let devs = (0..4)
        .map(|i| {
            let m = Member::create_file(
                &dir.path().join(format!("raw{i}")),
                MEMBER,
                ([1; 16], [i; 16]),
            )
            .unwrap();
            Arc::new(m) as Arc<dyn BlockDevice>
        })
        .collect();
    (dir, devs)
}

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn parity_rates() -> (f64, f64, f64) {
    let cols = 4;
    let len = 1 << 20;
    let data: Vec<Vec<u8>> = (0..cols).map(|i| vec![i as u8 + 1; len]).collect();
    let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
    let mut p = vec![0u8; len];
    let mut q = vec![0u8; len];
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        p.fill(0);
        for d in &refs {
            gf256::xor_into(&mut p, d);
        }
    }
    let xor = (rounds * cols * len) as f64 / start.elapsed().as_secs_f64() / 1e9;
    let start = Instant::now();
    for _ in 0..rounds {
        gf256::gen_pq(&refs, &mut p, &mut q);
    }
    let pq = (rounds * cols * len) as f64 / start.elapsed().as_secs_f64() / 1e9;
    let mut dst = vec![0u8; len];
    let start = Instant::now();
    for _ in 0..rounds * cols {
        dst.copy_from_slice(&data[0]);
        std::hint::black_box(&dst);
    }
    let copy = (rounds * cols * len) as f64 / start.elapsed().as_secs_f64() / 1e9;
    (xor, pq, copy)
}

fn main() {
    let root = std::env::var_os("VSA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build"));
    std::fs::create_dir_all(&root).unwrap();
    // VSA_BENCH_LOADS=read,randread (say) runs those loads after the first write, which
    // always runs since it puts down the data the others use.
    let wanted = std::env::var("VSA_BENCH_LOADS").ok();
    let loads: Vec<Load> = [
        Load::SeqWrite,
        Load::SeqRewrite,
        Load::SeqStripes,
        Load::SeqRead,
        Load::RandWrite,
        Load::RandWriteDeep,
        Load::RandRead,
    ]
    .into_iter()
    .filter(|l| {
        matches!(l, Load::SeqWrite)
            || wanted
                .as_ref()
                .is_none_or(|w| w.split(',').any(|x| x == l.short()))
    })
    .collect();

    // Every device first, then each load on every device in turn, so a change in the
    // machine's load (these machines are shared) hits all columns alike. Loads after the
    // first (allocating) pass run five rounds; each round sets every column against the raw
    // one measured just before it, and a cell shows the median over rounds of the rate and
    // of that ratio (one lucky or unlucky round moves neither).
    let (_raw_dir, raw) = raw_members(&root);
    let s = setup(&root);
    let mut devices: Vec<(Vec<Arc<dyn BlockDevice>>, bool)> = vec![(raw, false)];
    let mut pools = Vec::new();
    // VSA_BENCH_ONLY=r0t,r5k (say) keeps the raw column and the named ones, for a quick look.
    let only = std::env::var("VSA_BENCH_ONLY").ok();
    let mut header = String::from("| load | raw 4 files in parallel |");
    // (level, thick, write journal, log device): RAID 5 thin also without its journal, the
    // path every write took before there was one, and with its log on a device of its own.
    let log_dir = tempfile::tempdir_in(log_dir()).unwrap();
    for (level, thick, journal, log) in [
        (RaidLevel::Raid0, false, true, false),
        (RaidLevel::Raid5, false, true, false),
        (RaidLevel::Raid5, false, false, false),
        (RaidLevel::Raid5, false, true, true),
        (RaidLevel::Raid6, false, true, false),
        (RaidLevel::Raid5, true, true, false),
    ] {
        let name = format!(
            "{}{}{}{}",
            level.to_string().replace("raid", "r"),
            if thick { "k" } else { "t" },
            if journal { "" } else { "n" },
            if log { "l" } else { "" }
        );
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|c| c == name))
        {
            continue;
        }
        header += &format!(
            " {} {}{} |",
            level.to_string().to_uppercase().replace("RAID", "RAID "),
            if thick { "thick" } else { "thin" },
            match (journal, log) {
                (false, _) => ", no journal",
                (true, true) => ", log device",
                (true, false) => "",
            }
        );
        let log = log.then(|| log_dir.path().join(format!("{name}.log")));
        let pool = make_pool(&s, level, &name, journal, log);
        let size = (pool.volumes().space().capacity / 2) / MIB * MIB;
        let vol = format!("v-{name}");
        pool.volumes().create(&vol, size, thick).unwrap();
        let v: Arc<dyn BlockDevice> = Arc::new(pool.volumes().volume(&vol).unwrap());
        devices.push((vec![v], true));
        pools.push(pool);
    }
    // table[load][device] = (median rate, median ratio to raw).
    let mut table = vec![vec![(0f64, 0f64); devices.len()]; loads.len()];
    for (i, &load) in loads.iter().enumerate() {
        let rounds = if matches!(load, Load::SeqWrite) { 1 } else { 5 };
        eprintln!("measuring {}", load.name());
        let mut rates = vec![Vec::new(); devices.len()];
        let mut ratios = vec![Vec::new(); devices.len()];
        for _ in 0..rounds {
            let mut raw_rate = 0.0;
            for (d, (devs, shared)) in devices.iter().enumerate() {
                let rate = run(load, devs, *shared);
                if d == 0 {
                    raw_rate = rate;
                }
                rates[d].push(rate);
                ratios[d].push(rate / raw_rate);
            }
        }
        for d in 0..devices.len() {
            table[i][d] = (median(&mut rates[d]), median(&mut ratios[d]));
        }
    }
    drop(devices);
    drop(pools);
    println!("{header}");
    println!("|{}", " --- |".repeat(table[0].len() + 1));
    for (i, l) in loads.iter().enumerate() {
        let unit = match l {
            Load::RandWrite | Load::RandWriteDeep | Load::RandRead => "IOPS",
            _ => "MB/s",
        };
        let mut row = format!("| {} | {:.0} {unit} |", l.name(), table[i][0].0);
        for &(rate, ratio) in &table[i][1..] {
            row += &format!(" {rate:.0} ({:.0}%) |", 100.0 * ratio);
        }
        println!("{row}");
    }
    println!();
    println!("Targets: RAID 0 ≥ 90% of raw; RAID 5/6 reads ≥ 85%; RAID 5/6 full-stripe sequential writes ≥ 70% of raw × 3/4 (RAID 5) or × 2/4 (RAID 6); thin ≥ 90% of thick.");

    if only.is_some() || wanted.is_some() {
        return; // a quick look: the table only
    }
    let (xor, pq, copy) = parity_rates();
    println!();
    println!("| parity, one core | GB/s of data |");
    println!("| --- | --- |");
    println!("| XOR (P) | {xor:.2} |");
    println!("| P + Q (RAID 6) | {pq:.2} |");
    println!("| memcpy (memory bandwidth reference) | {copy:.2} |");

    // Snapshot creation time for a 1 GiB volume with data and a sparse 1 TiB volume.
    let pool = make_pool(&s, RaidLevel::Raid5, "snap", true, None);
    pool.volumes().create("g", 1024 * MIB, false).unwrap();
    let g = pool.volumes().volume("g").unwrap();
    let buf = vec![3u8; MIB as usize];
    for i in 0..256 {
        g.write_at(&buf, i * 4 * MIB).unwrap();
    }
    pool.volumes().create("t", 1 << 40, false).unwrap();
    let t = pool.volumes().volume("t").unwrap();
    for i in 0..256u64 {
        t.write_at(&buf, i * (1 << 32)).unwrap();
    }
    let time = |vol: &str, snap: &str| {
        let start = Instant::now();
        pool.volumes().snapshot(vol, snap).unwrap();
        start.elapsed().as_secs_f64() * 1e3
    };
    let (g_ms, t_ms) = (time("g", "s"), time("t", "s"));
    println!();
    println!("| snapshot creation | ms |");
    println!("| --- | --- |");
    println!("| 1 GiB volume, 256 MiB written | {g_ms:.2} |");
    println!("| 1 TiB sparse volume, 256 MiB written | {t_ms:.2} |");

    // Rebuild rate of a 4-member RAID 5 (half full).
    let pool = make_pool(&s, RaidLevel::Raid5, "rb", true, None);
    let size = pool.volumes().space().capacity / 2 / MIB * MIB;
    pool.volumes().create("rb", size, false).unwrap();
    let v = pool.volumes().volume("rb").unwrap();
    for i in 0..size / MIB {
        v.write_at(&buf, i * MIB).unwrap();
    }
    pool.raid().fail_member(1).unwrap();
    let spare = s._dir.path().join("rb-spare");
    pool.raid()
        .replace_member(
            1,
            vsa_pool::raid::RaidMember {
                name: "spare".into(),
                dev: Arc::new(Member::create_file(&spare, MEMBER, ([2; 16], [9; 16])).unwrap()),
            },
        )
        .unwrap();
    let progress = Progress::default();
    let start = Instant::now();
    pool.raid().rebuild(&progress, 0).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let r = progress.snapshot();
    println!();
    println!("| rebuild, 4-member RAID 5 | |");
    println!("| --- | --- |");
    println!("| member bytes rebuilt | {} MiB |", r.total / MIB);
    println!("| rate | {:.0} MB/s |", r.total as f64 / secs / 1e6);
}
