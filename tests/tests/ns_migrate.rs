//! `vsa ns migrate`: a link's data moves from a directory on the appliance to a real
//! `smbd`'s share while the namespace stays mounted: the copy is byte for byte (checked
//! with `sha256sum` on the share), the referral switches to the share (the old target
//! kept last as a fallback), the FUSE mount serves the share afterwards with the same
//! inode numbers, writes land there, and `vsa ns migration confirm` drops the old target.
//! A second migration is cancelled after its switch, which puts the referral back.
//! Bad requests are refused with what to do instead.
//!
//! Without /dev/fuse the test says so and mounts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use vsa_e2e::samba::Smbd;
use vsa_e2e::{show, tree_listing, Daemon};

const FS: &str = "127.0.0.35";

fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(o.status.success(), "{cmd} {args:?}: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn source(root: &Path) {
    std::fs::create_dir_all(root.join("specs/old")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("readme.txt"), "the docs\n").unwrap();
    let big: Vec<u8> = (0..5u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(root.join("specs/big.bin"), big).unwrap();
    std::fs::write(root.join("specs/old/v1.txt"), "v1\n").unwrap();
    std::os::unix::fs::symlink("readme.txt", root.join("shortcut")).unwrap();
}

fn first_target(d: &Daemon, link: &str) -> String {
    let v = d.json(&["ns", "resolve", "corp", link]);
    v["targets"][0]["url"].as_str().unwrap().to_owned()
}

#[test]
fn a_link_moves_to_an_smb_share_behind_its_path() {
    if !vsa_e2e::fuse_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let src = tmp.join("old-server/docs");
    source(&src);
    let share = tmp.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let _fs = Smbd::start(FS, &tmp.join("smbd"), &[("new", Smbd::share(&share))])
        .unwrap_or_else(|| panic!("smbd on {FS} did not start (apt-get install samba)"));

    let config = vsa_e2e::samba::quick_probes(tmp);
    let d = Daemon::start(&tmp.join("data"), &["--config", config.to_str().unwrap()]);
    d.ok(&["ns", "create", "corp"]);
    let old = format!("file://{}", src.display());
    d.ok(&["ns", "link", "add", "corp", "eng/docs", &old]);
    let mnt = tmp.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    d.ok(&["ns", "mount", "corp", m]);
    let readme = mnt.join("eng/docs/readme.txt");
    let inode = run("stat", &["-c", "%i", readme.to_str().unwrap()]);

    // Bad requests.
    let new = format!("smb://{FS}/new/docs");
    let e = d.refused(&["ns", "migrate", "corp", "eng", "--to", &new]);
    assert!(e.contains("is not a link"), "{e}");
    let e = d.refused(&["ns", "migrate", "corp", "eng/docs", "--to", &old]);
    assert!(e.contains("is a target of link eng/docs already"), "{e}");
    let e = d.refused(&["ns", "migrate", "corp", "eng/docs", "--to", "nfs://nas/x"]);
    assert!(e.contains("no NFS client"), "{e}");
    let e = d.refused(&["ns", "migration", "confirm", "corp", "eng/docs"]);
    assert!(
        e.contains("no migration") && e.contains("vsa ns migrations"),
        "{e}"
    );

    // The migration, followed to its switch.
    let out = d.ok(&["ns", "migrate", "corp", "eng/docs", "--to", &new]);
    assert!(
        out.contains(&format!("clients are referred to {new} now")),
        "{out}"
    );
    assert!(
        out.contains("not migrated (neither file nor directory): shortcut"),
        "{out}"
    );
    std::fs::remove_file(src.join("shortcut")).unwrap();
    assert_eq!(tree_listing(&share.join("docs")), tree_listing(&src));
    assert_eq!(first_target(&d, "eng/docs"), new);
    let v = d.json(&["ns", "show", "corp"]);
    let targets = v["links"][0]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{v}");
    let was = targets.iter().find(|t| t["url"] == old.as_str()).unwrap();
    assert_eq!(was["priority"], "global-low", "{v}");
    let list = d.ok(&["ns", "migrations"]);
    assert!(list.contains("switched"), "{list}");

    // The mount serves the share now, with the same inode numbers; writes land there.
    assert_eq!(run("stat", &["-c", "%i", readme.to_str().unwrap()]), inode);
    std::fs::write(mnt.join("eng/docs/after.txt"), "written after the move\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(share.join("docs/after.txt")).unwrap(),
        "written after the move\n"
    );
    assert!(!src.join("after.txt").exists());

    // Confirmed: the old target leaves the link.
    let out = d.ok(&["ns", "migration", "confirm", "corp", "eng/docs"]);
    assert!(out.contains("left the link"), "{out}");
    let v = d.json(&["ns", "show", "corp"]);
    assert_eq!(v["links"][0]["targets"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "the docs\n",
        "the mount lost the file after the confirm"
    );

    // A second link, migrated between two directories and cancelled after its switch:
    // the referral is back on the old target alone.
    let src2 = tmp.join("src2");
    source(&src2);
    std::fs::remove_file(src2.join("shortcut")).unwrap();
    let (old2, new2) = (
        format!("file://{}", src2.display()),
        format!("file://{}", tmp.join("dst2").display()),
    );
    d.ok(&["ns", "link", "add", "corp", "hr/files", &old2]);
    d.ok(&["ns", "migrate", "corp", "hr/files", "--to", &new2]);
    assert_eq!(first_target(&d, "hr/files"), new2);
    let e = d.refused(&["ns", "migrate", "corp", "hr/files", "--to", &new]);
    assert!(e.contains("being migrated"), "{e}");
    let out = d.ok(&["ns", "migration", "cancel", "corp", "hr/files"]);
    assert!(out.contains("cancelled"), "{out}");
    assert_eq!(first_target(&d, "hr/files"), old2);
    let v = d.json(&["ns", "resolve", "corp", "hr/files"]);
    assert_eq!(v["targets"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(tree_listing(&tmp.join("dst2")), tree_listing(&src2));

    d.ok(&["ns", "umount", m]);
    assert!(d.stop().success());
}
