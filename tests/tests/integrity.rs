//! Silent corruption of a pool member, as a failing disk or a misdirected write would
//! cause it, seen through a real iSCSI client (`qemu-img` with its `iscsi://` driver): the
//! initiator reads back exactly what it wrote, and a scrub repairs the bad copy knowing
//! which one it is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Output};
use vsa_e2e::{show, Daemon};

const IQN: &str = "iqn.2026-01.invalid.vsa:integrity";

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is not installed ({e}); .ci/run installs it"))
}

fn random(len: usize, mut x: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    out
}

fn convert(from: &str, to: &str) {
    let mut args = vec!["convert", "-O", "raw", "-f", "raw"];
    if to.starts_with("iscsi://") {
        args.insert(1, "-n");
    }
    args.extend([from, to]);
    let o = run("qemu-img", &args);
    assert!(o.status.success(), "qemu-img {args:?}: {}", show(&o));
}

#[test]
fn a_corrupted_member_gives_back_right_data_and_scrub_repairs_the_right_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = Daemon::start(&dir, &[]);
    d.ok(&["volume", "create", "v", "--size", "48M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "v"]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let data = random(48 << 20, 0x9e37_79b9_7f4a_7c15);
    let src = tmp.path().join("src.raw");
    std::fs::write(&src, &data).unwrap();
    convert(src.to_str().unwrap(), &url);
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["raid"]["checksums"], true, "{p}");
    assert!(d.stop().success());

    // 1 MiB of random bytes into the middle of one member's data (past its 1 MiB label
    // area), where the volume's data and parity lie.
    let member = dir.join("disks/default-1.img");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&member)
        .unwrap();
    f.seek(SeekFrom::Start((1 << 20) + (4 << 20))).unwrap();
    f.write_all(&random(1 << 20, 42)).unwrap();
    f.sync_all().unwrap();
    drop(f);

    // After a restart (nothing cached), the initiator reads back what it wrote.
    let d = Daemon::start(&dir, &[]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let back = tmp.path().join("back.raw");
    convert(&url, back.to_str().unwrap());
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the volume read back different after the member was corrupted"
    );
    let p = d.json(&["pool", "show", "default"]);
    assert!(
        p["raid"]["members"][1]["checksum_errors"].as_u64().unwrap() > 0,
        "the bad blocks were found and counted on member 1: {p}"
    );
    // The operator hears of it: the pool's health, and a WARN naming the member.
    assert_eq!(p["health"], "errors_found", "{p}");
    // Each repair is logged with the member, its offset and what the block holds.
    let line = d.wait_log(&["WARN", "repaired blocks", "volume v at byte"], 60);
    assert!(line.contains("default-1.img"), "{line}");
    let line = d.wait_log(&["WARN", "pool 'default' is errors_found"], 60);
    assert!(line.contains("member 1 ("), "{line}");
    assert!(line.contains("checksum errors"), "{line}");

    // The scrub repairs what reads did not touch (parity), knowing which copy is bad.
    d.ok(&["pool", "scrub", "default"]);
    let p = d.wait_scrub("default");
    let report = &p["last_scrub"];
    assert!(report["repaired"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(report["repaired_unverified"], 0, "{p}");
    assert_eq!(report["unrecoverable"], 0, "{p}");
    // It says where: only member 1, only inside the corrupted MiB.
    let repairs = report["repairs"].as_array().unwrap();
    assert!(!repairs.is_empty(), "{p}");
    for r in repairs {
        assert!(
            r["member"].as_str().unwrap().ends_with("default-1.img"),
            "{p}"
        );
        let (off, len) = (r["offset"].as_u64().unwrap(), r["len"].as_u64().unwrap());
        assert!(off >= 4 << 20 && off + len <= 5 << 20, "{p}");
    }
    let shown = d.ok(&["pool", "show", "default"]);
    assert!(shown.contains("at member offset"), "{shown}");
    d.ok(&["pool", "scrub", "default"]);
    let p = d.wait_scrub("default");
    assert_eq!(
        p["last_scrub"]["mismatches"], 0,
        "a second scrub finds nothing: {p}"
    );

    // Failing the member that was corrupted and rebuilding it loses nothing either.
    d.ok(&["pool", "fail", "default", "1"]);
    let new = dir.join("disks/new.img");
    d.ok(&[
        "pool",
        "replace",
        "default",
        "1",
        new.to_str().unwrap(),
        "--create-size",
        "64M",
        "--wait",
    ]);
    convert(&url, back.to_str().unwrap());
    assert!(
        std::fs::read(&back).unwrap() == data,
        "different after the rebuild"
    );
    let shown = d.ok(&["pool", "show", "default"]);
    assert!(shown.contains("checksums: on"), "{shown}");
    // The member that counted the errors is gone: the pool is healthy again.
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["health"], "healthy", "{p}");
}
