//! Requests built in guest memory the way a driver lays them out, executed on an
//! in-memory device.

use super::*;
use proptest::prelude::*;
use std::sync::Arc;
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use vm_memory::{Bytes as _, GuestAddress, GuestMemoryMmap};
use vsa_blockdev::testing::MemDevice;
use vsa_blockdev::BlockDevice;

const MEM: u64 = 1 << 20;
const HDR: u64 = 0x4_0000;
const DATA: u64 = 0x5_0000;
const STATUS: u64 = 0x8_0000;
const WRITE: u16 = 2; // VRING_DESC_F_WRITE

struct Guest {
    mem: GuestMemoryMmap,
    disk: Disk,
}

impl Guest {
    fn new(read_only: bool) -> Guest {
        Guest {
            mem: GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap(),
            disk: Disk {
                device: Arc::new(MemDevice::new(1 << 20, 4096)),
                read_only,
                id: "vol-0123456789abcdef-and-more".into(),
            },
        }
    }

    /// Runs a chain of (address, length, device-writable) descriptors.
    fn run(&self, descs: &[(u64, u32, bool)]) -> Outcome {
        let queue = MockSplitQueue::new(&self.mem, 16);
        let raw: Vec<RawDescriptor> = descs
            .iter()
            .map(|&(a, l, w)| {
                RawDescriptor::from(SplitDescriptor::new(a, l, if w { WRITE } else { 0 }, 0))
            })
            .collect();
        let chain = queue.build_desc_chain(&raw).unwrap();
        execute(&self.disk, &self.mem, chain)
    }

    fn header(&self, kind: u32, sector: u64) {
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&kind.to_le_bytes());
        h[8..].copy_from_slice(&sector.to_le_bytes());
        self.mem.write_slice(&h, GuestAddress(HDR)).unwrap();
    }

    /// A request with a header, one data buffer and a status byte.
    fn request(&self, kind: u32, sector: u64, len: u32, data_writable: bool) -> Outcome {
        self.header(kind, sector);
        self.run(&[
            (HDR, 16, false),
            (DATA, len, data_writable),
            (STATUS, 1, true),
        ])
    }

    fn status_byte(&self) -> u8 {
        let mut b = [0xffu8];
        self.mem.read_slice(&mut b, GuestAddress(STATUS)).unwrap();
        b[0]
    }

    fn data(&self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.mem.read_slice(&mut v, GuestAddress(DATA)).unwrap();
        v
    }
}

fn ok(used: u32) -> Outcome {
    Outcome {
        status: Some(status::OK),
        used,
    }
}

#[test]
fn write_then_read_round_trips_through_the_device() {
    let g = Guest::new(false);
    let pattern: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    g.mem.write_slice(&pattern, GuestAddress(DATA)).unwrap();
    assert_eq!(g.request(req::OUT, 16, 8192, false), ok(1));
    assert_eq!(g.status_byte(), status::OK);
    let mut on_disk = vec![0u8; 8192];
    g.disk.device.read_at(&mut on_disk, 16 * 512).unwrap();
    assert_eq!(on_disk, pattern);

    g.mem.write_slice(&[0u8; 8192], GuestAddress(DATA)).unwrap();
    assert_eq!(g.request(req::IN, 16, 8192, true), ok(8193));
    assert_eq!(g.data(8192), pattern);
}

#[test]
fn data_split_over_descriptors_and_a_header_split_in_two() {
    let g = Guest::new(false);
    g.disk.device.write_at(&[0x5a; 4096], 0).unwrap();
    g.header(req::IN, 0);
    let out = g.run(&[
        (HDR, 10, false),
        (HDR + 10, 6, false),
        (DATA, 1000, true),
        (DATA + 1000, 3096, true),
        (STATUS, 1, true),
    ]);
    assert_eq!(out, ok(4097));
    assert_eq!(g.data(4096), vec![0x5a; 4096]);
}

/// A device that serves reads from "memory" in 1000-byte pieces, as a read cache hands
/// out its pages, and counts the reads that went the other way.
#[derive(Debug)]
struct Cached {
    inner: MemDevice,
    slow_reads: std::sync::atomic::AtomicUsize,
}

impl BlockDevice for Cached {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.slow_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.read_at(buf, offset)
    }
    fn try_read_shared(
        &self,
        out: &mut Vec<vsa_blockdev::Bytes>,
        offset: u64,
        len: usize,
    ) -> Option<vsa_blockdev::Result<()>> {
        let mut all = vec![0u8; len];
        if let Err(e) = self.inner.read_at(&mut all, offset) {
            return Some(Err(e));
        }
        out.extend(all.chunks(1000).map(vsa_blockdev::Bytes::copy_from_slice));
        Some(Ok(()))
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn flush(&self) -> vsa_blockdev::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn reads_a_device_hands_out_are_copied_once_into_the_guests_buffers() {
    let cached = Arc::new(Cached {
        inner: MemDevice::new(1 << 20, 4096),
        slow_reads: Default::default(),
    });
    let pattern: Vec<u8> = (0..8192u32).map(|i| (i * 13 % 251) as u8).collect();
    cached.write_at(&pattern, 4096).unwrap();
    let mut g = Guest::new(false);
    g.disk.device = cached.clone();
    g.header(req::IN, 8);
    // Guest buffers whose edges fall inside the device's pieces.
    let out = g.run(&[
        (HDR, 16, false),
        (DATA, 1500, true),
        (DATA + 1500, 6692, true),
        (STATUS, 1, true),
    ]);
    assert_eq!(out, ok(8193));
    assert_eq!(g.data(8192), pattern);
    assert_eq!(
        cached.slow_reads.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // Past the end: the device's error, and the guest's buffer untouched.
    g.mem.write_slice(&[7u8; 4096], GuestAddress(DATA)).unwrap();
    let out = g.request(req::IN, (1 << 20) / 512, 4096, true);
    assert_eq!(out.status, Some(status::IOERR));
    assert_eq!(g.data(4096), vec![7u8; 4096]);
}

#[test]
fn flush_and_get_id() {
    let g = Guest::new(false);
    g.header(req::FLUSH, 0);
    assert_eq!(g.run(&[(HDR, 16, false), (STATUS, 1, true)]), ok(1));
    assert_eq!(g.request(req::GET_ID, 0, 20, true), ok(21));
    assert_eq!(g.data(20), b"vol-0123456789abcdef".to_vec());
}

#[test]
fn discard_and_write_zeroes_clear_ranges() {
    let g = Guest::new(false);
    g.disk.device.write_at(&[0xee; 16384], 0).unwrap();
    let mut ranges = Vec::new();
    for (sector, n, flags) in [(0u64, 8u32, 0u32), (16, 8, 0)] {
        ranges.extend_from_slice(&sector.to_le_bytes());
        ranges.extend_from_slice(&n.to_le_bytes());
        ranges.extend_from_slice(&flags.to_le_bytes());
    }
    g.mem.write_slice(&ranges, GuestAddress(DATA)).unwrap();
    assert_eq!(g.request(req::DISCARD, 0, 32, false), ok(1));
    let mut back = vec![0u8; 16384];
    g.disk.device.read_at(&mut back, 0).unwrap();
    assert!(back[..4096].iter().all(|&b| b == 0) && back[8192..12288].iter().all(|&b| b == 0));
    assert!(back[4096..8192].iter().all(|&b| b == 0xee));

    let mut zero = Vec::new();
    zero.extend_from_slice(&8u64.to_le_bytes());
    zero.extend_from_slice(&8u32.to_le_bytes());
    zero.extend_from_slice(&1u32.to_le_bytes()); // may unmap
    g.mem.write_slice(&zero, GuestAddress(DATA)).unwrap();
    assert_eq!(g.request(req::WRITE_ZEROES, 0, 16, false), ok(1));
    g.disk.device.read_at(&mut back, 0).unwrap();
    assert!(back[..12288].iter().all(|&b| b == 0));

    // A discard with the unmap flag, or any reserved flag, is unsupported.
    zero[12] = 1;
    g.mem.write_slice(&zero, GuestAddress(DATA)).unwrap();
    assert_eq!(
        g.request(req::DISCARD, 0, 16, false).status,
        Some(status::UNSUPP)
    );
    zero[12] = 2;
    g.mem.write_slice(&zero, GuestAddress(DATA)).unwrap();
    assert_eq!(
        g.request(req::WRITE_ZEROES, 0, 16, false).status,
        Some(status::UNSUPP)
    );
    // A list that is not a whole number of ranges is an error.
    assert_eq!(
        g.request(req::DISCARD, 0, 15, false).status,
        Some(status::IOERR)
    );
}

#[test]
fn read_only_disks_refuse_every_change() {
    let g = Guest::new(true);
    assert_ne!(g.disk.features() & feature::RO, 0);
    assert_eq!(
        g.disk.features() & (feature::DISCARD | feature::WRITE_ZEROES),
        0
    );
    g.mem.write_slice(&[1u8; 4096], GuestAddress(DATA)).unwrap();
    for kind in [req::OUT, req::DISCARD, req::WRITE_ZEROES] {
        assert_eq!(
            g.request(kind, 0, 16, false).status,
            Some(status::IOERR),
            "{kind}"
        );
    }
    assert_eq!(g.request(req::IN, 0, 4096, true), ok(4097));
    assert_eq!(g.data(4096), vec![0u8; 4096], "nothing was written");
}

#[test]
fn bad_requests_get_an_error_status_and_leave_the_device_alone() {
    let g = Guest::new(false);
    // Misaligned to the 4 KiB block, past the end, a sector number that overflows.
    assert_eq!(
        g.request(req::IN, 1, 4096, true).status,
        Some(status::IOERR)
    );
    assert_eq!(
        g.request(req::IN, 2048, 4096, true).status,
        Some(status::IOERR)
    );
    assert_eq!(
        g.request(req::OUT, u64::MAX / 256, 4096, false).status,
        Some(status::IOERR)
    );
    // An unknown type.
    assert_eq!(g.request(99, 0, 16, false).status, Some(status::UNSUPP));
    // A short header.
    g.header(req::IN, 0);
    assert_eq!(
        g.run(&[(HDR, 8, false), (STATUS, 1, true)]).status,
        Some(status::IOERR)
    );
    // No room for a status byte: nothing is done or written.
    assert_eq!(g.run(&[(HDR, 16, false), (DATA, 4096, false)]).status, None);
    // A buffer outside guest memory.
    assert_eq!(
        g.run(&[(HDR, 16, false), (MEM - 100, 4096, true), (STATUS, 1, true)])
            .status,
        None
    );
}

#[test]
fn config_space_describes_the_disk() {
    let g = Guest::new(false);
    let c = config_space(&g.disk, 4);
    assert_eq!(
        u64::from_le_bytes(c[0..8].try_into().unwrap()),
        2048,
        "capacity in sectors"
    );
    assert_eq!(
        u32::from_le_bytes(c[20..24].try_into().unwrap()),
        4096,
        "blk_size"
    );
    assert_eq!(
        u16::from_le_bytes(c[34..36].try_into().unwrap()),
        4,
        "num_queues"
    );
    assert_eq!(
        u32::from_le_bytes(c[44..48].try_into().unwrap()),
        8,
        "discard alignment"
    );
}

proptest! {
    /// Whatever a guest puts in a chain (types, sectors, lengths, addresses, flags), the
    /// device answers without panicking and never writes past what the chain offered.
    #[test]
    fn arbitrary_chains_never_panic(
        kind in prop_oneof![Just(0u32), Just(1), Just(4), Just(8), Just(11), Just(13), any::<u32>()],
        sector in prop_oneof![0u64..4096, any::<u64>()],
        descs in proptest::collection::vec((0u64..MEM + 4096, 0u32..70_000, any::<bool>()), 1..6),
        read_only in any::<bool>(),
    ) {
        let g = Guest::new(read_only);
        g.header(kind, sector);
        let mut chain = vec![(HDR, 16, false)];
        chain.extend(descs);
        let offered: u64 = chain.iter().filter(|d| d.2).map(|d| u64::from(d.1)).sum();
        let out = g.run(&chain);
        prop_assert!(u64::from(out.used) <= offered);
    }
}
