//! Tape data encryption driven by Debian's `stenc` (SECURITY PROTOCOL IN/OUT through the
//! Linux `st` driver's SG_IO) in a qemu guest: a key set with `stenc`, a `tar` archive
//! written and read back through `/dev/nst0`, and reads refused without the key, with
//! another key, and after the key was cleared by unloading (CKOD).
//!
//! Needs what `tests/tests/guest.rs` needs (`.ci/run` installs it) and `stenc` on the host.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vsa_e2e::guest::Guest;
use vsa_e2e::Daemon;

const TARGET: &str = "iqn.2026-12.io.vsa:vtl.lib1";

/// Another 256-bit key, in stenc's key file format (hex on one line).
const OTHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

#[test]
fn stenc_sets_the_key_tar_reads_back_only_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "8", "--drives", "1"]);
    d.ok(&[
        "vtl",
        "tape",
        "create",
        "lib1",
        "VSA000L8..VSA001L8",
        "--capacity",
        "1G",
    ]);
    let addr = d.iscsi_addr();
    let run = Guest::new()
        .lun(&format!("iscsi://{addr}/{TARGET}/0"))
        .lun(&format!("iscsi://{addr}/{TARGET}/1"))
        .wait_for(&["/dev/sch0", "/dev/nst0"])
        .binaries(&["stenc", "mt", "mtx", "tar", "md5sum"])
        .file("/etc/other.key", OTHER_KEY)
        .run(
            r#"
set -e
mtx -f /dev/sg0 load 1 0
mt -f /dev/nst0 setblk 0
# stenc seeds its generator from the keyboard: one empty line.
echo | stenc -g 256 -k /tmp/k1.key
head -1 /tmp/k1.key | sed 's/^/KEYHEX /'
stenc -f /dev/nst0 -e on -k /tmp/k1.key -a 1 --ckod
stenc -f /dev/nst0 --detail | sed 's/^/on: /'
mkdir -p /tmp/src
dd if=/dev/urandom of=/tmp/src/data bs=64k count=16 2>/dev/null
tar -cf /dev/nst0 -b 64 -C /tmp src
md5sum /tmp/src/data | sed 's/^/wrote /'
mt -f /dev/nst0 rewind
stenc -f /dev/nst0 --detail | sed 's/^/bot: /'
mkdir -p /tmp/out1 && tar -xf /dev/nst0 -b 64 -C /tmp/out1
md5sum /tmp/out1/src/data | sed 's/^/read /'
# No key: the drive refuses the encrypted records.
mt -f /dev/nst0 rewind
stenc -f /dev/nst0 -e off
stenc -f /dev/nst0 --detail | sed 's/^/off: /'
mkdir -p /tmp/out2
if tar -xf /dev/nst0 -b 64 -C /tmp/out2; then echo "RESULT read without a key: ok"; else echo "RESULT read without a key: refused"; fi
# Another key: refused too.
mt -f /dev/nst0 rewind
stenc -f /dev/nst0 -e on -k /etc/other.key -a 1
stenc -f /dev/nst0 --detail | sed 's/^/other: /'
mkdir -p /tmp/out3
if tar -xf /dev/nst0 -b 64 -C /tmp/out3; then echo "RESULT read with another key: ok"; else echo "RESULT read with another key: refused"; fi
# The right key with CKOD, then the cartridge out and back: the key is gone.
stenc -f /dev/nst0 -e on -k /tmp/k1.key -a 1 --ckod
mt -f /dev/nst0 offline
mtx -f /dev/sg0 unload 1 0
mtx -f /dev/sg0 load 1 0
stenc -f /dev/nst0 --detail | sed 's/^/reloaded: /'
mkdir -p /tmp/out4
if tar -xf /dev/nst0 -b 64 -C /tmp/out4; then echo "RESULT read after CKOD: ok"; else echo "RESULT read after CKOD: refused"; fi
# Mixed mode reads it again.
mt -f /dev/nst0 rewind
stenc -f /dev/nst0 -e mixed -k /tmp/k1.key -a 1
mkdir -p /tmp/out5 && tar -xf /dev/nst0 -b 64 -C /tmp/out5
md5sum /tmp/out5/src/data | sed 's/^/mixed /'
stenc -f /dev/nst0 -e off
stenc -f /dev/nst0 | sed 's/^/final: /'
echo "all done"
"#,
        );
    let out = run.output();
    assert_eq!(run.status, 0, "the guest's script failed:\n{}", run.console);
    let line =
        |prefix: &str| -> Vec<&str> { out.lines().filter(|l| l.starts_with(prefix)).collect() };
    let has = |prefix: &str, text: &str| line(prefix).iter().any(|l| l.contains(text));
    // stenc sees encryption on, decrypting, AES (algorithm 1).
    let drive_encryption = |prefix: &str, mode: &str| {
        line(prefix)
            .iter()
            .any(|l| l.contains("Drive Encryption:") && l.trim_end().ends_with(mode))
    };
    assert!(drive_encryption("on: ", "on"), "{out}");
    assert!(has("on: ", "Decrypting"), "{out}");
    assert!(has("on: ", "Encrypting"), "{out}");
    // At the beginning of the tape the next block is encrypted and the key opens it.
    assert!(has("bot: ", "Encrypted and able to decrypt"), "{out}");
    let wrote = line("wrote ");
    let sum = wrote
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap();
    assert!(out.contains(&format!("read {sum}")), "{out}");
    assert!(drive_encryption("off: ", "off"), "{out}");
    assert!(out.contains("RESULT read without a key: refused"), "{out}");
    assert!(has("other: ", "Encrypted, but unable to decrypt"), "{out}");
    assert!(
        out.contains("RESULT read with another key: refused"),
        "{out}"
    );
    assert!(drive_encryption("reloaded: ", "off"), "{out}");
    assert!(out.contains("RESULT read after CKOD: refused"), "{out}");
    assert!(out.contains(&format!("mixed {sum}")), "{out}");
    // (The exact sense, DATA PROTECT 74h/01h and 74h/03h, is asserted by the drive's
    // protocol tests: st reports it to tar only as EIO.)
    // The key never reached the daemon's log.
    let key_hex = out
        .lines()
        .find(|l| l.starts_with("KEYHEX "))
        .map(|l| l.trim_start_matches("KEYHEX ").trim().to_owned());
    let k = key_hex.expect("stenc wrote a key file");
    assert_eq!(k.len(), 64, "{k}");
    assert!(!d.log().to_lowercase().contains(&k.to_lowercase()));
}
