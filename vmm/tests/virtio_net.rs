//! Network cards in the bundled VMM: a guest's virtio-net driver (the C guest in
//! `vsa_e2e::asm::VIRTIO_NET_GUEST`) sends and receives frames through a TAP device in a
//! network namespace the test makes, and the test talks UDP with it from the host side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{kvm_here, run_config};
use std::net::UdpSocket;
use std::time::Duration;
use vsa_e2e::asm::{c_guest, VIRTIO_NET_GUEST};
use vsa_e2e::netns::Netns;
use vsa_vmm::kvm::{Exit, VmConfig};
use vsa_vmm::net::NetConfig;

const MAC: &str = "52:54:00:12:34:56";

fn config(elf: std::path::PathBuf, tap: &str) -> VmConfig {
    VmConfig {
        memory: 64 << 20,
        vcpus: 1,
        kernel: elf,
        initrd: None,
        cmdline: String::new(),
        disks: vec![],
        nets: vec![NetConfig {
            tap: tap.to_owned(),
            mac: MAC.parse().unwrap(),
        }],
        confine: false,
    }
}

#[test]
fn a_guest_sends_and_receives_frames_through_a_tap_device() {
    if !kvm_here() {
        return;
    }
    let Some(ns) = Netns::new("vmm-net") else {
        return;
    };
    ns.tap("vsatap0", "10.0.2.1/24");
    // The host reaches the guest without ARP (the guest answers none).
    ns.ip(&["neigh", "add", "10.0.2.15", "lladdr", MAC, "dev", "vsatap0"]);
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "virtio-net", VIRTIO_NET_GUEST);
    std::thread::scope(|s| {
        ns.enter();
        let socket = UdpSocket::bind("10.0.2.1:5555").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let vm = s.spawn(|| {
            ns.enter();
            run_config(config(elf.clone(), "vsatap0"))
        });
        let mut buf = [0u8; 2048];
        let (n, from) = socket.recv_from(&mut buf).expect("no hello from the guest");
        assert_eq!(&buf[..n], format!("hello from {MAC}").as_bytes());
        assert_eq!(from.to_string(), "10.0.2.15:5555");
        socket
            .send_to(b"ping from the host side", "10.0.2.15:5555")
            .unwrap();
        // Hellos sent before the guest saw the ping may still come; then the echo.
        let echo = loop {
            let (n, _) = socket.recv_from(&mut buf).expect("no echo from the guest");
            if !buf[..n].starts_with(b"hello from") {
                break String::from_utf8_lossy(&buf[..n]).into_owned();
            }
        };
        assert_eq!(echo, "echo: ping from the host side");
        let (exit, console) = vm.join().unwrap();
        assert_eq!(exit, Exit::Reset, "{console}");
        for line in [
            format!("virtio-net: mac {MAC}"),
            "virtio-net: sent hello".to_owned(),
            "virtio-net: received ping from the host side".to_owned(),
            "virtio-net guest done".to_owned(),
        ] {
            assert!(console.contains(&line), "no {line:?} in:\n{console}");
        }
    });
}

#[test]
fn a_tap_device_that_cannot_be_attached_is_an_error_naming_it() {
    if !kvm_here() {
        return;
    }
    let Some(ns) = Netns::new("vmm-net-busy") else {
        return;
    };
    ns.tap("vsatap1", "10.0.3.1/24");
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "virtio-net", VIRTIO_NET_GUEST);
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            // Attached by someone else first: a TAP device has one user.
            let _taken = vsa_vmm::net::tap::Tap::open("vsatap1").unwrap();
            for (tap, words) in [
                ("vsatap1", &["vsatap1", "another program or VM"][..]),
                (
                    "bad/name",
                    &["bad/name", "not a network interface name"][..],
                ),
            ] {
                let config = config(elf.clone(), tap);
                match vsa_vmm::kvm::run(&config, Box::new(std::io::sink())) {
                    Err(e) => {
                        for w in words {
                            assert!(e.to_string().contains(w), "{e}");
                        }
                    }
                    Ok(r) => panic!("booted on a TAP device it cannot have: {r:?}"),
                }
            }
        });
    });
}
