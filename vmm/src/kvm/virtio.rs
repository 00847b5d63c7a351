//! The VM's virtio-mmio devices: the disks (each connected to its vhost-user-blk backend),
//! then the network cards (each on its TAP device). Each gets a 4 KiB register window and
//! an interrupt line and is wired into KVM (an ioeventfd per queue on the notify register,
//! an irqfd for the interrupt). A Linux guest learns of them from the kernel command line
//! (`virtio_mmio.device=4K@0xd0000000:5`, as Firecracker does).

use super::layout::{VIRTIO_IRQ_BASE, VIRTIO_MAX_DEVICES, VIRTIO_MMIO_BASE, VIRTIO_MMIO_SIZE};
use super::KvmError;
use crate::net::device::VirtioNet;
use crate::net::tap::Tap;
use crate::net::NetConfig;
use crate::virtio::mmio::{MmioBus, MmioTransport, QUEUE_NOTIFY_OFFSET};
use crate::virtio::vhost_blk::VhostUserBlk;
use crate::virtio::VirtioDevice;
use kvm_ioctls::{IoEventAddress, VmFd};
use std::path::PathBuf;
use vm_memory::GuestMemoryMmap;

/// Connects every disk and network card and returns the bus they sit on and the kernel
/// command line parameters that announce them.
pub fn attach_devices(
    vm: &VmFd,
    mem: &GuestMemoryMmap,
    disks: &[PathBuf],
    nets: &[NetConfig],
    stats: &super::stats::VmStats,
) -> Result<(MmioBus, String), KvmError> {
    let count = disks.len() + nets.len();
    if count > VIRTIO_MAX_DEVICES {
        return Err(KvmError::Devices(format!(
            "{} disks and {} network cards: a VM has at most {VIRTIO_MAX_DEVICES} devices",
            disks.len(),
            nets.len()
        )));
    }
    let mut devices: Vec<Box<dyn VirtioDevice>> = Vec::with_capacity(count);
    for socket in disks {
        let blk = VhostUserBlk::connect(socket).map_err(|e| KvmError::Devices(e.to_string()))?;
        devices.push(Box::new(blk));
    }
    for net in nets {
        let tap = Tap::open(&net.tap).map_err(|e| KvmError::Devices(e.to_string()))?;
        let card = VirtioNet::new(net.mac, Box::new(tap));
        stats.add_net(card.counters());
        devices.push(Box::new(card));
    }
    let mut bus = MmioBus::default();
    let mut cmdline = String::new();
    for (i, device) in devices.into_iter().enumerate() {
        let base = VIRTIO_MMIO_BASE + i as u64 * VIRTIO_MMIO_SIZE;
        let irq = VIRTIO_IRQ_BASE + i as u32;
        let transport = MmioTransport::new(device, mem.clone())
            .map_err(|e| KvmError::Devices(format!("virtio device {i}: {e}")))?;
        let notify = IoEventAddress::Mmio(base + QUEUE_NOTIFY_OFFSET);
        for (q, kick) in transport.kicks().iter().enumerate() {
            vm.register_ioevent(kick, &notify, q as u32)
                .map_err(|e| KvmError::Kvm("KVM_IOEVENTFD", e))?;
        }
        vm.register_irqfd(transport.call(), irq)
            .map_err(|e| KvmError::Kvm("KVM_IRQFD", e))?;
        bus.add(base, transport);
        cmdline.push_str(&format!(" virtio_mmio.device=4K@{base:#x}:{irq}"));
    }
    Ok((bus, cmdline))
}
