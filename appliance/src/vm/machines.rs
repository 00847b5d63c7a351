//! [`Machines`]: the VMs of the appliance. Each runs in its own process, the `vsa` binary
//! re-executed as `vsa __vm-runner` (runner.rs), so a VM that crashes takes nothing else
//! with it. A thread per running VM watches its process and records how it ended; the
//! console goes to `<data-dir>/vms/<name>/console.log`, the runner's own messages to
//! `runner.log` beside it.

use super::boot_files;
use super::console;
use super::disks::VmDisks;
use super::error::{meta, VmError};
use super::model::{self, DiskMode, RestartPolicy, VmDisk, VmRecord, CF_VM};
use super::types::{ConsoleBody, ConsoleView, CreateVmBody, VmView};
use crate::core::{Core, Deleted};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_pool::MetaStore;

type Result<T> = std::result::Result<T, VmError>;

/// Guest memory when the request names none.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
/// The least guest memory a VM may have.
pub const MIN_MEMORY: u64 = 16 << 20;
/// How long `vsa vm stop` gives a guest to shut down when asked, by default.
pub const DEFAULT_STOP_GRACE_SECS: u64 = 30;
/// How long all guests together have to shut down when the daemon stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A VM's run state.
#[derive(Debug, Default)]
struct Run {
    child: Option<Arc<Mutex<Child>>>,
    pid: Option<u32>,
    started: Option<Instant>,
    stopping: bool,
    failed: bool,
    last_exit: Option<String>,
    starts: u64,
    /// No restart by policy: set by `stop` and `delete`, cleared by `start`.
    cancel: bool,
    /// Restarts in a row of runs that ended within a minute (for the back-off).
    quick_restarts: u32,
    /// The disks, served while the VM exists (None until they could be).
    disks: Option<VmDisks>,
    /// Why the disks could not be served.
    disk_problem: Option<String>,
    /// The runner is stopped (SIGSTOP): its vCPUs do not run.
    paused: bool,
    /// The runner's standard input, where control commands go.
    control: Option<ChildStdin>,
    /// `vsa vm stop` killed the runner (rather than the guest shutting down).
    forced: bool,
}

#[derive(Debug)]
struct Machine {
    core: Arc<Core>,
    record: VmRecord,
    dir: PathBuf,
    run: Mutex<Run>,
}

impl Machine {
    fn view(&self) -> VmView {
        let run = self.run.lock();
        let r = &self.record;
        let state = if run.child.is_some() && run.paused {
            "paused"
        } else if run.child.is_some() {
            "running"
        } else if run.failed {
            "failed"
        } else {
            "stopped"
        };
        VmView {
            name: r.name.clone(),
            state: state.into(),
            kernel: r.kernel.clone(),
            initrd: r.initrd.clone(),
            cmdline: r.cmdline.clone(),
            memory: r.memory,
            vcpus: r.vcpus,
            autostart: r.autostart,
            restart: r.restart,
            pid: run.pid,
            uptime_secs: run.started.map(|s| s.elapsed().as_secs_f64()),
            last_exit: run.last_exit.clone(),
            starts: run.starts,
            disks: r.disks.clone(),
            nets: r.nets.clone(),
            disk_problem: run.disk_problem.clone(),
            pending_changes: run
                .disks
                .as_ref()
                .map(|d| d.pending(&self.core))
                .unwrap_or_default(),
            stats: super::run_stats::view(&self.core, &self.dir, &r.disks, r.nets.len()),
        }
    }

    /// Claims the disks if they are not yet.
    fn claim_disks(&self, run: &mut Run) -> Result<()> {
        if run.disks.is_none() {
            let r = &self.record;
            match VmDisks::claim(&self.core, &r.name, &self.dir, &r.disks) {
                Ok(d) => {
                    run.disks = Some(d);
                    run.disk_problem = None;
                }
                Err(e) => {
                    run.disk_problem = Some(e.to_string());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Claims the disks if needed and serves them for a run; their sockets.
    fn serve_disks(&self, run: &mut Run) -> Result<Vec<PathBuf>> {
        self.claim_disks(run)?;
        match run.disks.as_mut() {
            Some(d) => d.serve(&self.core),
            None => Ok(Vec::new()),
        }
    }

    fn release_disks(&self) {
        if let Some(mut d) = self.run.lock().disks.take() {
            d.release(&self.core);
        }
    }

    /// Asks the running VM to stop: its guest (`gracefully`, when not paused) or its
    /// process (killed). Whether it was running.
    fn ask_to_stop(&self, gracefully: bool) -> bool {
        let mut run = self.run.lock();
        run.cancel = true;
        let Some(child) = run.child.clone() else {
            return false;
        };
        run.stopping = true;
        let asked = gracefully
            && !run.paused
            && run.control.as_mut().is_some_and(|c| {
                writeln!(c, "{}", super::runner::CTRL_ALT_DEL)
                    .and_then(|()| c.flush())
                    .is_ok()
            });
        if !asked {
            run.forced = true;
            let _ = child.lock().kill();
        }
        true
    }

    /// Waits up to `limit` for the runner to be gone.
    fn wait_gone(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.run.lock().child.is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn new(core: &Arc<Core>, record: VmRecord) -> Machine {
        Machine {
            core: core.clone(),
            dir: core.data_dir().join("vms").join(&record.name),
            record,
            run: Mutex::new(Run::default()),
        }
    }
}

/// The VMs.
#[derive(Debug)]
pub struct Machines {
    core: Arc<Core>,
    vms: Mutex<BTreeMap<String, Arc<Machine>>>,
}

fn valid_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(VmError::InvalidVm(format!(
            "'{name}' is not a VM name: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
        )))
    }
}

impl Machines {
    /// Loads the VM records (none runs yet: see [`Machines::autostart`]).
    pub fn open(core: Arc<Core>) -> Result<Machines> {
        let rows = core.store().scan(CF_VM, model::VM_PREFIX).map_err(meta)?;
        let mut vms = BTreeMap::new();
        for (k, v) in rows {
            let record: VmRecord = MetaStore::decode(&k, &v).map_err(meta)?;
            let m = Machine::new(&core, record);
            // The disks are held from the start; one that cannot be served is shown in
            // the VM's state and tried again when it starts.
            if let Err(e) = m.claim_disks(&mut m.run.lock()) {
                tracing::error!(vm = m.record.name.as_str(), "disks: {e}");
            }
            vms.insert(m.record.name.clone(), Arc::new(m));
        }
        Ok(Machines {
            core,
            vms: Mutex::new(vms),
        })
    }

    fn get(&self, name: &str) -> Result<Arc<Machine>> {
        self.vms
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| VmError::NoSuchVm(name.to_owned()))
    }

    /// Defines a VM (stopped).
    pub fn create(&self, b: CreateVmBody) -> Result<VmView> {
        valid_name(&b.name)?;
        boot_files::check(&self.core, "kernel", &b.kernel)?;
        if let Some(i) = &b.initrd {
            boot_files::check(&self.core, "initrd", i)?;
        }
        let memory = match &b.memory {
            Some(m) => m.bytes().map_err(|e| VmError::InvalidVm(e.to_string()))?,
            None => DEFAULT_MEMORY,
        };
        let max = vsa_vmm::kvm::layout::MMIO_START;
        if memory < MIN_MEMORY || memory > max || memory % (1 << 20) != 0 {
            return Err(VmError::InvalidVm(format!(
                "memory {memory} bytes: give whole MiB, at least 16M and at most {}M",
                max >> 20
            )));
        }
        let vcpus = b.vcpus.unwrap_or(1);
        let most_vcpus = vsa_vmm::kvm::mptable::MAX_CPUS;
        if vcpus == 0 || vcpus > most_vcpus {
            return Err(VmError::InvalidVm(format!(
                "{vcpus} vCPUs: a VM has 1 to {most_vcpus}"
            )));
        }
        let most = vsa_vmm::kvm::layout::VIRTIO_MAX_DEVICES;
        let devices = b.disks.len() + b.nets.len() + usize::from(b.clone_of.is_some());
        if devices > most {
            return Err(VmError::InvalidVm(format!(
                "{} disks and {} network cards: a VM has at most {most} devices",
                b.disks.len() + usize::from(b.clone_of.is_some()),
                b.nets.len()
            )));
        }
        let taken: Vec<(String, String)> = self
            .vms
            .lock()
            .values()
            .flat_map(|m| {
                let vm = m.record.name.clone();
                m.record
                    .nets
                    .iter()
                    .map(move |n| (n.tap.clone(), vm.clone()))
            })
            .collect();
        let nets = super::nics::resolve(&b.name, b.nets, &taken)?;
        let mut disks = b.disks;
        if let Some(source) = &b.clone_of {
            disks.insert(0, self.clone_root(&b.name, source)?);
        }
        let record = VmRecord {
            name: b.name,
            kernel: b.kernel,
            initrd: b.initrd,
            cmdline: b.cmdline,
            memory,
            vcpus,
            autostart: b.autostart,
            restart: b.restart,
            disks,
            nets,
        };
        let mut vms = self.vms.lock();
        if vms.contains_key(&record.name) {
            return Err(VmError::VmExists(record.name));
        }
        let m = Machine::new(&self.core, record);
        let made = m.claim_disks(&mut m.run.lock()).and_then(|()| {
            self.persist(&m.record.name, Some(&m.record))
                .inspect_err(|_| m.release_disks())
        });
        if let Err(e) = made {
            for v in m.record.disks.iter().filter(|d| d.owned) {
                let _ = self.core.volumes().delete(&v.volume);
            }
            return Err(e);
        }
        let m = Arc::new(m);
        let view = m.view();
        vms.insert(view.name.clone(), m);
        Ok(view)
    }

    /// Makes the root disk of VM `name`, a linked clone of `source` (`VOLUME@SNAPSHOT`)
    /// named `<name>-root`.
    fn clone_root(&self, name: &str, source: &str) -> Result<VmDisk> {
        let Some((volume, snap)) = source.split_once('@') else {
            return Err(VmError::InvalidVm(format!(
                "--clone-of {source}: name a snapshot as VOLUME@SNAPSHOT (vsa volume snapshot VOLUME SNAPSHOT makes one)"
            )));
        };
        let root = format!("{name}-root");
        let snaps = self.core.volumes().snapshots().map_err(VmError::Volume)?;
        snaps
            .clone_snapshot(volume, snap, &root)
            .map_err(VmError::Volume)?;
        Ok(VmDisk {
            volume: root,
            read_only: false,
            mode: DiskMode::Persistent,
            owned: true,
        })
    }

    /// Every VM.
    pub fn list(&self) -> Vec<VmView> {
        self.vms.lock().values().map(|m| m.view()).collect()
    }

    /// One VM.
    pub fn show(&self, name: &str) -> Result<VmView> {
        Ok(self.get(name)?.view())
    }

    /// Removes a stopped VM and its logs.
    pub fn delete(&self, name: &str) -> Result<Deleted> {
        let mut vms = self.vms.lock();
        let m = vms
            .get(name)
            .cloned()
            .ok_or_else(|| VmError::NoSuchVm(name.to_owned()))?;
        {
            let mut run = m.run.lock();
            if run.child.is_some() {
                return Err(VmError::VmRunning(name.to_owned()));
            }
            let pending = run
                .disks
                .as_ref()
                .map(|d| d.pending(&self.core))
                .unwrap_or_default();
            if !pending.is_empty() {
                return Err(VmError::ChangesPending {
                    name: name.to_owned(),
                    volumes: pending.join(", "),
                });
            }
            run.cancel = true;
        }
        self.persist(name, None)?;
        vms.remove(name);
        m.release_disks();
        for v in m.record.disks.iter().filter(|d| d.owned) {
            if let Err(e) = self.core.volumes().delete(&v.volume) {
                tracing::error!(
                    vm = name,
                    volume = v.volume.as_str(),
                    "cannot delete the VM's clone: {e}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&m.dir);
        Ok(Deleted {
            deleted: name.to_owned(),
        })
    }

    /// Keeps (`commit`) or throws away the changes on a stopped VM's undoable disks.
    pub fn settle(&self, name: &str, commit: bool) -> Result<VmView> {
        let m = self.get(name)?;
        let mut run = m.run.lock();
        if run.child.is_some() {
            return Err(VmError::VmRunning(name.to_owned()));
        }
        m.claim_disks(&mut run)?;
        if let Some(d) = run.disks.as_ref() {
            let done = if commit {
                d.commit(&self.core)?
            } else {
                d.discard(&self.core)?
            };
            let what = if commit { "committed" } else { "discarded" };
            tracing::info!(vm = name, "changes {what} on {done:?}");
        }
        drop(run);
        Ok(m.view())
    }

    /// Starts a VM's runner process.
    pub fn start(&self, name: &str) -> Result<VmView> {
        let m = self.get(name)?;
        let mut run = m.run.lock();
        if run.child.is_some() {
            return Err(VmError::VmRunning(name.to_owned()));
        }
        let r = &m.record;
        boot_files::check(&self.core, "kernel", &r.kernel)?;
        if let Some(i) = &r.initrd {
            boot_files::check(&self.core, "initrd", i)?;
        }
        run.cancel = false;
        run.quick_restarts = 0;
        drop(run);
        launch(&m).map_err(|why| VmError::StartFailed {
            name: name.to_owned(),
            why,
        })?;
        Ok(m.view())
    }

    /// Stops a VM and waits until it is gone. With a `grace` period the guest is asked
    /// first (Ctrl+Alt+Del on its keyboard) and powered off only if it is still running
    /// when the period ends; a paused VM, or no grace, is powered off at once (its
    /// process is killed).
    pub fn stop(&self, name: &str, grace: Option<Duration>) -> Result<VmView> {
        let m = self.get(name)?;
        if !m.ask_to_stop(grace.is_some()) {
            return Ok(m.view());
        }
        if let Some(grace) = grace {
            m.wait_gone(grace);
            m.ask_to_stop(false);
        }
        m.wait_gone(Duration::from_secs(60));
        Ok(m.view())
    }

    /// Pauses (`pause`) or resumes a running VM: its runner process is stopped or
    /// continued (SIGSTOP, SIGCONT), so its vCPUs stop where they are and its memory
    /// stays. A paused VM whose daemon goes away is ended by the kernel (its runner is in
    /// a process group of its own, which is then orphaned: SIGHUP).
    pub fn pause(&self, name: &str, pause: bool) -> Result<VmView> {
        let m = self.get(name)?;
        let mut run = m.run.lock();
        let Some(pid) = run.pid.filter(|_| run.child.is_some()) else {
            return Err(VmError::VmNotRunning(name.to_owned()));
        };
        if run.paused != pause {
            let signal = if pause {
                rustix::process::Signal::STOP
            } else {
                rustix::process::Signal::CONT
            };
            let pid = rustix::process::Pid::from_raw(pid as i32)
                .ok_or_else(|| VmError::VmNotRunning(name.to_owned()))?;
            rustix::process::kill_process(pid, signal).map_err(|e| VmError::StartFailed {
                name: name.to_owned(),
                why: format!("cannot signal its runner (pid {pid:?}): {e}"),
            })?;
            run.paused = pause;
            // Paused means every thread stopped: only then does the kernel count the
            // group as stopped, which its end with the daemon relies on (above).
            if pause && !wait_all_stopped(pid.as_raw_nonzero().get(), Duration::from_secs(30)) {
                tracing::warn!(vm = name, "some threads of the runner are not stopped yet");
            }
            tracing::info!(vm = name, paused = pause, "VM paused or resumed");
        }
        drop(run);
        Ok(m.view())
    }

    /// Starts the VMs marked autostart (at daemon start); a failure is logged and shown
    /// in the VM's state, and the others start.
    pub fn autostart(&self) -> Vec<String> {
        let names: Vec<String> = self
            .vms
            .lock()
            .values()
            .filter(|m| m.record.autostart)
            .map(|m| m.record.name.clone())
            .collect();
        let mut lines = Vec::new();
        for name in names {
            match self.start(&name) {
                Ok(_) => lines.push(format!("VM {name} started (autostart)")),
                Err(e) => {
                    tracing::error!(vm = name.as_str(), "autostart: {e}");
                    if let Ok(m) = self.get(&name) {
                        let mut run = m.run.lock();
                        run.failed = true;
                        run.last_exit = Some(format!("autostart failed: {e}"));
                    }
                }
            }
        }
        lines
    }

    /// Stops every VM, asking their guests first and giving them `grace` together,
    /// and stops serving their disks (at daemon shutdown).
    pub fn stop_all(&self, grace: Duration) {
        let all: Vec<Arc<Machine>> = self.vms.lock().values().cloned().collect();
        let asked: Vec<&Arc<Machine>> = all.iter().filter(|m| m.ask_to_stop(true)).collect();
        let deadline = Instant::now() + grace;
        for m in &asked {
            m.wait_gone(deadline.saturating_duration_since(Instant::now()));
        }
        for m in &all {
            if m.ask_to_stop(false) {
                m.wait_gone(Duration::from_secs(60));
            }
            m.release_disks();
        }
    }

    /// The last 64 KiB of a VM's console.
    pub fn console(&self, name: &str, b: &ConsoleBody) -> Result<ConsoleView> {
        let m = self.get(name)?;
        let running = {
            let mut run = m.run.lock();
            if let Some(text) = b.input.as_deref().filter(|t| !t.is_empty()) {
                if text.len() > console::TYPE_MAX {
                    return Err(VmError::InvalidVm(format!(
                        "{} bytes typed at once: at most {}",
                        text.len(),
                        console::TYPE_MAX
                    )));
                }
                let line = console::type_line(text.as_bytes());
                let sent = run.child.is_some()
                    && run
                        .control
                        .as_mut()
                        .is_some_and(|c| writeln!(c, "{line}").and_then(|()| c.flush()).is_ok());
                if !sent {
                    return Err(VmError::VmNotRunning(name.to_owned()));
                }
            }
            run.child.is_some()
        };
        Ok(console::read(
            name,
            &m.dir.join("console.log"),
            b.from,
            running,
        ))
    }

    fn persist(&self, name: &str, record: Option<&VmRecord>) -> Result<()> {
        let store = self.core.store();
        let cf = store.cf(CF_VM).map_err(meta)?;
        let mut b = rocksdb::WriteBatch::default();
        match record {
            Some(r) => b.put_cf(cf, model::vm_key(name), MetaStore::encode(r)),
            None => b.delete_cf(cf, model::vm_key(name)),
        }
        store.commit(b, true).map_err(meta)
    }
}

/// Starts the runner process of `m` and the thread that watches it.
fn launch(m: &Arc<Machine>) -> std::result::Result<(), String> {
    let mut run = m.run.lock();
    if run.child.is_some() {
        return Ok(());
    }
    let r = &m.record;
    let dir = &m.dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kernel =
        boot_files::materialize(&m.core, "kernel", &r.kernel, dir).map_err(|e| e.to_string())?;
    let initrd = r
        .initrd
        .as_ref()
        .map(|i| boot_files::materialize(&m.core, "initrd", i, dir))
        .transpose()
        .map_err(|e| e.to_string())?;
    let sockets = m.serve_disks(&mut run).map_err(|e| e.to_string())?;
    let console = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("console.log"))
        .map_err(|e| format!("its console log: {e}"))?;
    let log = std::fs::File::create(dir.join("runner.log"))
        .map_err(|e| format!("its runner log: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("no path to vsa: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.env(super::runner::PARENT_ENV, std::process::id().to_string())
        .arg(super::runner::RUNNER_ARG)
        .arg("--kernel")
        .arg(kernel)
        .args(["--cmdline", &r.cmdline])
        .args(["--memory", &r.memory.to_string()])
        .args(["--vcpus", &r.vcpus.to_string()])
        .arg("--stats")
        .arg(dir.join(super::run_stats::STATS_FILE));
    if let Some(i) = initrd {
        cmd.arg("--initrd").arg(i);
    }
    for socket in sockets {
        cmd.arg("--disk").arg(socket);
    }
    for (i, nic) in r.nets.iter().enumerate() {
        cmd.arg("--net")
            .arg(super::nics::runner_arg(nic, &r.name, i));
    }
    // A process group of its own: a paused (stopped) runner whose daemon is gone is then
    // in an orphaned group, which the kernel ends (SIGHUP, SIGCONT).
    let child = cmd
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(console)
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    tracing::info!(vm = r.name.as_str(), pid = child.id(), "VM started");
    run.pid = Some(child.id());
    let mut child = child;
    run.control = child.stdin.take();
    run.forced = false;
    let child = Arc::new(Mutex::new(child));
    run.child = Some(child.clone());
    run.started = Some(Instant::now());
    run.stopping = false;
    run.failed = false;
    run.starts += 1;
    drop(run);
    let watched = m.clone();
    std::thread::Builder::new()
        .name(format!("vm {}", r.name))
        .spawn(move || watch(&watched, &child))
        .map(|_| ())
        .map_err(|e| format!("no thread to watch it: {e}"))
}

/// Waits until every thread of process `pid` is stopped (state `T` or `t`), or `limit`
/// passes, or the process is gone; whether they all stopped.
fn wait_all_stopped(pid: i32, limit: Duration) -> bool {
    let stopped = || -> Option<bool> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for task in tasks {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            if !matches!(state, 'T' | 't') {
                return Some(false);
            }
        }
        Some(true)
    };
    let deadline = Instant::now() + limit;
    loop {
        match stopped() {
            Some(true) => return true,
            None => return false,
            Some(false) if Instant::now() >= deadline => return false,
            Some(false) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Waits for the runner to end, records how, and starts it again if the VM's restart
/// policy says so (after 1 s, doubling up to 30 s while runs keep ending within a minute).
fn watch(m: &Arc<Machine>, child: &Mutex<Child>) {
    let status = loop {
        match child.lock().try_wait() {
            Ok(Some(st)) => break Ok(st),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let said = std::fs::read_to_string(m.dir.join("runner.log")).unwrap_or_default();
    let said = said
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("vsa-vm: "))
        .map(str::to_owned);
    let delay = {
        let mut run = m.run.lock();
        let (failed, exit) = match status {
            _ if run.stopping && run.forced => (false, "powered off (vsa vm stop)".to_owned()),
            Ok(st) if run.stopping && st.success() => (
                false,
                "shut down by its guest when asked (vsa vm stop)".to_owned(),
            ),
            _ if run.stopping => (false, "stopped (vsa vm stop)".to_owned()),
            Ok(st) if st.success() => (false, said.unwrap_or_else(|| "exited".into())),
            Ok(st) if st.signal() == Some(rustix::process::Signal::SYS.as_raw()) => (
                true,
                "the runner made a system call its seccomp filter forbids and was killed (a bug in vsa: please report it with runner.log)".to_owned(),
            ),
            Ok(st) => (
                true,
                said.unwrap_or_else(|| format!("the runner ended with {st} and said nothing")),
            ),
            Err(e) => (true, format!("lost track of the runner: {e}")),
        };
        let exit = match run.disks.as_mut().map(|d| d.end_run(&m.core)) {
            Some(Err(e)) => format!("{exit}; its disks could not be reset: {e}"),
            _ => exit,
        };
        tracing::info!(vm = m.record.name.as_str(), "VM ended: {exit}");
        let quick = run
            .started
            .is_some_and(|s| s.elapsed() < Duration::from_secs(60));
        run.failed = failed;
        run.last_exit = Some(exit);
        run.child = None;
        run.control = None;
        run.paused = false;
        run.pid = None;
        run.started = None;
        let again = !run.cancel
            && match m.record.restart {
                RestartPolicy::Never => false,
                RestartPolicy::OnFailure => failed,
                RestartPolicy::Always => true,
            };
        if !again {
            return;
        }
        run.quick_restarts = if quick { run.quick_restarts + 1 } else { 0 };
        Duration::from_secs(1u64 << run.quick_restarts.saturating_sub(1).min(5))
            .min(Duration::from_secs(30))
    };
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if m.run.lock().cancel {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if m.run.lock().cancel {
        return;
    }
    if let Err(e) = launch(m) {
        tracing::error!(vm = m.record.name.as_str(), "restart: {e}");
        let mut run = m.run.lock();
        run.failed = true;
        run.last_exit = Some(format!("restart failed: {e}"));
    }
}
