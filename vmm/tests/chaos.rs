//! A guest that abuses its devices (`vsa_e2e::asm::CHAOS_GUEST`: garbage in every
//! register, random queues of garbage descriptors kicked again and again, random I/O
//! ports): the VMM, the disk's vhost-user backend and the network card's thread answer
//! with errors or nothing, the guest runs to its end, and the same backend then serves a
//! well-behaved guest as before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{kvm_here, run_config};
use std::sync::Arc;
use vsa_blockdev::testing::MemDevice;
use vsa_e2e::asm::{c_guest, CHAOS_GUEST, VIRTIO_BLK_GUEST};
use vsa_e2e::netns::Netns;
use vsa_vmm::blk::Disk;
use vsa_vmm::kvm::{Exit, VmConfig};
use vsa_vmm::net::NetConfig;
use vsa_vmm::vhost_user::Export;

#[test]
fn garbage_from_a_guest_stops_nothing_but_its_requests() {
    if !kvm_here() {
        return;
    }
    let Some(ns) = Netns::new("vmm-chaos") else {
        return;
    };
    ns.tap("vsatap0", "10.0.9.1/24");
    let tmp = tempfile::tempdir().unwrap();
    let chaos = c_guest(tmp.path(), "chaos", CHAOS_GUEST);
    let blk = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let disk = Disk {
        device: Arc::new(MemDevice::new(8 << 20, 4096)),
        read_only: false,
        id: "chaos".into(),
    };
    let export = Export::start(disk, &tmp.path().join("chaos.sock"), 1).unwrap();
    let socket = export.socket().to_owned();
    let config = |kernel, nets| VmConfig {
        memory: 64 << 20,
        vcpus: 1,
        kernel,
        initrd: None,
        cmdline: String::new(),
        disks: vec![socket.clone()],
        nets,
        confine: false,
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            let nets = vec![NetConfig {
                tap: "vsatap0".into(),
                mac: "52:54:00:00:00:99".parse().unwrap(),
            }];
            let (exit, console) = run_config(config(chaos.clone(), nets));
            assert_eq!(exit, Exit::Reset, "{console}");
            assert!(console.contains("chaos done: 2 devices"), "{console}");
        });
    });
    // The backend lived through it and serves the next VM.
    let (exit, console) = run_config(config(blk, vec![]));
    assert_eq!(exit, Exit::Reset, "{console}");
    assert!(
        console.contains("disk 0: write status 0 flush status 0 read-back status 0 matches"),
        "{console}"
    );
    export.stop();
}
