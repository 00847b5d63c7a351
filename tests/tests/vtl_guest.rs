//! The tape library driven by the Linux SCSI tape stack: a qemu guest (TCG, Debian's
//! kernel) whose `ch` and `st` drivers attach to the library's changer (LUN 0) and drive
//! (LUN 1) through qemu's iSCSI pass-through, and whose `mtx`, `mt` and GNU `tar` send
//! their own CDBs.
//!
//! Needs what `tests/tests/guest.rs` needs (`.ci/run` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vsa_e2e::guest::Guest;
use vsa_e2e::Daemon;

const TARGET: &str = "iqn.2026-12.io.vsa:vtl.lib1";

/// Starts a daemon with library `lib1` (one drive, cartridges VSA000L8..VSA003L8 of
/// `capacity`).
fn library(tmp: &std::path::Path, capacity: &str) -> Daemon {
    let d = Daemon::start(&tmp.join("data"), &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "8", "--drives", "1"]);
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

fn guest(d: &Daemon) -> Guest {
    let addr = d.iscsi_addr();
    Guest::new()
        .lun(&format!("iscsi://{addr}/{TARGET}/0"))
        .lun(&format!("iscsi://{addr}/{TARGET}/1"))
        .wait_for(&["/dev/sch0", "/dev/nst0"])
}

#[test]
fn mtx_mt_and_tar_drive_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let d = library(tmp.path(), "1G");
    let run = guest(&d)
        .binaries(&["mt", "mtx", "tar", "md5sum", "sg_inq"])
        .run(
            r#"
set -e
mtx -f /dev/sg0 inquiry
mtx -f /dev/sg0 status
mtx -f /dev/sg0 load 2 0
echo "loaded"
mt -f /dev/nst0 status
mt -f /dev/nst0 setblk 0
# Three archives, one per file on the tape (st writes a filemark when a write closes).
for n in 1 2 3; do
    mkdir -p /tmp/src$n
    dd if=/dev/urandom of=/tmp/src$n/data bs=64k count=$((n * 8)) 2>/dev/null
    tar -cf /dev/nst0 -b 64 -C /tmp src$n
    md5sum /tmp/src$n/data
done
mt -f /dev/nst0 status
mt -f /dev/nst0 tell
# To the third archive by position, then back to the second (tar stops inside an
# archive: BSFM 2 goes back over the filemarks that end files 1 and 0, then forward
# over one), then the first from the beginning.
mt -f /dev/nst0 rewind
mt -f /dev/nst0 fsf 2
mkdir -p /tmp/out3 && tar -xf /dev/nst0 -b 64 -C /tmp/out3
md5sum /tmp/out3/src3/data | sed 's/^/read3 /'
mt -f /dev/nst0 bsfm 2
mt -f /dev/nst0 status
mkdir -p /tmp/out2 && tar -xf /dev/nst0 -b 64 -C /tmp/out2
md5sum /tmp/out2/src2/data | sed 's/^/read2 /'
mt -f /dev/nst0 rewind
mkdir -p /tmp/out1 && tar -xf /dev/nst0 -b 64 -C /tmp/out1
md5sum /tmp/out1/src1/data | sed 's/^/read1 /'
# Past the beginning: st reports the error, the drive is at the beginning.
if mt -f /dev/nst0 bsf 5; then echo "bsf past BOT succeeded"; fi
mt -f /dev/nst0 status
mt -f /dev/nst0 eod
mt -f /dev/nst0 status
mt -f /dev/nst0 bsf 1
mt -f /dev/nst0 status
mt -f /dev/nst0 rewind
mt -f /dev/nst0 offline
mtx -f /dev/sg0 unload 2 0
mtx -f /dev/sg0 transfer 3 8
mtx -f /dev/sg0 status
echo "all done"
"#,
        );
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    assert!(out.contains("Product ID: 'L700"), "{out}");
    // mtx counts the mail slots among the storage elements.
    assert!(
        out.contains("1 Drives, 12 Slots ( 4 Import/Export )"),
        "{out}"
    );
    assert!(
        out.contains("Storage Element 2:Full :VolumeTag=VSA001L8"),
        "{out}"
    );
    // The md5 of each source file, then the same md5 read back by position.
    let sums: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with("/data") && l.contains("/tmp/src"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(sums.len(), 3, "{out}");
    assert!(out.contains(&format!("read3 {}", sums[2])), "{out}");
    assert!(out.contains(&format!("read2 {}", sums[1])), "{out}");
    assert!(out.contains(&format!("read1 {}", sums[0])), "{out}");
    assert!(!out.contains("bsf past BOT succeeded"), "{out}");
    // mt status after eod: file 3 (three archives, three filemarks); after bsf 1 the
    // position is before the last filemark, in file 2.
    assert!(out.contains("File number=3"), "{out}");
    assert!(
        out.contains("Storage Element 8:Full :VolumeTag=VSA002L8"),
        "{out}"
    );
    assert!(out.contains("Data Transfer Element 0:Empty"), "{out}");
    // The daemon saw it: the cartridge holds three files.
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA001L8"]);
    assert_eq!(tape["filemarks"], 3, "{tape}");
    assert_eq!(tape["location"], "slot 2", "{tape}");
}
