//! The write journal of a RAID 5 pool, seen through a real iSCSI client (`qemu-io` with
//! its `iscsi://` driver): small writes are journaled (`vsa pool show` and the metrics say
//! so), and after `kill -9` of the daemon every acknowledged write reads back, the journal
//! replayed, and a scrub finds parity consistent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use vsa_e2e::{show, Daemon};

const IQN: &str = "iqn.2026-01.invalid.vsa:journal";

/// Runs `qemu-io` commands on `url`; returns stdout.
fn qemu_io(url: &str, cmds: &[String]) -> String {
    let mut args = vec!["-f".to_owned(), "raw".to_owned()];
    for c in cmds {
        args.push("-c".into());
        args.push(c.clone());
    }
    args.push(url.into());
    let o = Command::new("qemu-io")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("qemu-io is not installed ({e}); .ci/run installs qemu-utils"));
    let out = show(&o);
    assert!(
        o.status.success() && !out.contains("failed") && !out.contains("error"),
        "qemu-io {args:?}: {out}"
    );
    out
}

/// 64 writes of 4 KiB spread over the volume, each with its own pattern byte.
fn writes() -> Vec<(u64, u8)> {
    (0..64u64)
        .map(|i| ((i * 389 % 8192) * 4096, (i % 250) as u8 + 1))
        .collect()
}

/// `qemu-io` commands that write (`"write"`) or check (`"read"`) each of [`writes`].
fn qemu_io_cmds(verb: &str) -> Vec<String> {
    writes()
        .iter()
        .map(|(at, p)| format!("{verb} -P {p} {at} 4096"))
        .collect()
}

/// A daemon on `dir` serving a 32 MiB volume of the default pool as LUN 0 of `IQN`, every
/// chunk allocated (so small writes are the journaled, in-place kind); and its URL.
fn serve(dir: &std::path::Path) -> (Daemon, String) {
    let d = Daemon::start(dir, &[]);
    d.ok(&["volume", "create", "v", "--size", "32M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "v"]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    qemu_io(&url, &["write -P 0 0 32M".to_owned()]);
    (d, url)
}

#[test]
fn small_writes_are_journaled_and_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (d, url) = serve(&dir);
    let cmds = qemu_io_cmds("write");
    qemu_io(&url, &cmds);
    let p = d.json(&["pool", "show", "default"]);
    let j = &p["write_journal"];
    assert!(j["records"].as_u64().unwrap() >= 64, "{p}");
    assert!(j["commits"].as_u64().unwrap() >= 1, "{p}");
    let shown = d.ok(&["pool", "show", "default"]);
    assert!(shown.contains("write journal: "), "{shown}");
    let m = d.metrics();
    assert!(
        m.get("vsa_pool_journal_records{pool=\"default\"}").copied() >= Some(64.0),
        "{m:?}"
    );
    d.kill9();

    let d = Daemon::start(&dir, &[]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let cmds = qemu_io_cmds("read");
    qemu_io(&url, &cmds);
    let p = d.json(&["pool", "show", "default"]);
    eprintln!(
        "records replayed at open: {}",
        p["write_journal"]["replayed_records"]
    );
    d.ok(&["pool", "scrub", "default"]);
    let p = d.wait_scrub("default");
    assert_eq!(p["last_scrub"]["mismatches"], 0, "{p}");
    assert!(d.stop().success());
}

/// `vsa pool log add|remove`: the journal moves to a log device of its own (a file here)
/// while the LUN is served, keeps what it acknowledged there across `kill -9`, and moves
/// back; devices that cannot be a log are refused with the reason.
#[test]
fn a_log_device_is_added_and_removed_while_the_pool_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let slog = tmp.path().join("fast-slog");
    let (d, url) = serve(&dir);

    let out = d.ok(&["pool", "log", "add", "default", slog.to_str().unwrap()]);
    assert!(out.contains("journals small writes on"), "{out}");
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(
        p["write_journal"]["log_device"],
        slog.to_str().unwrap(),
        "{p}"
    );
    assert!(d.ok(&["pool", "show", "default"]).contains("log device"));
    let member = p["raid"]["members"][1]["name"].as_str().unwrap().to_owned();
    let e = d.refused(&["pool", "log", "add", "default", &member]);
    assert!(e.contains("member of vsa pool"), "{e}");
    let e = d.refused(&["pool", "log", "add", "nosuch", slog.to_str().unwrap()]);
    assert!(e.contains("no pool named"), "{e}");

    let cmds = qemu_io_cmds("write");
    qemu_io(&url, &cmds);
    d.kill9();

    let d = Daemon::start(&dir, &[]);
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(
        p["write_journal"]["log_device"],
        slog.to_str().unwrap(),
        "{p}"
    );
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let reads = qemu_io_cmds("read");
    qemu_io(&url, &reads);
    let out = d.ok(&["pool", "log", "remove", "default"]);
    assert!(out.contains("data directory again"), "{out}");
    let p = d.json(&["pool", "show", "default"]);
    assert!(p["write_journal"]["log_device"].is_null(), "{p}");
    qemu_io(&url, &cmds);
    qemu_io(&url, &reads);
    assert!(d.stop().success());
}

/// A lost log device: the daemon does not start, naming the device and the way out;
/// started with `--discard-lost-log`, the pool forgets the device, every block reads whole
/// (as written, or as before if its write was only in the lost log), and the journal is
/// back in a file of the data directory (a write then survives kill -9 again).
#[test]
fn a_lost_log_device_is_discarded_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let slog = tmp.path().join("fast-slog");
    let (d, url) = serve(&dir);
    d.ok(&["pool", "log", "add", "default", slog.to_str().unwrap()]);
    let cmds = qemu_io_cmds("write");
    qemu_io(&url, &cmds);
    d.kill9();
    std::fs::remove_file(&slog).unwrap();

    let (status, err) = vsa_e2e::serve_refused(&dir, &[]);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("fast-slog") && err.contains("vsa serve --discard-lost-log default"),
        "{err}"
    );
    let (status, err) = vsa_e2e::serve_refused(&dir, &["--discard-lost-log", "nosuch"]);
    assert!(!status.success() && err.contains("names no pool"), "{err}");

    let d = Daemon::start(&dir, &["--discard-lost-log", "default"]);
    let log = d.wait_log(&["lost log device", "is discarded"], 30);
    assert!(log.contains("fast-slog"), "{log}");
    let p = d.json(&["pool", "show", "default"]);
    assert!(p["write_journal"]["log_device"].is_null(), "{p}");
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let image = tmp.path().join("v.raw");
    let o = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "raw", &url])
        .arg(&image)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let data = std::fs::read(&image).unwrap();
    for (at, p) in writes() {
        let block = &data[at as usize..at as usize + 4096];
        assert!(
            block.iter().all(|&b| b == p) || block.iter().all(|&b| b == 0),
            "the block at {at} is neither its write nor what was there before"
        );
    }
    qemu_io(&url, &cmds);
    d.kill9();
    let d = Daemon::start(&dir, &[]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let reads = qemu_io_cmds("read");
    qemu_io(&url, &reads);
    assert!(d.stop().success());
}
