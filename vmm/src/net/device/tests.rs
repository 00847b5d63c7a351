//! The device's thread moving frames between queues laid out as a driver lays them and
//! one end of a datagram socket pair standing in for a TAP device.

use super::*;
use std::time::{Duration, Instant};
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use vm_memory::{Address as _, Bytes as _, GuestAddress};

const MEM: u64 = 1 << 20;
const WRITE: u16 = 2;
const RX_RING: u64 = 0x0;
const TX_RING: u64 = 0x1_0000;

struct Bench {
    mem: GuestMemoryMmap,
    net: VirtioNet,
    host: UnixDatagram,
    kicks: Vec<EventFd>,
    call: EventFd,
}

fn config(q: &MockSplitQueue<'_, GuestMemoryMmap>) -> QueueConfig {
    QueueConfig {
        size: 16,
        desc: q.desc_table_addr().0,
        avail: q.avail_addr().0,
        used: q.used_addr().0,
    }
}

fn raw(a: u64, l: u32, w: bool) -> RawDescriptor {
    RawDescriptor::from(SplitDescriptor::new(a, l, if w { WRITE } else { 0 }, 0))
}

impl Bench {
    fn new() -> Bench {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap();
        let (host, guest_side) = UnixDatagram::pair().unwrap();
        guest_side.set_nonblocking(true).unwrap();
        host.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut net = VirtioNet::new("52:54:00:12:34:56".parse().unwrap(), Box::new(guest_side));
        let kicks = vec![
            EventFd::new(EFD_NONBLOCK).unwrap(),
            EventFd::new(EFD_NONBLOCK).unwrap(),
        ];
        let call = EventFd::new(EFD_NONBLOCK).unwrap();
        net.attach(&kicks, &call).unwrap();
        Bench {
            mem,
            net,
            host,
            kicks,
            call,
        }
    }

    /// Lays out fresh receive and transmit rings (as a driver does before it starts the
    /// device) and starts the device on them.
    fn activate<'m>(
        &mut self,
        mem: &'m GuestMemoryMmap,
    ) -> (
        MockSplitQueue<'m, GuestMemoryMmap>,
        MockSplitQueue<'m, GuestMemoryMmap>,
    ) {
        let rx = MockSplitQueue::create(mem, GuestAddress(RX_RING), 16);
        let tx = MockSplitQueue::create(mem, GuestAddress(TX_RING), 16);
        let queues = [config(&rx), config(&tx)];
        self.net
            .activate(mem, F_VERSION_1 | F_MAC, &queues, &self.kicks, &self.call)
            .unwrap();
        (rx, tx)
    }

    /// Waits until the device used `n` entries of the queue at `ring`.
    fn wait_used(&self, q: &MockSplitQueue<'_, GuestMemoryMmap>, n: u16) -> Vec<(u32, u32)> {
        let used = q.used_addr();
        let word = |off: u64| self.mem.read_obj::<u32>(used.unchecked_add(off)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.mem.read_obj::<u16>(used.unchecked_add(2)).unwrap() >= n {
                return (0..u64::from(n))
                    .map(|i| (word(4 + i * 8), word(8 + i * 8)))
                    .collect();
            }
            assert!(
                Instant::now() < deadline,
                "the device never used {n} entries"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
        v
    }
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn the_configuration_space_holds_the_mac_and_both_queues_are_needed() {
    let mut b = Bench::new();
    let mem = b.mem.clone();
    let mut mac = [0u8; 8];
    b.net.read_config(0, &mut mac);
    assert_eq!(mac, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0]);
    let mut tail = [0u8; 4];
    b.net.read_config(4, &mut tail);
    assert_eq!(tail, [0x34, 0x56, 0, 0]);
    let rx = config(&MockSplitQueue::create(&mem, GuestAddress(RX_RING), 16));
    let err = b.net.activate(&mem, F_VERSION_1, &[rx], &b.kicks, &b.call);
    assert!(err.unwrap_err().contains("receive and transmit"));
    let bad = QueueConfig {
        used: MEM + 4096,
        ..rx
    };
    let err = b
        .net
        .activate(&mem, F_VERSION_1, &[rx, bad], &b.kicks, &b.call);
    assert!(err.unwrap_err().contains("not in guest memory"));
}

#[test]
fn frames_go_both_ways_and_wait_for_receive_buffers() {
    let mut b = Bench::new();
    let mem = b.mem.clone();
    let (rx, tx) = b.activate(&mem);
    // A frame from the host before the driver gave any buffer waits for one.
    let first = frame(60, 1);
    b.host.send(&first).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    rx.add_desc_chains(&[raw(0x2_0000, 2048, true), raw(0x2_1000, 2048, true)], 0)
        .unwrap();
    b.kicks[0].write(1).unwrap();
    assert_eq!(b.wait_used(&rx, 1), vec![(0, 72)]);
    assert_eq!(b.read(0x2_0000, 12), frames::rx_header());
    assert_eq!(b.read(0x2_000c, 60), first);
    // The next goes straight into the next buffer.
    let second = frame(1514, 2);
    b.host.send(&second).unwrap();
    assert_eq!(b.wait_used(&rx, 2)[1], (1, 1526));
    assert_eq!(b.read(0x2_100c, 1514), second);

    // Transmit: a header descriptor and two data descriptors.
    let out = frame(300, 3);
    b.mem
        .write_slice(&[0u8; 12], GuestAddress(0x3_0000))
        .unwrap();
    b.mem
        .write_slice(&out[..100], GuestAddress(0x3_1000))
        .unwrap();
    b.mem
        .write_slice(&out[100..], GuestAddress(0x3_2000))
        .unwrap();
    tx.build_desc_chain(&[
        raw(0x3_0000, 12, false),
        raw(0x3_1000, 100, false),
        raw(0x3_2000, 200, false),
    ])
    .unwrap();
    b.kicks[1].write(1).unwrap();
    let mut got = vec![0u8; 70_000];
    let n = b.host.recv(&mut got).unwrap();
    assert_eq!(&got[..n], &out[..]);
    assert_eq!(b.wait_used(&tx, 1), vec![(0, 0)]);
    let c = b.net.counters();
    assert_eq!(c.rx_frames.load(Ordering::Relaxed), 2);
    assert_eq!(c.rx_bytes.load(Ordering::Relaxed), 1574);
    assert_eq!(c.tx_frames.load(Ordering::Relaxed), 1);
    assert_eq!(c.tx_bytes.load(Ordering::Relaxed), 300);
}

#[test]
fn bad_chains_are_given_back_and_the_device_goes_on() {
    let mut b = Bench::new();
    let mem = b.mem.clone();
    let (rx, tx) = b.activate(&mem);
    // A transmit chain outside guest memory, then a good one.
    let good = frame(64, 4);
    b.mem
        .write_slice(&[0u8; 12], GuestAddress(0x3_0000))
        .unwrap();
    b.mem.write_slice(&good, GuestAddress(0x3_000c)).unwrap();
    tx.add_desc_chains(&[raw(MEM - 8, 100, false), raw(0x3_0000, 76, false)], 0)
        .unwrap();
    b.kicks[1].write(1).unwrap();
    let mut got = vec![0u8; 2048];
    let n = b.host.recv(&mut got).unwrap();
    assert_eq!(&got[..n], &good[..]);
    assert_eq!(b.wait_used(&tx, 2), vec![(0, 0), (1, 0)]);
    assert_eq!(b.net.counters().bad_chains.load(Ordering::Relaxed), 1);

    // A receive buffer too small for a frame keeps waiting for one that fits.
    rx.add_desc_chains(&[raw(0x2_0000, 100, true)], 0).unwrap();
    b.kicks[0].write(1).unwrap();
    b.host.send(&frame(200, 5)).unwrap();
    let small = frame(40, 6);
    b.host.send(&small).unwrap();
    assert_eq!(b.wait_used(&rx, 1), vec![(0, 52)]);
    assert_eq!(b.read(0x2_000c, 40), small);
    assert_eq!(b.net.counters().rx_dropped.load(Ordering::Relaxed), 1);
}

#[test]
fn a_reset_device_starts_again() {
    let mut b = Bench::new();
    let mem = b.mem.clone();
    let (rx, _) = b.activate(&mem);
    rx.add_desc_chains(&[raw(0x2_0000, 2048, true)], 0).unwrap();
    b.net.reset();
    let (rx, _tx) = b.activate(&mem);
    rx.add_desc_chains(&[raw(0x2_0000, 2048, true)], 0).unwrap();
    b.kicks[0].write(1).unwrap();
    let f = frame(100, 7);
    b.host.send(&f).unwrap();
    assert_eq!(b.wait_used(&rx, 1), vec![(0, 112)]);
    assert_eq!(b.read(0x2_000c, 100), f);
}
