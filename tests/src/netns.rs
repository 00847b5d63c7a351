//! Network namespaces for tests that need network devices (TAP devices for VMs): each
//! test makes its own with `ip netns add`, configures it with `ip -n`, and runs the
//! threads that must see it (a VM that opens its TAP device, a socket talking to the
//! guest, a daemon and its CLI started from such a thread) after [`Netns::enter`]. A
//! namespace is per thread, so the rest of the test process stays where it was.

use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace, deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace with its loopback interface up, or says why not (without root
    /// or iproute2) and returns `None`.
    pub fn new(label: &str) -> Option<Netns> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("vsa-{label}-{}-{n}", std::process::id());
        match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "NOT RUN: ip netns add {name}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                return None;
            }
            Err(e) => {
                eprintln!("NOT RUN: ip (iproute2) cannot be run: {e}");
                return None;
            }
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        Some(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...` and asserts it succeeded.
    pub fn ip(&self, args: &[&str]) {
        let o = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ip -n {} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Makes a persistent TAP device `tap` with `addr` (CIDR), up.
    pub fn tap(&self, tap: &str, addr: &str) {
        self.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        self.ip(&["addr", "add", addr, "dev", tap]);
        self.ip(&["link", "set", tap, "up"]);
    }

    /// Moves the calling thread into the namespace (its sockets, and the processes it
    /// starts, are then in it).
    pub fn enter(&self) {
        let fd = std::fs::File::open(format!("/run/netns/{}", self.name)).unwrap();
        rustix::thread::move_into_link_name_space(
            fd.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
