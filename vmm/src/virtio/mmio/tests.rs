//! The register protocol a driver follows (virtio 1.2, 4.2.3), checked against a device
//! that records what it was started with.

use super::*;
use std::sync::{Arc, Mutex};
use vm_memory::GuestAddress;

#[derive(Default)]
struct Started {
    features: u64,
    queues: Vec<QueueConfig>,
    resets: usize,
}

struct Recorder(Arc<Mutex<Started>>);

const OFFERED: u64 = F_VERSION_1 | 1 << 9 | 1 << 5;

impl VirtioDevice for Recorder {
    fn device_type(&self) -> u32 {
        2
    }
    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![64, 64]
    }
    fn features(&self) -> u64 {
        OFFERED
    }
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = (offset as u8).wrapping_add(i as u8);
        }
    }
    fn activate(
        &mut self,
        _: &GuestMemoryMmap,
        features: u64,
        queues: &[QueueConfig],
        kicks: &[EventFd],
        _: &EventFd,
    ) -> Result<(), String> {
        assert_eq!(kicks.len(), queues.len());
        let mut s = self.0.lock().unwrap();
        s.features = features;
        s.queues = queues.to_vec();
        Ok(())
    }
    fn reset(&mut self) {
        self.0.lock().unwrap().resets += 1;
    }
}

fn transport() -> (MmioTransport, Arc<Mutex<Started>>) {
    let started = Arc::new(Mutex::new(Started::default()));
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
    let t = MmioTransport::new(Box::new(Recorder(started.clone())), mem).unwrap();
    (t, started)
}

fn r(t: &MmioTransport, offset: u64) -> u32 {
    let mut b = [0u8; 4];
    t.read(offset, &mut b);
    u32::from_le_bytes(b)
}

fn w(t: &mut MmioTransport, offset: u64, value: u32) {
    t.write(offset, &value.to_le_bytes());
}

/// Negotiates `features` and sets up queue 0 (size 16) the way Linux does.
fn negotiate(t: &mut MmioTransport, features: u64) -> u32 {
    w(t, reg::STATUS, 0);
    w(t, reg::STATUS, status::ACKNOWLEDGE);
    w(t, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
    for (sel, half) in [(0, features as u32), (1, (features >> 32) as u32)] {
        w(t, reg::DRIVER_FEATURES_SEL, sel);
        w(t, reg::DRIVER_FEATURES, half);
    }
    w(
        t,
        reg::STATUS,
        status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK,
    );
    r(t, reg::STATUS)
}

fn setup_queue(t: &mut MmioTransport, size: u32) {
    w(t, reg::QUEUE_SEL, 0);
    assert_eq!(r(t, reg::QUEUE_NUM_MAX), 64);
    w(t, reg::QUEUE_NUM, size);
    w(t, reg::QUEUE_DESC_LOW, 0x1000);
    w(t, reg::QUEUE_DRIVER_LOW, 0x2000);
    w(t, reg::QUEUE_DEVICE_LOW, 0x3000);
    w(t, reg::QUEUE_DEVICE_HIGH, 0);
    w(t, reg::QUEUE_READY, 1);
}

#[test]
fn identity_and_features_read_as_the_spec_lays_them_out() {
    let (mut t, _) = transport();
    assert_eq!(r(&t, reg::MAGIC), 0x7472_6976);
    assert_eq!(r(&t, reg::VERSION), 2);
    assert_eq!(r(&t, reg::DEVICE_ID), 2);
    w(&mut t, reg::DEVICE_FEATURES_SEL, 0);
    assert_eq!(r(&t, reg::DEVICE_FEATURES), OFFERED as u32);
    w(&mut t, reg::DEVICE_FEATURES_SEL, 1);
    assert_eq!(r(&t, reg::DEVICE_FEATURES), 1);
    let mut cfg = [0u8; 2];
    t.read(reg::CONFIG + 8, &mut cfg);
    assert_eq!(cfg, [8, 9]);
    // A register read of the wrong width reads zero.
    let mut b = [0xffu8; 2];
    t.read(reg::MAGIC, &mut b);
    assert_eq!(b, [0, 0]);
}

#[test]
fn a_driver_that_sets_up_a_queue_and_starts_the_device_activates_it() {
    let (mut t, started) = transport();
    assert_ne!(
        negotiate(&mut t, F_VERSION_1 | 1 << 9) & status::FEATURES_OK,
        0
    );
    setup_queue(&mut t, 16);
    assert_eq!(r(&t, reg::INTERRUPT_STATUS), 0);
    w(&mut t, reg::STATUS, 0xf);
    assert_eq!(r(&t, reg::STATUS), 0xf);
    let s = started.lock().unwrap();
    assert_eq!(s.features, F_VERSION_1 | 1 << 9);
    assert_eq!(
        s.queues,
        vec![QueueConfig {
            size: 16,
            desc: 0x1000,
            avail: 0x2000,
            used: 0x3000
        }]
    );
    drop(s);
    assert_eq!(r(&t, reg::INTERRUPT_STATUS), 1);
    // Queue registers are frozen while the device runs.
    w(&mut t, reg::QUEUE_NUM, 32);
    w(&mut t, reg::STATUS, 0);
    assert_eq!(started.lock().unwrap().resets, 1);
    assert_eq!(r(&t, reg::STATUS), 0);
    assert_eq!(r(&t, reg::QUEUE_READY), 0);
}

#[test]
fn features_not_offered_or_without_version_1_are_refused() {
    let (mut t, _) = transport();
    assert_eq!(
        negotiate(&mut t, F_VERSION_1 | 1 << 3) & status::FEATURES_OK,
        0
    );
    assert_eq!(negotiate(&mut t, 1 << 9) & status::FEATURES_OK, 0);
    assert_ne!(negotiate(&mut t, F_VERSION_1) & status::FEATURES_OK, 0);
}

#[test]
fn a_bad_queue_size_fails_the_device_instead_of_starting_it() {
    for size in [0, 24, 128] {
        let (mut t, started) = transport();
        negotiate(&mut t, F_VERSION_1);
        setup_queue(&mut t, size);
        w(&mut t, reg::STATUS, 0xf);
        assert_ne!(
            r(&t, reg::STATUS) & status::DEVICE_NEEDS_RESET,
            0,
            "size {size}"
        );
        assert!(started.lock().unwrap().queues.is_empty());
    }
}

#[test]
fn driver_ok_without_features_ok_does_not_start_the_device() {
    let (mut t, started) = transport();
    negotiate(&mut t, 1 << 9); // refused: no FEATURES_OK
    setup_queue(&mut t, 16);
    w(&mut t, reg::STATUS, 0x7);
    assert!(started.lock().unwrap().queues.is_empty());
    assert_eq!(r(&t, reg::INTERRUPT_STATUS), 0);
}

#[test]
fn a_notify_before_the_device_runs_is_dropped_and_after_it_kicks() {
    let (mut t, _) = transport();
    w(&mut t, reg::QUEUE_NOTIFY, 0);
    assert!(t.kicks()[0].read().is_err(), "no kick before DRIVER_OK");
    negotiate(&mut t, F_VERSION_1);
    setup_queue(&mut t, 16);
    w(&mut t, reg::STATUS, 0xf);
    w(&mut t, reg::QUEUE_NOTIFY, 0);
    assert_eq!(t.kicks()[0].read().unwrap(), 1);
    w(&mut t, reg::QUEUE_NOTIFY, 7); // no such queue: ignored
}

#[test]
fn the_bus_routes_by_window_and_reads_all_ones_elsewhere() {
    let (t, _) = transport();
    let mut bus = MmioBus::default();
    bus.add(0xd000_0000, t);
    let mut b = [0u8; 4];
    bus.read(0xd000_0000, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x7472_6976);
    bus.read(0xd000_1000, &mut b);
    assert_eq!(b, [0xff; 4]);
    bus.write(0xd000_1070, &[1, 0, 0, 0]);
}

proptest::proptest! {
    /// A guest may write anything anywhere in the window, at any width: nothing panics,
    /// and the identity registers keep reading the same.
    #[test]
    fn arbitrary_accesses_never_panic(
        ops in proptest::collection::vec(
            (0u64..0x200, proptest::collection::vec(proptest::num::u8::ANY, 0..9), proptest::bool::ANY),
            0..200,
        )
    ) {
        let (mut t, _) = transport();
        for (offset, bytes, write) in ops {
            if write {
                t.write(offset, &bytes);
            } else {
                let mut b = bytes;
                t.read(offset, &mut b);
            }
        }
        proptest::prop_assert_eq!(r(&t, reg::MAGIC), 0x7472_6976);
    }
}
