//! `vsa vm`: VMs on the bundled KVM VMM, each in its own `vsa __vm-runner` process that
//! the daemon starts, watches and stops. The guests are small 64-bit programs built here:
//! assembled ones (binutils) that print on the console and idle, power off through the
//! i8042 or fault, and a C one (gcc) whose virtio-blk driver reads and writes the VM's
//! pool volumes.
//!
//! Without /dev/kvm the test says so and boots nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use vsa_e2e::asm::{
    c_guest, fnv1a, guest, written_block, CHAOS_GUEST, FAULT, IDLE, KEYBOARD_GUEST, POWER_OFF,
    SMP_GUEST, TICK, VIRTIO_BLK_GUEST,
};
use vsa_e2e::{kvm_here, wait_for, Daemon};

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

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn vms_start_stop_power_off_fault_and_come_back_with_the_daemon() {
    if !kvm_here() {
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
    // A guest that does not answer Ctrl+Alt+Del is powered off when the timeout ends.
    let v = d.json(&["vm", "stop", "web1", "--timeout", "1"]);
    assert_eq!(v["state"], "stopped", "{v}");
    assert!(
        v["last_exit"]
            .as_str()
            .unwrap()
            .contains("powered off (vsa vm stop)"),
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
    let v = d.json(&["vm", "stop", "crashy", "--force"]);
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
    d.ok(&["vm", "stop", "reboot", "--force"]);
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
    d.ok(&["vm", "stop", "web1", "--force"]);
    d.ok(&["vm", "delete", "web1"]);
    let list = d.json(&["vm", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}

/// An 8 MiB raw image whose first 64 KiB hold a pattern; the pattern's hash as the guest
/// prints it.
fn patterned_image(path: &std::path::Path, seed: u8) -> String {
    let mut image = vec![0u8; 8 << 20];
    for (i, b) in image[..65536].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(31) as u8 ^ seed;
    }
    std::fs::write(path, &image).unwrap();
    fnv1a(&image[..65536])
}

/// Runs VM `name` until its guest powers off (start `n` since the daemon started); what
/// this run printed on the console.
fn run_to_power_off(d: &Daemon, name: &str, n: u64) -> String {
    let before = d.ok(&["vm", "console", name]).len();
    d.ok(&["vm", "start", name]);
    let v = wait_for(120, || {
        let v = state(d, name);
        (v["state"] != "running" && v["starts"] == n).then_some(v)
    })
    .unwrap_or_else(|| panic!("VM {name} did not stop: {}", state(d, name)));
    let console = d.ok(&["vm", "console", name]);
    assert!(
        v["last_exit"].as_str().unwrap_or("").contains("Reset"),
        "{v}\n{console}"
    );
    console.get(before..).unwrap_or_default().to_owned()
}

fn has_lines(console: &str, lines: &[String]) {
    for line in lines {
        assert!(console.contains(line), "no {line:?} in:\n{console}");
    }
}

/// The line the guest prints about what an earlier run left at sector 2048 of `disk`.
fn before_write(disk: u8, block: &[u8]) -> String {
    format!(
        "disk {disk}: before write status 0 fnv1a {}\n",
        fnv1a(block)
    )
}

#[test]
fn a_vm_reads_and_writes_its_pool_volumes_as_virtio_disks() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start(&data, &[]);
    let elf = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let root_hash = patterned_image(&tmp.path().join("root.raw"), 0);
    let iso_hash = patterned_image(&tmp.path().join("iso.raw"), 0x5a);
    for name in ["root", "iso"] {
        let image = tmp.path().join(format!("{name}.raw"));
        d.ok(&[
            "volume",
            "import",
            image.to_str().unwrap(),
            name,
            "--format",
            "raw",
        ]);
    }

    // The kernel comes from a pool volume too.
    d.ok(&[
        "volume",
        "import",
        elf.to_str().unwrap(),
        "kernels",
        "--format",
        "raw",
    ]);
    let kernel = elf.to_str().unwrap();
    let o = d.cli(&[
        "vm", "create", "box", "--kernel", "kernels", "--memory", "64M", "--disk", "root",
        "--disk", "iso:ro",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = state(&d, "box");
    assert_eq!(v["disks"][1]["read_only"], true, "{v}");
    let shown = d.ok(&["vm", "show", "box"]);
    assert!(shown.contains("vda root, vdb iso (read-only)"), "{shown}");

    // The VM holds its volumes: nobody deletes or exports them under it.
    let e = stderr(&d.cli(&["volume", "delete", "root"]));
    assert!(
        e.contains("VM 'box'") && e.contains("vsa vm delete box"),
        "{e}"
    );
    let sock = tmp.path().join("x.sock");
    let e = stderr(&d.cli(&["vhost", "export", "iso", "--socket", sock.to_str().unwrap()]));
    assert!(e.contains("in use"), "{e}");
    let e = stderr(&d.cli(&[
        "vm", "create", "other", "--kernel", kernel, "--disk", "root",
    ]));
    assert!(e.contains("VM 'box'"), "{e}");
    let e = stderr(&d.cli(&["vm", "create", "y", "--kernel", "nokernel"]));
    assert!(e.contains("no volume of that name"), "{e}");
    let e = stderr(&d.cli(&["vm", "create", "y", "--kernel", kernel, "--disk", "nope"]));
    assert!(e.contains("nope"), "{e}");
    let e = stderr(&d.cli(&["vm", "create", "y", "--kernel", kernel, "--disk", "root:rx"]));
    assert!(e.contains("VOLUME:ro"), "{e}");
    assert_eq!(d.json(&["vm", "list"]).as_array().map(Vec::len), Some(1));

    let sectors = (8u64 << 20) / 512;
    let zeros = vec![0u8; 4096];
    let console = run_to_power_off(&d, "box", 1);
    has_lines(
        &console,
        &[
            format!("disk 0: capacity {sectors} sectors, read-only 0\n"),
            format!("disk 0: read status 0 fnv1a {root_hash}\n"),
            before_write(0, &zeros),
            "disk 0: write status 0 flush status 0 read-back status 0 matches\n".into(),
            format!("disk 1: capacity {sectors} sectors, read-only 1\n"),
            format!("disk 1: read status 0 fnv1a {iso_hash}\n"),
            // VIRTIO_BLK_S_IOERR for the write; the read-back finds the old zeros.
            "disk 1: write status 1 flush status 0 read-back status 0 differs\n".into(),
            "virtio-blk guest done: 2 disks\n".into(),
        ],
    );
    // What it did shows in `vsa vm show` and the metrics: 2 × (64 + 4 + 4) KiB read.
    let stats = &state(&d, "box")["stats"];
    let n = |v: &Value| v.as_u64().unwrap();
    assert!(n(&stats["disk_bytes"]["read"]) >= 2 * (72 << 10), "{stats}");
    assert!(n(&stats["disk_ops"]["write"]) >= 1, "{stats}");
    assert!(n(&stats["disk_ops"]["flush"]) >= 2, "{stats}");
    assert!(
        n(&stats["vcpu_exits"]["io"]) > 0 && n(&stats["vcpu_exits"]["mmio"]) > 0,
        "{stats}"
    );
    let shown = d.ok(&["vm", "show", "box"]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("vcpu exits:") && l.contains(" io ") && l.contains("mmio ")),
        "{shown}"
    );
    let series = |name: &str, labels: &[&str]| {
        d.metrics()
            .into_iter()
            .find(|(k, _)| k.starts_with(name) && labels.iter().all(|l| k.contains(l)))
            .map(|(_, v)| v)
    };
    let mmio = series(
        "vsa_vm_vcpu_exits_total{",
        &["vm=\"box\"", "reason=\"mmio\""],
    );
    assert!(mmio.unwrap_or(0.0) > 0.0, "{mmio:?}");
    let read = series("vsa_vm_disk_bytes_total{", &["vm=\"box\"", "op=\"read\""]);
    assert!(read.unwrap_or(0.0) >= f64::from(2 * (72 << 10)), "{read:?}");

    // The disks come back with the daemon, and a second boot finds them as they were.
    assert!(d.stop().success());
    let d = Daemon::start(&data, &[]);
    let console = run_to_power_off(&d, "box", 1);
    has_lines(
        &console,
        &[before_write(0, &written_block(0)), before_write(1, &zeros)],
    );
    d.ok(&["vm", "delete", "box"]);

    // What the guest wrote is in the volume; the read-only one is untouched.
    for (name, wrote) in [("root", true), ("iso", false)] {
        let out = tmp.path().join(format!("{name}.out"));
        d.ok(&[
            "volume",
            "export",
            name,
            out.to_str().unwrap(),
            "--format",
            "raw",
        ]);
        let bytes = std::fs::read(&out).unwrap();
        let block = &bytes[1 << 20..(1 << 20) + 4096];
        let want = if wrote {
            written_block(0)
        } else {
            zeros.clone()
        };
        assert_eq!(block, &want[..], "{name}");
        d.ok(&["volume", "delete", name]);
    }
}

#[test]
fn golden_image_clones_nonpersistent_and_undoable_disks() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    let elf = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let gold = tmp.path().join("gold.raw");
    let gold_hash = patterned_image(&gold, 7);
    d.ok(&[
        "volume",
        "import",
        gold.to_str().unwrap(),
        "gold",
        "--format",
        "raw",
    ]);
    d.ok(&["volume", "snapshot", "gold", "base"]);
    for name in ["scratch", "work"] {
        d.ok(&["volume", "create", name, "--size", "8M"]);
    }
    let o = d.cli(&[
        "vm",
        "create",
        "box",
        "--kernel",
        elf.to_str().unwrap(),
        "--memory",
        "64M",
        "--clone-of",
        "gold@base",
        "--disk",
        "scratch:nonpersistent",
        "--disk",
        "work:undoable",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown = d.ok(&["vm", "show", "box"]);
    assert!(
        shown.contains(
            "vda box-root (clone, deleted with the VM), vdb scratch (nonpersistent), vdc work (undoable)"
        ),
        "{shown}"
    );
    let e = stderr(&d.cli(&[
        "vm",
        "create",
        "y",
        "--kernel",
        elf.to_str().unwrap(),
        "--clone-of",
        "gold",
    ]));
    assert!(e.contains("VOLUME@SNAPSHOT"), "{e}");

    let zeros = vec![0u8; 4096];
    let mut n = 0;
    let mut boot = |expect: &[String]| {
        n += 1;
        let console = run_to_power_off(&d, "box", n);
        has_lines(&console, expect);
        has_lines(&console, &["virtio-blk guest done: 3 disks\n".into()]);
    };
    // The clone reads as the golden image; nothing was written anywhere yet.
    boot(&[
        format!("disk 0: read status 0 fnv1a {gold_hash}\n"),
        before_write(0, &zeros),
        before_write(1, &zeros),
        before_write(2, &zeros),
    ]);
    assert_eq!(state(&d, "box")["pending_changes"][0], "work");
    // The clone keeps what the guest wrote, the nonpersistent disk does not, the
    // undoable disk does until its changes are discarded.
    boot(&[
        before_write(0, &written_block(0)),
        before_write(1, &zeros),
        before_write(2, &written_block(2)),
    ]);
    let e = stderr(&d.cli(&["vm", "delete", "box"]));
    assert!(
        e.contains("uncommitted changes on work") && e.contains("vsa vm commit box"),
        "{e}"
    );
    d.ok(&["vm", "discard", "box"]);
    assert_eq!(state(&d, "box")["pending_changes"], serde_json::json!([]));
    boot(&[before_write(2, &zeros)]);
    d.ok(&["vm", "commit", "box"]);
    boot(&[before_write(2, &written_block(2))]);
    d.ok(&["vm", "commit", "box"]);

    // The clone goes with the VM; the golden image and its snapshot stay.
    d.ok(&["vm", "delete", "box"]);
    let volumes = d.ok(&["volume", "list"]);
    assert!(!volumes.contains("box-root"), "{volumes}");
    assert!(d.ok(&["volume", "snapshots", "gold"]).contains("base"));
    for name in ["scratch", "work", "gold"] {
        let snaps = d.ok(&["volume", "snapshots", name]);
        assert!(!snaps.contains("vm-"), "{name}: {snaps}");
    }
}

/// The state letter of process `pid` (`T` when stopped).
fn proc_state(pid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

#[test]
fn a_paused_vm_stops_where_it_is_resumes_and_never_outlives_its_daemon() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start(&data, &[]);
    let tick = guest(tmp.path(), "tick", "ticking", TICK);
    d.ok(&[
        "vm",
        "create",
        "t",
        "--kernel",
        tick.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    let e = stderr(&d.cli(&["vm", "pause", "t"]));
    assert!(
        e.contains("not running") && e.contains("vsa vm start t"),
        "{e}"
    );
    let pid = d.json(&["vm", "start", "t"])["pid"].as_u64().unwrap();
    let log = data.join("vms/t/console.log");
    let size = || std::fs::metadata(&log).map_or(0, |m| m.len());
    wait_for(60, || (size() > 100).then_some(())).expect("the guest never ticked");
    // The runner is confined by its seccomp filter (mode 2), every thread of it.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Seccomp:\t2"), "{status}");
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        assert!(status.contains("Seccomp:\t2"), "{status}");
    }

    let v = d.json(&["vm", "pause", "t"]);
    assert_eq!(v["state"], "paused", "{v}");
    wait_for(60, || (proc_state(pid) == Some('T')).then_some(()))
        .expect("the runner never stopped");
    let paused_at = size();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(size(), paused_at, "the guest ran while paused");
    assert_eq!(d.metrics().get("vsa_vms{state=\"paused\"}"), Some(&1.0));

    assert_eq!(d.json(&["vm", "resume", "t"])["state"], "running");
    wait_for(60, || (size() > paused_at).then_some(())).expect("the guest never ran again");

    // Paused, then its daemon killed: the kernel ends the runner (an orphaned, stopped
    // process group gets SIGHUP).
    d.ok(&["vm", "pause", "t"]);
    wait_for(60, || (proc_state(pid) == Some('T')).then_some(())).unwrap();
    d.kill9();
    wait_for(60, || (!alive(pid)).then_some(()))
        .unwrap_or_else(|| panic!("a paused runner outlived its daemon: {:?}", proc_state(pid)));

    // A paused VM stops like a running one.
    let d = Daemon::start(&data, &[]);
    d.ok(&["vm", "start", "t"]);
    d.ok(&["vm", "pause", "t"]);
    let v = d.json(&["vm", "stop", "t"]);
    assert_eq!(v["state"], "stopped", "{v}");
}

#[test]
fn a_stopped_vm_is_asked_to_shut_down_first() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start(&data, &[]);
    let kb = c_guest(tmp.path(), "keyboard", KEYBOARD_GUEST);
    d.ok(&[
        "vm",
        "create",
        "kb",
        "--kernel",
        kb.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    let waiting = |d: &Daemon, n: usize| {
        wait_for(60, || {
            (d.ok(&["vm", "console", "kb"])
                .matches("waiting for ctrl-alt-del")
                .count()
                == n)
                .then_some(())
        })
        .unwrap_or_else(|| panic!("{}", d.ok(&["vm", "console", "kb"])));
    };
    d.ok(&["vm", "start", "kb"]);
    waiting(&d, 1);
    let v = d.json(&["vm", "stop", "kb"]);
    assert_eq!(v["state"], "stopped", "{v}");
    assert!(
        v["last_exit"]
            .as_str()
            .unwrap()
            .contains("shut down by its guest"),
        "{v}"
    );
    let console = d.ok(&["vm", "console", "kb"]);
    assert!(console.contains("ctrl-alt-del: shutting down"), "{console}");

    // A daemon that stops asks its VMs too.
    d.ok(&["vm", "start", "kb"]);
    waiting(&d, 2);
    assert!(d.stop().success());
    let console = std::fs::read_to_string(data.join("vms/kb/console.log")).unwrap();
    assert_eq!(
        console.matches("ctrl-alt-del: shutting down").count(),
        2,
        "{console}"
    );
}

#[test]
fn a_vm_with_several_vcpus_starts_them_all() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    let smp = c_guest(tmp.path(), "smp", SMP_GUEST);
    let kernel = smp.to_str().unwrap();
    for bad in ["0", "33"] {
        let o = d.cli(&["vm", "create", "x", "--kernel", kernel, "--vcpus", bad]);
        let err = stderr(&o);
        assert!(
            !o.status.success() && err.contains(&format!("{bad} vCPUs: a VM has 1 to 32")),
            "{err}"
        );
    }
    let v = d.json(&[
        "vm", "create", "smp", "--kernel", kernel, "--memory", "32M", "--vcpus", "4",
    ]);
    assert_eq!(v["vcpus"], 4, "{v}");
    d.ok(&["vm", "start", "smp"]);
    wait_for(120, || {
        let v = state(&d, "smp");
        (v["state"] == "stopped" && v["starts"] == 1).then_some(v)
    })
    .unwrap_or_else(|| panic!("{}", d.ok(&["vm", "console", "smp"])));
    let console = d.ok(&["vm", "console", "smp"]);
    assert!(console.contains("mp table: 4 processors"), "{console}");
    assert!(console.contains("cpus up: 3 of 3"), "{console}");
    assert!(d.ok(&["vm", "list"]).contains("VCPUS"));
}

#[test]
fn a_guest_that_abuses_its_devices_harms_nobody_else() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    let chaos = c_guest(tmp.path(), "chaos", CHAOS_GUEST);
    let blk = c_guest(tmp.path(), "virtio-blk", VIRTIO_BLK_GUEST);
    let ticker = guest(tmp.path(), "ticker", "ticker up", TICK);
    d.ok(&["volume", "create", "scratch", "--size", "8M"]);
    d.ok(&[
        "vm",
        "create",
        "bystander",
        "--kernel",
        ticker.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    d.ok(&["vm", "start", "bystander"]);
    d.ok(&[
        "vm",
        "create",
        "chaos",
        "--kernel",
        chaos.to_str().unwrap(),
        "--memory",
        "64M",
        "--disk",
        "scratch",
    ]);
    d.ok(&["vm", "start", "chaos"]);
    let v = wait_for(120, || {
        let v = state(&d, "chaos");
        (v["state"] != "running" && v["starts"] == 1).then_some(v)
    })
    .unwrap();
    assert_eq!(v["state"], "stopped", "{v}");
    let console = d.ok(&["vm", "console", "chaos"]);
    assert!(console.contains("chaos done: 1 devices"), "{console}");
    // The daemon, the other VM and the disk service go on.
    assert_eq!(state(&d, "bystander")["state"], "running");
    d.ok(&["vm", "delete", "chaos"]);
    d.ok(&[
        "vm",
        "create",
        "after",
        "--kernel",
        blk.to_str().unwrap(),
        "--memory",
        "64M",
        "--disk",
        "scratch",
    ]);
    let console = run_to_power_off(&d, "after", 1);
    assert!(
        console.contains("disk 0: write status 0 flush status 0 read-back status 0 matches"),
        "{console}"
    );
    d.ok(&["vm", "stop", "bystander", "--force"]);
}
