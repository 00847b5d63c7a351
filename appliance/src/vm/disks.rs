//! A VM's disks: pool volumes the VM holds while it exists (claimed, so that nobody
//! deletes, exports or maps them under it) and serves to its runner over vhost-user-blk,
//! one socket per disk in the VM's directory (`disk0.sock`, ...). The runner connects to
//! each as the backend of a virtio-mmio disk; a runner started again connects again.

use super::error::VmError;
use super::model::VmDisk;
use crate::core::{Claim, Core};
use std::path::{Path, PathBuf};
use vsa_vmm::blk::Disk;
use vsa_vmm::vhost_user::Export;

/// The disks of one VM, served.
#[derive(Debug)]
pub struct VmDisks {
    exports: Vec<Export>,
    volumes: Vec<String>,
}

fn claim(vm: &str, index: usize) -> Claim {
    Claim {
        component: "vm",
        holder: format!("VM '{vm}' (its disk {index})"),
        release: format!("vsa vm delete {vm}"),
    }
}

impl VmDisks {
    /// Claims every volume of `disks` for VM `vm` and serves each on a socket in `dir`;
    /// on any failure what was done is undone.
    pub fn attach(core: &Core, vm: &str, dir: &Path, disks: &[VmDisk]) -> Result<VmDisks, VmError> {
        let mut attached = VmDisks {
            exports: Vec::new(),
            volumes: Vec::new(),
        };
        if disks.is_empty() {
            return Ok(attached);
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| VmError::InvalidVm(format!("{}: {e}", dir.display())))?;
        for (i, d) in disks.iter().enumerate() {
            if let Err(e) = attached.add(core, vm, dir, i, d) {
                attached.detach(core);
                return Err(e);
            }
        }
        Ok(attached)
    }

    fn add(
        &mut self,
        core: &Core,
        vm: &str,
        dir: &Path,
        index: usize,
        d: &VmDisk,
    ) -> Result<(), VmError> {
        core.claims().claim(&d.volume, claim(vm, index))?;
        self.volumes.push(d.volume.clone());
        let vol = core.volumes().open(&d.volume).map_err(VmError::Volume)?;
        let disk = Disk {
            device: vol.device,
            read_only: d.read_only,
            id: vol.uuid.chars().take(vsa_vmm::blk::ID_LEN).collect(),
        };
        let socket = dir.join(format!("disk{index}.sock"));
        let export = Export::start(disk, &socket, 1).map_err(|e| {
            VmError::InvalidVm(format!("disk {index} (volume '{}'): {e}", d.volume))
        })?;
        self.exports.push(export);
        Ok(())
    }

    /// The sockets, in disk order (for the runner's `--disk`).
    pub fn sockets(&self) -> Vec<PathBuf> {
        self.exports.iter().map(|e| e.socket().to_owned()).collect()
    }

    /// Stops serving the disks and releases the volumes.
    pub fn detach(&mut self, core: &Core) {
        for e in self.exports.drain(..) {
            e.stop();
        }
        for v in self.volumes.drain(..) {
            core.claims().release(&v, "vm");
        }
    }
}
