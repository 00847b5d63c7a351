//! [`Appliance`]: the state the daemon serves: the metadata store, the pools and the
//! settings. Everything here is blocking; the API calls it from `spawn_blocking`.

use crate::config::{ApplianceConfig, ConfigError, Settings};
use crate::error::ApiError;
use crate::target::{Targets, VolumeOpener};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vsa_pool::raid::RaidLevel;
use vsa_pool::{MetaError, MetaStore, Pool, PoolError, PoolSpec, VolumeError};

/// The default pool's name.
pub const DEFAULT_POOL: &str = "default";
/// The default pool's member size: 4 sparse files of 8 GiB (24 GiB usable in RAID 5).
pub const DEFAULT_MEMBER_SIZE: u64 = 8 << 30;

/// Why the appliance cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplianceError {
    /// A file or directory in the data directory.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// The metadata store (e.g. locked by another daemon).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A pool cannot be opened or created.
    #[error("pool '{pool}' cannot be {doing}: {error}")]
    Pool {
        /// The pool.
        pool: String,
        /// "opened" or "created".
        doing: &'static str,
        /// Why (in the message, so not a `source`).
        error: Box<PoolError>,
    },
    /// The configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A recorded iSCSI target cannot be rebuilt (e.g. its volume is gone).
    #[error("cannot load the iSCSI targets: {0}")]
    Targets(String),
}

/// How to open the appliance.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The configuration (pools to create or open, settings).
    pub config: ApplianceConfig,
    /// Create the embedded default pool with members of this size when there are no pools
    /// at all (None: do not).
    pub default_member_size: Option<u64>,
    /// Column families of the components besides the pool's (every built-in component's
    /// are added anyway).
    pub column_families: Vec<&'static str>,
    /// Count the I/O of volumes served by front ends and their SCSI commands here.
    pub metrics: Option<crate::metrics::Metrics>,
}

/// What the appliance did while opening, for the operator.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Pools opened.
    pub opened: Vec<String>,
    /// Pools created, with a sentence each.
    pub created: Vec<String>,
}

/// The running appliance.
#[derive(Debug)]
pub struct Appliance {
    data_dir: PathBuf,
    store: Arc<MetaStore>,
    pools: RwLock<BTreeMap<String, Arc<Pool>>>,
    settings: Settings,
    started: Instant,
    targets: Targets,
    io_metrics: Option<crate::metrics::IoMetrics>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ApplianceError + '_ {
    move |error| ApplianceError::Io {
        path: path.to_owned(),
        error,
    }
}

impl Appliance {
    /// Opens the data directory: the metadata store (refused if another daemon holds it),
    /// every recorded pool, then the configured pools that do not exist yet, then the
    /// default pool if there is none at all.
    pub fn open(opts: OpenOptions) -> Result<(Appliance, OpenReport), ApplianceError> {
        opts.config.validate()?;
        std::fs::create_dir_all(&opts.data_dir).map_err(io_err(&opts.data_dir))?;
        // Absolute, so that member paths recorded under it do not depend on the daemon's
        // working directory.
        let dir = &std::fs::canonicalize(&opts.data_dir).map_err(io_err(&opts.data_dir))?;
        let mut cfs = opts.column_families.clone();
        for cf in crate::component::column_families() {
            if !cfs.contains(&cf) {
                cfs.push(cf);
            }
        }
        let store = Arc::new(MetaStore::open(&dir.join("meta"), &cfs)?);
        let app = Appliance {
            data_dir: dir.clone(),
            targets: Targets::new(store.clone(), opts.metrics.as_ref().map(|m| m.scsi.clone())),
            io_metrics: opts.metrics.as_ref().map(|m| m.io.clone()),
            store,
            pools: RwLock::new(BTreeMap::new()),
            settings: opts.config.settings.clone(),
            started: Instant::now(),
        };
        let mut report = OpenReport::default();
        let names = Pool::names(&app.store).map_err(|error| ApplianceError::Pool {
            pool: "*".into(),
            doing: "listed",
            error: Box::new(error),
        })?;
        for name in names {
            let pool =
                Pool::open(app.store.clone(), &name).map_err(|error| ApplianceError::Pool {
                    pool: name.clone(),
                    doing: "opened",
                    error: Box::new(error),
                })?;
            app.insert(pool);
            report.opened.push(name);
        }
        for pc in &opts.config.pools {
            if app.pools.read().contains_key(&pc.name) {
                continue;
            }
            let spec = pc.spec()?;
            app.create_pool(&spec)
                .map_err(|error| ApplianceError::Pool {
                    pool: pc.name.clone(),
                    doing: "created",
                    error: Box::new(error),
                })?;
            report.created.push(format!(
                "pool '{}': {} over {} member(s) from the configuration",
                pc.name,
                spec.level.name(),
                spec.members.len()
            ));
        }
        if let Some(size) = opts.default_member_size {
            if app.pools.read().is_empty() {
                let disks = dir.join("disks");
                std::fs::create_dir_all(&disks).map_err(io_err(&disks))?;
                let members = (0..4)
                    .map(|i| disks.join(format!("{DEFAULT_POOL}-{i}.img")))
                    .collect::<Vec<_>>();
                let mut spec = PoolSpec::new(DEFAULT_POOL, RaidLevel::Raid5, members);
                spec.create_size = Some(size);
                let pool = app
                    .create_pool(&spec)
                    .map_err(|error| ApplianceError::Pool {
                        pool: DEFAULT_POOL.into(),
                        doing: "created",
                        error: Box::new(error),
                    })?;
                report.created.push(format!(
                    "pool '{DEFAULT_POOL}': RAID 5 over 4 sparse files of {} in {} ({} usable)",
                    crate::size::human(size),
                    disks.display(),
                    crate::size::human(pool.status().space.capacity)
                ));
            }
        }
        app.targets.load(&app).map_err(ApplianceError::Targets)?;
        for pool in app.pools() {
            if let Some(p) = pool.start_rebuild() {
                tracing::info!(
                    pool = pool.name(),
                    total = p.snapshot().total,
                    "resuming rebuild"
                );
            }
        }
        Ok((app, report))
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
    pub fn create_pool(&self, spec: &PoolSpec) -> Result<Arc<Pool>, PoolError> {
        // Held across the creation so two requests cannot race for one name.
        let mut pools = self.pools.write();
        if pools.contains_key(&spec.name) {
            return Err(PoolError::PoolExists(spec.name.clone()));
        }
        let pool = Arc::new(self.configure(Pool::create(self.store.clone(), spec)?));
        pools.insert(spec.name.clone(), pool.clone());
        Ok(pool)
    }

    /// The iSCSI targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The metadata store, for components with their own column families.
    pub fn store(&self) -> &Arc<MetaStore> {
        &self.store
    }

    /// Seconds since the appliance opened.
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The pools, by name.
    pub fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.read().values().cloned().collect()
    }

    /// One pool.
    pub fn pool(&self, name: &str) -> Result<Arc<Pool>, PoolError> {
        self.pools
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| PoolError::NoSuchPool(name.to_owned()))
    }

    /// The pool holding volume `name` (volume names are unique across pools).
    pub fn pool_of_volume(&self, name: &str) -> Result<Arc<Pool>, VolumeError> {
        self.pools()
            .into_iter()
            .find(|p| p.volumes().info(name).is_ok())
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_owned()))
    }

    /// The pool a new volume goes to when none is named: the only pool, or `default`.
    pub fn default_pool(&self) -> Option<Arc<Pool>> {
        let pools = self.pools.read();
        if pools.len() == 1 {
            return pools.values().next().cloned();
        }
        pools.get(DEFAULT_POOL).cloned()
    }

    /// Stops background work and flushes every pool; the store closes when the last
    /// reference drops.
    pub fn shutdown(&self) {
        for pool in self.pools() {
            pool.join_tasks(true);
            if let Err(e) = vsa_blockdev::BlockDevice::flush(&**pool.raid()) {
                tracing::error!(pool = pool.name(), "flush at shutdown failed: {e}");
            }
        }
        self.pools.write().clear();
    }
}

impl VolumeOpener for Appliance {
    fn open_volume(
        &self,
        name: &str,
    ) -> Result<(Arc<dyn vsa_blockdev::BlockDevice>, String), ApiError> {
        let pool = self.pool_of_volume(name)?;
        let info = pool.volumes().info(name)?;
        let vol = pool.volumes().volume(name)?;
        let dev: Arc<dyn vsa_blockdev::BlockDevice> = match &self.io_metrics {
            Some(m) => Arc::new(m.wrap(name, vol)),
            None => Arc::new(vol),
        };
        Ok((dev, info.record.uuid))
    }
}
