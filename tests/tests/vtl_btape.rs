//! Bacula's `btape` against the tape library: the storage daemon's own tape tests (`test`,
//! `autochanger`, `fill`) run in a qemu guest whose `st` and `ch` drivers attach to the
//! library's drive and changer, with a stock Device resource (none of btape's
//! workarounds such as `Hardware End of Medium = no` or `Fast Forward Space File = no`).
//!
//! Needs what `tests/tests/guest.rs` needs, plus Debian's `bacula-sd` (`.ci/run` installs
//! it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use vsa_e2e::guest::{Guest, GuestRun};
use vsa_e2e::Daemon;

const TARGET: &str = "iqn.2026-12.io.vsa:vtl.lib1";

/// The storage daemon's configuration: a Storage and Director btape does not use but the
/// parser wants, the Device (`device` extra lines added), `extra` resources, and
/// Messages to the console.
fn sd_conf(device: &str, extra: &str) -> String {
    format!(
        r#"Storage {{
  Name = guest-sd
  SDPort = 9103
  WorkingDirectory = /var/lib/bacula
  Pid Directory = /run
}}
Director {{
  Name = guest-dir
  Password = "guest"
}}
Device {{
  Name = Drive-0
  Media Type = LTO-8
  Archive Device = /dev/nst0
  Device Type = Tape
  AutomaticMount = yes
  AlwaysOpen = yes
  RemovableMedia = yes
  RandomAccess = no
{device}}}
{extra}Messages {{
  Name = Standard
  console = all
}}
"#
    )
}

/// Starts a daemon with library `lib1` (one drive, cartridges VSA000L8..VSA003L8 of
/// `capacity` in slots 1-4).
fn library(tmp: &std::path::Path, capacity: &str) -> Daemon {
    let d = Daemon::start(&tmp.join("data"), &[]);
    // The default pool is small; the cartridges get a pool of two sparse files with
    // room for what btape writes.
    let members = [tmp.join("tapes-0.img"), tmp.join("tapes-1.img")];
    let members = members.iter().map(|p| p.to_str().unwrap());
    let mut args = vec!["pool", "create", "tapes", "--raid", "0"];
    args.extend(["--create-size", "3G"]);
    args.extend(members);
    d.ok(&args);
    d.ok(&[
        "vtl", "create", "lib1", "--slots", "8", "--drives", "1", "--pool", "tapes",
    ]);
    d.ok(&[
        "vtl",
        "tape",
        "create",
        "lib1",
        "VSA000L8..VSA003L8",
        "--capacity",
        capacity,
    ]);
    d
}

/// A guest with the changer and the drive, btape, mtx and mt, and `conf` as
/// /etc/bacula/bacula-sd.conf.
fn guest(d: &Daemon, conf: &str) -> Guest {
    let addr = d.iscsi_addr();
    Guest::new()
        .lun(&format!("iscsi://{addr}/{TARGET}/0"))
        .lun(&format!("iscsi://{addr}/{TARGET}/1"))
        .wait_for(&["/dev/sch0", "/dev/nst0"])
        .binaries(&["btape", "mt", "mtx"])
        .file("/etc/bacula/bacula-sd.conf", conf)
        .memory_mb(768)
        .timeout(Duration::from_secs(3600))
}

/// The guest script: loads the cartridge in `slot` into the drive, runs btape on Drive-0
/// with `answers` on its standard input, then shows what the drive and `st` say.
fn btape_script(slot: u32, answers: &str) -> String {
    let load = format!("mtx -f /dev/sg0 load {slot} 0\n");
    format!(
        r#"
mkdir -p /var/lib/bacula /run
{load}cat >/tmp/answers <<'EOF'
{answers}EOF
btape -c /etc/bacula/bacula-sd.conf Drive-0 </tmp/answers 2>&1
echo "btape exit status $?"
mt -f /dev/nst0 status
dmesg | grep -i -e st0 -e sense -e "st " | tail -n 40
"#
    )
}

/// Runs `script` and returns the run, printing how long it took.
fn run(name: &str, g: &Guest, script: &str) -> GuestRun {
    let t0 = Instant::now();
    let run = g.run(script);
    eprintln!("{name}: the guest ran for {:?}", t0.elapsed());
    eprintln!("{}", run.output());
    run
}

/// What the guest printed, and the daemon's warnings and errors, for a failed assertion.
fn context(out: &str, d: &Daemon) -> String {
    let log = d.log();
    let problems: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    format!(
        "{out}\n--- the daemon's warnings and errors ---\n{}",
        problems.join("\n")
    )
}

/// What every btape run must print, and what it must not.
fn assert_clean(out: &str, d: &Daemon) {
    for bad in [
        "NOT correct",
        "Error",
        "ERR=",
        "Append test failed",
        "Attempting again",
        "please add",
        "The test worked this time",
    ] {
        assert!(!out.contains(bad), "{bad:?} in:\n{}", context(out, d));
    }
    assert!(
        out.contains("btape exit status 0"),
        "btape failed:\n{}",
        context(out, d)
    );
    // Nothing went wrong in the drive or the store underneath.
    assert!(!d.log().contains("ERROR"), "{}", context(out, d));
}

#[test]
fn btape_test_passes_with_a_stock_device() {
    let tmp = tempfile::tempdir().unwrap();
    let d = library(tmp.path(), "2G");
    let g = guest(&d, &sd_conf("", ""));
    let run = run("btape test", &g, &btape_script(1, "test\nquit\n"));
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    assert_clean(out, &d);
    for line in [
        "=== Write, rewind, and re-read test ===",
        "Rewind OK.",
        "blocks re-read correctly.",
        "=== Test Succeeded. End Write, rewind, and re-read test ===",
        "Block 10001 re-read correctly.",
        "Block 20000 re-read correctly.",
        "=== Append files test ===",
        "We should be in file 3. I am at file 3. This is correct!",
        "Done appending, there should be no I/O errors",
        "We should be in file 4. I am at file 4. This is correct!",
        "=== Write, backup, and re-read test ===",
        "Backspaced over EOF OK.",
        "Backspace record OK.",
        "Block re-read correct. Test succeeded!",
        "=== End Write, backup, and re-read test ===",
        "=== Forward space files test ===",
        "We should be in file 1. I am at file 1. This is correct!",
        "We should be in file 3. I am at file 3. This is correct!",
        "We should be in file 4. I am at file 4. This is correct!",
        "We should be in file 5. I am at file 5. This is correct!",
        "=== End Forward space files test ===",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{}", context(out, &d));
    }
    // The scan of the appended tape matches btape's sample output (printed after it).
    let total = "Total files=4, blocks=7, bytes = 451,136";
    assert_eq!(out.matches(total).count(), 2, "{}", context(out, &d));
}

/// Bacula's changer script and its configuration, from the host's `bacula-sd`.
fn with_mtx_changer(g: Guest) -> Guest {
    let script = std::fs::read("/etc/bacula/scripts/mtx-changer").unwrap();
    let conf = std::fs::read("/etc/bacula/scripts/mtx-changer.conf").unwrap();
    g.executable("/etc/bacula/scripts/mtx-changer", script)
        .file("/etc/bacula/scripts/mtx-changer.conf", conf)
}

#[test]
fn btape_autochanger_unloads_and_loads_through_mtx_changer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = library(tmp.path(), "1G");
    let changer = r#"  Autochanger = yes
  Changer Device = /dev/sg0
  Changer Command = "/etc/bacula/scripts/mtx-changer %c %o %S %a %d"
  Drive Index = 0
"#;
    let autochanger = r#"Autochanger {
  Name = Autochanger-0
  Device = Drive-0
  Changer Device = /dev/sg0
  Changer Command = "/etc/bacula/scripts/mtx-changer %c %o %S %a %d"
}
"#;
    let g = with_mtx_changer(guest(&d, &sd_conf(changer, autochanger)));
    // Slot 2's cartridge is in the drive: the test unloads it, then loads slot 1.
    let run = run(
        "btape autochanger",
        &g,
        &btape_script(2, "autochanger\ny\nquit\n"),
    );
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    assert_clean(out, &d);
    for line in [
        "=== Autochanger test ===",
        "3301 Issuing autochanger \"loaded\" command.",
        "Slot 2 loaded. I am going to unload it.",
        "3302 Issuing autochanger \"unload 2 0\" command.",
        "unload status=OK 0",
        "3303 Issuing autochanger \"load 1 0\" command.",
        "3303 Autochanger \"load 1 0\" status is OK.",
        "Rewound \"Drive-0\" (/dev/nst0)",
        "Wrote EOF to \"Drive-0\" (/dev/nst0)",
        "The test autochanger worked!!",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{}", context(out, &d));
    }
    // The library agrees: slot 1's cartridge is in the drive (the API numbers drives as
    // their LUNs, from 1; mtx numbers data transfer elements from 0), slot 2's is home.
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA000L8"]);
    assert_eq!(tape["location"], "drive 1", "{tape}");
    // btape wrote two filemarks at its beginning.
    assert_eq!(tape["filemarks"], 2, "{tape}");
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA001L8"]);
    assert_eq!(tape["location"], "slot 2", "{tape}");
}

#[test]
fn btape_fill_writes_to_the_end_of_a_cartridge_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    // Small, so that the run is short, but more than the 10000 records (about 322 MB)
    // the simple test reads back before it repositions to the last block.
    let d = library(tmp.path(), "512M");
    let g = guest(&d, &sd_conf("", ""));
    // fill: the simple (one tape) test; the blank tape is already in the drive (return
    // at "Mount blank Volume").
    let run = run("btape fill", &g, &btape_script(1, "fill\ns\n\nquit\n"));
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    assert_clean(out, &d);
    for line in [
        "Simple test (single tape) selected.",
        "Wrote Start of Session label.",
        "End of tape",
        "Done filling tape at",
        "Now beginning re-read of tape ...",
        "Rewinding.",
        "10000 records read now at",
        "The last block on the tape matches. Test succeeded.",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{}", context(out, &d));
    }
    // The cartridge is full to its early warning: btape stopped at the end of medium st
    // reported, not earlier.
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA000L8"]);
    let logical = tape["logical_bytes"].as_u64().unwrap();
    assert!(logical > 500 << 20 && logical <= 512 << 20, "{tape}");
}
