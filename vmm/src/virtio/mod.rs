//! Virtio for the bundled VMM: the virtio-mmio transport a guest's driver talks to
//! ([`mmio`]) and the devices behind it; the block device is served by the daemon over
//! vhost-user ([`vhost_blk`]): the guest's queues live in memory the daemon maps, the
//! guest's kick reaches the daemon through a KVM ioeventfd, the daemon's completion
//! interrupt reaches the guest through a KVM irqfd, and this process only answers
//! register reads and writes.

pub mod mmio;
pub mod vhost_blk;

use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

/// Device status bits (virtio 1.2, 2.1).
pub mod status {
    /// The guest found the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is done.
    pub const FEATURES_OK: u32 = 8;
    /// The device failed and needs a reset.
    pub const DEVICE_NEEDS_RESET: u32 = 0x40;
    /// The driver gave up on the device.
    pub const FAILED: u32 = 0x80;
}

/// Device types (virtio 1.2, 5).
pub mod device_type {
    /// A network card.
    pub const NET: u32 = 1;
    /// A block device.
    pub const BLOCK: u32 = 2;
}

/// A queue as the driver set it up: its size and the guest addresses of its parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueConfig {
    /// Entries (a power of two, at most the device's maximum).
    pub size: u16,
    /// The descriptor table.
    pub desc: u64,
    /// The driver (available) ring.
    pub avail: u64,
    /// The device (used) ring.
    pub used: u64,
}

/// A device behind a virtio-mmio transport.
pub trait VirtioDevice: Send {
    /// The virtio device type (e.g. [`device_type::BLOCK`]).
    fn device_type(&self) -> u32;
    /// The largest size of each queue; their number is the device's queue count.
    fn queue_max_sizes(&self) -> Vec<u16>;
    /// The feature bits offered to the driver.
    fn features(&self) -> u64;
    /// Reads the device configuration space at `offset`; bytes past its end read 0.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Called once when the VM is set up, before the process is confined: a kick of
    /// queue `i` will arrive on `kicks[i]` and `call` interrupts the guest. A device served
    /// in this process starts its thread here (no thread can be started later).
    fn attach(&mut self, kicks: &[EventFd], call: &EventFd) -> std::io::Result<()> {
        let _ = (kicks, call);
        Ok(())
    }
    /// Starts the device: the driver accepted `features` and set up `queues`; a kick of
    /// queue `i` arrives on `kicks[i]`, and the device signals `call` to interrupt.
    fn activate(
        &mut self,
        mem: &GuestMemoryMmap,
        features: u64,
        queues: &[QueueConfig],
        kicks: &[EventFd],
        call: &EventFd,
    ) -> Result<(), String>;
    /// Stops the device (the driver wrote 0 to the status register).
    fn reset(&mut self);
}
