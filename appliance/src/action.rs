//! [`Action`]: one value per API operation. The HTTP API parses each request into an
//! `Action` (`api/`), the controller executes it (`controller.rs`), and the CLI builds the
//! same values and sends them with [`Action::request`], so both sides name every operation
//! once.

use serde_json::{json, Value};
use std::path::PathBuf;

/// How to create a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePool {
    /// The pool's name.
    pub name: String,
    /// RAID level (0, 1, 5, 6, 10).
    pub raid: String,
    /// Member devices or files.
    pub members: Vec<PathBuf>,
    /// Hot spares.
    pub spares: Vec<PathBuf>,
    /// RAID chunk (stripe unit) in bytes.
    pub raid_chunk: Option<u64>,
    /// Allocation chunk in bytes.
    pub chunk_size: Option<u64>,
    /// Create missing member files as sparse files of this many bytes.
    pub create_size: Option<u64>,
}

/// One API operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Version, uptime, components, pools.
    Status,
    /// All pools.
    ListPools,
    /// One pool with members, progress and the last scrub.
    ShowPool {
        /// Pool.
        name: String,
    },
    /// Create a pool.
    CreatePool(CreatePool),
    /// Add a hot spare.
    AddSpare {
        /// Pool.
        pool: String,
        /// Device or file.
        device: PathBuf,
        /// Create the file sparse with this size if missing.
        create_size: Option<u64>,
    },
    /// Fail a member (by path or index); a spare or a later replace rebuilds.
    FailMember {
        /// Pool.
        pool: String,
        /// Member path or index.
        member: String,
    },
    /// Replace a member with a new device and rebuild onto it.
    ReplaceMember {
        /// Pool.
        pool: String,
        /// Member path or index.
        member: String,
        /// The new device.
        device: PathBuf,
        /// Create the file sparse with this size if missing.
        create_size: Option<u64>,
    },
    /// Start a scrub.
    StartScrub {
        /// Pool.
        pool: String,
        /// Repair what it finds.
        repair: bool,
    },
    /// All volumes of every pool.
    ListVolumes,
    /// One volume.
    ShowVolume {
        /// Volume.
        name: String,
    },
    /// Create a volume.
    CreateVolume {
        /// Name, unique in the appliance.
        name: String,
        /// Size in bytes.
        size: u64,
        /// Pool (default: the only pool, or `default`).
        pool: Option<String>,
        /// Reserve all space now.
        thick: bool,
    },
    /// Grow or shrink a volume.
    ResizeVolume {
        /// Volume.
        name: String,
        /// New size in bytes.
        size: u64,
    },
    /// Delete a volume and its snapshots.
    DeleteVolume {
        /// Volume.
        name: String,
    },
    /// A volume's snapshots.
    ListSnapshots {
        /// Volume.
        volume: String,
    },
    /// Take a snapshot.
    CreateSnapshot {
        /// Volume.
        volume: String,
        /// Snapshot name.
        name: String,
    },
    /// Delete a snapshot.
    DeleteSnapshot {
        /// Volume.
        volume: String,
        /// Snapshot.
        snapshot: String,
    },
    /// Make a new volume from a snapshot (a linked clone).
    CloneSnapshot {
        /// Volume.
        volume: String,
        /// Snapshot.
        snapshot: String,
        /// The new volume's name.
        new: String,
    },
    /// Return a volume to a snapshot.
    Rollback {
        /// Volume.
        volume: String,
        /// Snapshot.
        snapshot: String,
    },
    /// All iSCSI targets.
    ListTargets,
    /// One target.
    ShowTarget {
        /// Target IQN.
        name: String,
    },
    /// Create a target.
    CreateTarget {
        /// Target IQN.
        name: String,
        /// TargetAlias.
        alias: Option<String>,
    },
    /// Delete a target (its sessions end; volumes stay).
    DeleteTarget {
        /// Target IQN.
        name: String,
    },
    /// Serve a volume as a LUN.
    AddLun {
        /// Target IQN.
        target: String,
        /// Volume.
        volume: String,
        /// LUN number (default: the lowest free).
        lun: Option<u64>,
        /// Writes fail with DATA PROTECT.
        read_only: bool,
        /// Removable medium.
        removable: bool,
    },
    /// Stop serving a LUN.
    RemoveLun {
        /// Target IQN.
        target: String,
        /// LUN number.
        lun: u64,
    },
    /// Admit an initiator.
    AddAcl {
        /// Target IQN.
        target: String,
        /// Initiator IQN.
        initiator: String,
    },
    /// Stop admitting an initiator.
    RemoveAcl {
        /// Target IQN.
        target: String,
        /// Initiator IQN.
        initiator: String,
    },
    /// Set or clear CHAP.
    SetChap(SetChap),
    /// Sessions of the iSCSI server.
    Sessions {
        /// Only this target's.
        target: Option<String>,
    },
}

/// CHAP settings of a target; no user means no CHAP.
#[derive(Clone, PartialEq, Eq)]
pub struct SetChap {
    /// Target IQN.
    pub target: String,
    /// CHAP user the initiator must present (None: CHAP off).
    pub user: Option<String>,
    /// Its secret.
    pub secret: Option<String>,
    /// The target's own user, for mutual CHAP.
    pub mutual_user: Option<String>,
    /// Its secret.
    pub mutual_secret: Option<String>,
}

impl std::fmt::Debug for SetChap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetChap")
            .field("target", &self.target)
            .field("user", &self.user)
            .field("mutual_user", &self.mutual_user)
            .finish_non_exhaustive()
    }
}

/// An HTTP request: method, path under `/api/v1`, optional JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// Path below `/api/v1`, with names percent-safe (names hold only `A-Za-z0-9._-`).
    pub path: String,
    /// JSON body.
    pub body: Option<Value>,
}

fn req(method: &'static str, path: String, body: Option<Value>) -> Request {
    Request { method, path, body }
}

fn path_str(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Escapes a path segment: names are plain, but member paths hold `/`.
pub fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Action {
    /// The HTTP request that asks the daemon for this action.
    pub fn request(&self) -> Request {
        let s = segment;
        match self {
            Action::Status => req("GET", "/status".into(), None),
            Action::ListPools => req("GET", "/pools".into(), None),
            Action::ShowPool { name } => req("GET", format!("/pools/{}", s(name)), None),
            Action::CreatePool(c) => req(
                "POST",
                "/pools".into(),
                Some(json!({
                    "name": c.name,
                    "raid": c.raid,
                    "members": c.members.iter().map(|p| path_str(p)).collect::<Vec<_>>(),
                    "spares": c.spares.iter().map(|p| path_str(p)).collect::<Vec<_>>(),
                    "raid_chunk": c.raid_chunk,
                    "chunk_size": c.chunk_size,
                    "create_size": c.create_size,
                })),
            ),
            Action::AddSpare {
                pool,
                device,
                create_size,
            } => req(
                "POST",
                format!("/pools/{}/spares", s(pool)),
                Some(json!({ "device": path_str(device), "create_size": create_size })),
            ),
            Action::FailMember { pool, member } => req(
                "POST",
                format!("/pools/{}/members/{}/fail", s(pool), s(member)),
                None,
            ),
            Action::ReplaceMember {
                pool,
                member,
                device,
                create_size,
            } => req(
                "POST",
                format!("/pools/{}/members/{}/replace", s(pool), s(member)),
                Some(json!({ "device": path_str(device), "create_size": create_size })),
            ),
            Action::StartScrub { pool, repair } => req(
                "POST",
                format!("/pools/{}/scrub", s(pool)),
                Some(json!({ "repair": repair })),
            ),
            Action::ListVolumes => req("GET", "/volumes".into(), None),
            Action::ShowVolume { name } => req("GET", format!("/volumes/{}", s(name)), None),
            Action::CreateVolume {
                name,
                size,
                pool,
                thick,
            } => req(
                "POST",
                "/volumes".into(),
                Some(json!({ "name": name, "size": size, "pool": pool, "thick": thick })),
            ),
            Action::ResizeVolume { name, size } => req(
                "PATCH",
                format!("/volumes/{}", s(name)),
                Some(json!({ "size": size })),
            ),
            Action::DeleteVolume { name } => req("DELETE", format!("/volumes/{}", s(name)), None),
            Action::ListSnapshots { volume } => {
                req("GET", format!("/volumes/{}/snapshots", s(volume)), None)
            }
            Action::CreateSnapshot { volume, name } => req(
                "POST",
                format!("/volumes/{}/snapshots", s(volume)),
                Some(json!({ "name": name })),
            ),
            Action::DeleteSnapshot { volume, snapshot } => req(
                "DELETE",
                format!("/volumes/{}/snapshots/{}", s(volume), s(snapshot)),
                None,
            ),
            Action::CloneSnapshot {
                volume,
                snapshot,
                new,
            } => req(
                "POST",
                format!("/volumes/{}/snapshots/{}/clone", s(volume), s(snapshot)),
                Some(json!({ "name": new })),
            ),
            Action::Rollback { volume, snapshot } => req(
                "POST",
                format!("/volumes/{}/snapshots/{}/rollback", s(volume), s(snapshot)),
                None,
            ),
            Action::ListTargets => req("GET", "/targets".into(), None),
            Action::ShowTarget { name } => req("GET", format!("/targets/{}", s(name)), None),
            Action::CreateTarget { name, alias } => req(
                "POST",
                "/targets".into(),
                Some(json!({ "name": name, "alias": alias })),
            ),
            Action::DeleteTarget { name } => req("DELETE", format!("/targets/{}", s(name)), None),
            Action::AddLun {
                target,
                volume,
                lun,
                read_only,
                removable,
            } => req(
                "POST",
                format!("/targets/{}/luns", s(target)),
                Some(json!({
                    "volume": volume,
                    "lun": lun,
                    "read_only": read_only,
                    "removable": removable,
                })),
            ),
            Action::RemoveLun { target, lun } => {
                req("DELETE", format!("/targets/{}/luns/{lun}", s(target)), None)
            }
            Action::AddAcl { target, initiator } => req(
                "POST",
                format!("/targets/{}/acl", s(target)),
                Some(json!({ "initiator": initiator })),
            ),
            Action::RemoveAcl { target, initiator } => req(
                "DELETE",
                format!("/targets/{}/acl/{}", s(target), s(initiator)),
                None,
            ),
            Action::SetChap(c) => req(
                "PUT",
                format!("/targets/{}/chap", s(&c.target)),
                Some(json!({
                    "user": c.user,
                    "secret": c.secret,
                    "mutual_user": c.mutual_user,
                    "mutual_secret": c.mutual_secret,
                })),
            ),
            Action::Sessions { target } => match target {
                Some(t) => req("GET", format!("/targets/{}/sessions", s(t)), None),
                None => req("GET", "/sessions".into(), None),
            },
        }
    }
}
