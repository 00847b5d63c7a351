//! End to end, as an operator sees it: the real `vsa serve` driven through the `vsa` CLI
//! and HTTP (and an iSCSI initiator where a LUN is involved), a test per concern of
//! running the appliance (issue #12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use vsa_e2e::Daemon;

const IQN: &str = "iqn.2026-01.invalid.vsa:operator";

fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    (t, d)
}

/// Every directory and regular file under `dir` (and `dir`) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(p) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
        if m.is_dir() || m.is_file() {
            out.push((p, m.permissions().mode() & 0o7777));
        }
    }
    out
}

/// What under `dir` group or others may reach.
fn open_to_others(dir: &Path) -> Vec<(PathBuf, u32)> {
    modes(dir)
        .into_iter()
        .filter(|(_, m)| m & 0o077 != 0)
        .collect()
}

/// `chmod -R a+rX`: what a daemon under umask 022, or a careless copy, leaves.
fn open_up(dir: &Path) {
    for (p, m) in modes(dir) {
        let add = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m | add)).unwrap();
    }
}

#[test]
fn the_data_directory_is_private_to_the_daemons_user() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    assert_eq!(open_to_others(&dir), vec![], "a new data directory");
    let secret = "a-chap-secret-of-some-length";
    d.ok(&["target", "create", IQN]);
    d.ok(&[
        "target", "chap", "set", IQN, "--user", "web", "--secret", secret,
    ]);
    d.ok(&["volume", "create", "v", "--size", "16M"]);
    assert!(d.stop().success());

    open_up(&dir);
    let loose = open_to_others(&dir);
    for name in ["meta", "token", "disks", "default-0.img"] {
        assert!(
            loose.iter().any(|(p, _)| p.ends_with(name)),
            "{name} in {loose:?}"
        );
    }
    let d = Daemon::start(&dir, &[]);
    let line = d.wait_log(&["WARN", "readable by other users"], 30);
    for name in ["meta", "token", "disks/default-0.img", "(0644 → 0600)"] {
        assert!(line.contains(name), "{name} not named in: {line}");
    }
    assert_eq!(open_to_others(&dir), vec![]);

    // What RocksDB writes while the daemon runs and at shutdown is private too.
    for i in 0..20 {
        d.ok(&["volume", "snapshot", "v", &format!("s{i}")]);
    }
    assert_eq!(open_to_others(&dir), vec![]);
    let (status, targets) = d.get("/api/v1/targets");
    assert_eq!(status, 200);
    assert!(!targets.to_string().contains(secret), "{targets}");
    assert!(d.stop().success());
    assert_eq!(open_to_others(&dir), vec![]);
    let log = vsa_e2e::read_log(&dir);
    assert!(!log.contains(secret), "the log shows the CHAP secret");
    assert_eq!(
        log.matches("readable by other users").count(),
        1,
        "only the opened-up start warns: {log}"
    );
}
