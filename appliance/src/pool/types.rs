//! The pool component's request and reply bodies: one definition each, used by the
//! handlers, the CLI and the OpenAPI document. Replies are views built from the pool
//! crate's state, so the API stays what it is when that crate's types change.

use super::health::{Health, PoolHealth};
use crate::core::size::SizeArg;
pub use crate::core::Deleted;
use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use utoipa::ToSchema;
use vsa_pool::raid::MemberState;
use vsa_pool::raid::ScrubReport;
use vsa_pool::volume::SnapshotInfo;
use vsa_pool::{CheckReport, Pool, ProgressReport, VolumeInfo};

/// `{name}`: a pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolPath {
    /// The pool.
    pub name: String,
}

impl PathParams for PoolPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "pool name")];
}

/// `{name}/members/{member}`: a member of a pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberPath {
    /// The pool.
    pub name: String,
    /// The member: its path or index.
    pub member: String,
}

impl PathParams for MemberPath {
    const DOC: &'static [(&'static str, &'static str)] = &[
        ("name", "pool name"),
        ("member", "member path (URL-encoded) or index"),
    ];
}

/// `{name}`: a volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumePath {
    /// The volume.
    pub name: String,
}

impl PathParams for VolumePath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "volume name")];
}

/// `{name}/snapshots/{snap}`: a snapshot of a volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapPath {
    /// The volume.
    pub name: String,
    /// The snapshot.
    pub snap: String,
}

impl PathParams for SnapPath {
    const DOC: &'static [(&'static str, &'static str)] =
        &[("name", "volume name"), ("snap", "snapshot name")];
}

/// A RAID level as given: `"5"`, `5`, `"raid5"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RaidArg {
    /// `5`.
    Number(u32),
    /// `"5"` or `"raid5"`.
    Text(String),
}

impl std::fmt::Display for RaidArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RaidArg::Number(n) => write!(f, "{n}"),
            RaidArg::Text(s) => f.write_str(s),
        }
    }
}

/// `POST /pools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePoolBody {
    /// The pool's name.
    pub name: String,
    /// RAID level: 0, 1, 5, 6 or 10.
    pub raid: RaidArg,
    /// Member devices or files, absolute paths, in order.
    #[schema(value_type = Vec<String>)]
    pub members: Vec<PathBuf>,
    /// Hot spares.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub spares: Vec<PathBuf>,
    /// RAID chunk (stripe unit).
    pub raid_chunk: Option<SizeArg>,
    /// Thin-provisioning allocation chunk.
    pub chunk_size: Option<SizeArg>,
    /// Create missing member files as sparse files of this size.
    pub create_size: Option<SizeArg>,
    /// A log device (or file) for the pool's write journal; without one, the
    /// log is a file in the data directory.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub log: Option<PathBuf>,
}

/// `POST /pools/{name}/log`: the write journal's log device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogBody {
    /// Absolute path of a block device (used whole) or a file (made at the size the
    /// journal needs if missing).
    #[schema(value_type = String)]
    pub device: PathBuf,
}

/// A device for a pool: a spare, or a member's replacement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBody {
    /// Absolute path of a file or block device.
    #[schema(value_type = String)]
    pub device: PathBuf,
    /// Create the file as a sparse file of this size if it is missing.
    pub create_size: Option<SizeArg>,
}

/// `POST /pools/{name}/scrub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrubBody {
    /// Repair what it finds (default true).
    pub repair: Option<bool>,
}

/// `POST /volumes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVolumeBody {
    /// The name, unique across pools.
    pub name: String,
    /// The size.
    pub size: SizeArg,
    /// The pool (default: the only pool, or `default`).
    pub pool: Option<String>,
    /// Reserve all its space now.
    #[serde(default)]
    pub thick: bool,
}

/// `PATCH /volumes/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResizeBody {
    /// The new size.
    pub size: SizeArg,
    /// Shrink even though a component (an iSCSI LUN) serves the volume: its users then
    /// get errors past the new end. Growing needs no force.
    #[serde(default)]
    pub force: bool,
}

/// A name: of a new snapshot, or of a clone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// The name.
    pub name: String,
}

/// Progress of a long task.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// Bytes processed so far.
    pub done: u64,
    /// Bytes to process in all.
    pub total: u64,
    /// Bytes per second since the start.
    pub rate: f64,
    /// Seconds left at the current rate, if known.
    pub eta_secs: Option<f64>,
    /// Whether the work has ended.
    pub finished: bool,
}

impl From<ProgressReport> for Progress {
    fn from(p: ProgressReport) -> Self {
        Progress {
            done: p.done,
            total: p.total,
            rate: p.rate,
            eta_secs: p.eta_secs,
            finished: p.finished,
        }
    }
}

/// A member range a scrub rewrote because it was wrong or unreadable there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepairedRangeView {
    /// The member (its path).
    pub member: String,
    /// Where the range starts on the member, in bytes past its label area.
    pub offset: u64,
    /// Bytes rewritten.
    pub len: u64,
}

/// What a scrub found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScrubFindings {
    /// Member bytes read and checked.
    pub bytes_checked: u64,
    /// Stripe chunks whose copies or parity disagreed.
    pub mismatches: u64,
    /// Mismatches repaired knowing which copy was right.
    pub repaired: u64,
    /// Mismatches made consistent without knowing which copy was right.
    pub repaired_unverified: u64,
    /// Mismatches that could not be attributed.
    pub unrecoverable: u64,
    /// Member reads that failed (reconstructed and rewritten).
    pub read_errors: u64,
    /// The member ranges repair rewrote, adjacent ones merged (at most 64 listed).
    #[serde(default)]
    pub repairs: Vec<RepairedRangeView>,
    /// Repaired ranges past those listed.
    #[serde(default)]
    pub repairs_not_listed: u64,
}

impl From<ScrubReport> for ScrubFindings {
    fn from(r: ScrubReport) -> Self {
        ScrubFindings {
            bytes_checked: r.bytes_checked,
            mismatches: r.mismatches,
            repaired: r.repaired,
            repaired_unverified: r.repaired_unverified,
            unrecoverable: r.unrecoverable,
            read_errors: r.read_errors,
            repairs: r
                .repairs
                .into_iter()
                .map(|r| RepairedRangeView {
                    member: r.member,
                    offset: r.offset,
                    len: r.len,
                })
                .collect(),
            repairs_not_listed: r.repairs_not_listed,
        }
    }
}

/// `POST /pools/{name}/scrub`: the task started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskStarted {
    /// The pool.
    pub pool: String,
    /// `scrub`.
    pub task: String,
    /// Its progress.
    pub progress: Option<Progress>,
}

/// `POST /pools/{name}/check`: what the metadata consistency check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    /// The pool.
    pub pool: String,
    /// Nothing is wrong.
    pub clean: bool,
    /// Volumes checked.
    pub volumes: u64,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Map nodes checked.
    pub nodes: u64,
    /// Allocation chunks that maps reference.
    pub used_chunks: u64,
    /// Allocation chunks free.
    pub free_chunks: u64,
    /// Every inconsistency, as a sentence (at most about a hundred).
    pub problems: Vec<String>,
}

impl CheckView {
    /// The view of `pool`'s check report.
    pub fn of(pool: &str, r: CheckReport) -> CheckView {
        CheckView {
            pool: pool.to_owned(),
            clean: r.is_ok(),
            volumes: r.volumes,
            snapshots: r.snapshots,
            nodes: r.nodes,
            used_chunks: r.used_chunks,
            free_chunks: r.free_chunks,
            problems: r.problems,
        }
    }

    /// One line: clean with what was checked, or how many problems.
    pub fn summary(&self) -> String {
        let what = format!(
            "{} volume(s), {} snapshot(s), {} map node(s), {} chunk(s) in use, {} free",
            self.volumes, self.snapshots, self.nodes, self.used_chunks, self.free_chunks
        );
        if self.clean {
            format!("pool '{}' metadata is consistent: {what}", self.pool)
        } else {
            format!(
                "pool '{}' metadata has {} problem(s) ({what})",
                self.pool,
                self.problems.len()
            )
        }
    }
}

/// One member of a pool's RAID set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// Slot index.
    pub index: usize,
    /// Device name (path).
    pub name: String,
    /// `active`, `faulty`, `rebuilding` or `spare`.
    pub state: String,
    /// Bytes rebuilt so far, while rebuilding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rebuilt: Option<u64>,
    /// Reads that found this member's blocks failing their checksums since the pool
    /// opened (each read back from redundancy and rewritten, or reported as lost).
    #[serde(default)]
    pub checksum_errors: u64,
}

/// A member state as one word.
pub fn state_word(s: MemberState) -> &'static str {
    match s {
        MemberState::Active => "active",
        MemberState::Faulty => "faulty",
        MemberState::Rebuilding { .. } => "rebuilding",
        MemberState::Spare => "spare",
    }
}

/// A pool's RAID set: geometry and member states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RaidView {
    /// `raid0`, `raid1`, `raid5`, `raid6` or `raid10`.
    pub level: String,
    /// Stripe unit in bytes.
    pub chunk_size: u32,
    /// Usable bytes per member.
    pub member_size: u64,
    /// Bytes the set stores.
    pub capacity: u64,
    /// Members, in index order.
    pub members: Vec<MemberView>,
    /// Hot spares.
    pub spares: Vec<String>,
    /// Some member is not active.
    pub degraded: bool,
    /// More members are missing than the level tolerates.
    pub failed: bool,
    /// Some member waits for (or is in) a rebuild.
    pub needs_rebuild: bool,
    /// Some regions were left dirty by an unclean stop.
    pub needs_resync: bool,
    /// The members keep checksums of their blocks.
    #[serde(default)]
    pub checksums: bool,
}

/// Pool space as the volumes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpaceView {
    /// Usable bytes, in whole chunks.
    pub capacity: u64,
    /// Bytes in allocated chunks.
    pub allocated: u64,
    /// Bytes free.
    pub free: u64,
    /// Sum of the volumes' sizes (may exceed the capacity).
    pub provisioned: u64,
    /// The allocation chunk size.
    pub chunk_size: u64,
    /// Free space is below the low-space threshold.
    pub low: bool,
    /// A write failed for lack of free chunks and no space has been freed since.
    #[serde(default)]
    pub exhausted: bool,
}

/// The read cache in front of a pool's RAID set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadCacheView {
    /// Pages reads found in the cache.
    pub hits: u64,
    /// Pages reads fetched from the members.
    pub misses: u64,
    /// Pages dropped to make room.
    pub evictions: u64,
    /// Bytes held now.
    pub bytes_cached: u64,
    /// Capacity in bytes (0: off).
    pub capacity: u64,
    /// Page size in bytes.
    pub page_size: u64,
}

/// The write journal in front of a pool's RAID set (small writes are logged,
/// acknowledged once durable, and written home in the background).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalView {
    /// Room for records in the log, bytes.
    pub capacity: u64,
    /// Bytes of records in the log now.
    pub used: u64,
    /// 4 KiB blocks journaled and not yet home.
    pub pending_blocks: u64,
    /// Records (journaled writes or parts of writes) since the pool opened.
    pub records: u64,
    /// Durable appends that stored them: records / commits is writes per flush.
    pub commits: u64,
    /// Bytes journaled since the pool opened.
    pub journaled_bytes: u64,
    /// Whole-stripe writes that went straight to the RAID set.
    pub direct_writes: u64,
    /// Bytes written home by destaging.
    pub destaged_bytes: u64,
    /// Records replayed when the pool opened (after an unclean stop).
    pub replayed_records: u64,
    /// Why writing journaled blocks home fails, while it does.
    #[serde(default)]
    pub failing: Option<String>,
    /// The log device, if the journal has one (else its log is a file in the data
    /// directory).
    #[serde(default)]
    pub log_device: Option<String>,
}

impl From<vsa_pool::write_journal::JournalStats> for JournalView {
    fn from(j: vsa_pool::write_journal::JournalStats) -> Self {
        JournalView {
            capacity: j.capacity_bytes,
            used: j.used_bytes,
            pending_blocks: j.pending_blocks,
            records: j.records,
            commits: j.commits,
            journaled_bytes: j.journaled_bytes,
            direct_writes: j.direct_writes,
            destaged_bytes: j.destaged_bytes,
            replayed_records: j.replayed_records,
            failing: j.failing,
            log_device: None,
        }
    }
}

/// A pool: record, health, RAID set, space, long tasks, volume names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PoolView {
    /// Name.
    pub name: String,
    /// Numeric id.
    pub id: u64,
    /// Unique id written into every member's label (hex).
    pub uuid: String,
    /// RAID level: `raid0`, `raid1`, `raid5`, `raid6` or `raid10`.
    pub level: String,
    /// RAID chunk (stripe unit) in bytes.
    pub raid_chunk: u32,
    /// Allocation chunk in bytes.
    pub chunk_size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The most severe state that applies (see [`Health`] for when each does).
    pub health: Health,
    /// Every state that applies, most severe first (`health` is the first); `[healthy]`
    /// when none of the others does.
    pub conditions: Vec<Health>,
    /// The RAID set.
    pub raid: RaidView,
    /// Space.
    pub space: SpaceView,
    /// Rebuild progress, if one ran since the pool opened.
    pub rebuild: Option<Progress>,
    /// Scrub progress, if one ran since the pool opened.
    pub scrub: Option<Progress>,
    /// The last scrub's findings.
    pub last_scrub: Option<ScrubFindings>,
    /// Why the last scrub stopped before its end, if an error stopped it.
    #[serde(default)]
    pub scrub_failure: Option<String>,
    /// The read cache.
    pub read_cache: ReadCacheView,
    /// Progress of building the checksums of members that had none (a pool made before
    /// checksums), if that ran since the pool opened.
    #[serde(default)]
    pub checksum_build: Option<Progress>,
    /// The write journal (`null` when `write_journal = 0`).
    #[serde(default)]
    pub write_journal: Option<JournalView>,
    /// The pool's volumes.
    pub volumes: Vec<String>,
}

impl PoolView {
    /// The view of `pool` now.
    pub fn of(pool: &Pool) -> PoolView {
        let st = pool.status();
        let h = PoolHealth::of(&st);
        let r = st.raid;
        let members = r
            .members
            .iter()
            .map(|m| MemberView {
                index: m.index,
                name: m.name.clone(),
                state: state_word(m.state).into(),
                rebuilt: match m.state {
                    MemberState::Rebuilding { rebuilt } => Some(rebuilt),
                    _ => None,
                },
                checksum_errors: m.checksum_errors,
            })
            .collect();
        let c = st.read_cache;
        PoolView {
            name: st.record.name.clone(),
            id: st.record.id,
            uuid: st.record.uuid.clone(),
            level: st.record.level.to_string(),
            raid_chunk: st.record.raid_chunk,
            chunk_size: st.record.chunk_size,
            created: st.record.created,
            health: h.health,
            conditions: h.conditions,
            raid: RaidView {
                level: r.level.to_string(),
                chunk_size: r.chunk_size,
                member_size: r.member_size,
                capacity: r.capacity,
                members,
                spares: r.spares,
                degraded: r.degraded,
                failed: r.failed,
                needs_rebuild: r.needs_rebuild,
                needs_resync: r.needs_resync,
                checksums: r.checksums,
            },
            space: SpaceView {
                capacity: st.space.capacity,
                allocated: st.space.allocated,
                free: st.space.free,
                provisioned: st.space.provisioned,
                chunk_size: st.space.chunk_size,
                low: st.space.low,
                exhausted: st.space.exhausted,
            },
            rebuild: st.rebuild.map(Into::into),
            scrub: st.scrub.map(Into::into),
            last_scrub: st.last_scrub.map(Into::into),
            scrub_failure: st.scrub_failure.clone(),
            read_cache: ReadCacheView {
                hits: c.hits,
                misses: c.misses,
                evictions: c.evictions,
                bytes_cached: c.bytes_cached,
                capacity: c.capacity,
                page_size: c.page_size,
            },
            checksum_build: st.checksum_build.map(Into::into),
            write_journal: st.write_journal.map(|j| JournalView {
                log_device: st.record.log.as_ref().map(|p| p.display().to_string()),
                ..j.into()
            }),
            volumes: pool.volumes().names(),
        }
    }
}

/// A pool in the `GET /status` summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PoolSummary {
    /// Name.
    pub name: String,
    /// RAID level, e.g. `raid5`.
    pub raid: String,
    /// The most severe state that applies (as in [`PoolView`]).
    pub health: Health,
    /// Every state that applies, most severe first.
    pub conditions: Vec<Health>,
    /// Usable bytes.
    pub capacity: u64,
    /// Bytes in allocated chunks.
    pub allocated: u64,
    /// Bytes free.
    pub free: u64,
    /// Sum of the volumes' sizes.
    pub provisioned: u64,
    /// How many volumes.
    pub volumes: usize,
}

impl PoolSummary {
    /// The summary of `pool` now.
    pub fn of(pool: &Pool) -> PoolSummary {
        let st = pool.status();
        let h = PoolHealth::of(&st);
        let space = st.space;
        PoolSummary {
            name: pool.name().to_owned(),
            raid: pool.record().level.to_string(),
            health: h.health,
            conditions: h.conditions,
            capacity: space.capacity,
            allocated: space.allocated,
            free: space.free,
            provisioned: space.provisioned,
            volumes: pool.volumes().names().len(),
        }
    }
}

/// A volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VolumeView {
    /// Name, unique in the appliance.
    pub name: String,
    /// The pool's name.
    pub pool: String,
    /// The pool's numeric id.
    pub pool_id: u64,
    /// Its head map node.
    pub head: u64,
    /// Size in bytes.
    pub size: u64,
    /// Space was reserved at creation.
    pub thick: bool,
    /// Stable unique id (hex).
    pub uuid: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The snapshot it was cloned from (`vol@snap`).
    pub origin: Option<String>,
    /// Pool bytes this volume alone holds.
    pub allocated: u64,
    /// Its snapshots, oldest first.
    pub snapshots: Vec<String>,
}

impl VolumeView {
    /// The view of a volume of `pool`.
    pub fn of(pool: &Pool, info: VolumeInfo) -> VolumeView {
        let r = info.record;
        VolumeView {
            name: r.name,
            pool: pool.name().to_owned(),
            pool_id: r.pool,
            head: r.head,
            size: r.size,
            thick: r.thick,
            uuid: r.uuid,
            created: r.created,
            origin: r.origin,
            allocated: info.allocated,
            snapshots: info.snapshots,
        }
    }

    /// `thick` or `thin`.
    pub fn kind(&self) -> &'static str {
        if self.thick {
            "thick"
        } else {
            "thin"
        }
    }
}

/// A snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotView {
    /// The volume it was taken of.
    pub volume: String,
    /// Its name.
    pub name: String,
    /// The pool's numeric id.
    pub pool: u64,
    /// Its frozen map node.
    pub node: u64,
    /// The volume's size when it was taken.
    pub size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Pool bytes this snapshot alone holds.
    pub allocated: u64,
    /// Volumes cloned from it.
    pub clones: Vec<String>,
}

impl From<SnapshotInfo> for SnapshotView {
    fn from(s: SnapshotInfo) -> Self {
        let r = s.record;
        SnapshotView {
            volume: r.volume,
            name: r.name,
            pool: r.pool,
            node: r.node,
            size: r.size,
            created: r.created,
            allocated: s.allocated,
            clones: s.clones,
        }
    }
}

/// `POST /transfers/import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportImageBody {
    /// The image file (absolute path on the appliance).
    pub file: String,
    /// The new volume's name.
    pub name: String,
    /// The image's format: raw, qcow2, vmdk, vhd or vhdx (default: probed by qemu-img).
    pub format: Option<String>,
    /// The pool (default: the only pool, or `default`).
    pub pool: Option<String>,
}

/// `POST /transfers/export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportImageBody {
    /// The volume.
    pub volume: String,
    /// The image file to create (absolute path on the appliance; must not exist).
    pub file: String,
    /// Its format: raw, qcow2, vmdk, vhd or vhdx.
    pub format: String,
}

/// `{volume}`: the transfers of a volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferPath {
    /// The volume.
    pub volume: String,
}

impl crate::core::PathParams for TransferPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("volume", "volume name")];
}

/// An image import or export and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    /// `import` or `export`.
    pub direction: String,
    /// The volume.
    pub volume: String,
    /// The image file.
    pub file: String,
    /// The image's format.
    pub format: String,
    /// Bytes to move.
    pub total: u64,
    /// Bytes moved.
    pub done: u64,
    /// `running`, `finished` or `failed`.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
}

impl TransferView {
    /// A transfer starting.
    pub fn new(
        direction: &str,
        volume: &str,
        file: &std::path::Path,
        format: &str,
        total: u64,
    ) -> Self {
        TransferView {
            direction: direction.into(),
            volume: volume.into(),
            file: file.display().to_string(),
            format: format.into(),
            total,
            done: 0,
            state: "running".into(),
            error: None,
        }
    }
}
