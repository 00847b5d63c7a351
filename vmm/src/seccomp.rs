//! The system calls a VM runner may make once its VM is set up, as a seccomp filter for
//! every thread of the process (Firecracker confines its VMM the same way): the vCPU
//! loop (KVM_RUN and nothing else through ioctl, the console's writes, the vhost-user
//! messages a guest's driver causes when it starts or resets a disk, the network cards'
//! frames and epoll waits), memory and thread
//! housekeeping, sleeping, and exiting. Nothing that opens files or sockets, starts
//! processes or threads, or maps new memory executable is allowed: a guest that takes the
//! VMM over finds little to do with it. A call outside the list kills the process
//! (SIGSYS), which the daemon reports.

use seccompiler::{
    apply_filter_all_threads, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp,
    SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// `KVM_RUN`: `_IO(0xAE, 0x80)`.
const KVM_RUN: u64 = 0xae80;

/// What went wrong building or installing the filter.
#[derive(Debug, thiserror::Error)]
#[error("seccomp: {0}")]
pub struct SeccompError(String);

/// The calls allowed whatever their arguments.
const ALLOWED: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_writev,
    // The VM's counters, rewritten in place in the runner's stats file.
    libc::SYS_pwrite64,
    libc::SYS_close,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_futex,
    // The network cards' threads wait on their TAP device and queues.
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_ctl,
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_sched_yield,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_clock_gettime,
    libc::SYS_getppid,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_tgkill,
    libc::SYS_restart_syscall,
    libc::SYS_exit,
    libc::SYS_exit_group,
];

/// The runner's filter; a call it does not allow gets `mismatch`.
pub fn filter(mismatch: SeccompAction) -> Result<BpfProgram, SeccompError> {
    let e = |e: seccompiler::BackendError| SeccompError(e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&n| (n, Vec::new())).collect();
    let kvm_run =
        SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, KVM_RUN).map_err(e)?;
    rules.insert(
        libc::SYS_ioctl,
        vec![SeccompRule::new(vec![kvm_run]).map_err(e)?],
    );
    // Anonymous memory for the allocator, never executable.
    let no_exec = SeccompCondition::new(
        2,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(u64::from(libc::PROT_EXEC as u32)),
        0,
    )
    .map_err(e)?;
    let one = |c: SeccompCondition| SeccompRule::new(vec![c]).map(|r| vec![r]).map_err(e);
    rules.insert(libc::SYS_mmap, one(no_exec.clone())?);
    rules.insert(libc::SYS_mprotect, one(no_exec)?);
    // Rust's standard library checks a descriptor is open before it closes it.
    let getfd = SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::F_GETFD as u64,
    )
    .map_err(e)?;
    rules.insert(libc::SYS_fcntl, one(getfd)?);
    let filter =
        SeccompFilter::new(rules, mismatch, SeccompAction::Allow, TargetArch::x86_64).map_err(e)?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SeccompError(e.to_string()))
}

/// Starts a thread named `name` running `f`, and returns once it runs: a new thread
/// names itself and sets up its signal stack (`prctl`, `sigaltstack`) as it starts, calls
/// the filter does not allow, so every thread of a runner starts this way before
/// [`confine`].
pub fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<T>> {
    let (started, running) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        let _ = started.send(());
        f()
    })?;
    let _ = running.recv();
    Ok(thread)
}

/// Confines every thread of this process to the runner's calls; anything else kills it.
pub fn confine() -> Result<(), SeccompError> {
    let program = filter(SeccompAction::KillProcess)?;
    apply_filter_all_threads(&program).map_err(|e| SeccompError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_allows_the_runners_calls_and_refuses_the_rest() {
        // In a thread of its own, with an error instead of a kill, so the test process
        // lives on.
        let outcome = std::thread::spawn(|| {
            let program = filter(SeccompAction::Errno(libc::EPERM as u32)).unwrap();
            seccompiler::apply_filter(&program).unwrap();
            let open = std::fs::File::open("/etc/hostname").map_err(|e| e.raw_os_error());
            let spawn = std::process::Command::new("true").status().map(|_| ());
            let v = vec![1u8; 1 << 20]; // allocation still works
            (
                open.err(),
                spawn.is_err(),
                v.len(),
                rustix::process::getppid().is_some(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(outcome, (Some(Some(libc::EPERM)), true, 1 << 20, true));
    }
}
