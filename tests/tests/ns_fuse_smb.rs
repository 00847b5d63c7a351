//! `vsa ns mount` over SMB targets: a link whose targets are shares of two real `smbd`s
//! (each on its own loopback address and port 445) is read through the mount by `ls`,
//! `cat`, `sha256sum`, `find` and `stat`, the daemon's own SMB client fetching from the
//! first file server, and written (files, directories, renames, truncation, removal land
//! on its share); when the first server freezes (SIGSTOP) or stops, the next open goes to
//! the second, with the same inode numbers; thawed, the first serves again.
//!
//! Without /dev/fuse the test says so and mounts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use vsa_e2e::samba::Smbd;
use vsa_e2e::{show, wait_for, Daemon};

const FS1: &str = "127.0.0.31";
const FS2: &str = "127.0.0.32";

fn run(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(o.status.success(), "{cmd} {args:?}: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// 3 MiB that differ from server to server.
fn big(seed: u32) -> Vec<u8> {
    (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// A file server whose share `data` holds `proj/` with `hello.txt`, `specs/big.bin` and
/// an empty `specs/empty.txt`.
fn file_server(tmp: &Path, addr: &str, seed: u32) -> Smbd {
    let share = tmp.join(format!("share-{addr}"));
    let proj = share.join("proj");
    std::fs::create_dir_all(proj.join("specs")).unwrap();
    std::fs::write(proj.join("hello.txt"), format!("hello from {addr}\n")).unwrap();
    std::fs::write(proj.join("specs/big.bin"), big(seed)).unwrap();
    std::fs::write(proj.join("specs/empty.txt"), b"").unwrap();
    let body = Smbd::share(&share);
    vsa_e2e::samba::open_to_guests(&proj);
    run("chmod", &["-R", "o+rX", share.to_str().unwrap()]);
    Smbd::start(addr, &tmp.join(format!("smbd-{addr}")), &[("data", body)])
        .unwrap_or_else(|| panic!("smbd on {addr} did not start (apt-get install samba)"))
}

fn sha256(path: &Path) -> String {
    run("sha256sum", &[path.to_str().unwrap()])
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_link_to_smb_shares_reads_through_the_mount_and_fails_over() {
    if !vsa_e2e::fuse_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let mut fs1 = file_server(tmp, FS1, 1);
    let _fs2 = file_server(tmp, FS2, 2);

    let config = vsa_e2e::samba::quick_probes(tmp);
    let d = Daemon::start(&tmp.join("data"), &["--config", config.to_str().unwrap()]);
    d.ok(&["ns", "create", "corp"]);
    let (t1, t2) = (
        format!("smb://{FS1}/data/proj"),
        format!("smb://{FS2}/data/proj"),
    );
    d.ok(&[
        "ns", "link", "add", "corp", "eng/docs", &t1, &t2, "--stable",
    ]);
    let mnt = tmp.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    d.ok(&["ns", "mount", "corp", m]);

    let docs = mnt.join("eng/docs");
    assert_eq!(run("ls", &[docs.to_str().unwrap()]), "hello.txt\nspecs\n");
    assert_eq!(
        run("cat", &[docs.join("hello.txt").to_str().unwrap()]),
        format!("hello from {FS1}\n")
    );
    let share1 = tmp.join(format!("share-{FS1}/proj"));
    assert_eq!(
        sha256(&docs.join("specs/big.bin")),
        sha256(&share1.join("specs/big.bin"))
    );
    let found = run("find", &[m, "-type", "f"]);
    assert!(
        found.contains("eng/docs/specs/big.bin") && found.contains("eng/docs/specs/empty.txt"),
        "{found}"
    );
    assert_eq!(
        run(
            "stat",
            &["-c", "%s %F", docs.join("specs/big.bin").to_str().unwrap()]
        ),
        format!("{} regular file\n", 3u32 << 20)
    );
    assert_eq!(
        std::fs::read(docs.join("specs/empty.txt")).unwrap(),
        b"".to_vec()
    );
    let missing = std::fs::read(docs.join("no-such.txt")).unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);

    // Writing: files and directories land on the first server's share; renames stay in
    // the link (over an existing file too, as POSIX rename does); an emptied file is empty
    // there; a file removed through the mount is gone there.
    let written = big(7);
    std::fs::write(docs.join("new.bin"), &written).unwrap();
    assert_eq!(std::fs::read(share1.join("new.bin")).unwrap(), written);
    assert_eq!(std::fs::read(docs.join("new.bin")).unwrap(), written);
    std::fs::create_dir(docs.join("drafts")).unwrap();
    std::fs::write(docs.join("drafts/note.txt"), "first\n").unwrap();
    std::fs::write(docs.join("drafts/other.txt"), "second\n").unwrap();
    std::fs::rename(docs.join("drafts/other.txt"), docs.join("drafts/note.txt")).unwrap();
    assert_eq!(
        std::fs::read_to_string(share1.join("drafts/note.txt")).unwrap(),
        "second\n"
    );
    assert!(!share1.join("drafts/other.txt").exists());
    {
        use std::io::{Seek, SeekFrom, Write};
        // A write elsewhere in an open file patches it there.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(docs.join("drafts/note.txt"))
            .unwrap();
        f.seek(SeekFrom::Start(1)).unwrap();
        f.write_all(b"E").unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(share1.join("drafts/note.txt")).unwrap(),
        "sEcond\n"
    );
    std::fs::File::create(docs.join("drafts/note.txt")).unwrap();
    assert_eq!(
        std::fs::metadata(share1.join("drafts/note.txt"))
            .unwrap()
            .len(),
        0
    );
    std::fs::remove_file(docs.join("drafts/note.txt")).unwrap();
    std::fs::remove_dir(docs.join("drafts")).unwrap();
    std::fs::remove_file(docs.join("new.bin")).unwrap();
    assert!(!share1.join("drafts").exists() && !share1.join("new.bin").exists());
    // `cat f; rm f`: the file read is closed on the server before rm can run, so it is gone
    // there at once (SMB keeps an open file's name), however the mount's threads take the
    // kernel's requests; and no handle is left open by reads still in flight at close.
    for i in 0..20 {
        let name = format!("read-then-removed-{i}.bin");
        std::fs::write(share1.join(&name), &written).unwrap();
        assert_eq!(
            std::fs::read(docs.join(&name)).unwrap().len(),
            written.len()
        );
        std::fs::remove_file(docs.join(&name)).unwrap();
        assert!(!share1.join(&name).exists(), "{name} still on the share");
    }
    let e = std::fs::rename(docs.join("hello.txt"), mnt.join("eng/hello.txt")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(13), "{e}"); // EACCES: not into the namespace's own

    // The first file server freezes (SIGSTOP to all its processes: it accepts
    // connections and never answers, on the sessions already open too): a call to it
    // times out, and the mount goes to the second; thawed, the first serves again.
    let hello = docs.join("hello.txt");
    let before = run("stat", &["-c", "%i", hello.to_str().unwrap()]);
    let read_from = |addr: &str| {
        let want = format!("hello from {addr}\n");
        wait_for(120, || {
            (std::fs::read_to_string(&hello).ok()? == want).then_some(())
        })
    };
    fs1.signal_all("-STOP");
    let while_frozen = read_from(FS2);
    fs1.signal_all("-CONT");
    while_frozen.expect("no failover from the frozen file server");
    read_from(FS1).expect("the thawed file server does not serve again");

    // The first file server stops: the next open goes to the second.
    fs1.stop();
    read_from(FS2).expect("no failover to the second file server");
    assert_eq!(run("stat", &["-c", "%i", hello.to_str().unwrap()]), before);
    assert_eq!(
        sha256(&docs.join("specs/big.bin")),
        sha256(&tmp.join(format!("share-{FS2}/proj/specs/big.bin")))
    );
    d.ok(&["ns", "umount", m]);
    assert!(d.stop().success());
}
