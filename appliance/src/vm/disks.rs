//! A VM's disks: pool volumes the VM holds while it exists (claimed, so that nobody
//! deletes, exports or maps them under it) and serves to its runner over vhost-user-blk
//! while it runs, one socket per disk in the VM's directory (`disk0.sock`, ...); the
//! runner connects to each as the backend of a virtio-mmio disk.
//!
//! Disk modes are built on the pool's snapshots (see [`DiskMode`]): before a run a
//! nonpersistent or undoable disk gets its snapshot (a nonpersistent one that still has
//! one, because the daemon stopped during the run, is first returned to it); after a run
//! a nonpersistent disk is returned to its snapshot, which goes; an undoable disk keeps
//! its snapshot, with the run's changes pending, until `vsa vm commit` (the snapshot goes)
//! or `vsa vm discard` (the disk is returned to it first).

use super::error::VmError;
use super::model::{DiskMode, VmDisk};
use crate::core::{Claim, Core};
use std::path::{Path, PathBuf};
use vsa_vmm::blk::Disk;
use vsa_vmm::vhost_user::Export;

/// The disks of one VM: claimed, and served while it runs.
#[derive(Debug)]
pub struct VmDisks {
    vm: String,
    dir: PathBuf,
    disks: Vec<VmDisk>,
    claimed: Vec<String>,
    exports: Vec<Export>,
}

fn claim(vm: &str, index: usize) -> Claim {
    Claim {
        component: "vm",
        holder: format!("VM '{vm}' (its disk {index})"),
        release: format!("vsa vm delete {vm}"),
    }
}

impl VmDisks {
    /// Claims every volume of `disks` for VM `vm` (nothing is claimed if one cannot be).
    pub fn claim(core: &Core, vm: &str, dir: &Path, disks: &[VmDisk]) -> Result<VmDisks, VmError> {
        let mut d = VmDisks {
            vm: vm.to_owned(),
            dir: dir.to_owned(),
            disks: disks.to_vec(),
            claimed: Vec::new(),
            exports: Vec::new(),
        };
        for (i, disk) in disks.iter().enumerate() {
            if let Err(e) = core.claims().claim(&disk.volume, claim(vm, i)) {
                d.release(core);
                return Err(e.into());
            }
            d.claimed.push(disk.volume.clone());
            // The volume must exist (a claim is only a name).
            if let Err(e) = core.volumes().open(&disk.volume) {
                d.release(core);
                return Err(VmError::Volume(e));
            }
        }
        Ok(d)
    }

    /// Prepares the disks for a run (their modes' snapshots) and serves them; the
    /// sockets, in disk order, for the runner's `--disk`.
    pub fn serve(&mut self, core: &Core) -> Result<Vec<PathBuf>, VmError> {
        self.stop_serving();
        if !self.disks.is_empty() {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| VmError::InvalidVm(format!("{}: {e}", self.dir.display())))?;
        }
        for d in &self.disks {
            before_run(core, d)?;
        }
        for (i, d) in self.disks.iter().enumerate() {
            match self.export(core, i, d) {
                Ok(e) => self.exports.push(e),
                Err(e) => {
                    self.stop_serving();
                    return Err(e);
                }
            }
        }
        Ok(self.exports.iter().map(|e| e.socket().to_owned()).collect())
    }

    fn export(&self, core: &Core, index: usize, d: &VmDisk) -> Result<Export, VmError> {
        let vol = core.volumes().open(&d.volume).map_err(VmError::Volume)?;
        let disk = Disk {
            device: vol.device,
            read_only: d.read_only,
            id: vol.uuid.chars().take(vsa_vmm::blk::ID_LEN).collect(),
        };
        let socket = self.dir.join(format!("disk{index}.sock"));
        Export::start(disk, &socket, 1)
            .map_err(|e| VmError::InvalidVm(format!("disk {index} (volume '{}'): {e}", d.volume)))
    }

    /// After a run: stops serving and returns nonpersistent disks to their snapshot.
    /// Every disk is tried; the first failure is returned.
    pub fn end_run(&mut self, core: &Core) -> Result<(), VmError> {
        self.stop_serving();
        let mut first = Ok(());
        for d in self
            .disks
            .iter()
            .filter(|d| d.mode == DiskMode::Nonpersistent)
        {
            if let Err(e) = return_to_snapshot(core, d) {
                tracing::error!(
                    vm = self.vm.as_str(),
                    volume = d.volume.as_str(),
                    "nonpersistent disk: {e}"
                );
                first = first.and(Err(e));
            }
        }
        first
    }

    /// The undoable disks whose changes wait for commit or discard.
    pub fn pending(&self, core: &Core) -> Vec<String> {
        let Ok(snaps) = core.volumes().snapshots() else {
            return Vec::new();
        };
        let snap = DiskMode::Undoable.snapshot().unwrap_or_default();
        self.disks
            .iter()
            .filter(|d| d.mode == DiskMode::Undoable)
            .filter(|d| snaps.has_snapshot(&d.volume, snap).unwrap_or(false))
            .map(|d| d.volume.clone())
            .collect()
    }

    /// Keeps the undoable disks' changes (their snapshots go); the volumes done.
    pub fn commit(&self, core: &Core) -> Result<Vec<String>, VmError> {
        let snaps = core.volumes().snapshots().map_err(VmError::Volume)?;
        let pending = self.pending(core);
        for v in &pending {
            snaps
                .delete_snapshot(v, DiskMode::Undoable.snapshot().unwrap_or_default())
                .map_err(VmError::Volume)?;
        }
        Ok(pending)
    }

    /// Throws the undoable disks' changes away; the volumes done.
    pub fn discard(&self, core: &Core) -> Result<Vec<String>, VmError> {
        let pending = self.pending(core);
        for d in self.disks.iter().filter(|d| pending.contains(&d.volume)) {
            return_to_snapshot(core, d)?;
        }
        Ok(pending)
    }

    /// The volumes the VM made itself (to delete with it).
    pub fn owned(&self) -> Vec<String> {
        self.disks
            .iter()
            .filter(|d| d.owned)
            .map(|d| d.volume.clone())
            .collect()
    }

    fn stop_serving(&mut self) {
        for e in self.exports.drain(..) {
            e.stop();
        }
    }

    /// Stops serving and releases the volumes.
    pub fn release(&mut self, core: &Core) {
        self.stop_serving();
        for v in self.claimed.drain(..) {
            core.claims().release(&v, "vm");
        }
    }
}

/// A disk's snapshot before a run, by its mode.
fn before_run(core: &Core, d: &VmDisk) -> Result<(), VmError> {
    let Some(snap) = d.mode.snapshot() else {
        return Ok(());
    };
    let snaps = core.volumes().snapshots().map_err(VmError::Volume)?;
    let has = snaps
        .has_snapshot(&d.volume, snap)
        .map_err(VmError::Volume)?;
    match (d.mode, has) {
        (DiskMode::Nonpersistent, true) => {
            // A run that ended without its clean-up (the daemon stopped under it).
            snaps.rollback(&d.volume, snap).map_err(VmError::Volume)
        }
        (_, true) => Ok(()),
        (_, false) => snaps.snapshot(&d.volume, snap).map_err(VmError::Volume),
    }
}

/// Returns a disk to its mode's snapshot and deletes the snapshot.
fn return_to_snapshot(core: &Core, d: &VmDisk) -> Result<(), VmError> {
    let Some(snap) = d.mode.snapshot() else {
        return Ok(());
    };
    let snaps = core.volumes().snapshots().map_err(VmError::Volume)?;
    if !snaps
        .has_snapshot(&d.volume, snap)
        .map_err(VmError::Volume)?
    {
        return Ok(());
    }
    snaps.rollback(&d.volume, snap).map_err(VmError::Volume)?;
    snaps
        .delete_snapshot(&d.volume, snap)
        .map_err(VmError::Volume)
}
