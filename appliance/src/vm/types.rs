//! The VM component's request and reply bodies, shared by the handlers, the CLI and the
//! OpenAPI document.

use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `{volume}`: an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportPath {
    /// The exported volume.
    pub volume: String,
}

impl PathParams for ExportPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("volume", "exported volume")];
}

/// `POST /vhost`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// The volume to serve.
    pub volume: String,
    /// The Unix socket to listen on (absolute; its directory must exist).
    pub socket: String,
    /// Guests may read but not write.
    #[serde(default)]
    pub read_only: bool,
    /// Request queues to offer, 1 to 16 (default 4; a VMM uses at most this many).
    #[serde(default)]
    pub queues: Option<u16>,
}

/// A vhost-user-blk export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportView {
    /// The volume.
    pub volume: String,
    /// The socket VMMs connect to.
    pub socket: String,
    /// Guests may read but not write.
    pub read_only: bool,
    /// Request queues offered.
    pub queues: u16,
    /// The disk's size in bytes, as guests see it.
    pub size: u64,
    /// `listening`, `connected` or `failed` (see `problem`).
    pub state: String,
    /// VMM connections served since the export (re)started.
    pub connections: u64,
    /// Why the export does not serve, or why the last connection ended badly.
    pub problem: Option<String>,
}

/// `{name}`: a VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VmPath {
    /// The VM.
    pub name: String,
}

impl PathParams for VmPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "VM name")];
}

/// `POST /vms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVmBody {
    /// The name: letters, digits, `.`, `_`, `-`, at most 64.
    pub name: String,
    /// The kernel, a Linux bzImage or a 64-bit ELF: a file on the appliance (an absolute
    /// path) or a pool volume holding it (a name).
    pub kernel: String,
    /// An initramfs: a file on the appliance (an absolute path) or a pool volume.
    pub initrd: Option<String>,
    /// The kernel command line.
    #[serde(default)]
    pub cmdline: String,
    /// Guest memory (bytes or a size like `512M`; default 256M).
    #[schema(value_type = Object)]
    pub memory: Option<crate::core::size::SizeArg>,
    /// vCPUs (default 1).
    #[serde(default)]
    pub vcpus: Option<u8>,
    /// Start it whenever the daemon starts.
    #[serde(default)]
    pub autostart: bool,
    /// What happens when it stops by itself (default `never`).
    #[serde(default)]
    pub restart: super::model::RestartPolicy,
    /// Pool volumes as its disks, in the order the guest sees them; each is held by the
    /// VM while it exists.
    #[serde(default)]
    pub disks: Vec<super::model::VmDisk>,
    /// `VOLUME@SNAPSHOT`: a linked clone of it, `<name>-root`, becomes the first disk
    /// (made in constant time; deleted with the VM).
    #[serde(default)]
    pub clone_of: Option<String>,
    /// Network cards: virtio-net devices on host TAP devices, in the order the guest
    /// sees them.
    #[serde(default)]
    pub nets: Vec<super::model::VmNic>,
}

/// `POST /vms/{name}/stop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopVmBody {
    /// Power it off at once (kill its process) instead of asking the guest first.
    #[serde(default)]
    pub force: bool,
    /// How long the guest has to shut down after Ctrl+Alt+Del before it is powered off
    /// (default 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// A VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VmView {
    /// Its name.
    pub name: String,
    /// `running`, `paused`, `stopped` or `failed`.
    pub state: String,
    /// The kernel.
    pub kernel: String,
    /// The initramfs.
    pub initrd: Option<String>,
    /// The command line.
    pub cmdline: String,
    /// Guest memory in bytes.
    pub memory: u64,
    /// vCPUs.
    pub vcpus: u8,
    /// Started with the daemon.
    pub autostart: bool,
    /// What happens when it stops by itself.
    pub restart: super::model::RestartPolicy,
    /// The runner's process id while it runs.
    pub pid: Option<u32>,
    /// Seconds since it started, while it runs.
    pub uptime_secs: Option<f64>,
    /// How it last stopped: the guest reset it, it triple-faulted, KVM failed, it was
    /// stopped, or the runner died.
    pub last_exit: Option<String>,
    /// Times it was started since the daemon started.
    pub starts: u64,
    /// Its disks.
    pub disks: Vec<super::model::VmDisk>,
    /// Its network cards (with their MAC addresses).
    pub nets: Vec<super::model::VmNic>,
    /// Why its disks cannot be served (a volume that cannot be opened), if so.
    pub disk_problem: Option<String>,
    /// Undoable disks whose changes wait for `vsa vm commit` or `vsa vm discard`.
    pub pending_changes: Vec<String>,
    /// What it has done.
    pub stats: VmStatsView,
}

/// What a VM has done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VmStatsView {
    /// Its vCPUs' exits to the VMM since it last started, by reason: `io` (port I/O),
    /// `mmio` (device registers), `other`.
    pub vcpu_exits: BTreeMap<String, u64>,
    /// Its disks' operations by kind (`read`, `write`, `flush`, `unmap`), since the
    /// daemon started.
    pub disk_ops: BTreeMap<String, u64>,
    /// Its disks' bytes by kind, since the daemon started.
    pub disk_bytes: BTreeMap<String, u64>,
    /// Per network card, since the VM last started: `rx_frames`, `rx_bytes`,
    /// `rx_dropped` (frames the guest had no buffer for), `tx_frames`, `tx_bytes`,
    /// `tx_dropped` (frames the TAP device refused), `bad_chains` (malformed requests from
    /// the guest's driver).
    pub nets: Vec<BTreeMap<String, u64>>,
}

/// `GET /vms/{name}/console`, `POST /vms/{name}/console`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConsoleView {
    /// The VM.
    pub name: String,
    /// The console log from `from` (at most 64 KiB; lossy UTF-8).
    pub text: String,
    /// The log offset `text` starts at.
    pub from: u64,
    /// The offset after `text`: where the next read starts.
    pub next: u64,
    /// The VM runs (more may come).
    pub running: bool,
}

/// `POST /vms/{name}/console`: type on a running VM's console and read what it printed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleBody {
    /// Where to read from (a `next` from an earlier answer); the log's end part when
    /// absent.
    #[serde(default)]
    pub from: Option<u64>,
    /// Bytes to type on the console (at most 4096; a running VM only).
    #[serde(default)]
    pub input: Option<String>,
}
