//! Disks in the bundled VMM: a guest's virtio-blk driver (the C guest in
//! `vsa_e2e::asm::VIRTIO_BLK_GUEST`) talks virtio-mmio to the VMM, and its requests are
//! served by the vhost-user-blk backend (`vsa_vmm::vhost_user::Export`) in the same
//! process over a socket, as the daemon serves pool volumes: reads see what the test
//! wrote, writes land on the device, a read-only disk refuses them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{boot, kvm_here};
use std::sync::Arc;
use vsa_blockdev::testing::MemDevice;
use vsa_blockdev::BlockDevice;
use vsa_e2e::asm::{c_guest, fnv1a, written_block, VIRTIO_BLK_GUEST};
use vsa_vmm::blk::Disk;
use vsa_vmm::kvm::Exit;
use vsa_vmm::vhost_user::Export;

const SIZE: u64 = 8 << 20;
const WRITTEN_AT: u64 = 2048 * 512;

/// A device whose first 64 KiB hold a pattern; its hash as the guest prints it.
fn patterned(seed: u8) -> (Arc<MemDevice>, String) {
    let dev = Arc::new(MemDevice::new(SIZE, 4096));
    let pattern: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
        .collect();
    dev.write_at(&pattern, 0).unwrap();
    (dev, fnv1a(&pattern))
}

#[test]
fn a_guest_reads_and_writes_pool_disks_over_virtio_mmio_and_vhost_user() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let (rw, rw_hash) = patterned(0);
    let (ro, ro_hash) = patterned(0x5a);
    let serve = |dev: &Arc<MemDevice>, read_only, name: &str| {
        let disk = Disk {
            device: dev.clone(),
            read_only,
            id: name.into(),
        };
        Export::start(disk, &tmp.path().join(format!("{name}.sock")), 1).unwrap()
    };
    let exports = [serve(&rw, false, "rw"), serve(&ro, true, "ro")];
    let sockets = exports.iter().map(|e| e.socket().to_owned()).collect();
    let (exit, console) = boot(&elf, sockets);
    assert_eq!(exit, Exit::Reset, "{console}");
    let sectors = SIZE / 512;
    for line in [
        format!("disk 0: capacity {sectors} sectors, read-only 0\n"),
        format!("disk 0: read status 0 fnv1a {rw_hash}\n"),
        "disk 0: write status 0 flush status 0 read-back status 0 matches\n".into(),
        format!("disk 1: capacity {sectors} sectors, read-only 1\n"),
        format!("disk 1: read status 0 fnv1a {ro_hash}\n"),
        // VIRTIO_BLK_S_IOERR for the write; the read-back finds the old zeros.
        "disk 1: write status 1 flush status 0 read-back status 0 differs\n".into(),
        "virtio-blk guest done: 2 disks\n".into(),
    ] {
        assert!(console.contains(&line), "no {line:?} in:\n{console}");
    }
    let mut block = vec![0u8; 4096];
    rw.read_at(&mut block, WRITTEN_AT).unwrap();
    assert_eq!(block, written_block(0));
    ro.read_at(&mut block, WRITTEN_AT).unwrap();
    assert!(
        block.iter().all(|&b| b == 0),
        "the read-only disk was written"
    );
    for e in exports {
        e.stop();
    }
}

#[test]
fn a_disk_whose_backend_is_not_there_is_an_error_naming_the_socket() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let socket = tmp.path().join("nobody.sock");
    let config = vsa_vmm::kvm::VmConfig {
        memory: 16 << 20,
        vcpus: 1,
        kernel: elf,
        initrd: None,
        cmdline: String::new(),
        disks: vec![socket.clone()],
        nets: vec![],
        confine: false,
    };
    match vsa_vmm::kvm::run(&config, Box::new(std::io::sink())) {
        Err(e) => assert!(e.to_string().contains("nobody.sock"), "{e}"),
        Ok(r) => panic!("booted without its disk: {r:?}"),
    }
}
