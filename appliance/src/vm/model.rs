//! The durable model of the VM component, in the `vm` column family as JSON: one record
//! per vhost-user-blk export (`x/<volume>`).

use serde::{Deserialize, Serialize};

/// The column family of VMs and disk exports.
pub const CF_VM: &str = "vm";

/// Key of an export record.
pub fn export_key(volume: &str) -> Vec<u8> {
    format!("x/{volume}").into_bytes()
}

/// Prefix of the export records.
pub const EXPORT_PREFIX: &[u8] = b"x/";

/// A volume served over vhost-user-blk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// The volume.
    pub volume: String,
    /// The Unix socket VMMs connect to (absolute).
    pub socket: String,
    /// Guests may read but not write.
    #[serde(default)]
    pub read_only: bool,
    /// Request queues offered (a VMM uses at most this many).
    pub queues: u16,
}

/// Key of a VM record.
pub fn vm_key(name: &str) -> Vec<u8> {
    format!("v/{name}").into_bytes()
}

/// Prefix of the VM records.
pub const VM_PREFIX: &[u8] = b"v/";

/// A virtual machine's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    /// Its name.
    pub name: String,
    /// The kernel file (a Linux bzImage or a 64-bit ELF).
    pub kernel: String,
    /// An initramfs file.
    #[serde(default)]
    pub initrd: Option<String>,
    /// The kernel command line.
    #[serde(default)]
    pub cmdline: String,
    /// Guest memory in bytes.
    pub memory: u64,
    /// Started when the daemon starts.
    #[serde(default)]
    pub autostart: bool,
    /// What happens when it stops by itself.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Its disks, in the order the guest sees them (`/dev/vda`, `/dev/vdb`, ...).
    #[serde(default)]
    pub disks: Vec<VmDisk>,
}

/// A pool volume a VM uses as a disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VmDisk {
    /// The volume.
    pub volume: String,
    /// The guest may read but not write it.
    #[serde(default)]
    pub read_only: bool,
}

impl std::str::FromStr for VmDisk {
    type Err = String;

    /// `VOLUME` or `VOLUME:ro` (the CLI's `--disk`).
    fn from_str(s: &str) -> Result<VmDisk, String> {
        let (volume, read_only) = match s.rsplit_once(':') {
            Some((v, "ro")) => (v, true),
            Some((v, "rw")) => (v, false),
            Some((_, mode)) => {
                return Err(format!(
                    "disk '{s}': '{mode}' is not a mode; write VOLUME, VOLUME:ro or VOLUME:rw"
                ))
            }
            None => (s, false),
        };
        if volume.is_empty() {
            return Err(format!("disk '{s}': no volume named"));
        }
        Ok(VmDisk {
            volume: volume.to_owned(),
            read_only,
        })
    }
}

/// What happens when a VM stops without `vsa vm stop`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// It stays stopped.
    #[default]
    Never,
    /// It starts again when it failed (a fault, a KVM error, a runner that died), not
    /// when the guest reset or powered off.
    OnFailure,
    /// It starts again whenever it stops (a guest reboot boots it again).
    Always,
}
