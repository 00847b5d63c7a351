//! The namespace served as a Samba DFS root to a real SMB client: two file servers and a
//! namespace server (real `smbd`s, each on its own loopback address and port 445, since a
//! referral carries no port), `vsa ns export-samba` writing the msdfs tree the namespace
//! server serves, and `smbclient` (and `smbprotocol`, an SMB library of its own from
//! PyPI) following the referral through it. When a file server
//! stops, the health probes mark it unhealthy and vsa rewrites the link with that server
//! last (which Samba alone never does), so clients go straight to the live one; when it
//! comes back, it is first again; the same when it is frozen (SIGSTOP) and thawed, and
//! when its share is removed (the probes open the share, as a client would) and put back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use vsa_e2e::samba::{smbclient, smbprotocol_read, Smbd};
use vsa_e2e::{show, wait_for, Daemon};

const ROOT: &str = "127.0.0.10";
const FS1: &str = "127.0.0.11";
const FS2: &str = "127.0.0.12";

/// A file server whose share `share1` holds `f.txt` saying which server it is.
fn file_server(tmp: &Path, addr: &str) -> Smbd {
    let share = tmp.join(format!("share-{addr}"));
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("f.txt"), format!("served by {addr}\n")).unwrap();
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    std::fs::set_permissions(share.join("f.txt"), readable).unwrap();
    let dir = tmp.join(format!("smbd-{addr}"));
    Smbd::start(addr, &dir, &[("share1", Smbd::share(&share))])
        .unwrap_or_else(|| panic!("smbd on {addr} did not start (apt-get install samba)"))
}

/// `eng\docs\f.txt` fetched through the DFS root.
fn fetch(tmp: &Path) -> Result<String, String> {
    let out = tmp.join("fetched.txt");
    let _ = std::fs::remove_file(&out);
    let cmd = format!("get eng\\docs\\f.txt {}", out.display());
    let log = smbclient(&format!("//{ROOT}/corp"), &cmd)?;
    std::fs::read_to_string(&out).map_err(|e| format!("{e}: {log}"))
}

/// `eng\docs\f.txt` fetched through the DFS root by smbprotocol.
fn fetch_smbprotocol() -> Result<String, String> {
    smbprotocol_read(
        &format!("\\\\{ROOT}\\corp\\eng\\docs\\f.txt"),
        &[ROOT, FS1, FS2],
    )
}

fn link_text(dfs: &Path) -> String {
    std::fs::read_link(dfs.join("eng/docs"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn smbclient_follows_the_referral_and_a_dead_server_goes_last() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let fs1 = file_server(tmp, FS1);
    let _fs2 = file_server(tmp, FS2);
    let config = vsa_e2e::samba::quick_probes(tmp);
    let d = Daemon::start(&tmp.join("data"), &["--config", config.to_str().unwrap()]);
    d.ok(&["ns", "create", "corp"]);
    let (t1, t2) = (format!("smb://{FS1}/share1"), format!("smb://{FS2}/share1"));
    d.ok(&[
        "ns", "link", "add", "corp", "eng/docs", &t1, &t2, "--stable",
    ]);

    // A directory holding something else is refused, and left as it was.
    let busy = tmp.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let o = d.cli(&["ns", "export-samba", "corp", busy.to_str().unwrap()]);
    assert!(!o.status.success(), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("notes.txt") && err.contains("export_in_the_way"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    let dfs = tmp.join("dfs/corp");
    let v = d.json(&["ns", "export-samba", "corp", dfs.to_str().unwrap()]);
    assert_eq!(v["links"], 1, "{v}");
    assert_eq!(
        link_text(&dfs),
        format!("msdfs:{FS1}\\share1,{FS2}\\share1")
    );
    let section = v["smb_conf"].as_str().unwrap();
    assert!(section.starts_with("[corp]\n"), "{section}");
    assert!(section.contains("msdfs root = yes"), "{section}");
    let body: String = section.lines().skip(1).map(|l| format!("{l}\n")).collect();
    vsa_e2e::samba::open_to_guests(&dfs);
    let _root = Smbd::start(ROOT, &tmp.join("smbd-root"), &[("corp", body)])
        .expect("the namespace server's smbd did not start");

    let direct = smbclient(&format!("//{FS1}/share1"), "ls");
    let root_ls = smbclient(&format!("//{ROOT}/corp"), "ls; cd eng; ls");
    assert_eq!(
        fetch(tmp).unwrap_or_else(|e| panic!("{e}\ndirect: {direct:?}\nroot: {root_ls:?}")),
        format!("served by {FS1}\n")
    );
    // An SMB library of its own (smbprotocol, PyPI) follows the referral the same way.
    assert_eq!(fetch_smbprotocol(), Ok(format!("served by {FS1}\n")));

    // The first file server stops: the probes find it, and the link puts it last.
    drop(fs1);
    let moved = wait_for(60, || {
        link_text(&dfs)
            .starts_with(&format!("msdfs:{FS2}"))
            .then_some(())
    });
    assert!(moved.is_some(), "the link still reads {}", link_text(&dfs));
    assert_eq!(fetch(tmp).unwrap(), format!("served by {FS2}\n"));
    assert_eq!(fetch_smbprotocol(), Ok(format!("served by {FS2}\n")));
    let events = d.json(&["ns", "events"]);
    assert!(events.to_string().contains("unhealthy"), "{events}");

    // It comes back: healthy again, first again.
    let fs1 = file_server(tmp, FS1);
    let first = |addr: &str| {
        let want = format!("msdfs:{addr}");
        wait_for(60, || link_text(&dfs).starts_with(&want).then_some(()))
    };
    assert!(
        first(FS1).is_some(),
        "the link still reads {}",
        link_text(&dfs)
    );
    assert_eq!(fetch(tmp).unwrap(), format!("served by {FS1}\n"));

    // Frozen (SIGSTOP: it accepts connections and never answers): the probes time out,
    // it goes last, and clients are not sent to wait on it; thawed, it is first again.
    fs1.signal("-STOP");
    let moved = first(FS2);
    let while_frozen = moved.and_then(|()| fetch(tmp).ok());
    fs1.signal("-CONT");
    assert!(moved.is_some(), "the link still reads {}", link_text(&dfs));
    assert_eq!(while_frozen, Some(format!("served by {FS2}\n")));
    assert!(
        first(FS1).is_some(),
        "the link still reads {}",
        link_text(&dfs)
    );
    assert_eq!(fetch(tmp).unwrap(), format!("served by {FS1}\n"));

    // Its share is removed while the server runs (it still answers NEGOTIATE): the
    // probes' tree connect fails, it goes last; the share is back, it is first again.
    fs1.reconfigure(&[]);
    let moved = first(FS2);
    let while_gone = moved.and_then(|()| fetch(tmp).ok());
    let share = Smbd::share(&tmp.join(format!("share-{FS1}")));
    fs1.reconfigure(&[("share1", share)]);
    assert!(moved.is_some(), "the link still reads {}", link_text(&dfs));
    assert_eq!(while_gone, Some(format!("served by {FS2}\n")));
    let events = d.json(&["ns", "events"]);
    assert!(
        events.to_string().contains("no share named 'share1'"),
        "{events}"
    );
    assert!(
        first(FS1).is_some(),
        "the link still reads {}",
        link_text(&dfs)
    );
    assert_eq!(fetch(tmp).unwrap(), format!("served by {FS1}\n"));

    // Removing the link removes it from the tree.
    d.ok(&["ns", "link", "remove", "corp", "eng/docs"]);
    assert!(std::fs::symlink_metadata(dfs.join("eng/docs")).is_err());
}

#[test]
fn the_daemon_runs_and_supervises_smbd_as_the_dfs_root() {
    const LISTEN: &str = "127.0.0.20";
    const FS: &str = "127.0.0.21";
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let _fs = file_server(tmp, FS);
    let trees = tmp.join("trees");
    std::fs::create_dir_all(&trees).unwrap();
    vsa_e2e::samba::open_to_guests(&trees);
    let config = tmp.join("vsa.toml");
    std::fs::write(
        &config,
        format!(
            "[namespace]\nprobe_interval_ms = 200\n\n[namespace.samba]\nlisten = \"{LISTEN}\"\n\
             trees = \"{}\"\n",
            trees.display()
        ),
    )
    .unwrap();
    let data = tmp.join("data");
    let d = Daemon::start(&data, &["--config", config.to_str().unwrap()]);
    let target = format!("smb://{FS}/share1");
    d.ok(&["ns", "create", "corp"]);
    d.ok(&["ns", "link", "add", "corp", "eng/docs", &target]);
    let get = |share: &str, path: &str| {
        let out = tmp.join(format!("got-{share}.txt"));
        let _ = std::fs::remove_file(&out);
        let cmd = format!("get {path} {}", out.display());
        smbclient(&format!("//{LISTEN}/{share}"), &cmd)
            .ok()
            .and_then(|_| std::fs::read_to_string(&out).ok())
    };
    let want = format!("served by {FS}\n");
    let got = wait_for(60, || get("corp", "eng\\docs\\f.txt"));
    assert_eq!(got.as_deref(), Some(want.as_str()), "{}", smbd_log(&data));

    // A namespace created later is served too (smbd reloads its configuration).
    d.ok(&["ns", "create", "hr"]);
    d.ok(&["ns", "link", "add", "hr", "pay", &target]);
    let got = wait_for(60, || get("hr", "pay\\f.txt"));
    assert_eq!(got.as_deref(), Some(want.as_str()), "{}", smbd_log(&data));

    // smbd killed: the daemon starts it again.
    let pid = std::fs::read_to_string(data.join("samba/run/smbd.pid")).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let again = wait_for(60, || {
        let now = std::fs::read_to_string(data.join("samba/run/smbd.pid")).ok()?;
        (now.trim() != pid.trim()).then(|| get("corp", "eng\\docs\\f.txt"))?
    });
    assert_eq!(again.as_deref(), Some(want.as_str()), "{}", smbd_log(&data));

    // The daemon stops: so does its smbd.
    d.stop();
    let addr: std::net::SocketAddr = format!("{LISTEN}:445").parse().unwrap();
    let gone = wait_for(30, || {
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
            .is_err()
            .then_some(())
    });
    assert!(gone.is_some(), "smbd still serves after the daemon stopped");
}

fn smbd_log(data: &Path) -> String {
    std::fs::read_to_string(data.join("samba/log/smbd.out")).unwrap_or_default()
}
