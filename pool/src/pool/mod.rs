//! [`Pool`]: member devices + a RAID set + the volumes on it, created and reopened from
//! the metadata store, with background rebuild and scrub whose progress callers can read.
//! The volumes reach the RAID set through a [`ReadCache`] and a [`WriteJournal`] (unless
//! `journal_bytes` is 0); rebuild and scrub use the set directly.

use crate::cache::{ReadCache, ReadCacheStats, DEFAULT_READ_CACHE_BYTES};
use crate::integrity::{IntegrityDevice, SumStore};
use crate::journal_db::DbJournal;
use crate::member::{Member, MemberError};
use crate::meta::{be_u64, MetaError, MetaStore, CF_POOL};
use crate::raid::{
    MemberState, RaidError, RaidLevel, RaidMember, RaidSet, RaidStatus, ScrubReport,
};
use crate::sums_db::DbSums;
use crate::volume::{CheckReport, SpaceInfo, VolumeError, VolumeManager, DEFAULT_CHUNK_SIZE};
use crate::write_journal::{JournalStats, WriteJournal, DEFAULT_JOURNAL_BYTES};
use crate::{Progress, ProgressReport};
use parking_lot::Mutex;
use rand::rngs::OsRng;
use rand::RngCore;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vsa_blockdev::{BlockDevice, BlockError, ErrorKind, Op};

/// The default RAID chunk (stripe unit): 64 KiB.
pub const DEFAULT_RAID_CHUNK: u32 = 64 * 1024;

/// An error from a pool operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A member device problem.
    #[error(transparent)]
    Member(#[from] MemberError),
    /// A RAID problem.
    #[error(transparent)]
    Raid(#[from] RaidError),
    /// A volume problem.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A metadata store problem.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// No such pool.
    #[error("no pool named '{0}'")]
    NoSuchPool(String),
    /// The name is taken.
    #[error("a pool named '{0}' already exists; choose another name")]
    PoolExists(String),
    /// A device is in the pool twice, or belongs to another pool.
    #[error("{path}: {why}")]
    BadMember {
        /// The device.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// No member of the pool has that path or index.
    #[error("pool '{pool}' has no member '{member}'")]
    NoSuchMember {
        /// The pool.
        pool: String,
        /// The path or index asked for.
        member: String,
    },
    /// A long operation is already running.
    #[error("pool '{pool}' is already running a {task}; wait for it or cancel it")]
    Busy {
        /// The pool.
        pool: String,
        /// What is running.
        task: &'static str,
    },
    /// A log device the write journal cannot use.
    #[error("{path}: {why}")]
    BadLog {
        /// The device or file.
        path: PathBuf,
        /// What is wrong, and what to do.
        why: String,
    },
    /// The pool has no write journal, so no log device.
    #[error("pool '{pool}' has no write journal ({why}), so it takes no log device")]
    NoJournal {
        /// The pool.
        pool: String,
        /// Why not.
        why: String,
    },
    /// The operating system's random number generator failed (a new id was needed).
    #[error("the operating system's random number generator failed: {0}; no new pool or member id can be made until it works")]
    NoRandomness(#[source] rand::Error),
}

/// What a new pool is made of.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// The pool's name.
    pub name: String,
    /// The RAID level.
    pub level: RaidLevel,
    /// Member devices or files, in order.
    pub members: Vec<PathBuf>,
    /// Hot spares.
    pub spares: Vec<PathBuf>,
    /// RAID chunk (stripe unit) in bytes.
    pub raid_chunk: u32,
    /// Volume allocation chunk in bytes.
    pub chunk_size: u64,
    /// Create missing member files as sparse files of this many bytes.
    pub create_size: Option<u64>,
    /// Room for records in the pool's write journal (0: no journal).
    pub journal_bytes: u64,
    /// A log device (or file) for the write journal; `None`: a file in the data directory.
    pub log: Option<PathBuf>,
}

impl PoolSpec {
    /// A spec with default chunk sizes.
    pub fn new(name: &str, level: RaidLevel, members: Vec<PathBuf>) -> Self {
        PoolSpec {
            name: name.to_owned(),
            level,
            members,
            spares: Vec::new(),
            raid_chunk: DEFAULT_RAID_CHUNK,
            chunk_size: DEFAULT_CHUNK_SIZE,
            create_size: None,
            journal_bytes: DEFAULT_JOURNAL_BYTES,
            log: None,
        }
    }
}

/// A pool's durable record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolRecord {
    /// Name.
    pub name: String,
    /// Numeric id (key prefix of its metadata).
    pub id: u64,
    /// Unique id written into every member's label (hex).
    pub uuid: String,
    /// RAID level.
    pub level: RaidLevel,
    /// RAID chunk in bytes.
    pub raid_chunk: u32,
    /// Allocation chunk in bytes.
    pub chunk_size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The write journal's log device, if it has one (else its log is a file in the data
    /// directory). In [`Pool::status`], the device now.
    #[serde(default)]
    pub log: Option<PathBuf>,
}

/// A pool's state for `vsa pool show`.
#[derive(Debug, Clone, Serialize)]
pub struct PoolStatus {
    /// The durable record.
    #[serde(flatten)]
    pub record: PoolRecord,
    /// RAID geometry and member states.
    pub raid: RaidStatus,
    /// Space accounting.
    pub space: SpaceInfo,
    /// Rebuild progress, if one ran since the pool was opened.
    pub rebuild: Option<ProgressReport>,
    /// Scrub progress, if one ran since the pool was opened.
    pub scrub: Option<ProgressReport>,
    /// The last scrub's findings.
    pub last_scrub: Option<ScrubReport>,
    /// Why the last scrub stopped before its end, if an error stopped it (a scrub that
    /// finishes, or is cancelled, clears it).
    pub scrub_failure: Option<String>,
    /// The read cache in front of the RAID set.
    pub read_cache: ReadCacheStats,
    /// Progress of building the checksums of members that had none (pools made before
    /// checksums), if that ran since the pool opened.
    pub checksum_build: Option<ProgressReport>,
    /// The write journal (`None`: off).
    pub write_journal: Option<JournalStats>,
}

/// A storage pool.
#[derive(Debug)]
pub struct Pool {
    record: PoolRecord,
    store: Arc<MetaStore>,
    /// The write journal's log device now (`vsa pool log add|remove` change it).
    log: Mutex<Option<PathBuf>>,
    /// Held while the log moves.
    log_change: Mutex<()>,
    raid: Arc<RaidSet>,
    /// The write journal in front of the set.
    journal: Option<Arc<WriteJournal<Arc<RaidSet>>>>,
    /// The RAID set as the volumes see it (through the journal, if any).
    cache: Arc<ReadCache<Arc<dyn BlockDevice>>>,
    volumes: VolumeManager,
    tasks: Arc<Mutex<Tasks>>,
    /// Where the members' checksums are kept.
    sums: Arc<DbSums>,
    /// The members and spares with their checksums, by name.
    checked: Mutex<Vec<(String, Arc<Checked>)>>,
    /// Bytes per second for rebuilds, scrubs and checksum builds (0 = unlimited).
    pub rate_limit: u64,
}

/// A member whose blocks are checked against their checksums.
type Checked = IntegrityDevice<Member>;

fn pool_key(name: &str) -> Vec<u8> {
    let mut k = b"p".to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// 16 bytes from the operating system's random number generator, for pool and member
/// ids (stored as 32 lower-case hex digits in records, raw in member labels).
pub fn random_id() -> Result<[u8; 16], PoolError> {
    let mut out = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut out)
        .map_err(PoolError::NoRandomness)?;
    Ok(out)
}

/// Reads an id back from its 32 hex digits.
fn unhex(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Wraps a member in its checksums (`new`: just labelled, reads as zeros or will be
/// resynchronized or rebuilt, so its checksums count as built).
fn checked_member(
    m: Member,
    sums: &Arc<DbSums>,
    new: bool,
) -> Result<(RaidMember, Arc<Checked>), PoolError> {
    let name = m.path().display().to_string();
    let key = m.label().member_id;
    let store: Arc<dyn SumStore> = sums.clone();
    let dev = Arc::new(
        IntegrityDevice::open(m, name.clone(), key, store, new).map_err(RaidError::Block)?,
    );
    Ok((
        RaidMember {
            name,
            dev: dev.clone(),
        },
        dev,
    ))
}

/// Member files an operation created, removed again (when dropped) unless it succeeds:
/// a refused `pool create`, `pool replace` or `pool spare` leaves no file behind.
#[derive(Debug, Default)]
struct NewFiles(Vec<PathBuf>);

impl NewFiles {
    /// The operation succeeded: keep the files.
    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for NewFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::warn!(path = %p.display(), "cannot remove a member file made for a refused operation: {e}");
            }
        }
    }
}

/// Labels `path` for pool `uuid`, creating a sparse file if it is missing and `size` is
/// given (noted in `new`). Refuses a device that already belongs to a pool.
fn prepare_member(
    path: &Path,
    uuid: [u8; 16],
    size: Option<u64>,
    new: &mut NewFiles,
) -> Result<(Member, bool), PoolError> {
    if !path.exists() {
        if let Some(size) = size {
            let m = Member::create_file(path, size, (uuid, random_id()?))?;
            new.0.push(path.to_owned());
            return Ok((m, true));
        }
    }
    if let Some(owner) = crate::log_file::read_owner(path) {
        return Err(PoolError::BadMember {
            path: path.to_owned(),
            why: format!(
                "the device is the write journal log of vsa pool {}; remove it from that pool (vsa pool log remove) or wipe its first 4 KiB before reusing it",
                hex::encode(owner)
            ),
        });
    }
    if let Ok(label) = crate::member::read_label(path) {
        return Err(PoolError::BadMember {
            path: path.to_owned(),
            why: format!(
                "the device already belongs to vsa pool {}; remove it from that pool (or wipe its first MiB) before reusing it",
                hex::encode(label.pool_id)
            ),
        });
    }
    Ok((Member::format(path, uuid, random_id()?)?, false))
}

mod journal_log;
mod log_device;
mod tasks;

use tasks::Tasks;

impl Pool {
    /// Creates a pool: labels the members (creating sparse files if asked), builds the RAID
    /// set and records the pool durably.
    pub fn create(store: Arc<MetaStore>, spec: &PoolSpec) -> Result<Pool, PoolError> {
        crate::volume::check_name(&spec.name)?;
        if store.get(CF_POOL, &pool_key(&spec.name))?.is_some() {
            return Err(PoolError::PoolExists(spec.name.clone()));
        }
        let all: Vec<&PathBuf> = spec.members.iter().chain(&spec.spares).collect();
        for (i, p) in all.iter().enumerate() {
            if all[..i].contains(p) {
                return Err(PoolError::BadMember {
                    path: (*p).clone(),
                    why: "the device is listed twice; each member must be a different device"
                        .into(),
                });
            }
        }
        if let Some(log) = spec.log.as_ref().filter(|l| all.contains(l)) {
            return Err(PoolError::BadLog {
                path: log.clone(),
                why: "the log device is also listed as a member or spare; give the log a device of its own".into(),
            });
        }
        if spec.members.len() < spec.level.min_members() {
            return Err(RaidError::TooFewMembers {
                level: spec.level,
                min: spec.level.min_members(),
                got: spec.members.len(),
            }
            .into());
        }
        let uuid = random_id()?;
        let id = match store.get(CF_POOL, b"next_pool")? {
            Some(v) => be_u64(&v, 0).unwrap_or(1),
            None => 1,
        };
        let sums = Arc::new(DbSums::new(store.clone()));
        let mut new = NewFiles::default();
        let mut members = Vec::new();
        let mut checked = Vec::new();
        let mut all_fresh = true;
        for p in &spec.members {
            let (m, fresh) = prepare_member(p, uuid, spec.create_size, &mut new)?;
            all_fresh &= fresh;
            let (rm, c) = checked_member(m, &sums, true)?;
            checked.push((rm.name.clone(), c));
            members.push(rm);
        }
        let mut spares = Vec::new();
        for p in &spec.spares {
            let (m, _) = prepare_member(p, uuid, spec.create_size, &mut new)?;
            let (rm, c) = checked_member(m, &sums, true)?;
            checked.push((rm.name.clone(), c));
            spares.push(rm);
        }
        let journal = Arc::new(DbJournal::new(store.clone(), id));
        let raid = RaidSet::open(
            spec.level,
            spec.raid_chunk,
            members,
            spares,
            None,
            all_fresh,
            journal,
        )?;
        let record = PoolRecord {
            name: spec.name.clone(),
            id,
            uuid: hex::encode(uuid),
            level: spec.level,
            raid_chunk: spec.raid_chunk,
            chunk_size: spec.chunk_size,
            created: crate::volume::now_secs(),
            log: spec.log.clone(),
        };
        if let Some(log) = &spec.log {
            log_device::prepare(&spec.name, spec.journal_bytes, log, uuid, &mut new)?;
        }
        let mut batch = WriteBatch::default();
        let cf = store.cf(CF_POOL)?;
        batch.put_cf(cf, b"next_pool", (id + 1).to_be_bytes());
        batch.put_cf(cf, pool_key(&spec.name), MetaStore::encode(&record));
        store.commit(batch, true)?;
        // Recorded: the members are the pool's now, whatever happens next.
        new.keep();
        Pool::assemble(store, record, raid, sums, checked, spec.journal_bytes)
    }

    fn assemble(
        store: Arc<MetaStore>,
        record: PoolRecord,
        raid: RaidSet,
        sums: Arc<DbSums>,
        checked: Vec<(String, Arc<Checked>)>,
        journal_bytes: u64,
    ) -> Result<Pool, PoolError> {
        let raid = Arc::new(raid);
        // Off: records an earlier run left still go home.
        let log =
            journal_log::open(&store, &record, &raid, journal_bytes).map_err(RaidError::Block)?;
        let journal = match log {
            Some((log, room)) => {
                // Writes of whole stripes skip the journal; a mirror's "stripe" (its
                // granularity is one block) is its RAID chunk.
                let stripe = match record.level {
                    RaidLevel::Raid1 => u64::from(record.raid_chunk),
                    _ => raid.io_granularity(),
                };
                let parity = matches!(record.level, RaidLevel::Raid5 | RaidLevel::Raid6);
                let j = WriteJournal::open(raid.clone(), log, stripe, parity, room);
                Some(Arc::new(j.map_err(RaidError::Block)?))
            }
            None => None,
        };
        let front: Arc<dyn BlockDevice> = match &journal {
            Some(j) => j.clone(),
            None => raid.clone(),
        };
        let cache = Arc::new(ReadCache::new(front, DEFAULT_READ_CACHE_BYTES));
        let volumes = VolumeManager::open(
            store.clone(),
            record.id,
            &record.name,
            cache.clone(),
            record.chunk_size,
        )?;
        raid.set_locator(Box::new(volumes.locator()));
        Ok(Pool {
            log: Mutex::new(record.log.clone()),
            log_change: Mutex::new(()),
            record,
            store,
            raid,
            journal,
            cache,
            volumes,
            tasks: Arc::default(),
            sums,
            checked: Mutex::new(checked),
            rate_limit: 0,
        })
    }

    /// The names of the pools recorded in `store`.
    pub fn names(store: &MetaStore) -> Result<Vec<String>, PoolError> {
        let mut out = Vec::new();
        for (k, _) in store.scan(CF_POOL, b"p")? {
            out.push(String::from_utf8_lossy(&k[1..]).into_owned());
        }
        Ok(out)
    }

    /// Reopens pool `name`: opens its members by the paths its RAID state names, checks
    /// that each carries this pool's label, and resynchronizes regions an unclean stop left
    /// dirty before returning.
    pub fn open(store: Arc<MetaStore>, name: &str) -> Result<Pool, PoolError> {
        Pool::open_with(store, name, DEFAULT_JOURNAL_BYTES)
    }

    /// [`Pool::open`] with `journal_bytes` of room for the pool's write journal (0: none; records an earlier run left are replayed either way).
    pub fn open_with(
        store: Arc<MetaStore>,
        name: &str,
        journal_bytes: u64,
    ) -> Result<Pool, PoolError> {
        Pool::open_inner(store, name, journal_bytes, None)
    }

    /// [`Pool::open_with`] for a pool whose log device is lost: if it cannot be opened as
    /// the pool's log, the pool forgets it and opens without it (the writes it held that
    /// had not gone home are lost; see [`log_device::discard_lost`]), and the device
    /// forgotten is returned. A log device that opens is used as always.
    pub fn open_discarding_lost_log(
        store: Arc<MetaStore>,
        name: &str,
        journal_bytes: u64,
    ) -> Result<(Pool, Option<PathBuf>), PoolError> {
        let mut lost = None;
        let pool = Pool::open_inner(store, name, journal_bytes, Some(&mut lost))?;
        Ok((pool, lost))
    }

    /// Opens the pool; with `discard_lost_log`, forgets a log device that cannot be
    /// opened and puts its path there.
    fn open_inner(
        store: Arc<MetaStore>,
        name: &str,
        journal_bytes: u64,
        discard_lost_log: Option<&mut Option<PathBuf>>,
    ) -> Result<Pool, PoolError> {
        let k = pool_key(name);
        let mut record: PoolRecord = match store.get(CF_POOL, &k)? {
            Some(v) => MetaStore::decode(&k, &v)?,
            None => return Err(PoolError::NoSuchPool(name.to_owned())),
        };

        let journal = Arc::new(DbJournal::new(store.clone(), record.id));
        let state = journal.load_state()?.ok_or_else(|| MetaError::Corrupt {
            key: format!("raid state of pool {name}"),
            why: "missing".into(),
        })?;
        let uuid = unhex(&record.uuid);
        let sums = Arc::new(DbSums::new(store.clone()));
        let checked = Mutex::new(Vec::new());
        let open_one = |path: &str| -> Result<RaidMember, PoolError> {
            let m = Member::open(Path::new(path))?;
            if Some(m.label().pool_id) != uuid {
                return Err(PoolError::BadMember {
                    path: path.into(),
                    why: format!("the device is labelled for another pool, not pool '{name}'; put the right device at this path"),
                });
            }
            let (rm, c) = checked_member(m, &sums, false)?;
            checked.lock().push((rm.name.clone(), c));
            Ok(rm)
        };
        let mut opened = Vec::new();
        for (path, st) in &state.members {
            match (st, open_one(path)) {
                (_, Ok(m)) => opened.push((Some(m), path, *st)),
                // A member that already failed may be gone; keep its slot faulty.
                (MemberState::Faulty, Err(_)) => opened.push((None, path, MemberState::Faulty)),
                (_, Err(e)) => return Err(e),
            }
        }
        let present = opened.iter().filter_map(|(m, _, _)| m.as_ref());
        let (size, block_size) = present
            .map(|m| (m.dev.size(), m.dev.block_size()))
            .max()
            .unwrap_or((0, 512));
        let mut members = Vec::new();
        let mut states = Vec::new();
        for (m, path, st) in opened {
            members.push(m.unwrap_or_else(|| RaidMember {
                name: path.clone(),
                dev: Arc::new(MissingDevice {
                    name: path.clone(),
                    size,
                    block_size,
                }),
            }));
            states.push(st);
        }
        let spares = state
            .spares
            .iter()
            .map(|p| open_one(p))
            .collect::<Result<Vec<_>, _>>()?;
        let raid = RaidSet::open(
            record.level,
            record.raid_chunk,
            members,
            spares,
            Some(states),
            true,
            journal,
        )?;
        if raid.status().needs_resync {
            tracing::warn!(
                pool = name,
                "resynchronizing regions left dirty by an unclean stop"
            );
            raid.resync(&Progress::default())?;
        }
        let checked = checked.into_inner();
        if let Some(lost) = discard_lost_log {
            *lost = log_device::discard_lost(&store, &mut record)?;
        }
        let pool = Pool::assemble(store, record, raid, sums, checked, journal_bytes)?;
        pool.start_checksum_build();
        Ok(pool)
    }

    /// The durable record.
    pub fn record(&self) -> &PoolRecord {
        &self.record
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// The RAID set. Volume data must be written through the volumes: a write to the set
    /// itself would bypass the read cache.
    pub fn raid(&self) -> &Arc<RaidSet> {
        &self.raid
    }

    /// The read cache's counters.
    pub fn read_cache_stats(&self) -> ReadCacheStats {
        self.cache.stats()
    }

    /// Sets the read cache's capacity in bytes ([`DEFAULT_READ_CACHE_BYTES`] at open); a
    /// smaller capacity evicts at once, 0 turns the cache off and frees its memory.
    pub fn set_read_cache_bytes(&self, bytes: u64) {
        self.cache.set_capacity(bytes);
    }

    /// The volumes.
    pub fn volumes(&self) -> &VolumeManager {
        &self.volumes
    }

    /// The metadata consistency check.
    pub fn check(&self) -> Result<CheckReport, PoolError> {
        Ok(self.volumes.check()?)
    }

    /// Health, space and task progress.
    pub fn status(&self) -> PoolStatus {
        let t = self.tasks.lock();
        PoolStatus {
            record: PoolRecord {
                log: self.log.lock().clone(),
                ..self.record.clone()
            },
            raid: self.raid.status(),
            space: self.volumes.space(),
            rebuild: t.rebuild.as_ref().map(|p| p.snapshot()),
            scrub: t.scrub.as_ref().map(|p| p.snapshot()),
            last_scrub: t.last_scrub.clone(),
            scrub_failure: t.scrub_failure.clone(),
            read_cache: self.cache.stats(),
            checksum_build: t.checksum_build.as_ref().map(|p| p.snapshot()),
            write_journal: self.journal.as_ref().map(|j| j.stats()),
        }
    }

    /// Writes what the journal holds home and leaves no region dirty: for a clean stop.
    pub fn settle(&self) -> vsa_blockdev::Result<()> {
        if let Some(j) = &self.journal {
            j.drain()?;
        }
        self.raid.settle()
    }

    fn index_of(&self, member: &str) -> Result<usize, PoolError> {
        self.raid
            .status()
            .members
            .iter()
            .find(|m| m.name == member || m.index.to_string() == member)
            .map(|m| m.index)
            .ok_or_else(|| PoolError::NoSuchMember {
                pool: self.name().to_owned(),
                member: member.to_owned(),
            })
    }

    /// Marks a member failed (by path or index); a hot spare takes its place and rebuilds.
    pub fn fail_member(&self, member: &str) -> Result<(), PoolError> {
        self.raid.fail_member(self.index_of(member)?)?;
        self.start_rebuild();
        Ok(())
    }

    fn label_new(
        &self,
        path: &Path,
        size: Option<u64>,
        new: &mut NewFiles,
    ) -> Result<RaidMember, PoolError> {
        // An opened pool's id parsed (its members' labels were checked against it).
        let uuid = unhex(&self.record.uuid).ok_or_else(|| PoolError::BadMember {
            path: path.into(),
            why: format!(
                "pool '{}' has a malformed id in its record, so no member can be labelled for it",
                self.record.name
            ),
        })?;
        let (rm, c) = checked_member(prepare_member(path, uuid, size, new)?.0, &self.sums, true)?;
        self.checked.lock().push((rm.name.clone(), c));
        Ok(rm)
    }

    /// Replaces member `old` (path or index) with the device at `new` and rebuilds onto it
    /// in the background. `create_size` creates `new` as a sparse file if missing.
    pub fn replace_member(
        &self,
        old: &str,
        new: &Path,
        create_size: Option<u64>,
    ) -> Result<(), PoolError> {
        let idx = self.index_of(old)?;
        let old_name = self.raid.status().members[idx].name.clone();
        let mut made = NewFiles::default();
        let m = self.label_new(new, create_size, &mut made)?;
        self.raid.replace_member(idx, m)?;
        made.keep();
        self.forget_member(&old_name);
        self.start_rebuild();
        Ok(())
    }

    /// Drops the checksums of a member that left the pool.
    fn forget_member(&self, name: &str) {
        let gone = {
            let mut c = self.checked.lock();
            let at = c.iter().position(|(n, _)| n == name);
            at.map(|i| c.remove(i))
        };
        if let Some((_, dev)) = gone {
            let key = dev.inner().label().member_id;
            if let Err(e) = self.sums.forget(&key) {
                tracing::warn!(
                    pool = self.name(),
                    member = name,
                    "cannot delete a removed member's checksums: {e}"
                );
            }
        }
    }

    /// Adds a hot spare; if a member has failed, it takes its place at once.
    pub fn add_spare(&self, path: &Path, create_size: Option<u64>) -> Result<(), PoolError> {
        let mut made = NewFiles::default();
        let m = self.label_new(path, create_size, &mut made)?;
        self.raid.add_spare(m)?;
        made.keep();
        self.start_rebuild();
        Ok(())
    }
}

/// Stands in for a failed member whose device is gone, so the set can open degraded.
#[derive(Debug)]
struct MissingDevice {
    name: String,
    size: u64,
    block_size: u32,
}

impl MissingDevice {
    fn fail(&self, op: Op, offset: u64, len: u64) -> BlockError {
        BlockError::new(ErrorKind::DeviceFailed, op, offset, len)
            .with_device(self.name.clone())
            .with_detail("the member is missing; replace it")
    }
}

impl BlockDevice for MissingDevice {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        Err(self.fail(Op::Read, offset, buf.len() as u64))
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        Err(self.fail(Op::Write, offset, buf.len() as u64))
    }
    fn flush(&self) -> vsa_blockdev::Result<()> {
        Err(self.fail(Op::Flush, 0, 0))
    }
}

#[cfg(test)]
mod tests;
