//! The VM runner: the `vsa` binary re-executed as `vsa __vm-runner ...` runs one VM in
//! its own process, so a VM that crashes takes nothing else with it. The console goes to
//! stdout; how the VM stopped goes to stderr (`vsa-vm: stopped: ...`) and to the exit
//! code: 0 reset (powered off or rebooted) by the guest, 3 a triple fault, 4 KVM could not run it, 5 the
//! daemon that started it went away (a VM never outlives its daemon: a restarted daemon
//! would start it a second time).
//!
//! The daemon controls a runner through its standard input, a pipe, one command per line:
//! [`CTRL_ALT_DEL`] types Ctrl+Alt+Del on the VM's keyboard (a graceful stop); `console
//! HEX` types bytes on its serial console (`super::console`). The pipe's
//! end (the daemon is gone, even killed with -9) ends the runner.

use clap::Parser;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vsa_vmm::kvm::{run_with, Exit, VmConfig, VmHandle};
use vsa_vmm::net::NetConfig;

/// The hidden first argument that selects the runner.
pub const RUNNER_ARG: &str = "__vm-runner";

/// One VM.
#[derive(Debug, Parser)]
#[command(
    name = "vsa __vm-runner",
    about = "Runs one VM in this process (started by the daemon)"
)]
struct RunnerArgs {
    /// The kernel: a Linux bzImage or a 64-bit ELF.
    #[arg(long)]
    kernel: PathBuf,
    /// An initramfs.
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// The kernel command line.
    #[arg(long, default_value = "")]
    cmdline: String,
    /// A disk: the socket of a vhost-user-blk backend (the daemon's export of a volume);
    /// repeat for more. The guest sees them as virtio-mmio devices, in this order.
    #[arg(long = "disk")]
    disks: Vec<PathBuf>,
    /// A network card: TAP=MAC, the host's TAP device and the guest's address; repeat
    /// for more. They follow the disks.
    #[arg(long = "net", value_parser = net_arg)]
    nets: Vec<NetConfig>,
    /// vCPUs.
    #[arg(long, default_value_t = 1)]
    vcpus: u8,
    /// A file the VM's counters are written to, every second and when it stops
    /// (`vsa_vmm::kvm::stats::VmStats::render`, padded with spaces).
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Guest memory, e.g. 512M.
    #[arg(long, default_value = "256M", value_parser = crate::core::cli::size_arg)]
    memory: u64,
}

fn net_arg(s: &str) -> Result<NetConfig, String> {
    let (tap, mac) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: a network card is TAP=MAC"))?;
    let mac = mac
        .parse()
        .map_err(|e: vsa_vmm::net::BadMac| e.to_string())?;
    Ok(NetConfig {
        tap: tap.to_owned(),
        mac,
    })
}

/// Runs the VM the arguments describe (`args[0]` is the program, `args[1]` the runner
/// argument).
pub fn main(args: Vec<String>) -> ExitCode {
    let parsed = match RunnerArgs::try_parse_from(args.into_iter().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    watch_parent();
    let config = VmConfig {
        memory: parsed.memory,
        vcpus: parsed.vcpus,
        kernel: parsed.kernel,
        initrd: parsed.initrd,
        cmdline: parsed.cmdline,
        disks: parsed.disks,
        nets: parsed.nets,
        confine: true,
    };
    let handle = match VmHandle::new() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("vsa-vm: error: {e}");
            return ExitCode::from(1);
        }
    };
    listen(handle.clone());
    let stats = match parsed.stats.as_deref().map(StatsFile::start).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vsa-vm: error: its stats file: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(s) = &stats {
        s.watch(handle.clone());
    }
    let outcome = run_with(&config, Box::new(std::io::stdout()), &handle);
    if let Some(s) = &stats {
        s.write(&handle);
    }
    match outcome {
        Ok((exit, counts)) => {
            eprintln!(
                "vsa-vm: stopped: {exit:?} (exits: {} port I/O, {} MMIO, {} other)",
                counts.io, counts.mmio, counts.other
            );
            match exit {
                Exit::Reset => ExitCode::SUCCESS,
                Exit::TripleFault => ExitCode::from(3),
                Exit::Failed(_) => ExitCode::from(4),
            }
        }
        Err(e) => {
            eprintln!("vsa-vm: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where the VM's counters go: rewritten in place (one `pwrite`, padded to a fixed size so
/// a reader never sees the end of an older, longer text).
#[derive(Debug, Clone)]
struct StatsFile(Arc<std::fs::File>);

/// The padded size of the stats text.
const STATS_LEN: usize = 4096;

impl StatsFile {
    /// Opens (empties) `path`.
    fn start(path: &std::path::Path) -> std::io::Result<StatsFile> {
        let file = StatsFile(Arc::new(std::fs::File::create(path)?));
        Ok(file)
    }

    /// Writes the counters of `handle`'s VM every second from a thread started now
    /// (before the VM confines the process).
    fn watch(&self, handle: VmHandle) {
        let me = self.clone();
        let spawned = vsa_vmm::seccomp::spawn("stats".into(), move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            me.write(&handle);
        });
        if let Err(e) = spawned {
            eprintln!("vsa-vm: cannot keep its stats file: {e}");
        }
    }

    fn write(&self, handle: &VmHandle) {
        use std::os::unix::fs::FileExt;
        let mut text = handle.stats().render();
        if text.len() < STATS_LEN {
            text.extend(std::iter::repeat_n(' ', STATS_LEN - text.len()));
        }
        let _ = self.0.write_at(text.as_bytes(), 0);
    }
}

/// The environment variable with the daemon's process id, set by the daemon.
pub const PARENT_ENV: &str = "VSA_VM_PARENT";

/// Ends this process when the daemon that started it is gone (this process is handed to
/// another parent). Checked every second from a thread of its own, against the process
/// id the daemon passed (it may be gone before this process looks).
fn watch_parent() {
    let passed = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    let parent = passed.or_else(rustix::process::getppid);
    let spawned = vsa_vmm::seccomp::spawn("parent watch".into(), move || loop {
        if rustix::process::getppid() != parent {
            eprintln!("vsa-vm: stopped: the daemon that started this VM is gone");
            std::process::exit(5);
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    });
    if let Err(e) = spawned {
        eprintln!("vsa-vm: cannot watch the daemon: {e}");
    }
}

/// The control command that types Ctrl+Alt+Del on the VM's keyboard.
pub const CTRL_ALT_DEL: &str = "ctrl-alt-del";

/// Reads control commands from standard input on a thread of its own. When the daemon
/// started this runner, the end of its input means the daemon is gone.
fn listen(handle: VmHandle) {
    let from_daemon = std::env::var_os(PARENT_ENV).is_some();
    let spawned = vsa_vmm::seccomp::spawn("control".into(), move || {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref().map(str::trim) {
                Ok(CTRL_ALT_DEL) => handle.ctrl_alt_del(),
                Ok(line) if line.starts_with(super::console::TYPE_COMMAND) => {
                    let hex = line[super::console::TYPE_COMMAND.len()..].trim();
                    match super::console::parse_hex(hex) {
                        Some(bytes) => {
                            handle.type_on_console(&bytes);
                        }
                        None => eprintln!("vsa-vm: bad console command {line:?}"),
                    }
                }
                Ok("") => {}
                Ok(other) => eprintln!("vsa-vm: unknown control command {other:?}"),
                Err(_) => break,
            }
        }
        if from_daemon {
            eprintln!("vsa-vm: stopped: the daemon that started this VM is gone");
            std::process::exit(5);
        }
    });
    if let Err(e) = spawned {
        eprintln!("vsa-vm: cannot listen for control commands: {e}");
    }
}
