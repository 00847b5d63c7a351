//! `vsa vm`: VMs on the bundled KVM VMM, each in its own `vsa __vm-runner` process that
//! the daemon starts, watches and stops. The guests are small 64-bit programs assembled
//! here with binutils (`as`, `ld`): one prints on the console and idles, one powers off
//! through the i8042, one faults.
//!
//! Without /dev/kvm the test says so and boots nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use vsa_e2e::asm::{guest, FAULT, IDLE, POWER_OFF};
use vsa_e2e::{wait_for, Daemon};

/// Whether process `pid` runs (an exited one nobody reaped yet does not).
fn alive(pid: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}

fn state(d: &Daemon, name: &str) -> Value {
    d.json(&["vm", "show", name])
}

fn wait_state(d: &Daemon, name: &str, want: &str) -> Value {
    wait_for(120, || {
        let v = state(d, name);
        (v["state"] == want).then_some(v)
    })
    .unwrap_or_else(|| panic!("VM {name} never became {want}: {}", state(d, name)))
}

#[test]
fn vms_start_stop_power_off_fault_and_come_back_with_the_daemon() {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        eprintln!("NOT RUN: /dev/kvm cannot be opened here; no VM was booted");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start(&data, &[]);
    let idle = guest(tmp.path(), "idle", "idle guest up", IDLE);
    let off = guest(tmp.path(), "off", "powering off", POWER_OFF);
    let fault = guest(tmp.path(), "fault", "about to fault", FAULT);

    let out = d.ok(&[
        "vm",
        "create",
        "web1",
        "--kernel",
        idle.to_str().unwrap(),
        "--memory",
        "64M",
        "--autostart",
    ]);
    assert!(out.contains("created VM web1"), "{out}");
    assert_eq!(state(&d, "web1")["state"], "stopped");
    d.ok(&["vm", "start", "web1"]);
    let v = wait_state(&d, "web1", "running");
    assert!(v["pid"].as_u64().is_some(), "{v}");
    wait_for(60, || {
        d.ok(&["vm", "console", "web1"])
            .contains("idle guest up")
            .then_some(())
    })
    .expect("the console never showed the guest's line");
    let o = d.cli(&["vm", "delete", "web1"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("vsa vm stop web1"),
        "deleting a running VM"
    );
    let v = d.json(&["vm", "stop", "web1"]);
    assert_eq!(v["state"], "stopped", "{v}");
    assert!(
        v["last_exit"].as_str().unwrap().contains("vsa vm stop"),
        "{v}"
    );

    // A guest that powers off stops by itself; one that faults is failed, with the reason.
    d.ok(&[
        "vm",
        "create",
        "off",
        "--kernel",
        off.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    d.ok(&["vm", "start", "off"]);
    let v = wait_for(60, || {
        let v = state(&d, "off");
        (v["state"] == "stopped" && v["starts"] == 1).then_some(v)
    })
    .unwrap();
    assert!(v["last_exit"].as_str().unwrap().contains("Reset"), "{v}");
    assert!(d.ok(&["vm", "console", "off"]).contains("powering off"));
    d.ok(&[
        "vm",
        "create",
        "bad",
        "--kernel",
        fault.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    d.ok(&["vm", "start", "bad"]);
    let v = wait_state(&d, "bad", "failed");
    assert!(
        v["last_exit"].as_str().unwrap().contains("TripleFault"),
        "{v}"
    );
    let m = d.metrics();
    assert_eq!(m.get("vsa_vms{state=\"failed\"}"), Some(&1.0), "{m:?}");

    // Restart policies: a failing VM starts again (with a growing pause) until stopped; a
    // guest reset (a reboot) boots it again with `always`.
    d.ok(&[
        "vm",
        "create",
        "crashy",
        "--kernel",
        fault.to_str().unwrap(),
        "--memory",
        "32M",
        "--restart",
        "on-failure",
    ]);
    d.ok(&["vm", "start", "crashy"]);
    wait_for(120, || {
        (state(&d, "crashy")["starts"].as_u64() >= Some(3)).then_some(())
    })
    .unwrap_or_else(|| panic!("no restarts: {}", state(&d, "crashy")));
    let v = d.json(&["vm", "stop", "crashy"]);
    let starts = v["starts"].as_u64().unwrap();
    d.ok(&[
        "vm",
        "create",
        "reboot",
        "--kernel",
        off.to_str().unwrap(),
        "--memory",
        "32M",
        "--restart",
        "always",
    ]);
    d.ok(&["vm", "start", "reboot"]);
    wait_for(120, || {
        (state(&d, "reboot")["starts"].as_u64() >= Some(2)).then_some(())
    })
    .unwrap_or_else(|| panic!("no reboot: {}", state(&d, "reboot")));
    d.ok(&["vm", "stop", "reboot"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        state(&d, "crashy")["starts"].as_u64(),
        Some(starts),
        "restarted after vm stop"
    );
    d.ok(&["vm", "delete", "crashy"]);
    d.ok(&["vm", "delete", "reboot"]);

    // Refusals name the problem.
    let o = d.cli(&["vm", "create", "x", "--kernel", "/nonexistent/vmlinuz"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a file"),
        "{o:?}"
    );
    let o = d.cli(&["vm", "create", "web1", "--kernel", idle.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already exists"),
        "{o:?}"
    );
    let o = d.cli(&[
        "vm",
        "create",
        "bad name",
        "--kernel",
        idle.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a VM name"),
        "{o:?}"
    );

    // A VM never outlives its daemon: killed with -9, the daemon leaves a runner that
    // ends by itself; the restarted daemon starts the autostart VM again, the others stay
    // stopped; a clean stop of the daemon stops its VMs.
    let pid = d.json(&["vm", "start", "web1"])["pid"].as_u64().unwrap();
    d.kill9();
    wait_for(60, || (!alive(pid)).then_some(())).unwrap_or_else(|| {
        panic!(
            "the runner outlived its daemon: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
        )
    });
    let d = Daemon::start(&data, &[]);
    let v = wait_state(&d, "web1", "running");
    assert_eq!(state(&d, "off")["state"], "stopped");
    let pid = v["pid"].as_u64().unwrap();
    assert!(d.stop().success());
    assert!(!alive(pid), "the VM outlived a clean stop");
    let d = Daemon::start(&data, &[]);
    wait_state(&d, "web1", "running");
    d.ok(&["vm", "stop", "web1"]);
    d.ok(&["vm", "delete", "web1"]);
    let list = d.json(&["vm", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}
