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
            kernel: path.clone(),
            initrd: None,
            cmdline: String::new(),
            disks: vec![],
            confine: false,
        };
        match run(&config, Box::new(std::io::sink())) {
            Err(e) => assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}"),
            Ok(r) => panic!("{} booted: {r:?}", path.display()),
        }
    }
}
