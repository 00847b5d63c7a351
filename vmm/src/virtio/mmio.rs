//! The virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): the register window through
//! which a guest's driver finds a device, negotiates features, sets up queues and starts
//! it. Registers are 32-bit; the device's configuration space follows at 0x100.
//!
//! Queue notifications normally never reach this code: each queue's notify write is
//! turned into an eventfd signal inside KVM (an ioeventfd on `QueueNotify` matching the
//! queue's index), and that eventfd is what the device waits on. The device interrupts
//! through an eventfd KVM turns into the device's interrupt line (an irqfd); since a
//! vhost-user backend signals it directly, this side cannot know which cause was meant,
//! so once started the interrupt status always says "used buffers" (a driver then checks
//! its queues, which is harmless when nothing is new).

use super::{status, QueueConfig, VirtioDevice};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const MAGIC: u32 = 0x7472_6976; // "virt"
const VERSION: u32 = 2;
/// The vendor id devices report ("VSA" in the low bytes).
const VENDOR: u32 = 0x0041_5356;
/// VIRTIO_F_VERSION_1: the driver must accept it (no legacy interface here).
const F_VERSION_1: u64 = 1 << 32;
/// Interrupt status: the device used buffers.
const INT_VRING: u32 = 1;

/// Register offsets.
mod reg {
    pub const MAGIC: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// The offset of the notify register, where the ioeventfds go.
pub const QUEUE_NOTIFY_OFFSET: u64 = reg::QUEUE_NOTIFY;

#[derive(Debug, Default, Clone, Copy)]
struct Queue {
    config: QueueConfig,
    ready: bool,
}

/// One device's register window.
pub struct MmioTransport {
    device: Box<dyn VirtioDevice>,
    mem: GuestMemoryMmap,
    max_sizes: Vec<u16>,
    queues: Vec<Queue>,
    kicks: Vec<EventFd>,
    call: EventFd,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    status: u32,
    active: bool,
}

impl std::fmt::Debug for MmioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmioTransport")
            .field("device_type", &self.device.device_type())
            .field("status", &self.status)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Sets the low or high half of `value`.
fn set_half(value: &mut u64, high: bool, half: u32) {
    *value = if high {
        (*value & 0xffff_ffff) | (u64::from(half) << 32)
    } else {
        (*value & !0xffff_ffff) | u64::from(half)
    };
}

impl MmioTransport {
    /// A transport for `device`, whose queues are in `mem`; a kick eventfd per queue and
    /// the interrupt eventfd are made here, for the VM to wire into KVM.
    pub fn new(mut device: Box<dyn VirtioDevice>, mem: GuestMemoryMmap) -> std::io::Result<Self> {
        let max_sizes = device.queue_max_sizes();
        let kicks = max_sizes
            .iter()
            .map(|_| EventFd::new(EFD_NONBLOCK))
            .collect::<std::io::Result<Vec<_>>>()?;
        let call = EventFd::new(EFD_NONBLOCK)?;
        device.attach(&kicks, &call)?;
        Ok(MmioTransport {
            device,
            mem,
            queues: vec![Queue::default(); max_sizes.len()],
            max_sizes,
            kicks,
            call,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            status: 0,
            active: false,
        })
    }

    /// The eventfd each queue's kick should signal (index = queue).
    pub fn kicks(&self) -> &[EventFd] {
        &self.kicks
    }

    /// The eventfd the device signals to interrupt the guest.
    pub fn call(&self) -> &EventFd {
        &self.call
    }

    /// The device status the driver set (and the device's DEVICE_NEEDS_RESET).
    pub fn status(&self) -> u32 {
        self.status
    }

    fn queue(&self) -> Option<&Queue> {
        self.queues.get(self.queue_sel as usize)
    }

    /// A read of `data.len()` bytes at `offset` in the window.
    pub fn read(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        if offset >= reg::CONFIG {
            self.device.read_config(offset - reg::CONFIG, data);
            return;
        }
        if data.len() != 4 {
            return;
        }
        let value = match offset {
            reg::MAGIC => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => self.device.device_type(),
            reg::VENDOR_ID => VENDOR,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device.features() as u32,
                1 => (self.device.features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => self
                .max_sizes
                .get(self.queue_sel as usize)
                .map_or(0, |&m| u32::from(m)),
            reg::QUEUE_READY => self.queue().map_or(0, |q| u32::from(q.ready)),
            reg::INTERRUPT_STATUS if self.active => INT_VRING,
            reg::STATUS => self.status,
            reg::CONFIG_GENERATION => 0,
            _ => 0,
        };
        data.copy_from_slice(&value.to_le_bytes());
    }

    /// A write of `data` at `offset` in the window.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let Ok(bytes) = <[u8; 4]>::try_from(data) else {
            return; // Registers are 32-bit; the block device's configuration is read-only.
        };
        let value = u32::from_le_bytes(bytes);
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = value,
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            reg::DRIVER_FEATURES if self.status & status::FEATURES_OK == 0 => {
                match self.driver_features_sel {
                    0 => set_half(&mut self.driver_features, false, value),
                    1 => set_half(&mut self.driver_features, true, value),
                    _ => {}
                }
            }
            reg::QUEUE_SEL => self.queue_sel = value,
            reg::QUEUE_NOTIFY => {
                if let Some(kick) = self.kicks.get(value as usize).filter(|_| self.active) {
                    let _ = kick.write(1);
                }
            }
            reg::INTERRUPT_ACK => {}
            reg::STATUS => self.set_status(value),
            _ => self.write_queue(offset, value),
        }
    }

    /// The queue registers, writable only while the queue is not ready and the device not
    /// started.
    fn write_queue(&mut self, offset: u64, value: u32) {
        if self.status & status::DRIVER_OK != 0 {
            return;
        }
        let Some(q) = self.queues.get_mut(self.queue_sel as usize) else {
            return;
        };
        if q.ready && offset != reg::QUEUE_READY {
            return;
        }
        let c = &mut q.config;
        match offset {
            reg::QUEUE_NUM => c.size = u16::try_from(value).unwrap_or(0),
            reg::QUEUE_READY => q.ready = value == 1,
            reg::QUEUE_DESC_LOW => set_half(&mut c.desc, false, value),
            reg::QUEUE_DESC_HIGH => set_half(&mut c.desc, true, value),
            reg::QUEUE_DRIVER_LOW => set_half(&mut c.avail, false, value),
            reg::QUEUE_DRIVER_HIGH => set_half(&mut c.avail, true, value),
            reg::QUEUE_DEVICE_LOW => set_half(&mut c.used, false, value),
            reg::QUEUE_DEVICE_HIGH => set_half(&mut c.used, true, value),
            _ => {}
        }
    }

    fn set_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let new = value & !self.status;
        let mut value = value;
        if new & status::FEATURES_OK != 0 && !self.features_acceptable() {
            value &= !status::FEATURES_OK;
        }
        self.status = value | (self.status & status::DEVICE_NEEDS_RESET);
        let startable = status::FEATURES_OK | status::DRIVER_OK;
        if new & status::DRIVER_OK != 0 && value & startable == startable && !self.active {
            if let Err(why) = self.activate() {
                tracing::error!(device = self.device.device_type(), "virtio: {why}");
                self.status |= status::DEVICE_NEEDS_RESET;
            }
        }
    }

    /// The driver accepted only offered features, VERSION_1 among them.
    fn features_acceptable(&self) -> bool {
        let offered = self.device.features();
        self.driver_features & !offered == 0 && self.driver_features & F_VERSION_1 != 0
    }

    /// Starts the device with the ready queues (the first ones, up to the first not
    /// ready), each checked against the device's limits.
    fn activate(&mut self) -> Result<(), String> {
        let mut ready = Vec::new();
        for (i, q) in self.queues.iter().enumerate() {
            if !q.ready {
                break;
            }
            let max = self.max_sizes.get(i).copied().unwrap_or(0);
            let size = q.config.size;
            if size == 0 || size > max || !size.is_power_of_two() {
                return Err(format!(
                    "queue {i}: size {size} (a power of two up to {max})"
                ));
            }
            ready.push(q.config);
        }
        if ready.is_empty() {
            return Err("the driver started the device with no queue ready".into());
        }
        let kicks = &self.kicks[..ready.len()];
        self.device
            .activate(&self.mem, self.driver_features, &ready, kicks, &self.call)?;
        self.active = true;
        Ok(())
    }

    fn reset(&mut self) {
        if self.active {
            self.device.reset();
        }
        self.active = false;
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        self.queues.fill(Queue::default());
    }
}

/// The virtio-mmio devices of a VM, each at its base address.
#[derive(Debug, Default)]
pub struct MmioBus {
    devices: Vec<(u64, MmioTransport)>,
}

impl MmioBus {
    /// Adds `transport` with its window at `base`.
    pub fn add(&mut self, base: u64, transport: MmioTransport) {
        self.devices.push((base, transport));
    }

    fn find(&mut self, addr: u64) -> Option<(u64, &mut MmioTransport)> {
        self.devices.iter_mut().find_map(|(base, t)| {
            let offset = addr.checked_sub(*base)?;
            (offset < crate::kvm::layout::VIRTIO_MMIO_SIZE).then_some((offset, t))
        })
    }

    /// A guest's read at `addr`: the device there answers; no device reads all ones.
    pub fn read(&mut self, addr: u64, data: &mut [u8]) {
        match self.find(addr) {
            Some((offset, t)) => t.read(offset, data),
            None => data.fill(0xff),
        }
    }

    /// A guest's write at `addr`; ignored where there is no device.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        if let Some((offset, t)) = self.find(addr) {
            t.write(offset, data);
        }
    }
}

#[cfg(test)]
mod tests;
