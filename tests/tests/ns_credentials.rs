//! `vsa ns credential`: a file server whose share takes no guests is reached through the
//! FUSE mount, and looked into by the health probes, with the credentials the appliance
//! keeps for it. A wrong secret makes the target unhealthy with a reason naming the fix;
//! the right one (given in VSA_NS_SECRET) lets `cat` read and writes land on the share;
//! the secret is never shown or logged, survives a restart, and is forgotten on removal.
//!
//! Without /dev/fuse the test says so and mounts nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use vsa_e2e::samba::Smbd;
use vsa_e2e::{show, vsa_bin, wait_for, Daemon};

const FS: &str = "127.0.0.34";
const USER: &str = "root";
const SECRET: &str = "Vsa-test-Pa55-7f3e";
const WRONG: &str = "Vsa-wrong-guess-1";

/// `vsa ns credential set FS --user root` with the secret in VSA_NS_SECRET.
fn set_with_env(data: &Path, secret: &str) -> String {
    let o = Command::new(vsa_bin())
        .arg("--data-dir")
        .arg(data)
        .args(["ns", "credential", "set", FS, "--user", USER])
        .env("VSA_NS_SECRET", secret)
        .env_remove("VSA_API")
        .env_remove("VSA_TOKEN")
        .output()
        .unwrap();
    assert!(o.status.success(), "credential set: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The health of the link's only target, as `vsa ns show --json` has it.
fn health(d: &Daemon) -> String {
    let v = d.json(&["ns", "show", "corp"]);
    v["links"][0]["targets"][0]["health"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_share_without_guests_is_reached_with_the_servers_credentials() {
    if !vsa_e2e::fuse_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let share = tmp.join("vault");
    std::fs::create_dir_all(share.join("proj")).unwrap();
    std::fs::write(share.join("proj/plan.txt"), "members only\n").unwrap();
    let body = Smbd::private_share(&share, USER);
    let _fs = Smbd::start(FS, &tmp.join("smbd"), &[("vault", body)])
        .unwrap_or_else(|| panic!("smbd on {FS} did not start (apt-get install samba)"));
    _fs.add_user(USER, SECRET);

    let config = vsa_e2e::samba::quick_probes(tmp);
    let data = tmp.join("data");
    let d = Daemon::start(&data, &["--config", config.to_str().unwrap()]);
    d.ok(&["ns", "create", "corp"]);
    // As a guest the appliance sees the share refuse it: added (the server is there), and
    // the mount cannot read it.
    let target = format!("smb://{FS}/vault/proj");
    d.ok(&["ns", "link", "add", "corp", "eng/vault", &target]);
    let mnt = tmp.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    d.ok(&["ns", "mount", "corp", m]);
    let plan = mnt.join("eng/vault/plan.txt");
    assert!(std::fs::read(&plan).is_err(), "a guest read the share");

    // Bad input is refused, naming the problem.
    let e = d.refused(&[
        "ns",
        "credential",
        "set",
        "fs1/docs",
        "--user",
        "a",
        "--secret",
        "b",
    ]);
    assert!(e.contains("not a server name"), "{e}");
    let e = d.refused(&["ns", "credential", "set", FS, "--user", "", "--secret", "b"]);
    assert!(e.contains("the user is empty"), "{e}");
    let e = d.refused(&["ns", "credential", "remove", FS]);
    assert!(
        e.contains("no credentials are set") && e.contains("credential list"),
        "{e}"
    );

    // A wrong secret: the probes' logon is refused, the target goes unhealthy, and the
    // event says who was refused and how to fix it.
    d.ok(&[
        "ns",
        "credential",
        "set",
        FS,
        "--user",
        USER,
        "--secret",
        WRONG,
    ]);
    wait_for(60, || (health(&d) == "unhealthy").then_some(()))
        .expect("the target stays healthy with a wrong secret");
    let events = d.ok(&["ns", "events"]);
    assert!(
        events.contains("refused the logon as root") && events.contains("credential set"),
        "{events}"
    );
    assert!(std::fs::read(&plan).is_err(), "read with a wrong secret");

    // The right secret, from the environment: healthy again, and the mount reads and
    // writes as that user.
    let out = set_with_env(&data, SECRET);
    assert!(
        out.contains("credentials set for 127.0.0.34: user root"),
        "{out}"
    );
    wait_for(60, || (health(&d) == "healthy").then_some(()))
        .expect("the target does not become healthy with the right secret");
    let read = wait_for(60, || std::fs::read_to_string(&plan).ok());
    assert_eq!(read.as_deref(), Some("members only\n"));
    std::fs::write(mnt.join("eng/vault/new.txt"), "written as root\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(share.join("proj/new.txt")).unwrap(),
        "written as root\n"
    );

    // Shown without the secret, logged nowhere.
    let list = d.ok(&["ns", "credential", "list"]);
    assert!(list.contains(FS) && list.contains(USER), "{list}");
    let json = d.json(&["ns", "credential", "list"]).to_string();
    assert!(json.contains("\"user\":\"root\""), "{json}");
    for secret in [SECRET, WRONG] {
        assert!(
            !list.contains(secret) && !json.contains(secret),
            "{list}{json}"
        );
        assert!(!d.log().contains(secret), "the log holds a secret");
    }
    d.ok(&["ns", "umount", m]);
    assert!(d.stop().success());

    // Kept across a restart.
    let d = Daemon::start(&data, &["--config", config.to_str().unwrap()]);
    assert!(d.ok(&["ns", "credential", "list"]).contains(FS));
    d.ok(&["ns", "mount", "corp", m]);
    let read = wait_for(60, || std::fs::read_to_string(&plan).ok());
    assert_eq!(read.as_deref(), Some("members only\n"));

    // Removed: guest sessions again, so the share is closed to the mount.
    let out = d.ok(&["ns", "credential", "remove", FS]);
    assert!(
        out.contains("removed the credentials of 127.0.0.34"),
        "{out}"
    );
    assert!(!d.ok(&["ns", "credential", "list"]).contains(FS));
    wait_for(60, || std::fs::read(&plan).is_err().then_some(()))
        .expect("the mount still reads the share after the credentials were removed");
    d.ok(&["ns", "umount", m]);
    assert!(!d.log().contains(SECRET), "the log holds the secret");
    assert!(d.stop().success());
}
