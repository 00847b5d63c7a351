//! The KVM virtual machine: memory, a vCPU in 64-bit mode, the port I/O devices of a PC
//! that a guest needs first (the COM1 UART, the i8042 for reset), and the run loop that
//! ends with a reason.
//!
//! Several vCPUs (vcpus.rs), announced in an MP table (mptable.rs); the guest is a Linux bzImage (the Linux boot protocol) or an ELF
//! entered at its 64-bit entry point. Disks are virtio-mmio devices served by
//! vhost-user-blk backends, network cards virtio-mmio devices on TAP devices
//! (`virtio.rs`).

mod cpu;
pub mod layout;
mod memory;
pub mod mptable;
pub mod stats;
mod vcpus;
mod virtio;

use crate::boot::{self, linux::LinuxBoot, BootError};
use crate::devices::i8042::I8042;
use crate::devices::{ConsoleInput, PortBus, CONSOLE_INPUT_MAX};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use parking_lot::Mutex;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// The keyboard's interrupt line (ISA IRQ 1).
const KEYBOARD_IRQ: u32 = 1;
/// COM1's interrupt line (ISA IRQ 4).
const SERIAL_IRQ: u32 = 4;

/// What went wrong setting up or running a VM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvmError {
    /// A KVM ioctl failed.
    #[error("{0} failed: {1}")]
    Kvm(&'static str, kvm_ioctls::Error),
    /// /dev/kvm cannot be opened.
    #[error("cannot open /dev/kvm: {0} (is KVM enabled, and may this user use it?)")]
    NoKvm(kvm_ioctls::Error),
    /// Guest memory could not be set up.
    #[error("guest memory: {0}")]
    Memory(String),
    /// A device could not be set up.
    #[error("devices: {0}")]
    Devices(String),
    /// The process could not be confined.
    #[error(transparent)]
    Confine(#[from] crate::seccomp::SeccompError),
    /// The kernel could not be loaded.
    #[error("cannot boot: {0}")]
    Boot(#[from] BootError),
}

/// Why a VM stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The guest reset the machine (i8042 reset command): a reboot or power-off request.
    Reset,
    /// The guest triple-faulted (KVM_EXIT_SHUTDOWN).
    TripleFault,
    /// KVM could not run the guest any further.
    Failed(String),
}

/// How to run a VM.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Guest memory in bytes.
    pub memory: u64,
    /// vCPUs (1 to [`mptable::MAX_CPUS`]), each a thread; the guest finds them in the MP
    /// table and starts them with INIT and startup IPIs.
    pub vcpus: u8,
    /// The kernel: a Linux bzImage (booted by the Linux boot protocol) or an ELF entered
    /// at its entry point in 64-bit mode.
    pub kernel: PathBuf,
    /// An initramfs for a Linux kernel.
    pub initrd: Option<PathBuf>,
    /// The kernel command line (the disks are announced on it).
    pub cmdline: String,
    /// Disks: the sockets of vhost-user-blk backends, each a virtio-mmio device.
    pub disks: Vec<PathBuf>,
    /// Network cards, each a virtio-mmio device on a TAP device (after the disks).
    pub nets: Vec<crate::net::NetConfig>,
    /// Once the VM is set up, confine the whole process to the calls running it needs
    /// ([`crate::seccomp`]); for a process that runs nothing else (the VM runner).
    pub confine: bool,
}

/// Counts of vCPU exits by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// Port I/O.
    pub io: u64,
    /// MMIO.
    pub mmio: u64,
    /// Everything else.
    pub other: u64,
}

/// What another thread may do to a VM while it runs.
#[derive(Debug, Clone)]
pub struct VmHandle {
    i8042: Arc<Mutex<I8042>>,
    keyboard_irq: Arc<EventFd>,
    stats: Arc<stats::VmStats>,
    console_input: ConsoleInput,
    /// The running VM's port devices, to hand typed bytes to the UART at once.
    ports: Arc<Mutex<Option<Arc<Mutex<PortBus>>>>>,
}

impl VmHandle {
    /// A handle for a VM about to be run with [`run_with`].
    pub fn new() -> std::io::Result<VmHandle> {
        let irq = EventFd::new(EFD_NONBLOCK)?;
        Ok(VmHandle {
            i8042: Arc::new(Mutex::new(I8042::new(Some(irq.try_clone()?)))),
            keyboard_irq: Arc::new(irq),
            stats: Arc::default(),
            console_input: Arc::default(),
            ports: Arc::default(),
        })
    }

    /// Types `bytes` on the VM's serial console (COM1). Bytes beyond
    /// [`CONSOLE_INPUT_MAX`] waiting for the guest are dropped; returns how many were
    /// taken.
    pub fn type_on_console(&self, bytes: &[u8]) -> usize {
        let taken = {
            let mut input = self.console_input.lock();
            let n = bytes
                .len()
                .min(CONSOLE_INPUT_MAX.saturating_sub(input.len()));
            input.extend(&bytes[..n]);
            n
        };
        let ports = self.ports.lock().clone();
        if let Some(ports) = ports {
            ports.lock().feed();
        }
        taken
    }

    /// The running VM's counters.
    pub fn stats(&self) -> &stats::VmStats {
        &self.stats
    }

    /// Types Ctrl+Alt+Del on the VM's keyboard: asks the guest to shut down (Linux
    /// reboots in order; with `reboot=k` the VM then stops).
    pub fn ctrl_alt_del(&self) {
        self.i8042.lock().ctrl_alt_del();
    }
}

/// Boots `config.kernel` and runs it until it stops; the guest's console goes to
/// `console`.
pub fn run(
    config: &VmConfig,
    console: Box<dyn Write + Send>,
) -> Result<(Exit, ExitCounts), KvmError> {
    let handle = VmHandle::new().map_err(|e| KvmError::Devices(format!("eventfd: {e}")))?;
    run_with(config, console, &handle)
}

/// [`run`], with `handle` to act on the VM from other threads.
pub fn run_with(
    config: &VmConfig,
    console: Box<dyn Write + Send>,
    handle: &VmHandle,
) -> Result<(Exit, ExitCounts), KvmError> {
    let kvm = Kvm::new().map_err(KvmError::NoKvm)?;
    let vm = kvm
        .create_vm()
        .map_err(|e| KvmError::Kvm("KVM_CREATE_VM", e))?;
    // The in-kernel PIC, IOAPIC and local APICs, and the PIT: what a Linux guest needs
    // (with them a HLT waits inside KVM for an interrupt: a guest stops by a reset)
    // for its timer and interrupts. VMX wants a TSS area below 4 GiB first.
    vm.set_tss_address(0xfffb_d000)
        .map_err(|e| KvmError::Kvm("KVM_SET_TSS_ADDR", e))?;
    vm.create_irq_chip()
        .map_err(|e| KvmError::Kvm("KVM_CREATE_IRQCHIP", e))?;
    let pit = kvm_bindings::kvm_pit_config {
        flags: kvm_bindings::KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    vm.create_pit2(pit)
        .map_err(|e| KvmError::Kvm("KVM_CREATE_PIT2", e))?;
    let mem = memory::create(&vm, config.memory)?;
    handle.stats.clear();
    let (mmio, announce) =
        virtio::attach_devices(&vm, &mem, &config.disks, &config.nets, &handle.stats)?;
    let entry = if boot::is_bzimage(&config.kernel)? {
        let linux = LinuxBoot {
            kernel: config.kernel.clone(),
            initrd: config.initrd.clone(),
            cmdline: format!("{}{announce}", config.cmdline),
        };
        boot::linux::load(&mem, config.memory, &linux)?
    } else {
        let cmdline = format!("{}{announce}", config.cmdline);
        let initrd = config.initrd.as_deref();
        boot::load_elf(&mem, config.memory, &config.kernel, &cmdline, initrd)?
    };
    cpu::write_boot_tables(&mem)?;
    mptable::write(&mem, config.vcpus)?;
    let vcpus = create_vcpus(&kvm, &vm, config.vcpus)?
        .into_iter()
        .map(|v| (v, handle.stats.add_vcpu()))
        .collect::<Vec<_>>();
    if let Some((bsp, _)) = vcpus.first() {
        cpu::setup(bsp, &entry)?;
    }
    vm.register_irqfd(&handle.keyboard_irq, KEYBOARD_IRQ)
        .map_err(|e| KvmError::Kvm("KVM_IRQFD", e))?;
    let serial_irq =
        EventFd::new(EFD_NONBLOCK).map_err(|e| KvmError::Devices(format!("eventfd: {e}")))?;
    vm.register_irqfd(&serial_irq, SERIAL_IRQ)
        .map_err(|e| KvmError::Kvm("KVM_IRQFD", e))?;
    let ports = Arc::new(Mutex::new(PortBus::new(
        console,
        serial_irq,
        handle.i8042.clone(),
        handle.console_input.clone(),
    )));
    *handle.ports.lock() = Some(ports.clone());
    let buses = vcpus::Buses {
        ports,
        mmio: Mutex::new(mmio),
    };
    let exit = vcpus::run(vcpus, buses, config.confine);
    *handle.ports.lock() = None;
    Ok((exit?, handle.stats.exits()))
}

/// Makes `count` vCPUs, each with its CPUID (local APIC id = index). vCPU 0 boots; the
/// others wait, as a PC's application processors do, for the INIT and startup IPIs the
/// guest sends them.
fn create_vcpus(kvm: &Kvm, vm: &VmFd, count: u8) -> Result<Vec<VcpuFd>, KvmError> {
    let most = kvm.get_max_vcpus().min(usize::from(mptable::MAX_CPUS));
    if count == 0 || usize::from(count) > most {
        return Err(KvmError::Devices(format!(
            "{count} vCPUs: a VM has 1 to {most} here"
        )));
    }
    (0..count)
        .map(|id| {
            let vcpu = vm
                .create_vcpu(u64::from(id))
                .map_err(|e| KvmError::Kvm("KVM_CREATE_VCPU", e))?;
            cpu::set_cpuid(kvm, &vcpu, id, count)?;
            cpu::set_msrs(&vcpu)?;
            Ok(vcpu)
        })
        .collect()
}
