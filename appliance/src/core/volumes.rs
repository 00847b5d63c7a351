//! Opening a pool volume as a [`BlockDevice`], for any component that serves one (an
//! iSCSI LUN, a tape library's cartridges, a VM's disk). The component that owns the
//! volumes (pools) registers itself as the [`VolumeSource`]; the others open volumes here
//! by name and never see the pools. Every volume opened here has its I/O counted in the
//! `vsa_volume_io_*` series.

use super::error::ApiError;
use super::metrics::IoMetrics;
use parking_lot::RwLock;
use std::sync::Arc;
use vsa_blockdev::BlockDevice;

/// A volume opened for I/O.
#[derive(Debug, Clone)]
pub struct OpenedVolume {
    /// The device (already metered when opened through [`Volumes::open`]).
    pub device: Arc<dyn BlockDevice>,
    /// The volume's stable unique id (hex), for device identities.
    pub uuid: String,
}

/// Where volumes come from: implemented by the component that owns them.
pub trait VolumeSource: Send + Sync + std::fmt::Debug {
    /// Opens volume `name`.
    fn open(&self, name: &str) -> Result<OpenedVolume, ApiError>;

    /// Creates a thin volume of `size` bytes in `pool` (default: the pool volumes go to
    /// when none is named), for a component that keeps its data in a volume of its own
    /// (a tape library's cartridge store).
    fn create_thin(&self, name: &str, size: u64, pool: Option<&str>) -> Result<(), ApiError>;

    /// Deletes volume `name` (it must not be claimed).
    fn delete(&self, name: &str) -> Result<(), ApiError>;

    /// Takes snapshot `snap` of `volume`.
    fn snapshot(&self, volume: &str, snap: &str) -> Result<(), ApiError>;

    /// Whether `volume` has snapshot `snap`.
    fn has_snapshot(&self, volume: &str, snap: &str) -> Result<bool, ApiError>;

    /// Deletes snapshot `snap` of `volume`.
    fn delete_snapshot(&self, volume: &str, snap: &str) -> Result<(), ApiError>;

    /// Makes volume `new`, a linked clone of `volume@snap`.
    fn clone_snapshot(&self, volume: &str, snap: &str, new: &str) -> Result<(), ApiError>;

    /// Returns `volume` to its content at `snap`.
    fn rollback(&self, volume: &str, snap: &str) -> Result<(), ApiError>;
}

/// The volume service of the core.
#[derive(Debug)]
pub struct Volumes {
    source: RwLock<Option<Arc<dyn VolumeSource>>>,
    io: Option<IoMetrics>,
}

impl Volumes {
    /// No source yet; I/O counted in `io` if given.
    pub fn new(io: Option<IoMetrics>) -> Volumes {
        Volumes {
            source: RwLock::new(None),
            io,
        }
    }

    /// Sets the component that owns volumes.
    pub fn set_source(&self, source: Arc<dyn VolumeSource>) {
        *self.source.write() = Some(source);
    }

    /// Opens volume `name`, with its I/O counted.
    pub fn open(&self, name: &str) -> Result<OpenedVolume, ApiError> {
        let source = self
            .source
            .read()
            .clone()
            .ok_or_else(|| ApiError::internal("no component of this build provides volumes"))?;
        let mut v = source.open(name)?;
        if let Some(io) = &self.io {
            v.device = Arc::new(io.wrap(name, v.device));
        }
        Ok(v)
    }

    fn source(&self) -> Result<Arc<dyn VolumeSource>, ApiError> {
        self.source
            .read()
            .clone()
            .ok_or_else(|| ApiError::internal("no component of this build provides volumes"))
    }

    /// Creates a thin volume (see [`VolumeSource::create_thin`]).
    pub fn create_thin(&self, name: &str, size: u64, pool: Option<&str>) -> Result<(), ApiError> {
        self.source()?.create_thin(name, size, pool)
    }

    /// Deletes a volume no one claims, and forgets its I/O series.
    pub fn delete(&self, name: &str) -> Result<(), ApiError> {
        self.source()?.delete(name)?;
        self.forget(name);
        Ok(())
    }

    /// The snapshots and clones of the component that owns volumes, for components that
    /// build on them (a VM's linked-clone, nonpersistent and undoable disks).
    pub fn snapshots(&self) -> Result<Arc<dyn VolumeSource>, ApiError> {
        self.source()
    }

    /// Forgets a deleted volume's I/O series.
    pub fn forget(&self, name: &str) {
        if let Some(io) = &self.io {
            io.remove(name);
        }
    }

    /// Makes a volume's I/O series exist (at zero) before its first I/O.
    pub fn touch(&self, name: &str) {
        if let Some(io) = &self.io {
            io.touch(name);
        }
    }
}
