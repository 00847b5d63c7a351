//! The guest harness end to end: a Linux guest (qemu under TCG, Debian's kernel) whose SCSI
//! disk is a LUN of the real `vsa serve`, passed through qemu's iSCSI driver. The guest's
//! own `sd` and `sg` drivers attach to it, and the tape tools the VTL tests will use run
//! there with their libraries.
//!
//! Needs `qemu-system-x86`, `qemu-block-extra`, `qemu-utils`, `sg3-utils`, `mt-st`, `mtx`,
//! `bacula-sd` and `stenc` on the host (`.ci/run` installs them), and Debian's package
//! sources for `apt-get download` of the kernel and busybox (cached in
//! `$VSA_GUEST_CACHE`, by default `/var/tmp/vsa-guest`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use vsa_e2e::guest::Guest;
use vsa_e2e::{show, Daemon};

const IQN: &str = "iqn.2026-01.invalid.vsa:guest-smoke";

/// 1 MiB that no constant pattern matches: a 64-bit LCG's high bytes.
fn pattern() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..1 << 20)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

fn qemu_io(url: &str, commands: &[&str]) -> String {
    let mut cmd = Command::new("qemu-io");
    cmd.args(["-f", "raw"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("qemu-io is not installed: .ci/run installs qemu-utils and qemu-block-extra");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !text.contains("fail") && !text.contains("Pattern verification"),
        "qemu-io {commands:?}: {}",
        show(&out)
    );
    text
}

#[test]
fn a_linux_guest_reads_and_writes_a_lun_through_sd_and_runs_the_tape_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["volume", "create", "guestdisk", "--size", "32M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "guestdisk", "--lun", "0"]);
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());

    // A known pattern at 1 MiB (past LBA 0, so the guest's partition scan sees zeros).
    let data = pattern();
    let file = tmp.path().join("pattern.bin");
    std::fs::write(&file, &data).unwrap();
    qemu_io(
        &url,
        &[&format!("write -s {} 1M 1M", file.display()), "flush"],
    );
    let md5 = Command::new("md5sum").arg(&file).output().unwrap();
    let expected_md5 = String::from_utf8_lossy(&md5.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let run = Guest::new()
        .lun(&url)
        .binaries(&["sg_inq", "mt", "mtx", "tar", "btape", "stenc"])
        .wait_for(&["/dev/sda"])
        .run(
            r#"
echo "sda sectors: $(cat /sys/block/sda/size)"
echo "sda driver: $(basename "$(readlink /sys/block/sda/device/driver)")"
echo "md5 at 1M: $(dd if=/dev/sda bs=1M skip=1 count=1 2>/dev/null | md5sum)"
sg_inq /dev/sg0 || exit 10
# The guest writes 1 MiB of 0xa5 at 2 MiB through sd; the host reads it back.
dd if=/dev/zero bs=64k count=16 2>/dev/null | tr '\000' '\245' |
    dd of=/dev/sda bs=64k seek=32 conv=fsync 2>/dev/null || exit 11
echo "guest write done"
mt --version || exit 12
mtx --version; echo "mtx exit $?"
tar --version || exit 13
btape '-?'; echo "btape exit $?"
stenc --version; echo "stenc exit $?"
"#,
        );
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    // 32 MiB in 512-byte sectors, through the sd driver.
    assert!(out.contains("sda sectors: 65536"), "{}", run.console);
    assert!(out.contains("sda driver: sd"), "{}", run.console);
    assert!(
        out.contains(&format!("md5 at 1M: {expected_md5}")),
        "expected md5 {expected_md5}:\n{}",
        run.console
    );
    // sg_inq through the generic driver: the LUN's own INQUIRY data.
    assert!(
        out.contains("Peripheral device type: disk"),
        "{}",
        run.console
    );
    assert!(out.contains("guest write done"), "{}", run.console);
    // The tools started (their shared libraries resolved) and printed their versions or
    // usage.
    for expected in [
        "mt-st v.",
        "mtx version",
        "tar (GNU tar)",
        "Usage: btape",
        "stenc v",
    ] {
        assert!(out.contains(expected), "no {expected:?}:\n{}", run.console);
    }
    assert!(
        !out.contains("error while loading shared libraries") && !out.contains("not found"),
        "{}",
        run.console
    );

    // The guest's write reached the pool.
    qemu_io(&url, &["read -P 0xa5 2M 1M"]);
    eprintln!(
        "guest run: {:.1} s from qemu's start to the end of the script",
        run.elapsed.as_secs_f64()
    );
}
