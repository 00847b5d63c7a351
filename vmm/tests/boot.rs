//! The VMM on this machine's KVM: small 64-bit guests (assembled by `vsa_e2e::asm`)
//! print on COM1, reset through the i8042 or fault, and the VM stops with the matching
//! reason.
//!
//! Without /dev/kvm the tests say so on stderr and pass without running a guest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vsa_e2e::asm::{guest, FAULT, POWER_OFF};
use vsa_vmm::kvm::{run, Exit, VmConfig};

mod common;
use common::{boot, kvm_here};

#[test]
fn a_64_bit_guest_prints_on_the_serial_console_and_powers_off() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = guest(
        tmp.path(),
        "hello",
        "vsa guest: hello from long mode",
        POWER_OFF,
    );
    let (exit, console) = boot(&elf, vec![]);
    assert_eq!(exit, Exit::Reset, "{console}");
    assert_eq!(console, "vsa guest: hello from long mode\n");
}

#[test]
fn a_guest_that_faults_without_handlers_stops_with_a_reason() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // An invalid opcode with an empty IDT: #UD, then #DF, then a triple fault.
    let elf = guest(tmp.path(), "fault", "about to fault", FAULT);
    let (exit, _) = boot(&elf, vec![]);
    assert_eq!(exit, Exit::TripleFault);
}

#[test]
fn a_missing_or_bad_kernel_is_an_error_naming_the_file() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("not-elf");
    std::fs::write(&bad, b"not an ELF file at all").unwrap();
    for path in [tmp.path().join("missing"), bad] {
        let config = VmConfig {
            memory: 16 << 20,
            vcpus: 1,
            kernel: path.clone(),
            initrd: None,
            cmdline: String::new(),
            disks: vec![],
            nets: vec![],
            confine: false,
        };
        match run(&config, Box::new(std::io::sink())) {
            Err(e) => assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}"),
            Ok(r) => panic!("{} booted: {r:?}", path.display()),
        }
    }
}

#[test]
fn a_pvh_guest_is_loaded_with_its_start_info() {
    use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
    use vsa_vmm::boot::{load_elf, Mode};
    let tmp = tempfile::tempdir().unwrap();
    let elf = vsa_e2e::asm::pvh_guest(tmp.path(), "pvh", "vsa guest: PVH", POWER_OFF);
    let size = 64u64 << 20;
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), size as usize)]).unwrap();
    let entry = load_elf(&mem, size, &elf, "console=ttyS0 pvh=yes", None).unwrap();
    // The guest's _start is its PVH entry, at the start of .text.
    assert_eq!(entry.mode, Mode::Protected32);
    assert_eq!(entry.rip, 0x10_0000);
    let info = entry.rsi;
    let u32_at = |a: u64| mem.read_obj::<u32>(GuestAddress(a)).unwrap();
    let u64_at = |a: u64| mem.read_obj::<u64>(GuestAddress(a)).unwrap();
    assert_eq!((u32_at(info), u32_at(info + 4)), (0x336e_c578, 1));
    let mut cmdline = [0u8; 22];
    mem.read_slice(&mut cmdline, GuestAddress(u64_at(info + 24)))
        .unwrap();
    assert_eq!(&cmdline, b"console=ttyS0 pvh=yes\0");
    // The memory map: low memory below the EBDA, then 1 MiB to the end; type 1 (RAM).
    let (map, entries) = (u64_at(info + 40), u32_at(info + 48));
    assert_eq!(entries, 2);
    let e = |i: u64| {
        (
            u64_at(map + 24 * i),
            u64_at(map + 24 * i + 8),
            u32_at(map + 24 * i + 16),
        )
    };
    assert_eq!(e(0), (0, 0x9_fc00, 1));
    assert_eq!(e(1), (0x10_0000, size - 0x10_0000, 1));
    // A 64-bit ELF without the note is still entered in long mode.
    let plain = guest(tmp.path(), "plain", "x", POWER_OFF);
    assert_eq!(
        load_elf(&mem, size, &plain, "", None).unwrap().mode,
        Mode::Long
    );
}

#[test]
fn a_pvh_guest_is_entered_in_32_bit_mode_with_its_start_info() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = vsa_e2e::asm::pvh_guest(tmp.path(), "pvh", "vsa guest: PVH", POWER_OFF);
    let (exit, console) = common::boot_with_cmdline(&elf, "console=ttyS0 pvh=yes");
    assert_eq!(exit, Exit::Reset, "{console}");
    assert_eq!(console, "console=ttyS0 pvh=yes\nvsa guest: PVH\n");
}
