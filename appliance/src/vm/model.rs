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
    /// The kernel (a Linux bzImage or a 64-bit ELF): an absolute path, or a volume name.
    pub kernel: String,
    /// An initramfs: an absolute path, or a volume name.
    #[serde(default)]
    pub initrd: Option<String>,
    /// The kernel command line.
    #[serde(default)]
    pub cmdline: String,
    /// Guest memory in bytes.
    pub memory: u64,
    /// vCPUs.
    #[serde(default = "one")]
    pub vcpus: u8,
    /// Started when the daemon starts.
    #[serde(default)]
    pub autostart: bool,
    /// What happens when it stops by itself.
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Its disks, in the order the guest sees them (`/dev/vda`, `/dev/vdb`, ...).
    #[serde(default)]
    pub disks: Vec<VmDisk>,
    /// Its network cards, in the order the guest sees them (`eth0`, ...).
    #[serde(default)]
    pub nets: Vec<VmNic>,
}

fn one() -> u8 {
    1
}

/// A network card of a VM: a virtio-net device on a host TAP device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VmNic {
    /// The host's TAP device (an existing one, e.g. from `ip tuntap add dev tap0 mode
    /// tap`, or one the VM makes for its run when the daemon may).
    pub tap: String,
    /// The guest's MAC address; chosen from the VM's name and the card's place when not
    /// given, so it stays the same.
    #[serde(default)]
    pub mac: Option<String>,
}

impl std::str::FromStr for VmNic {
    type Err = String;

    /// `TAP[=MAC]` (the CLI's `--net`).
    fn from_str(s: &str) -> Result<VmNic, String> {
        let (tap, mac) = match s.split_once('=') {
            Some((tap, mac)) => (tap, Some(mac.to_owned())),
            None => (s, None),
        };
        if tap.is_empty() {
            return Err(format!(
                "network card '{s}': name the TAP device, TAP[=MAC]"
            ));
        }
        Ok(VmNic {
            tap: tap.to_owned(),
            mac,
        })
    }
}

/// A pool volume a VM uses as a disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VmDisk {
    /// The volume.
    pub volume: String,
    /// The guest may read but not write it.
    #[serde(default)]
    pub read_only: bool,
    /// What happens to the guest's writes when it powers off.
    #[serde(default)]
    pub mode: DiskMode,
    /// The VM made the volume (`--clone-of`) and deletes it with itself.
    #[serde(default)]
    pub owned: bool,
}

/// What happens to a disk's writes (the seed's virtual disk modes), built on the pool's
/// snapshots: a nonpersistent disk is returned to the snapshot taken when the VM started,
/// an undoable disk keeps its start snapshot until `vsa vm commit` or `vsa vm discard`.
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
pub enum DiskMode {
    /// Writes stay.
    #[default]
    Persistent,
    /// Writes are thrown away when the VM stops.
    Nonpersistent,
    /// Writes are kept apart until committed or discarded.
    Undoable,
}

impl DiskMode {
    /// The snapshot that holds the disk's content from before the run, if the mode has
    /// one.
    pub fn snapshot(self) -> Option<&'static str> {
        match self {
            DiskMode::Persistent => None,
            DiskMode::Nonpersistent => Some("vm-nonpersistent"),
            DiskMode::Undoable => Some("vm-undo"),
        }
    }
}

impl std::str::FromStr for VmDisk {
    type Err = String;

    /// `VOLUME[:ro|:rw][:persistent|:nonpersistent|:undoable]` (the CLI's `--disk`).
    fn from_str(s: &str) -> Result<VmDisk, String> {
        let mut parts = s.split(':');
        let volume = parts.next().unwrap_or_default();
        if volume.is_empty() {
            return Err(format!("disk '{s}': no volume named"));
        }
        let mut disk = VmDisk {
            volume: volume.to_owned(),
            read_only: false,
            mode: DiskMode::Persistent,
            owned: false,
        };
        for option in parts {
            match option {
                "ro" => disk.read_only = true,
                "rw" => disk.read_only = false,
                "persistent" => disk.mode = DiskMode::Persistent,
                "nonpersistent" => disk.mode = DiskMode::Nonpersistent,
                "undoable" => disk.mode = DiskMode::Undoable,
                other => {
                    return Err(format!(
                        "disk '{s}': '{other}' is not an option; write VOLUME[:ro][:persistent|:nonpersistent|:undoable], e.g. VOLUME:ro or VOLUME:undoable"
                    ))
                }
            }
        }
        Ok(disk)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_options_parse_and_bad_ones_are_named() {
        let d: VmDisk = "gold:ro:nonpersistent".parse().unwrap();
        assert_eq!(
            (d.volume.as_str(), d.read_only, d.mode, d.owned),
            ("gold", true, DiskMode::Nonpersistent, false)
        );
        let d: VmDisk = "web".parse().unwrap();
        assert_eq!((d.read_only, d.mode), (false, DiskMode::Persistent));
        let e = "web:undo".parse::<VmDisk>().unwrap_err();
        assert!(e.contains("'undo'") && e.contains("VOLUME:undoable"), "{e}");
        assert!(":ro".parse::<VmDisk>().is_err());
    }
}
