//! Where things go in guest memory at boot (x86_64), below the kernel at 1 MiB.

/// The boot GDT (null, 64-bit code, data, TSS).
pub const GDT: u64 = 0x500;
/// An empty IDT (the guest installs its own).
pub const IDT: u64 = 0x520;
/// The boot stack's top.
pub const STACK_TOP: u64 = 0x8ff0;
/// The identity-mapping page tables: PML4, PDPT, four PDs (2 MiB pages, the first
/// 4 GiB, the device window included).
pub const PML4: u64 = 0x9000;
/// Page-directory-pointer table.
pub const PDPT: u64 = 0xa000;
/// The first of four page directories (0xb000..0xf000).
pub const PD: u64 = 0xb000;
/// The Linux zero page (boot parameters), for kernels booted by the Linux protocol.
pub const ZERO_PAGE: u64 = 0x7000;
/// The kernel command line.
pub const CMDLINE: u64 = 0x2_0000;
/// The most bytes of command line.
pub const CMDLINE_MAX: usize = 2048;
/// Where kernels load (and the end of low memory the loader must not touch).
pub const HIMEM_START: u64 = 0x10_0000;
/// The first serial port (COM1), eight registers.
pub const COM1: u16 = 0x3f8;
/// The i8042 controller's data and command ports.
pub const I8042_DATA: u16 = 0x60;
/// The i8042 command/status port (0xFE written here resets the machine).
pub const I8042_COMMAND: u16 = 0x64;
/// The device window: guest memory ends below it, virtio-mmio devices live in it.
pub const MMIO_START: u64 = 0xc000_0000;
/// The first virtio-mmio device (4 KiB each, one after another), where Firecracker puts
/// them too.
pub const VIRTIO_MMIO_BASE: u64 = 0xd000_0000;
/// The size of a virtio-mmio device's register window.
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// The interrupt (IOAPIC pin) of the first virtio-mmio device; the next ones follow.
pub const VIRTIO_IRQ_BASE: u32 = 5;
/// The most virtio-mmio devices (pins 5..=15 stay below the PCI-less PC's 16 ISA lines).
pub const VIRTIO_MAX_DEVICES: usize = 11;
