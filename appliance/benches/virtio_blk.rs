//! Guest disk throughput on the bundled VMM against the host reading the same pool
//! volume in-process, in one run: a thin volume on a RAID 5 pool of four file members,
//! filled first; the host reads it through `BlockDevice::read_at` on one thread, the
//! guest through its virtio-blk driver (`vsa_e2e::asm::BLK_BENCH_GUEST`, polling, 32
//! requests in flight, 8 for 1 MiB ones), served by the vhost-user-blk export the daemon
//! uses, whose one queue is one thread too. The guest's times come from its console
//! lines, stamped as they arrive.
//!
//! Run: `cargo bench -p vsa-appliance --bench virtio_blk` (`VSA_BENCH_DIR` chooses the
//! filesystem; needs /dev/kvm, gcc and binutils).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed step ends it

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vsa_blockdev::BlockDevice;
use vsa_e2e::asm::{c_guest, BLK_BENCH_GUEST};
use vsa_pool::raid::RaidLevel;
use vsa_pool::{MetaStore, Pool, PoolSpec};
use vsa_vmm::blk::Disk;
use vsa_vmm::kvm::{run, VmConfig};
use vsa_vmm::vhost_user::Export;

const MIB: u64 = 1 << 20;
const VOLUME: u64 = 512 * MIB;
const RAND_OPS: u64 = 20_000;
/// The guest's random reads (as many).
const GUEST_RAND_OPS: u64 = RAND_OPS;

/// The line being written, and the lines written with when each ended.
type Lines = (Vec<u8>, Vec<(String, Instant)>);

/// A console that notes when each line ends.
#[derive(Clone, Default)]
struct TimedConsole(Arc<Mutex<Lines>>);

impl Write for TimedConsole {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let now = Instant::now();
        let mut g = self.0.lock().unwrap();
        for &b in buf {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&g.0).into_owned();
                g.1.push((line, now));
                g.0.clear();
            } else {
                g.0.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl TimedConsole {
    /// The time from the line starting with `start` to the one starting with `done`
    /// (which must report no errors).
    fn between(&self, start: &str, done: &str) -> Duration {
        let g = self.0.lock().unwrap();
        let line = |p: &str| {
            g.1.iter()
                .find(|(l, _)| l.starts_with(p))
                .unwrap_or_else(|| panic!("no {p:?} line in {:?}", g.1))
        };
        let end = line(done);
        assert!(end.0.ends_with("errors 0"), "{}", end.0);
        end.1 - line(start).1
    }
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn host(vol: &dyn BlockDevice) -> (Duration, Duration) {
    let mut big = vec![0u8; MIB as usize];
    let start = Instant::now();
    for off in (0..VOLUME).step_by(MIB as usize) {
        vol.read_at(&mut big, off).unwrap();
    }
    let seq = start.elapsed();
    let mut small = vec![0u8; 4096];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let start = Instant::now();
    for _ in 0..RAND_OPS {
        vol.read_at(&mut small, (xorshift(&mut x) % (VOLUME / 4096)) * 4096)
            .unwrap();
    }
    (seq, start.elapsed())
}

fn guest(vol: Arc<dyn BlockDevice>, work: &std::path::Path) -> (Duration, Duration) {
    let disk = Disk {
        device: vol,
        read_only: true,
        id: "bench".into(),
    };
    let export = Export::start(disk, &work.join("bench.sock"), 1).unwrap();
    let elf = c_guest(work, "blk-bench", BLK_BENCH_GUEST);
    let console = TimedConsole::default();
    let config = VmConfig {
        memory: 64 << 20,
        vcpus: 1,
        kernel: elf,
        initrd: None,
        cmdline: String::new(),
        disks: vec![export.socket().to_owned()],
        nets: vec![],
        confine: false,
    };
    run(&config, Box::new(console.clone())).unwrap();
    export.stop();
    (
        console.between("seq start", "seq done"),
        console.between("rand start", "rand done"),
    )
}

fn main() {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        println!("NOT RUN: /dev/kvm cannot be opened here");
        return;
    }
    let root = std::env::var_os("VSA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(root).unwrap();
    let store = Arc::new(MetaStore::open(&dir.path().join("db"), &[]).unwrap());
    let members = (0..4).map(|i| dir.path().join(format!("m{i}"))).collect();
    let mut spec = PoolSpec::new("bench", RaidLevel::Raid5, members);
    spec.create_size = Some(VOLUME / 2);
    let pool = Pool::create(store, &spec).unwrap();
    pool.volumes().create("vm", VOLUME, false).unwrap();
    let vol: Arc<dyn BlockDevice> = Arc::new(pool.volumes().volume("vm").unwrap());
    let mut x = 1u64;
    let chunk: Vec<u8> = (0..MIB).map(|_| xorshift(&mut x) as u8).collect();
    for off in (0..VOLUME).step_by(MIB as usize) {
        vol.write_at(&chunk, off).unwrap();
    }
    vol.flush().unwrap();

    // Each side twice, alternating, the better of each kept: the first pass warms caches.
    let mut h = (Duration::MAX, Duration::MAX);
    let mut g = (Duration::MAX, Duration::MAX);
    for _ in 0..2 {
        let (s, r) = host(&*vol);
        h = (h.0.min(s), h.1.min(r));
        let (s, r) = guest(vol.clone(), dir.path());
        g = (g.0.min(s), g.1.min(r));
    }
    let mbs = |d: Duration| VOLUME as f64 / MIB as f64 / d.as_secs_f64();
    let iops = |ops: u64, d: Duration| ops as f64 / d.as_secs_f64();
    println!(
        "\nvirtio-blk in a guest of the bundled VMM vs the host in-process, one request at a time,"
    );
    println!("a 512 MiB thin volume on RAID 5 over four file members\n");
    println!("| load | host in-process | guest (virtio-blk over vhost-user) | guest / host |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| seq read 1 MiB | {:.0} MiB/s | {:.0} MiB/s | {:.0}% |",
        mbs(h.0),
        mbs(g.0),
        100.0 * mbs(g.0) / mbs(h.0)
    );
    println!(
        "| rand read 4 KiB | {:.0} IOPS | {:.0} IOPS | {:.0}% |",
        iops(RAND_OPS, h.1),
        iops(GUEST_RAND_OPS, g.1),
        100.0 * iops(GUEST_RAND_OPS, g.1) / iops(RAND_OPS, h.1)
    );
}
