//! `vsa vm create --net TAP[=MAC]`: a VM's network card on a host TAP device. The whole
//! test runs in a network namespace of its own (the daemon, its CLI and the host side of
//! the conversation are started from a thread inside it), where the test makes the TAP
//! device; the guest is the C virtio-net driver (`vsa_e2e::asm::VIRTIO_NET_GUEST`).
//!
//! Without /dev/kvm, or without network namespaces, the test says so and boots nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::net::UdpSocket;
use std::time::Duration;
use vsa_e2e::asm::{c_guest, VIRTIO_NET_GUEST};
use vsa_e2e::netns::Netns;
use vsa_e2e::{kvm_here, wait_for, Daemon};

const MAC: &str = "52:54:00:0a:0b:0c";

fn stopped(d: &Daemon, name: &str, starts: u64) -> Value {
    wait_for(120, || {
        let v = d.json(&["vm", "show", name]);
        (v["state"] == "stopped" && v["starts"] == starts).then_some(v)
    })
    .unwrap_or_else(|| panic!("VM {name} never stopped"))
}

#[test]
fn a_vm_talks_to_the_host_through_its_tap_device() {
    if !kvm_here() {
        return;
    }
    let Some(ns) = Netns::new("vm-net") else {
        return;
    };
    ns.tap("vsatap0", "10.0.2.1/24");
    ns.ip(&["neigh", "add", "10.0.2.15", "lladdr", MAC, "dev", "vsatap0"]);
    let tmp = tempfile::tempdir().unwrap();
    let elf = c_guest(tmp.path(), "virtio-net", VIRTIO_NET_GUEST);
    let kernel = elf.to_str().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter();
            let d = Daemon::start(&tmp.path().join("data"), &[]);
            let net = format!("vsatap0={MAC}");
            d.ok(&[
                "vm", "create", "web", "--kernel", kernel, "--memory", "32M", "--net", &net,
            ]);
            // A TAP device has one user; bad names and addresses are refused up front.
            for (args, words) in [
                (vec!["--net", "vsatap0"], "VM web's network card"),
                (vec!["--net", "tap/0"], "not a TAP device name"),
                (
                    vec!["--net", "vsatap9=ff:ff:ff:ff:ff:ff"],
                    "not a MAC address",
                ),
            ] {
                let mut all = vec!["vm", "create", "other", "--kernel", kernel];
                all.extend(args);
                let o = d.cli(&all);
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(!o.status.success() && err.contains(words), "{all:?}: {err}");
            }
            // A card without a MAC gets one from the VM's name, the same every time.
            let v = d.json(&["vm", "create", "db", "--kernel", kernel, "--net", "vsatap5"]);
            let mac = v["nets"][0]["mac"].as_str().unwrap().to_owned();
            assert!(mac.starts_with("52:54:00:"), "{v}");
            assert_eq!(
                d.json(&["vm", "show", "db"])["nets"][0]["mac"],
                mac.as_str()
            );
            let shown = d.ok(&["vm", "show", "web"]);
            assert!(
                shown.contains(&format!("eth0 on vsatap0 ({MAC})")),
                "{shown}"
            );

            let socket = UdpSocket::bind("10.0.2.1:5555").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(120)))
                .unwrap();
            d.ok(&["vm", "start", "web"]);
            let mut buf = [0u8; 2048];
            let (n, from) = socket.recv_from(&mut buf).expect("no hello from the guest");
            assert_eq!(&buf[..n], format!("hello from {MAC}").as_bytes());
            socket.send_to(b"ping through vsa", from).unwrap();
            let echo = loop {
                let (n, _) = socket.recv_from(&mut buf).expect("no echo from the guest");
                if !buf[..n].starts_with(b"hello from") {
                    break String::from_utf8_lossy(&buf[..n]).into_owned();
                }
            };
            assert_eq!(echo, "echo: ping through vsa");
            let v = stopped(&d, "web", 1);
            assert!(v["last_exit"].as_str().unwrap().contains("Reset"), "{v}");
            let console = d.ok(&["vm", "console", "web"]);
            assert!(console.contains("virtio-net guest done"), "{console}");
            // The frames are counted: the hellos and the echo out, the ping in.
            let card = &d.json(&["vm", "show", "web"])["stats"]["nets"][0];
            assert!(card["tx_frames"].as_u64().unwrap() >= 2, "{card}");
            assert!(card["rx_frames"].as_u64().unwrap() >= 1, "{card}");
            assert_eq!(card["bad_chains"], 0, "{card}");
            let tx = d.metrics().into_iter().find(|(k, _)| {
                k.starts_with("vsa_vm_net_frames_total{")
                    && ["vm=\"web\"", "card=\"eth0\"", "direction=\"tx\""]
                        .iter()
                        .all(|l| k.contains(l))
            });
            assert!(tx.as_ref().is_some_and(|(_, v)| *v >= 2.0), "{tx:?}");

            // The card is part of the VM's configuration: it is there after a restart.
            d.stop();
            let d = Daemon::start(&tmp.path().join("data"), &[]);
            let v = d.json(&["vm", "show", "web"]);
            assert_eq!(v["nets"][0]["tap"], "vsatap0", "{v}");
            assert_eq!(v["nets"][0]["mac"], MAC, "{v}");
            d.ok(&["vm", "start", "web"]);
            let (n, _) = socket
                .recv_from(&mut buf)
                .expect("no hello after the restart");
            assert_eq!(&buf[..n], format!("hello from {MAC}").as_bytes());
            d.ok(&["vm", "stop", "web", "--force"]);
            d.stop();
        });
    });
}
