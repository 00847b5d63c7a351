//! The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: the
//! protected-mode kernel of a bzImage at 1 MiB, the zero page (`struct boot_params`) with
//! the image's setup header, the e820 memory map, the command line and the initrd, and
//! the entry at `startup_64` (load address + 0x200) with the zero page in `rsi`.

use super::{file_error, BootError, Entry};
use crate::kvm::layout::{CMDLINE, CMDLINE_MAX, HIMEM_START, ZERO_PAGE};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params};
use linux_loader::loader::{bzimage::BzImage, load_cmdline, Cmdline, KernelLoader};
use std::path::{Path, PathBuf};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// "HdrS".
const HDRS: u32 = 0x5372_6448;
/// The oldest protocol with a 64-bit entry point (2.12).
const MIN_VERSION: u16 = 0x020c;
/// `xloadflags`: the kernel has the 64-bit entry at +0x200.
const XLF_KERNEL_64: u16 = 1;
/// `loadflags`: the heap end pointer is valid.
const CAN_USE_HEAP: u8 = 0x80;
/// An undefined boot loader id (0xff), as a loader without an assigned id uses.
const LOADER_UNDEFINED: u8 = 0xff;
/// The end of conventional memory below the EBDA.
pub const EBDA_START: u64 = 0x9_fc00;
/// e820 type of usable RAM.
pub const E820_RAM: u32 = 1;

/// A Linux kernel to boot.
#[derive(Debug, Clone)]
pub struct LinuxBoot {
    /// The bzImage.
    pub kernel: PathBuf,
    /// An initramfs, if any.
    pub initrd: Option<PathBuf>,
    /// The command line.
    pub cmdline: String,
}

/// Loads `boot` into `mem` (of `mem_size` bytes from address 0) and writes the zero page.
pub fn load(mem: &GuestMemoryMmap, mem_size: u64, boot: &LinuxBoot) -> Result<Entry, BootError> {
    let path = boot.kernel.as_path();
    let mut file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let loaded = BzImage::load(mem, None, &mut file, Some(GuestAddress(HIMEM_START)))
        .map_err(|e| file_error(path, e))?;
    let mut hdr = loaded
        .setup_header
        .ok_or_else(|| file_error(path, "no setup header: not a bzImage"))?;
    let (magic, version, xloadflags) = (hdr.header, hdr.version, hdr.xloadflags);
    if magic != HDRS {
        return Err(file_error(path, "no HdrS signature: not a bzImage"));
    }
    if version < MIN_VERSION || xloadflags & XLF_KERNEL_64 == 0 {
        return Err(BootError::Protocol(format!(
            "{}: boot protocol {}.{:02} without a 64-bit entry point; a kernel with protocol 2.12 or later (Linux 3.8+) is needed",
            path.display(),
            version >> 8,
            version & 0xff
        )));
    }
    hdr.type_of_loader = LOADER_UNDEFINED;
    hdr.loadflags |= CAN_USE_HEAP;
    hdr.heap_end_ptr = 0xfe00;
    hdr.boot_flag = 0xaa55;

    let cmdline = command_line(&boot.cmdline)?;
    load_cmdline(mem, GuestAddress(CMDLINE), &cmdline)
        .map_err(|e| BootError::Memory(format!("the command line: {e}")))?;
    hdr.cmd_line_ptr = CMDLINE as u32;
    hdr.cmdline_size = (boot.cmdline.len() + 1) as u32;

    if let Some(initrd) = &boot.initrd {
        let (at, len) = load_initrd(
            mem,
            mem_size,
            u64::from(hdr.initrd_addr_max),
            loaded.kernel_end,
            initrd,
        )?;
        hdr.ramdisk_image = at as u32;
        hdr.ramdisk_size = len as u32;
    }

    let mut params = boot_params {
        hdr,
        ..Default::default()
    };
    let map = e820_map(mem_size);
    for (slot, e) in params.e820_table.iter_mut().zip(&map) {
        *slot = *e;
    }
    params.e820_entries = map.len() as u8;
    mem.write_obj(params, GuestAddress(ZERO_PAGE))
        .map_err(|e| BootError::Memory(format!("the zero page: {e}")))?;
    Ok(Entry {
        rip: loaded.kernel_load.0 + 0x200,
        rsi: ZERO_PAGE,
        mode: super::Mode::Long,
    })
}

pub(crate) fn command_line(text: &str) -> Result<Cmdline, BootError> {
    let bad = |e: linux_loader::cmdline::Error| {
        BootError::Protocol(format!("kernel command line '{text}': {e}"))
    };
    let mut c = Cmdline::new(CMDLINE_MAX).map_err(bad)?;
    if !text.is_empty() {
        c.insert_str(text).map_err(bad)?;
    }
    Ok(c)
}

/// The memory map: RAM below the EBDA, and from 1 MiB to the end.
pub fn e820_map(mem_size: u64) -> Vec<boot_e820_entry> {
    vec![
        boot_e820_entry {
            addr: 0,
            size: EBDA_START,
            r#type: E820_RAM,
        },
        boot_e820_entry {
            addr: HIMEM_START,
            size: mem_size.saturating_sub(HIMEM_START),
            r#type: E820_RAM,
        },
    ]
}

/// Puts the initrd as high as the kernel allows, page-aligned, above the kernel.
pub(crate) fn load_initrd(
    mem: &GuestMemoryMmap,
    mem_size: u64,
    addr_max: u64,
    kernel_end: u64,
    path: &Path,
) -> Result<(u64, u64), BootError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let len = bytes.len() as u64;
    // initrd_addr_max is the highest address the initrd's last byte may have.
    let top = mem_size.min(addr_max.saturating_add(1));
    let at = top.checked_sub(len).map(|a| a & !0xfff);
    match at {
        Some(at) if at >= kernel_end => {
            mem.write_slice(&bytes, GuestAddress(at))
                .map_err(|e| BootError::Memory(format!("the initrd: {e}")))?;
            Ok((at, len))
        }
        _ => Err(file_error(
            path,
            format!("{len} bytes do not fit between the kernel and the end of guest memory; give the VM more memory"),
        )),
    }
}
