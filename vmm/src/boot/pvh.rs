//! PVH entry (the Xen PVH boot ABI, which Linux, Firecracker, Cloud Hypervisor and qemu's
//! microvm also use): an ELF kernel that carries a `XEN_ELFNOTE_PHYS32_ENTRY` note is
//! entered at that address in 32-bit protected mode, paging off, with EBX holding the
//! address of an `hvm_start_info`: its magic, the command line, the memory map and, as
//! the one module, the initrd.

use super::linux::{command_line, e820_map, load_initrd};
use super::{BootError, Entry};
use crate::kvm::layout::CMDLINE;
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use linux_loader::loader::load_cmdline;
use std::path::Path;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// `hvm_start_info.magic`.
const START_MAGIC: u32 = 0x336e_c578;
/// Where the start info goes (below the zero page's spot, unused by PVH kernels).
pub const START_INFO: u64 = 0x6000;
/// The memory map (two entries) after it.
const MEMMAP: u64 = START_INFO + 0x40;
/// The module list (the initrd) after the map.
const MODLIST: u64 = START_INFO + 0x80;
/// The highest address an initrd may end at (PVH passes 64-bit addresses, but keep it
/// below the device window).
const INITRD_MAX: u64 = crate::kvm::layout::MMIO_START - 1;

/// Writes the start info for a kernel loaded up to `kernel_end`, entered at `entry`;
/// EBX (in `rsi`'s place: [`Entry::rsi`]) gets its address.
pub fn prepare(
    mem: &GuestMemoryMmap,
    mem_size: u64,
    entry: u64,
    kernel_end: u64,
    cmdline: &str,
    initrd: Option<&Path>,
) -> Result<Entry, BootError> {
    let c = command_line(cmdline)?;
    load_cmdline(mem, GuestAddress(CMDLINE), &c)
        .map_err(|e| BootError::Memory(format!("the command line: {e}")))?;
    let map = e820_map(mem_size);
    for (i, e) in map.iter().enumerate() {
        let entry = hvm_memmap_table_entry {
            addr: e.addr,
            size: e.size,
            type_: e.r#type,
            reserved: 0,
        };
        mem.write_obj(entry, GuestAddress(MEMMAP + 24 * i as u64))
            .map_err(|e| BootError::Memory(format!("the PVH memory map: {e}")))?;
    }
    let mut info = hvm_start_info {
        magic: START_MAGIC,
        version: 1,
        cmdline_paddr: CMDLINE,
        memmap_paddr: MEMMAP,
        memmap_entries: map.len() as u32,
        ..Default::default()
    };
    if let Some(path) = initrd {
        let (at, len) = load_initrd(mem, mem_size, INITRD_MAX, kernel_end, path)?;
        let module = hvm_modlist_entry {
            paddr: at,
            size: len,
            ..Default::default()
        };
        mem.write_obj(module, GuestAddress(MODLIST))
            .map_err(|e| BootError::Memory(format!("the PVH module list: {e}")))?;
        info.nr_modules = 1;
        info.modlist_paddr = MODLIST;
    }
    mem.write_obj(info, GuestAddress(START_INFO))
        .map_err(|e| BootError::Memory(format!("the PVH start info: {e}")))?;
    Ok(Entry {
        rip: entry,
        rsi: START_INFO,
        mode: super::Mode::Protected32,
    })
}
