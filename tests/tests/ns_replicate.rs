//! `vsa ns replicate`: a link's directory on the appliance is kept copied, one way, to a
//! real `smbd`'s share: the first run makes the share a copy (checked byte for byte, and
//! read back by `smbclient`) and lets referrals include it; a one-block change of a 5 MiB
//! file is sent as that block alone (1 MiB written, counted in the replication's totals);
//! a file the source loses goes from the replica; the replication survives a restart;
//! removing it stops it. A replica directory holding files is refused without --force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::os::unix::fs::FileExt;
use std::path::Path;
use vsa_e2e::samba::Smbd;
use vsa_e2e::{tree_listing, wait_for, Daemon};

const FS: &str = "127.0.0.36";
const MIB: u64 = 1 << 20;

fn replication(d: &Daemon, to: &str) -> Value {
    d.json(&["ns", "replication", "show", "corp", "eng/docs", to])
}

/// Waits until the replica holds what the source does (after a run that saw it).
fn wait_copied(src: &Path, replica: &Path) {
    let same = wait_for(120, || {
        (tree_listing(src) == tree_listing(replica)).then_some(())
    });
    same.unwrap_or_else(|| {
        panic!(
            "the replica is not a copy:\n{}\nvs\n{}",
            tree_listing(src),
            tree_listing(replica)
        )
    });
}

#[test]
fn a_directory_is_kept_copied_to_an_smb_share_by_block_deltas() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let src = tmp.join("src");
    std::fs::create_dir_all(src.join("specs/old")).unwrap();
    std::fs::write(src.join("readme.txt"), "the docs\n").unwrap();
    std::fs::write(src.join("specs/old/v1.txt"), "v1\n").unwrap();
    let big: Vec<u8> = (0..5 * MIB as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
        .collect();
    std::fs::write(src.join("specs/big.bin"), &big).unwrap();
    let share = tmp.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let _fs = Smbd::start(FS, &tmp.join("smbd"), &[("rep", Smbd::share(&share))])
        .unwrap_or_else(|| panic!("smbd on {FS} did not start (apt-get install samba)"));

    let config = vsa_e2e::samba::quick_probes(tmp);
    let data = tmp.join("data");
    let d = Daemon::start(&data, &["--config", config.to_str().unwrap()]);
    d.ok(&["ns", "create", "corp"]);
    let from = format!("file://{}", src.display());
    d.ok(&["ns", "link", "add", "corp", "eng/docs", &from]);

    // A replica directory with files in it is refused unless forced.
    let busy = tmp.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), "mine\n").unwrap();
    let busy_url = format!("file://{}", busy.display());
    let e = d.refused(&[
        "ns",
        "replicate",
        "corp",
        "eng/docs",
        "--from",
        &from,
        "--to",
        &busy_url,
    ]);
    assert!(
        e.contains("holds files already") && e.contains("--force"),
        "{e}"
    );
    let e = d.refused(&[
        "ns",
        "replicate",
        "corp",
        "eng/docs",
        "--from",
        &from,
        "--to",
        &from,
    ]);
    assert!(e.contains("cannot be its own replica"), "{e}");

    // The replication: in sync after its first run, then referred.
    let to = format!("smb://{FS}/rep/docs");
    let out = d.ok(&[
        "ns",
        "replicate",
        "corp",
        "eng/docs",
        "--from",
        &from,
        "--to",
        &to,
        "--every",
        "1",
    ]);
    assert!(out.contains("referred once its first run ends"), "{out}");
    let replica = share.join("docs");
    wait_for(120, || {
        (replication(&d, &to)["in_sync"] == true).then_some(())
    })
    .expect("the first run did not end");
    assert_eq!(tree_listing(&replica), tree_listing(&src));
    let got = vsa_e2e::samba::smbclient(
        &format!("//{FS}/rep"),
        "get docs/specs/old/v1.txt /dev/stdout",
    )
    .unwrap();
    assert!(got.contains("v1"), "{got}");
    let v = d.json(&["ns", "resolve", "corp", "eng/docs"]);
    let urls: Vec<&str> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.contains(&to.as_str()),
        "the replica is not referred: {v}"
    );

    // One block of the big file changes: that block alone is sent.
    let before = replication(&d, &to)["bytes_sent"].as_u64().unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(src.join("specs/big.bin"))
        .unwrap();
    f.write_all_at(b"changed!", 3 * MIB + 10).unwrap();
    drop(f);
    d.ok(&["ns", "replication", "run", "corp", "eng/docs", &to]);
    wait_copied(&src, &replica);
    let sent = wait_for(60, || {
        let n = replication(&d, &to)["bytes_sent"].as_u64()?;
        (n > before).then_some(n - before)
    })
    .expect("no bytes sent for the change");
    assert_eq!(sent, MIB, "more than the changed block was sent");

    // A file the source loses goes from the replica.
    std::fs::remove_file(src.join("specs/old/v1.txt")).unwrap();
    wait_copied(&src, &replica);
    let list = d.ok(&["ns", "replications"]);
    assert!(list.contains("in-sync"), "{list}");
    assert!(d.stop().success());

    // Kept across a restart: the replication runs again.
    let d = Daemon::start(&data, &["--config", config.to_str().unwrap()]);
    std::fs::write(src.join("after-restart.txt"), "still replicated\n").unwrap();
    wait_copied(&src, &replica);
    let out = d.ok(&["ns", "replication", "remove", "corp", "eng/docs", &to]);
    assert!(out.contains("stopped replicating"), "{out}");
    assert!(!d.ok(&["ns", "replications"]).contains(&to));
    let e = d.refused(&["ns", "replication", "show", "corp", "eng/docs", &to]);
    assert!(e.contains("no replication"), "{e}");
    assert!(d.stop().success());
}
