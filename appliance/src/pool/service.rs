//! [`PoolService`]: the pools of the appliance and the volumes in them, with typed
//! methods the API handlers call. Blocking; the handlers run on the blocking thread pool.
//! It is also the core's [`VolumeSource`]: other components open volumes through
//! `Core::volumes`, never through this service.

use super::config::{PoolsConfig, Settings};
use super::types::{
    CheckView, CreatePoolBody, CreateVolumeBody, Deleted, DeviceBody, PoolSummary, PoolView,
    SnapshotView, TaskStarted, VolumeView,
};
use crate::core::size::{exact, human, SizeError};
use crate::core::{ApiError, Claim, Core, ErrorCode, InUse, OpenedVolume, VolumeSource};
use axum::http::StatusCode;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use vsa_pool::raid::RaidLevel;
use vsa_pool::{Pool, PoolError, PoolSpec, VolumeError};

/// The default pool's name.
pub const DEFAULT_POOL: &str = "default";
/// The default pool's member size: 4 sparse files of 8 GiB (24 GiB usable in RAID 5).
pub const DEFAULT_MEMBER_SIZE: u64 = 8 << 30;

/// What the pool component refuses, besides the pool crate's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolsError {
    /// The pool crate's error.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A size that does not parse.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// The volume is held by a component.
    #[error(transparent)]
    InUse(#[from] InUse),
    /// Shrinking a volume a component serves, without force.
    #[error("volume '{volume}' is in use: {holder} serves it, and shrinking it from {} to {} would make its users' reads and writes past the new end fail", human(*.from), human(*.to), holder = .claim.holder)]
    ShrinkInUse {
        /// The volume.
        volume: String,
        /// Who holds it.
        claim: Claim,
        /// Its size now.
        from: u64,
        /// The size asked for.
        to: u64,
    },
    /// Several pools and none named.
    #[error("there are several pools and none is named 'default'; say which pool (`--pool`, or \"pool\" in the request)")]
    PoolRequired,
    /// Not a RAID level.
    #[error("raid {0} is not a RAID level; use one of 0, 1, 5, 6, 10")]
    InvalidRaid(String),
    /// A relative device path.
    #[error("{field} {} is a relative path; give the daemon absolute paths (the CLI does this for you)", .path.display())]
    RelativePath {
        /// `member`, `spare` or `device`.
        field: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// A RAID chunk over 4 GiB.
    #[error("raid chunk {0} bytes is too large; use at most 16M")]
    ChunkTooLarge(u64),
}

impl From<VolumeError> for PoolsError {
    fn from(e: VolumeError) -> Self {
        PoolsError::Pool(e.into())
    }
}

impl ErrorCode for PoolsError {
    fn code(&self) -> &'static str {
        match self {
            PoolsError::Pool(e) => e.code(),
            PoolsError::Size(_) | PoolsError::ChunkTooLarge(_) => "invalid_size",
            PoolsError::InUse(e) => e.code(),
            PoolsError::ShrinkInUse { .. } => "volume_in_use",
            PoolsError::PoolRequired => "pool_required",
            PoolsError::InvalidRaid(_) => "invalid_raid",
            PoolsError::RelativePath { .. } => "bad_member",
        }
    }
    fn status(&self) -> StatusCode {
        match self {
            PoolsError::Pool(e) => e.status(),
            PoolsError::InUse(e) => e.status(),
            PoolsError::ShrinkInUse { .. } => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            PoolsError::Pool(e) => e.hint(),
            PoolsError::InUse(e) => e.hint(),
            PoolsError::ShrinkInUse { volume, claim, to, .. } => Some(format!(
                "to shrink it anyway, pass --force (`vsa volume resize {volume} {} --force`, or \"force\": true in the request), or release it first (`{}`)",
                exact(*to),
                claim.release
            )),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, PoolsError>;

/// The pools of the appliance.
#[derive(Debug)]
pub struct PoolService {
    core: Arc<Core>,
    pools: RwLock<BTreeMap<String, Arc<Pool>>>,
    settings: Settings,
    images: super::images::Transfers,
}

fn absolute(path: PathBuf, field: &'static str) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(PoolsError::RelativePath { field, path })
    }
}

fn opt_size(s: &Option<crate::core::size::SizeArg>) -> Result<Option<u64>> {
    Ok(s.as_ref().map(|s| s.bytes()).transpose()?)
}

/// Why the pool component cannot open, naming the pool.
#[derive(Debug, thiserror::Error)]
#[error("pool '{pool}' cannot be {doing}: {error}")]
pub struct OpenPoolError {
    /// The pool (`*` for the listing).
    pub pool: String,
    /// `opened`, `created` or `listed`.
    pub doing: &'static str,
    /// Why (in the message, so not a `source`).
    pub error: String,
}

impl PoolService {
    /// Opens every recorded pool (those in `discard_lost_log` without their log device if
    /// it is lost), then creates the configured pools that do not exist yet, then the
    /// default pool (members of `default_member_size` in `disks/` of the data directory)
    /// if there is none at all. `report` gets a line per pool created and per log device
    /// discarded.
    pub fn open(
        core: Arc<Core>,
        config: &PoolsConfig,
        default_member_size: Option<u64>,
        discard_lost_log: &[String],
        report: &mut Vec<String>,
    ) -> std::result::Result<PoolService, OpenPoolError> {
        let svc = PoolService {
            images: super::images::Transfers::new(core.clone()),
            core,
            pools: RwLock::new(BTreeMap::new()),
            settings: config.settings.clone(),
        };
        let fail = |pool: &str, doing, e: PoolError| OpenPoolError {
            pool: pool.to_owned(),
            doing,
            error: e.to_string(),
        };
        let names = Pool::names(svc.core.store()).map_err(|e| fail("*", "listed", e))?;
        if let Some(unknown) = discard_lost_log.iter().find(|n| !names.contains(n)) {
            return Err(OpenPoolError {
                pool: unknown.clone(),
                doing: "opened",
                error: format!(
                    "--discard-lost-log names no pool of this appliance (its pools: {})",
                    names.join(", ")
                ),
            });
        }
        for name in names {
            let pool = if discard_lost_log.contains(&name) {
                let store = svc.core.store().clone();
                let (pool, lost) =
                    Pool::open_discarding_lost_log(store, &name, svc.journal_bytes())
                        .map_err(|e| fail(&name, "opened", e))?;
                if let Some(dev) = lost {
                    report.push(format!(
                        "pool '{name}': its lost log device {} is discarded; writes it held \
                         that had not gone home are lost, and the journal is in a file of \
                         the data directory again (`vsa pool log add` sets a new device)",
                        dev.display()
                    ));
                }
                pool
            } else {
                Pool::open_with(svc.core.store().clone(), &name, svc.journal_bytes())
                    .map_err(|e| fail(&name, "opened", e))?
            };
            svc.insert(pool);
            tracing::info!(pool = name.as_str(), "opened pool");
        }
        for pc in &config.pools {
            if svc.pools.read().contains_key(&pc.name) {
                continue;
            }
            let spec = pc.spec().map_err(|e| OpenPoolError {
                pool: pc.name.clone(),
                doing: "created",
                error: e.to_string(),
            })?;
            svc.create(&spec)
                .map_err(|e| fail(&pc.name, "created", e))?;
            report.push(format!(
                "created pool '{}': {} over {} member(s) from the configuration",
                pc.name,
                spec.level.name(),
                spec.members.len()
            ));
        }
        if let Some(size) = default_member_size.filter(|_| svc.pools.read().is_empty()) {
            svc.create_default(size, report)?;
        }
        for pool in svc.pools() {
            if let Some(p) = pool.start_rebuild() {
                tracing::info!(
                    pool = pool.name(),
                    total = p.snapshot().total,
                    "resuming rebuild"
                );
            }
        }
        Ok(svc)
    }

    fn create_default(
        &self,
        size: u64,
        report: &mut Vec<String>,
    ) -> std::result::Result<(), OpenPoolError> {
        let disks = self.core.data_dir().join("disks");
        crate::core::private::private_dir(&disks).map_err(|e| OpenPoolError {
            pool: DEFAULT_POOL.into(),
            doing: "created",
            error: e.to_string(),
        })?;
        let members = (0..4)
            .map(|i| disks.join(format!("{DEFAULT_POOL}-{i}.img")))
            .collect::<Vec<_>>();
        let mut spec = PoolSpec::new(DEFAULT_POOL, RaidLevel::Raid5, members);
        spec.create_size = Some(size);
        let pool = self.create(&spec).map_err(|e| OpenPoolError {
            pool: DEFAULT_POOL.into(),
            doing: "created",
            error: e.to_string(),
        })?;
        report.push(format!(
            "created pool '{DEFAULT_POOL}': RAID 5 over 4 sparse files of {} in {} ({} usable)",
            crate::core::size::human(size),
            disks.display(),
            crate::core::size::human(pool.status().space.capacity)
        ));
        Ok(())
    }

    /// The write journal's room per pool (`[settings] write_journal`).
    fn journal_bytes(&self) -> u64 {
        self.settings
            .write_journal
            .map_or(vsa_pool::write_journal::DEFAULT_JOURNAL_BYTES, |s| s.0)
    }

    fn configure(&self, mut pool: Pool) -> Pool {
        pool.rate_limit = self.settings.rate_limit.map(|s| s.0).unwrap_or(0);
        if let Some(bytes) = self.settings.read_cache {
            pool.set_read_cache_bytes(bytes.0);
        }
        if let Some(pct) = self.settings.low_space_percent {
            pool.volumes().set_low_space_percent(pct);
        }
        pool
    }

    fn insert(&self, pool: Pool) -> Arc<Pool> {
        let pool = Arc::new(self.configure(pool));
        self.pools
            .write()
            .insert(pool.name().to_owned(), pool.clone());
        pool
    }

    /// Creates a pool and adds it to the appliance.
    fn create(&self, spec: &PoolSpec) -> std::result::Result<Arc<Pool>, PoolError> {
        // Held across the creation so two requests cannot race for one name.
        let mut pools = self.pools.write();
        if pools.contains_key(&spec.name) {
            return Err(PoolError::PoolExists(spec.name.clone()));
        }
        let mut spec = spec.clone();
        spec.journal_bytes = self.journal_bytes();
        let pool = Arc::new(self.configure(Pool::create(self.core.store().clone(), &spec)?));
        pools.insert(spec.name.clone(), pool.clone());
        Ok(pool)
    }

    /// The pools, by name.
    pub fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.read().values().cloned().collect()
    }

    /// One pool.
    pub fn pool(&self, name: &str) -> Result<Arc<Pool>> {
        Ok(self
            .pools
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| PoolError::NoSuchPool(name.to_owned()))?)
    }

    /// The pool holding volume `name` (volume names are unique across pools).
    pub fn pool_of_volume(&self, name: &str) -> Result<Arc<Pool>> {
        self.pools()
            .into_iter()
            .find(|p| p.volumes().info(name).is_ok())
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_owned()).into())
    }

    /// The pool a new volume goes to when none is named: the only pool, or `default`.
    fn default_pool(&self) -> Option<Arc<Pool>> {
        let pools = self.pools.read();
        if pools.len() == 1 {
            return pools.values().next().cloned();
        }
        pools.get(DEFAULT_POOL).cloned()
    }

    /// Every pool.
    pub fn list_pools(&self) -> Vec<PoolView> {
        self.pools().iter().map(|p| PoolView::of(p)).collect()
    }

    /// One pool.
    pub fn show_pool(&self, name: &str) -> Result<PoolView> {
        let p = self.pool(name)?;
        Ok(PoolView::of(&p))
    }

    /// The `GET /status` summary.
    pub fn summary(&self) -> Vec<PoolSummary> {
        self.pools().iter().map(|p| PoolSummary::of(p)).collect()
    }

    /// Creates a pool.
    pub fn create_pool(&self, b: CreatePoolBody) -> Result<PoolView> {
        let raid = b.raid.to_string();
        let level: RaidLevel = raid.parse().map_err(|_| PoolsError::InvalidRaid(raid))?;
        let members = b
            .members
            .into_iter()
            .map(|p| absolute(p, "member"))
            .collect::<Result<Vec<_>>>()?;
        let mut spec = PoolSpec::new(&b.name, level, members);
        spec.spares = b
            .spares
            .into_iter()
            .map(|p| absolute(p, "spare"))
            .collect::<Result<_>>()?;
        if let Some(rc) = opt_size(&b.raid_chunk)? {
            spec.raid_chunk = u32::try_from(rc).map_err(|_| PoolsError::ChunkTooLarge(rc))?;
        }
        if let Some(cs) = opt_size(&b.chunk_size)? {
            spec.chunk_size = cs;
        }
        spec.create_size = opt_size(&b.create_size)?;
        spec.log = b.log.map(|p| absolute(p, "log")).transpose()?;
        let pool = self.create(&spec)?;
        Ok(PoolView::of(&pool))
    }

    /// Adds a hot spare.
    pub fn add_spare(&self, pool: &str, b: DeviceBody) -> Result<PoolView> {
        let p = self.pool(pool)?;
        p.add_spare(&absolute(b.device, "device")?, opt_size(&b.create_size)?)?;
        Ok(PoolView::of(&p))
    }

    /// Fails a member (by path or index).
    pub fn fail_member(&self, pool: &str, member: &str) -> Result<PoolView> {
        let p = self.pool(pool)?;
        p.fail_member(member)?;
        Ok(PoolView::of(&p))
    }

    /// Replaces a member and rebuilds onto the new device in the background.
    pub fn replace_member(&self, pool: &str, member: &str, b: DeviceBody) -> Result<PoolView> {
        let p = self.pool(pool)?;
        let device = absolute(b.device, "device")?;
        p.replace_member(member, &device, opt_size(&b.create_size)?)?;
        Ok(PoolView::of(&p))
    }

    /// Moves the write journal's log to a log device, or back to the data directory.
    pub fn set_log(&self, pool: &str, device: Option<PathBuf>) -> Result<PoolView> {
        let p = self.pool(pool)?;
        let device = device.map(|d| absolute(d, "device")).transpose()?;
        p.set_log(device.as_deref())?;
        Ok(PoolView::of(&p))
    }

    /// Starts a scrub.
    pub fn start_scrub(&self, pool: &str, repair: bool) -> Result<TaskStarted> {
        let p = self.pool(pool)?;
        let progress = p.start_scrub(repair)?;
        Ok(TaskStarted {
            pool: p.name().to_owned(),
            task: "scrub".into(),
            progress: Some(progress.snapshot().into()),
        })
    }

    /// Runs the metadata consistency check of a pool (volume I/O waits while it reads).
    pub fn check_pool(&self, pool: &str) -> Result<CheckView> {
        let p = self.pool(pool)?;
        Ok(CheckView::of(p.name(), p.check()?))
    }

    /// Runs the metadata check on every pool and logs what it found: after an unclean
    /// stop, before anything is served.
    pub fn check_after_unclean_stop(&self) {
        for p in self.pools() {
            let name = p.name();
            match p.check() {
                Ok(r) => {
                    let v = CheckView::of(name, r);
                    if v.clean {
                        tracing::info!(pool = name, "after an unclean stop: {}", v.summary());
                    } else {
                        tracing::error!(
                            pool = name,
                            "after an unclean stop: {}: {}; `vsa pool check {name}` lists them again",
                            v.summary(),
                            v.problems.join("; ")
                        );
                    }
                }
                Err(e) => tracing::error!(
                    pool = name,
                    "after an unclean stop, the metadata check of pool '{name}' could not run: {e}"
                ),
            }
        }
    }

    /// Every volume of every pool.
    pub fn list_volumes(&self) -> Vec<VolumeView> {
        let mut out = Vec::new();
        for p in self.pools() {
            for info in p.volumes().list() {
                out.push(VolumeView::of(&p, info));
            }
        }
        out
    }

    /// Image imports and exports.
    pub fn images(&self) -> &super::images::Transfers {
        &self.images
    }

    /// One volume.
    pub fn show_volume(&self, name: &str) -> Result<VolumeView> {
        let p = self.pool_of_volume(name)?;
        let info = p.volumes().info(name)?;
        Ok(VolumeView::of(&p, info))
    }

    /// Creates a volume (in the default pool unless one is named).
    pub fn create_volume(&self, b: CreateVolumeBody) -> Result<VolumeView> {
        let size = b.size.bytes()?;
        let p = match &b.pool {
            Some(pool) => self.pool(pool)?,
            None => self.default_pool().ok_or(PoolsError::PoolRequired)?,
        };
        // Volume names are unique across pools.
        if self.pool_of_volume(&b.name).is_ok() {
            return Err(VolumeError::VolumeExists(b.name).into());
        }
        let info = p.volumes().create(&b.name, size, b.thick)?;
        Ok(VolumeView::of(&p, info))
    }

    /// Grows or shrinks a volume. Shrinking a volume a component holds (an iSCSI LUN
    /// serves it) is refused unless `force`: its users would meet errors past the new end.
    /// Either way the users see the new size (a LUN raises CAPACITY DATA HAS CHANGED).
    pub fn resize_volume(&self, name: &str, size: u64, force: bool) -> Result<VolumeView> {
        let p = self.pool_of_volume(name)?;
        let from = p.volumes().info(name)?.record.size;
        let holder = self.core.claims().holder(name).filter(|_| size < from);
        if let Some(claim) = holder {
            if !force {
                return Err(PoolsError::ShrinkInUse {
                    volume: name.to_owned(),
                    claim,
                    from,
                    to: size,
                });
            }
            tracing::warn!(
                volume = name,
                holder = claim.holder.as_str(),
                from,
                to = size,
                "shrinking a volume in use (forced)"
            );
        }
        let info = p.volumes().resize(name, size)?;
        Ok(VolumeView::of(&p, info))
    }

    /// Deletes a volume and its snapshots, unless a component holds it.
    pub fn delete_volume(&self, name: &str) -> Result<Deleted> {
        let p = self.pool_of_volume(name)?;
        self.core.claims().check_free(name)?;
        p.volumes().delete(name)?;
        self.core.volumes().forget(name);
        Ok(Deleted {
            deleted: name.to_owned(),
        })
    }

    /// A volume's snapshots.
    pub fn snapshots(&self, volume: &str) -> Result<Vec<SnapshotView>> {
        let p = self.pool_of_volume(volume)?;
        Ok(p.volumes()
            .snapshots(volume)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Takes a snapshot.
    pub fn snapshot(&self, volume: &str, name: &str) -> Result<SnapshotView> {
        let p = self.pool_of_volume(volume)?;
        Ok(p.volumes().snapshot(volume, name)?.into())
    }

    /// Deletes a snapshot.
    pub fn delete_snapshot(&self, volume: &str, snap: &str) -> Result<Deleted> {
        let p = self.pool_of_volume(volume)?;
        p.volumes().delete_snapshot(volume, snap)?;
        Ok(Deleted {
            deleted: format!("{volume}@{snap}"),
        })
    }

    /// Makes a new volume from a snapshot (a linked clone).
    pub fn clone_snapshot(&self, volume: &str, snap: &str, new: &str) -> Result<VolumeView> {
        let p = self.pool_of_volume(volume)?;
        if self.pool_of_volume(new).is_ok() {
            return Err(VolumeError::VolumeExists(new.to_owned()).into());
        }
        let info = p.volumes().clone_snapshot(volume, snap, new)?;
        Ok(VolumeView::of(&p, info))
    }

    /// Returns a volume to a snapshot.
    pub fn rollback(&self, volume: &str, snap: &str) -> Result<VolumeView> {
        let p = self.pool_of_volume(volume)?;
        let info = p.volumes().rollback(volume, snap)?;
        Ok(VolumeView::of(&p, info))
    }

    /// Stops background work and flushes every pool.
    pub fn shutdown(&self) {
        for pool in self.pools() {
            pool.join_tasks(true);
            if let Err(e) = pool.settle() {
                tracing::error!(pool = pool.name(), "flush at shutdown failed: {e}");
            }
        }
        self.pools.write().clear();
    }
}

impl VolumeSource for PoolService {
    fn open(&self, name: &str) -> std::result::Result<OpenedVolume, ApiError> {
        let pool = self.pool_of_volume(name)?;
        let info = pool.volumes().info(name).map_err(PoolsError::from)?;
        let vol = pool.volumes().volume(name).map_err(PoolsError::from)?;
        Ok(OpenedVolume {
            device: Arc::new(vol),
            uuid: info.record.uuid,
        })
    }

    fn create_thin(
        &self,
        name: &str,
        size: u64,
        pool: Option<&str>,
    ) -> std::result::Result<(), ApiError> {
        let p = match pool {
            Some(pool) => self.pool(pool)?,
            None => self.default_pool().ok_or(PoolsError::PoolRequired)?,
        };
        if self.pool_of_volume(name).is_ok() {
            return Err(PoolsError::from(VolumeError::VolumeExists(name.to_owned())).into());
        }
        p.volumes()
            .create(name, size, false)
            .map_err(PoolsError::from)?;
        Ok(())
    }

    fn delete(&self, name: &str) -> std::result::Result<(), ApiError> {
        self.delete_volume(name)?;
        Ok(())
    }

    fn snapshot(&self, volume: &str, snap: &str) -> std::result::Result<(), ApiError> {
        PoolService::snapshot(self, volume, snap)?;
        Ok(())
    }

    fn has_snapshot(&self, volume: &str, snap: &str) -> std::result::Result<bool, ApiError> {
        Ok(self.snapshots(volume)?.iter().any(|s| s.name == snap))
    }

    fn delete_snapshot(&self, volume: &str, snap: &str) -> std::result::Result<(), ApiError> {
        PoolService::delete_snapshot(self, volume, snap)?;
        Ok(())
    }

    fn clone_snapshot(
        &self,
        volume: &str,
        snap: &str,
        new: &str,
    ) -> std::result::Result<(), ApiError> {
        PoolService::clone_snapshot(self, volume, snap, new)?;
        Ok(())
    }

    fn rollback(&self, volume: &str, snap: &str) -> std::result::Result<(), ApiError> {
        PoolService::rollback(self, volume, snap)?;
        Ok(())
    }
}
