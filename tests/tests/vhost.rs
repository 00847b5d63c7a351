//! Pool volumes as the disks of a VMM on this host: `vsa vhost export` serves a volume on
//! a vhost-user-blk socket and qemu (TCG, Debian's kernel, `vhost-user-blk-pci` with its
//! memory in a shared memfd) boots with it as `/dev/vda`. The guest makes an ext4
//! filesystem on it, writes, syncs, checks it with `e2fsck`; a second boot reads the files
//! back, and so does a guest booted from a linked clone of a snapshot of the volume.
//!
//! Needs what `tests/tests/guest.rs` needs (`.ci/run` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use vsa_e2e::guest::Guest;
use vsa_e2e::Daemon;

/// A guest with `socket`'s disk as /dev/vda and what an ext4 check needs.
fn guest(socket: &Path) -> Guest {
    Guest::new()
        .vhost_disk(socket)
        .modules(&["ext4", "crc32c_generic"])
        .binaries(&["mkfs.ext4", "e2fsck", "md5sum", "sync", "blockdev", "dd"])
        .wait_for(&["/dev/vda"])
}

fn export(d: &Daemon, volume: &str, socket: &Path) {
    let out = d.ok(&[
        "vhost",
        "export",
        volume,
        "--socket",
        socket.to_str().unwrap(),
    ]);
    assert!(out.contains("exported"), "{out}");
}

/// The lines of the console that start with `tag `, without the tag.
fn tagged<'a>(console: &'a str, tag: &str) -> Vec<&'a str> {
    console
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix(tag))
        .map(str::trim)
        .collect()
}

#[test]
fn qemu_boots_with_a_pool_volume_as_its_disk_and_a_clone_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["volume", "create", "disk", "--size", "256M"]);
    let sock = tmp.path().join("disk.sock");
    export(&d, "disk", &sock);
    let shown = d.json(&["vhost", "show", "disk"]);
    assert_eq!(shown["state"], "listening", "{shown}");
    assert_eq!(shown["size"], 256 << 20, "{shown}");

    // The volume is claimed: it can be neither deleted nor served twice.
    let o = d.cli(&["volume", "delete", "disk"]);
    assert!(!o.status.success(), "deleting an exported volume succeeded");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("vhost-user-blk export") && err.contains("vsa vhost unexport disk"),
        "{err}"
    );
    let o = d.cli(&[
        "vhost",
        "export",
        "disk",
        "--socket",
        tmp.path().join("x.sock").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exported already"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let run = guest(&sock).run(
        r#"
set -e
echo "size $(blockdev --getsize64 /dev/vda)"
echo "serial $(cat /sys/block/vda/serial)"
mkfs.ext4 -q -F /dev/vda
mount -t ext4 /dev/vda /mnt
mkdir /mnt/data
for n in 1 2 3; do
    dd if=/dev/urandom of=/mnt/data/f$n bs=64k count=$((n * 16)) 2>/dev/null
done
(cd /mnt/data && md5sum f1 f2 f3) | sed 's/^/wrote /'
sync
umount /mnt
e2fsck -fn /dev/vda && echo "fsck clean"
"#,
    );
    assert_eq!(run.status, 0, "{}", run.console);
    assert_eq!(
        tagged(&run.console, "size "),
        ["268435456"],
        "{}",
        run.console
    );
    assert!(run.console.contains("fsck clean"), "{}", run.console);
    let wrote = tagged(&run.console, "wrote ");
    assert_eq!(wrote.len(), 3, "{}", run.console);
    let shown = d.json(&["vhost", "show", "disk"]);
    assert!(shown["connections"].as_u64().unwrap() >= 1, "{shown}");

    // A second boot, a new VMM process, finds the files.
    let check = r#"
set -e
mount -t ext4 -o ro /dev/vda /mnt
(cd /mnt/data && md5sum f1 f2 f3) | sed 's/^/read /'
"#;
    let again = guest(&sock).run(check);
    assert_eq!(again.status, 0, "{}", again.console);
    assert_eq!(tagged(&again.console, "read "), wrote, "{}", again.console);

    // A linked clone of a snapshot boots too, on its own socket, and its writes stay its own.
    d.ok(&["volume", "snapshot", "disk", "gold"]);
    d.ok(&["volume", "clone", "disk@gold", "vm2"]);
    let sock2 = tmp.path().join("vm2.sock");
    export(&d, "vm2", &sock2);
    let clone = guest(&sock2).run(
        r#"
set -e
mount -t ext4 /dev/vda /mnt
(cd /mnt/data && md5sum f1 f2 f3) | sed 's/^/read /'
rm /mnt/data/f1
umount /mnt
e2fsck -fn /dev/vda && echo "fsck clean"
"#,
    );
    assert_eq!(clone.status, 0, "{}", clone.console);
    assert_eq!(tagged(&clone.console, "read "), wrote, "{}", clone.console);
    let original = guest(&sock).run(check);
    assert_eq!(
        tagged(&original.console, "read "),
        wrote,
        "{}",
        original.console
    );

    // Read-only: the guest sees a read-only disk, reads it, and cannot write it.
    d.ok(&["vhost", "unexport", "vm2"]);
    let out = d.ok(&[
        "vhost",
        "export",
        "vm2",
        "--socket",
        sock2.to_str().unwrap(),
        "--read-only",
    ]);
    assert!(out.contains("exported"), "{out}");
    let ro = guest(&sock2).run(
        r#"
echo "ro $(blockdev --getro /dev/vda)"
mount -t ext4 -o ro /dev/vda /mnt && ls /mnt/data | sed 's/^/file /'
umount /mnt
if dd if=/dev/zero of=/dev/vda bs=4k count=1 oflag=direct 2>/dev/null; then echo "write succeeded"; fi
"#,
    );
    assert_eq!(tagged(&ro.console, "ro "), ["1"], "{}", ro.console);
    assert_eq!(tagged(&ro.console, "file "), ["f2", "f3"], "{}", ro.console);
    assert!(!ro.console.contains("write succeeded"), "{}", ro.console);

    // Unexported: the socket goes and the volume can be deleted.
    d.ok(&["vhost", "unexport", "vm2"]);
    assert!(!sock2.exists(), "the socket stayed after unexport");
    d.ok(&["volume", "delete", "vm2"]);
    let list = d.json(&["vhost", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

/// Bytes written to `volume` through the daemon, from its metrics.
fn written(d: &Daemon, volume: &str) -> f64 {
    d.metrics()
        .iter()
        .filter(|(k, _)| {
            k.starts_with("vsa_volume_io_bytes_total{")
                && k.contains(&format!("volume=\"{volume}\""))
                && k.contains("op=\"write\"")
        })
        .map(|(_, v)| *v)
        .sum()
}

#[test]
fn a_vmm_reconnects_after_the_daemon_is_killed_and_nothing_synced_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start(&data, &[]);
    d.ok(&["volume", "create", "disk", "--size", "128M"]);
    let sock = tmp.path().join("disk.sock");
    export(&d, "disk", &sock);

    // The guest writes and syncs file after file while the daemon is killed under it and
    // started again; its requests wait, qemu reconnects, and the guest goes on.
    let g = guest(&sock);
    let run = std::thread::spawn(move || {
        g.run(
            r#"
set -e
mkfs.ext4 -q -F /dev/vda
mount -t ext4 /dev/vda /mnt
i=0
while [ $i -lt 150 ]; do
    dd if=/dev/urandom of=/mnt/f$i bs=64k count=4 2>/dev/null
    sync
    i=$((i + 1))
done
(cd /mnt && md5sum f*) > /tmp/wrote
umount /mnt
echo 3 > /proc/sys/vm/drop_caches
mount -t ext4 -o ro /dev/vda /mnt
(cd /mnt && md5sum -c /tmp/wrote) | grep -c ': OK$' | sed 's/^/verified /'
umount /mnt
e2fsck -fn /dev/vda && echo "fsck clean"
"#,
        )
    });
    // Kill it once the guest is writing files (past mkfs).
    let busy = vsa_e2e::wait_for(600, || (written(&d, "disk") > 16e6).then_some(()));
    assert!(busy.is_some(), "the guest never wrote 16 MB:\n{}", d.log());
    d.kill9();
    let d = Daemon::start(&data, &[]);
    let back = vsa_e2e::wait_for(120, || {
        let v = d.json(&["vhost", "show", "disk"]);
        (v["state"] == "connected").then_some(v)
    });
    assert!(back.is_some(), "qemu did not reconnect:\n{}", d.log());

    let run = run.join().unwrap();
    assert_eq!(run.status, 0, "{}", run.console);
    assert_eq!(
        tagged(&run.console, "verified "),
        ["150"],
        "{}",
        run.console
    );
    assert!(run.console.contains("fsck clean"), "{}", run.console);
}
