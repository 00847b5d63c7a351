//! Where a VM's kernel and initrd come from: a file on the appliance (an absolute path)
//! or a pool volume (a name), whose bytes are copied into the VM's directory at each
//! start (the runner reads files only; a volume that changed between starts boots as it
//! is now). A kernel in a volume is a raw image of the file (`vsa volume import vmlinuz
//! kernels --format raw`); the zeros that pad it to the volume's size are harmless to an
//! ELF, a bzImage or an initramfs.

use super::error::VmError;
use crate::core::Core;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest kernel or initrd a volume may hold.
const MAX_BOOT_VOLUME: u64 = 1 << 30;

/// Whether `spec` names a volume (not a path).
fn is_volume(spec: &str) -> bool {
    !spec.contains('/')
}

/// Checks that `spec` (the `what`: kernel or initrd) is a file or a volume that can be
/// read.
pub fn check(core: &Core, what: &str, spec: &str) -> Result<(), VmError> {
    if is_volume(spec) {
        let vol = core.volumes().open(spec).map_err(|e| {
            VmError::InvalidVm(format!(
                "{what} {spec}: not a path, and no volume of that name ({})",
                e.message
            ))
        })?;
        let size = vol.device.size();
        if size > MAX_BOOT_VOLUME {
            return Err(VmError::InvalidVm(format!(
                "{what} volume {spec} holds {size} bytes; a {what} volume holds at most 1 GiB"
            )));
        }
        return Ok(());
    }
    let p = Path::new(spec);
    if !p.is_absolute() {
        return Err(VmError::InvalidVm(format!(
            "{what} {spec} is a relative path; give the daemon an absolute one (the CLI does this for you)"
        )));
    }
    if !p.is_file() {
        return Err(VmError::InvalidVm(format!(
            "{what} {spec} is not a file on the appliance"
        )));
    }
    Ok(())
}

/// The file the runner boots for `spec`: the file itself, or the volume's bytes copied to
/// `dir/<what>`.
pub fn materialize(core: &Core, what: &str, spec: &str, dir: &Path) -> Result<PathBuf, VmError> {
    check(core, what, spec)?;
    if !is_volume(spec) {
        return Ok(PathBuf::from(spec));
    }
    let fail = |e: String| VmError::InvalidVm(format!("{what} volume {spec}: {e}"));
    let vol = core.volumes().open(spec).map_err(VmError::Volume)?;
    let size = vol.device.size();
    let path = dir.join(what);
    let mut out =
        std::fs::File::create(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < size {
        let n = usize::try_from((size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        let chunk = &mut buf[..n];
        vol.device
            .read_at(chunk, offset)
            .map_err(|e| fail(format!("cannot read it at byte {offset}: {e}")))?;
        out.write_all(chunk)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        offset += n as u64;
    }
    Ok(path)
}
