//! Putting a kernel into guest memory: an ELF entered at its PVH entry (pvh.rs) when it
//! carries the note, else at its 64-bit entry point, or a Linux bzImage by the Linux x86
//! boot protocol (linux.rs: zero page, e820 map, command line, initrd).

pub mod linux;
pub mod pvh;

use crate::kvm::layout::HIMEM_START;
use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::KernelLoader;
use std::path::{Path, PathBuf};
use vm_memory::{GuestAddress, GuestMemoryMmap};

/// Why a kernel could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The kernel, initrd or command line is unusable.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The kernel does not follow the boot protocol we implement.
    #[error("{0}")]
    Protocol(String),
    /// Writing guest memory failed.
    #[error("guest memory: {0}")]
    Memory(String),
}

pub(crate) fn file_error(path: &Path, why: impl std::fmt::Display) -> BootError {
    BootError::File {
        path: path.to_owned(),
        why: why.to_string(),
    }
}

/// The mode the vCPU starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 64-bit mode, identity paging over the first 4 GiB.
    Long,
    /// 32-bit protected mode, paging off (PVH).
    Protected32,
}

/// Where the vCPU starts, and what it finds in `rsi` (64-bit) or `ebx` (PVH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The entry point.
    pub rip: u64,
    /// The zero page for a Linux kernel, the start info for PVH (0 for other ELFs).
    pub rsi: u64,
    /// The mode it is entered in.
    pub mode: Mode,
}

/// Whether the file starts like a bzImage (the "HdrS" signature at 0x202).
pub fn is_bzimage(path: &Path) -> Result<bool, BootError> {
    use std::io::Read;
    let mut head = [0u8; 0x206];
    let mut f = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    match f.read_exact(&mut head) {
        Ok(()) => Ok(&head[0x202..0x206] == b"HdrS"),
        Err(_) => Ok(false),
    }
}

/// Loads an ELF kernel at its physical addresses. One with a PVH note is entered there
/// with a start info (the command line, the memory map, the initrd); any other at its
/// 64-bit entry point.
pub fn load_elf(
    mem: &GuestMemoryMmap,
    mem_size: u64,
    path: &Path,
    cmdline: &str,
    initrd: Option<&Path>,
) -> Result<Entry, BootError> {
    let mut file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let loaded = Elf::load(mem, None, &mut file, Some(GuestAddress(HIMEM_START)))
        .map_err(|e| file_error(path, e))?;
    match loaded.pvh_boot_cap {
        PvhBootCapability::PvhEntryPresent(at) => {
            pvh::prepare(mem, mem_size, at.0, loaded.kernel_end, cmdline, initrd)
        }
        _ => Ok(Entry {
            rip: loaded.kernel_load.0,
            rsi: 0,
            mode: Mode::Long,
        }),
    }
}
