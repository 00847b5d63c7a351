//! Several vCPUs: the guest (`vsa_e2e::asm::SMP_GUEST`) finds them in the MP table and
//! starts the application processors with INIT and startup IPIs, as an operating system
//! does; each runs real-mode code on its own thread of the VMM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{kvm_here, run_config};
use vsa_e2e::asm::{c_guest, SMP_GUEST};
use vsa_vmm::kvm::{Exit, VmConfig};

fn boot(elf: &std::path::Path, vcpus: u8) -> (Exit, String) {
    run_config(VmConfig {
        memory: 32 << 20,
        vcpus,
        kernel: elf.to_owned(),
        initrd: None,
        cmdline: String::new(),
        disks: vec![],
        nets: vec![],
        confine: false,
    })
}

#[test]
fn the_guest_finds_and_starts_every_vcpu() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "smp", SMP_GUEST);
    for (vcpus, up) in [(1u8, 0), (2, 1), (4, 3)] {
        let (exit, console) = boot(&elf, vcpus);
        assert_eq!(exit, Exit::Reset, "{console}");
        let table =
            format!("mp table: {vcpus} processors, bootstrap apic 0, ioapic at 00000000fec00000");
        assert!(console.contains(&table), "{vcpus} vCPUs: {console}");
        assert!(
            console.contains(&format!("cpus up: {up} of {up}")),
            "{vcpus} vCPUs: {console}"
        );
        assert!(
            console
                .contains("msrs: misc enable 0000000000000001, mtrr default type 0000000000000806"),
            "{console}"
        );
    }
}

#[test]
fn a_vcpu_count_out_of_range_is_refused() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "smp", SMP_GUEST);
    for vcpus in [0u8, 33] {
        let config = VmConfig {
            memory: 32 << 20,
            vcpus,
            kernel: elf.clone(),
            initrd: None,
            cmdline: String::new(),
            disks: vec![],
            nets: vec![],
            confine: false,
        };
        let e = vsa_vmm::kvm::run(&config, Box::new(std::io::sink())).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("{vcpus} vCPUs: a VM has 1 to")),
            "{e}"
        );
    }
}
