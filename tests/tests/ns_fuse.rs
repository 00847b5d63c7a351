//! `vsa ns mount`: a namespace as one tree over FUSE, read and written by the ordinary
//! tools (`ls`, `cat`, `sha256sum`, `find`, `stat`, `mv`): folders are the namespace's
//! own, a link's contents are its best reachable `file://` target's, inode numbers stay
//! the same across a remount and a switch to another target.
//!
//! Without /dev/fuse the test says so and mounts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use vsa_e2e::{show, wait_for, Daemon};

fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(o.status.success(), "{cmd} {args:?}: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn inode(path: &Path) -> String {
    run("stat", &["-c", "%i", path.to_str().unwrap()])
}

#[test]
fn a_namespace_mounted_is_one_tree_for_ordinary_tools() {
    if !vsa_e2e::fuse_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, wiki) = (
        tmp.path().join("a/docs"),
        tmp.path().join("b/docs"),
        tmp.path().join("wiki"),
    );
    for d in [&a, &b, &wiki] {
        std::fs::create_dir_all(d.join("specs")).unwrap();
    }
    std::fs::write(a.join("hello.txt"), "hello from a\n").unwrap();
    std::fs::write(b.join("hello.txt"), "hello from the second server\n").unwrap();
    // Copies of one size written together (the same coarse modification time, likely):
    // the kernel's cached pages of the first must not be served for the second.
    std::fs::write(a.join("same.txt"), "AAAA\n").unwrap();
    std::fs::write(b.join("same.txt"), "BBBB\n").unwrap();
    let big: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(a.join("specs/big.bin"), &big).unwrap();
    let url = |p: &Path| format!("file://{}", p.display());

    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["ns", "create", "corp"]);
    d.ok(&["ns", "folder", "add", "corp", "hr"]);
    // --stable: the targets in the order given (ties are shuffled otherwise, as DFS does).
    d.ok(&[
        "ns",
        "link",
        "add",
        "corp",
        "eng/docs",
        &url(&a),
        &url(&b),
        "--stable",
    ]);
    d.ok(&["ns", "link", "add", "corp", "eng/wiki", &url(&wiki)]);
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    // Bad mount points are refused with what to do.
    assert!(d
        .refused(&["ns", "mount", "corp", "relative/dir"])
        .contains("absolute"));
    assert!(d
        .refused(&["ns", "mount", "corp", tmp.path().to_str().unwrap()])
        .contains("not empty"));
    assert!(d.refused(&["ns", "mount", "nope", m]).contains("nope"));
    let out = d.ok(&["ns", "mount", "corp", m]);
    assert!(out.contains(&format!("namespace corp is at {m}")), "{out}");
    assert!(d.refused(&["ns", "mount", "corp", m]).contains("already"));

    // Reading: the namespace's directories, then a link's files.
    assert_eq!(run("ls", &[m]), "eng\nhr\n");
    assert_eq!(run("ls", &[&format!("{m}/eng")]), "docs\nwiki\n");
    let docs = mnt.join("eng/docs");
    assert_eq!(
        run("cat", &[docs.join("hello.txt").to_str().unwrap()]),
        "hello from a\n"
    );
    let sums = run(
        "sha256sum",
        &[
            a.join("specs/big.bin").to_str().unwrap(),
            docs.join("specs/big.bin").to_str().unwrap(),
        ],
    );
    let sums: Vec<&str> = sums.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(sums[0], sums[1]);
    let found = run("find", &[m, "-type", "f"]);
    assert!(
        found.contains("eng/docs/specs/big.bin") && found.contains("eng/docs/hello.txt"),
        "{found}"
    );
    // A long listing of a directory of many entries (read in several requests, with the
    // entries' attributes) shows what a listing of the target shows, and so does `stat`
    // of every file after `find` listed them.
    let many = a.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..600 {
        std::fs::write(many.join(format!("f{i:03}")), vec![b'x'; i]).unwrap();
    }
    std::fs::create_dir(many.join("sub")).unwrap();
    std::os::unix::fs::symlink("f001", many.join("link")).unwrap();
    let long = |dir: &Path| {
        run(
            "ls",
            &["-ln", "--time-style=full-iso", dir.to_str().unwrap()],
        )
    };
    assert_eq!(long(&docs.join("many")), long(&many));
    let stats = |dir: &Path| {
        let script = "find . -print0 | sort -z | xargs -0 stat -c '%n %s %F %Y %h %a'";
        let o = Command::new("sh")
            .args(["-c", script])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(stats(&docs.join("many")), stats(&many));

    // Writing: files and directories land in the target; renames stay in a link.
    std::fs::write(docs.join("new.txt"), "written through the mount\n").unwrap();
    std::fs::create_dir(docs.join("drafts")).unwrap();
    std::fs::rename(docs.join("new.txt"), docs.join("drafts/moved.txt")).unwrap();
    assert_eq!(
        std::fs::read_to_string(a.join("drafts/moved.txt")).unwrap(),
        "written through the mount\n"
    );
    // Through the mount too: the entry the kernel moved leads to the new path.
    assert_eq!(
        std::fs::read_to_string(docs.join("drafts/moved.txt")).unwrap(),
        "written through the mount\n"
    );
    let across = std::fs::rename(
        docs.join("drafts/moved.txt"),
        mnt.join("eng/wiki/moved.txt"),
    );
    assert_eq!(across.unwrap_err().raw_os_error(), Some(libc_exdev()));
    assert!(
        std::fs::write(mnt.join("hr/file.txt"), "x").is_err(),
        "the namespace's own folders take no files"
    );
    std::fs::remove_file(docs.join("drafts/moved.txt")).unwrap();
    std::fs::remove_dir(docs.join("drafts")).unwrap();
    assert!(!a.join("drafts").exists());

    // What a user makes through the mount is the user's.
    std::fs::create_dir(a.join("shared")).unwrap();
    run("chmod", &["1777", a.join("shared").to_str().unwrap()]);
    let made = docs.join("shared/by-nobody.txt");
    run(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "touch",
            made.to_str().unwrap(),
        ],
    );
    assert_eq!(
        run(
            "stat",
            &[
                "-c",
                "%u:%g",
                a.join("shared/by-nobody.txt").to_str().unwrap()
            ]
        ),
        "65534:65534\n"
    );

    // Inode numbers: the same after a remount.
    let before = inode(&docs.join("hello.txt"));
    d.ok(&["ns", "umount", m]);
    assert_eq!(
        std::fs::read_dir(&mnt).unwrap().count(),
        0,
        "the mount point is empty again"
    );
    d.ok(&["ns", "mount", "corp", m]);
    assert_eq!(inode(&docs.join("hello.txt")), before);

    // The first target goes away: the next open goes to the second, same inode numbers.
    let same = docs.join("same.txt");
    for _ in 0..2 {
        assert_eq!(std::fs::read_to_string(&same).unwrap(), "AAAA\n");
    }
    std::fs::rename(tmp.path().join("a"), tmp.path().join("a-gone")).unwrap();
    let hello = docs.join("hello.txt");
    wait_for(30, || {
        (std::fs::read_to_string(&hello).ok()? == "hello from the second server\n").then_some(())
    })
    .expect("no failover to the second target");
    assert_eq!(inode(&hello), before);
    assert_eq!(
        std::fs::read_to_string(&same).unwrap(),
        "BBBB\n",
        "stale pages served"
    );

    let mounts = d.json(&["ns", "mounts"]);
    assert_eq!(mounts[0]["mountpoint"], m, "{mounts}");
    d.ok(&["ns", "umount", m]);
    assert_eq!(d.json(&["ns", "mounts"]).as_array().map(Vec::len), Some(0));
    assert!(d.refused(&["ns", "umount", m]).contains("nothing"));
    // A mount the daemon made goes when it stops.
    d.ok(&["ns", "mount", "corp", m]);
    assert!(d.stop().success());
    assert_eq!(
        std::fs::read_dir(&mnt).unwrap().count(),
        0,
        "the daemon left its mount behind"
    );

    // Mounts declared in the configuration are made when the daemon starts.
    let config = tmp.path().join("vsa.toml");
    let mount = format!("[[namespace.mount]]\nnamespace = \"corp\"\npath = \"{m}\"\n");
    std::fs::write(&config, mount).unwrap();
    let d = Daemon::start(
        &tmp.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(d.json(&["ns", "mounts"])[0]["namespace"], "corp");
    assert_eq!(run("ls", &[m]), "eng\nhr\n");
    assert!(d.stop().success());
}

/// EXDEV: a rename across links (they may be on different servers).
fn libc_exdev() -> i32 {
    18
}
