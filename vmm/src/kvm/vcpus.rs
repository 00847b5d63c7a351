//! The vCPUs at work: a thread each, all sharing the port and MMIO buses. The first exit
//! that ends the VM (a reset through the i8042, a triple fault, a KVM failure) on any
//! vCPU ends them all: the others are told to stop and kicked out of KVM_RUN with a
//! signal (its handler does nothing; KVM_RUN returns EINTR), again every few
//! milliseconds until each thread has seen it, so a kick that lands just before a thread
//! enters the guest is not lost.
//!
//! The threads are made, and wait, before the process is confined; the guest runs only
//! once the filter is on every thread.

use super::stats::ExitCounters;
use super::{Exit, KvmError};
use crate::devices::PortBus;
use crate::virtio::mmio::MmioBus;
use kvm_ioctls::{VcpuExit, VcpuFd};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

/// What every vCPU thread shares.
pub(super) struct Buses {
    pub ports: Arc<Mutex<PortBus>>,
    pub mmio: Mutex<MmioBus>,
}

/// The kick: interrupts KVM_RUN, nothing else.
extern "C" fn kicked(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

/// Runs every vCPU (index = local APIC id) until one ends the VM; confines the process
/// first when `confine`.
pub(super) fn run(
    vcpus: Vec<(VcpuFd, Arc<ExitCounters>)>,
    buses: Buses,
    confine: bool,
) -> Result<Exit, KvmError> {
    register_signal_handler(kick_signal(), kicked)
        .map_err(|e| KvmError::Devices(format!("the vCPU kick signal: {e}")))?;
    let buses = Arc::new(buses);
    let stop = Arc::new(AtomicBool::new(false));
    // The threads wait for this write lock to go before their first KVM_RUN.
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write();
    let (ended, first) = mpsc::channel();
    let mut threads = Vec::with_capacity(vcpus.len());
    let mut failed = None;
    for (id, (vcpu, counts)) in vcpus.into_iter().enumerate() {
        let (buses, stop, gate, ended) = (buses.clone(), stop.clone(), gate.clone(), ended.clone());
        let thread = crate::seccomp::spawn(format!("vcpu{id}"), move || {
            drop(gate.read());
            vcpu_loop(vcpu, &counts, &buses, &stop, &ended)
        });
        match thread {
            Ok(t) => threads.push(t),
            Err(e) => {
                failed = Some(KvmError::Devices(format!("a vCPU thread: {e}")));
                break;
            }
        }
    }
    drop(ended);
    if failed.is_none() && confine {
        failed = crate::seccomp::confine().err().map(KvmError::from);
    }
    if let Some(e) = failed {
        stop.store(true, Ordering::SeqCst);
        drop(closed);
        end(threads);
        return Err(e);
    }
    drop(closed);
    let exit = first
        .recv()
        .unwrap_or_else(|_| Exit::Failed("every vCPU thread ended".into()));
    stop.store(true, Ordering::SeqCst);
    end(threads);
    buses.ports.lock().flush();
    Ok(exit)
}

/// Kicks the threads until each has ended.
fn end(threads: Vec<JoinHandle<()>>) {
    while threads.iter().any(|t| !t.is_finished()) {
        for t in threads.iter().filter(|t| !t.is_finished()) {
            let _ = t.kill(kick_signal());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for t in threads {
        let _ = t.join();
    }
}

/// One vCPU until the VM ends: reports the exit that ended it, if it was this vCPU's.
fn vcpu_loop(
    mut vcpu: VcpuFd,
    counts: &ExitCounters,
    buses: &Buses,
    stop: &AtomicBool,
    ended: &Sender<Exit>,
) {
    let count = ExitCounters::count;
    while !stop.load(Ordering::SeqCst) {
        let exit = match vcpu.run() {
            Ok(VcpuExit::IoOut(port, data)) => {
                count(&counts.io);
                buses.ports.lock().write(port, data);
                None
            }
            Ok(VcpuExit::IoIn(port, data)) => {
                count(&counts.io);
                buses.ports.lock().read(port, data);
                None
            }
            Ok(VcpuExit::MmioRead(addr, data)) => {
                count(&counts.mmio);
                buses.mmio.lock().read(addr, data);
                None
            }
            Ok(VcpuExit::MmioWrite(addr, data)) => {
                count(&counts.mmio);
                buses.mmio.lock().write(addr, data);
                None
            }
            Ok(VcpuExit::Shutdown) => Some(Exit::TripleFault),
            Ok(VcpuExit::FailEntry(reason, cpu)) => Some(Exit::Failed(format!(
                "KVM could not enter the guest (hardware reason {reason:#x}, cpu {cpu})"
            ))),
            Ok(VcpuExit::InternalError) => Some(Exit::Failed("KVM internal error".into())),
            Ok(other) => {
                count(&counts.other);
                Some(Exit::Failed(format!("unexpected vCPU exit {other:?}")))
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => None,
            Err(e) => Some(Exit::Failed(format!("KVM_RUN failed: {e}"))),
        };
        let exit = if buses.ports.lock().reset_requested() {
            Some(Exit::Reset)
        } else {
            exit
        };
        if let Some(exit) = exit {
            stop.store(true, Ordering::SeqCst);
            let _ = ended.send(exit);
            break;
        }
    }
}
