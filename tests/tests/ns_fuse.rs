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

/// Opens of a local target's files are served by the kernel from the target's file (FUSE
/// passthrough); a file held open across a switch of the link to another target keeps
/// its file, while new opens of the same path (the same inode) get the new target's, served
/// by the daemon until the old one is closed.
#[test]
fn files_are_served_from_the_target_by_the_kernel_and_a_switch_while_open_is_safe() {
    if !vsa_e2e::fuse_here() {
        return;
    }
    use std::os::unix::fs::FileExt;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a/docs"), tmp.path().join("b/docs"));
    for (d, who) in [(&a, "a"), (&b, "b")] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("f.txt"), format!("from {who}\n")).unwrap();
    }
    let url = |p: &Path| format!("file://{}", p.display());
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["ns", "create", "corp"]);
    d.ok(&[
        "ns",
        "link",
        "add",
        "corp",
        "docs",
        &url(&a),
        &url(&b),
        "--stable",
    ]);
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    d.ok(&["ns", "mount", "corp", m]);
    let opens = |kind: &str| {
        d.json(&["ns", "mounts"])[0]["opens"][kind]
            .as_u64()
            .unwrap()
    };

    let f = mnt.join("docs/f.txt");
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&f)
        .unwrap();
    // A second open of the file while the first is open shares its backing file.
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "from a\n");
    held.write_all_at(b"FROM", 0).unwrap();
    assert_eq!(
        std::fs::read_to_string(a.join("f.txt")).unwrap(),
        "FROM a\n"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "FROM a\n");
    // A kernel without FUSE passthrough (before Linux 6.9) has the daemon serve every
    // open through the page cache: the same files read and written, other counts.
    let passing = opens("passthrough") > 0;
    if passing {
        assert!(opens("passthrough") >= 3, "{}", d.ok(&["ns", "mounts"]));
    } else {
        eprintln!("this kernel has no FUSE passthrough: opens were served by the daemon");
        assert!(opens("cached") >= 3, "{}", d.ok(&["ns", "mounts"]));
    }

    // The first target goes away while its file is held open.
    std::fs::rename(tmp.path().join("a"), tmp.path().join("a-gone")).unwrap();
    wait_for(30, || {
        (std::fs::read_to_string(&f).ok()? == "from b\n").then_some(())
    })
    .expect("no failover to the second target");
    if passing {
        assert!(opens("direct") >= 1, "{}", d.ok(&["ns", "mounts"]));
    }
    // The held file is still the first target's; new writes go to the second's.
    held.write_all_at(b"held", 0).unwrap();
    let gone = tmp.path().join("a-gone/docs/f.txt");
    assert_eq!(std::fs::read_to_string(gone).unwrap(), "held a\n");
    std::fs::write(&f, "new b\n").unwrap();
    assert_eq!(std::fs::read_to_string(b.join("f.txt")).unwrap(), "new b\n");
    let mut read = String::new();
    std::io::Read::read_to_string(&mut &held, &mut read).unwrap();
    assert_eq!(read, "held a\n");

    // Once the old file is closed, the kernel serves the new one.
    drop(held);
    let kernel = opens("passthrough");
    wait_for(30, || {
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new b\n");
        (!passing || opens("passthrough") > kernel).then_some(())
    })
    .expect("the new target's file is not served by the kernel");
    let table = d.ok(&["ns", "mounts"]);
    assert!(table.contains("OPENS KERNEL/CACHED/DIRECT"), "{table}");
    d.ok(&["ns", "umount", m]);
    assert!(d.stop().success());
}
