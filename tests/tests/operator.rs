//! End to end, as an operator sees it: the real `vsa serve` driven through the `vsa` CLI
//! and HTTP (and an iSCSI initiator where a LUN is involved), a test per concern of
//! running the appliance (issue #12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use vsa_e2e::initiator::{Initiator, Reply};
use vsa_e2e::{show, Daemon};

const M: u64 = 1 << 20;
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

/// READ CAPACITY (16): the LUN's size in bytes.
fn read_capacity(i: &mut Initiator) -> u64 {
    let cdb = [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];
    let r = i.command(0, &cdb, &[], 32).unwrap();
    assert_eq!(r.status, 0, "READ CAPACITY (16): {r:?}");
    let last = u64::from_be_bytes(r.data[0..8].try_into().unwrap());
    let block = u32::from_be_bytes(r.data[8..12].try_into().unwrap());
    (last + 1) * u64::from(block)
}

/// READ CAPACITY (16): the LUN's block size.
fn block_size(i: &mut Initiator) -> u64 {
    let cdb = [0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];
    let r = i.command(0, &cdb, &[], 32).unwrap();
    assert_eq!(r.status, 0, "READ CAPACITY (16): {r:?}");
    u64::from(u32::from_be_bytes(r.data[8..12].try_into().unwrap()))
}

/// Sense key, ASC and ASCQ, from fixed or descriptor sense data.
fn sense(r: &Reply) -> (u8, u8, u8) {
    match r.sense.first().map(|b| b & 0x7F) {
        Some(0x72 | 0x73) => (r.sense[1] & 0x0F, r.sense[2], r.sense[3]),
        _ => (r.sense[2] & 0x0F, r.sense[12], r.sense[13]),
    }
}

/// The next command (TEST UNIT READY) meets UNIT ATTENTION, CAPACITY DATA HAS CHANGED;
/// the one after it is GOOD.
fn capacity_changed(i: &mut Initiator) {
    let r = i.command(0, &[0; 6], &[], 0).unwrap();
    assert_eq!((r.status, sense(&r)), (2, (6, 0x2A, 0x09)), "{r:?}");
    let r = i.command(0, &[0; 6], &[], 0).unwrap();
    assert_eq!(r.status, 0, "{r:?}");
}

/// The LUN's size as libiscsi's `iscsi-readcapacity16 -s` reads it in a session of its own.
fn readcapacity16(d: &Daemon) -> u64 {
    let url = format!("iscsi://{}/{IQN}/0", d.iscsi_addr());
    let o = Command::new("iscsi-readcapacity16")
        .args(["-s", &url])
        .output()
        .expect("iscsi-readcapacity16 (Debian libiscsi-bin) is installed");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", show(&o));
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("iscsi-readcapacity16 -s printed {out:?}"))
}

#[test]
fn shrinking_a_served_volume_needs_force_and_initiators_hear_of_every_resize() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    d.ok(&["volume", "create", "db", "--size", "32M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "db", "--lun", "0"]);
    let initiator = "iqn.2026-01.invalid.vsa:web1";
    let mut i = Initiator::login(&d.iscsi_addr(), IQN, initiator, 0x023D_0000_0001).unwrap();
    i.clear_unit_attentions(0).unwrap();
    // A second session (another I_T nexus) of another initiator to the same LUN.
    let other = "iqn.2026-01.invalid.vsa:web2";
    let mut j = Initiator::login(&d.iscsi_addr(), IQN, other, 0x023D_0000_0002).unwrap();
    j.clear_unit_attentions(0).unwrap();
    assert_eq!(read_capacity(&mut i), 32 * M);
    assert_eq!(readcapacity16(&d), 32 * M);

    // Growing a served volume needs no force; every nexus of the LUN is told, each once.
    d.ok(&["volume", "resize", "db", "48M"]);
    capacity_changed(&mut i);
    capacity_changed(&mut j);
    assert_eq!(read_capacity(&mut i), 48 * M);
    assert_eq!(readcapacity16(&d), 48 * M);

    // Shrinking it is refused, naming the holder and the flag, and changes nothing.
    let o = d.cli(&["volume", "resize", "db", "16M"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for words in [
        &format!("iSCSI target {IQN} LUN 0"),
        "vsa volume resize db 16M --force",
        &format!("vsa target lun remove {IQN} 0"),
        "[volume_in_use]",
    ] {
        assert!(err.contains(words), "{words}: {err}");
    }
    let (status, body) = d.patch("/api/v1/volumes/db", &json!({ "size": "16M" }));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("volume_in_use")),
        "{body}"
    );
    assert_eq!(d.json(&["volume", "show", "db"])["size"], 48 * M);
    let r = i.command(0, &[0; 6], &[], 0).unwrap();
    assert_eq!(r.status, 0, "no resize, no attention: {r:?}");

    // Forced, it shrinks, and the initiator is told.
    let v = d.json(&["volume", "resize", "db", "16M", "--force"]);
    assert_eq!(v["size"], 16 * M);
    capacity_changed(&mut j);
    capacity_changed(&mut i);
    assert_eq!(read_capacity(&mut i), 16 * M);
    assert_eq!(readcapacity16(&d), 16 * M);
    d.wait_log(&["WARN", "shrinking a volume in use (forced)"], 30);
    let (status, body) = d.patch(
        "/api/v1/volumes/db",
        &json!({ "size": "8M", "force": true }),
    );
    assert_eq!(
        (status, body["size"].as_u64()),
        (200, Some(8 * M)),
        "{body}"
    );
    capacity_changed(&mut i);
    assert_eq!(read_capacity(&mut i), 8 * M);

    // Released, it shrinks without force.
    d.ok(&["target", "lun", "remove", IQN, "0"]);
    d.ok(&["volume", "resize", "db", "4M"]);
}

/// A `--create-size` the filesystem holding `dir` cannot hold: 100 TiB where files cannot
/// be that large (ext4: 16 TiB), else one beyond any file offset (tmpfs, XFS and btrfs
/// take 100 TiB sparse files).
fn too_large_for(dir: &Path) -> &'static str {
    let probe = dir.join("probe");
    let f = std::fs::File::create(&probe).unwrap();
    let fits = f.set_len(100 << 40).is_ok();
    drop(f);
    std::fs::remove_file(&probe).unwrap();
    if fits {
        "16000P"
    } else {
        "100T"
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn member_files_too_large_for_their_filesystem_are_refused_and_leave_nothing() {
    let (t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    let files = t.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let size = too_large_for(&files);
    let path = |n: &str| files.join(n).to_str().unwrap().to_owned();
    let (m0, m1, m2) = (path("m0.img"), path("m1.img"), path("m2.img"));

    let o = d.cli(&[
        "pool",
        "create",
        "big",
        "--raid",
        "5",
        &m0,
        &m1,
        &m2,
        "--create-size",
        size,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for words in [
        m0.as_str(),
        "cannot be created as a member file",
        "asked for",
        "free there",
        "smaller size (`--create-size`",
        "[member_too_large]",
    ] {
        assert!(err.contains(words), "{words}: {err}");
    }
    let (status, body) = d.post(
        "/api/v1/pools",
        &json!({ "name": "big", "raid": 1, "members": [m0, m1], "create_size": size }),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("member_too_large")),
        "{body}"
    );
    assert_eq!(files_in(&files), Vec::<String>::new());
    assert_eq!(d.get("/api/v1/pools/big").0, 404);
    assert!(!d.ok(&["pool", "list"]).contains("big"));

    // A spare or a replacement of that size likewise, and the pool is as it was.
    let before = d.json(&["pool", "show", "default"]);
    for args in [
        &[
            "pool",
            "spare",
            "default",
            &path("s.img"),
            "--create-size",
            size,
        ][..],
        &[
            "pool",
            "replace",
            "default",
            "1",
            &path("r.img"),
            "--create-size",
            size,
        ][..],
    ] {
        let o = d.cli(args);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("[member_too_large]"),
            "{}",
            show(&o)
        );
    }
    assert_eq!(files_in(&files), Vec::<String>::new());
    let after = d.json(&["pool", "show", "default"]);
    assert_eq!(after["raid"], before["raid"]);
    assert_eq!(after["health"], "healthy");
}

#[test]
fn an_unclean_stop_is_followed_by_a_metadata_check() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    d.ok(&["volume", "create", "db", "--size", "32M"]);
    d.ok(&["volume", "snapshot", "db", "monday"]);
    d.ok(&["volume", "clone", "db@monday", "db-test"]);
    let out = d.ok(&["pool", "check", "default"]);
    assert!(
        out.starts_with("pool 'default' metadata is consistent: 2 volume(s), 1 snapshot(s)"),
        "{out}"
    );
    let v = d.json(&["pool", "check", "default"]);
    assert_eq!(
        (v["clean"].as_bool(), v["problems"].clone()),
        (Some(true), json!([]))
    );
    let (status, body) = d.post("/api/v1/pools/default/check", &json!({}));
    assert_eq!(
        (status, body["clean"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let o = d.cli(&["pool", "check", "ghost"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("[no_such_pool]"));

    // A clean stop: no check at the next start.
    assert!(d.stop().success());
    assert!(!dir.join("running").exists());
    let d = Daemon::start(&dir, &[]);
    assert!(!d.log().contains("unclean stop"), "{}", d.log());

    // kill -9: the next start checks every pool and says so.
    assert!(dir.join("running").exists());
    d.kill9();
    let d = Daemon::start(&dir, &[]);
    d.wait_log(&["WARN", "did not stop cleanly"], 30);
    let line = d.wait_log(&["INFO", "after an unclean stop"], 30);
    assert!(
        line.contains("pool 'default' metadata is consistent: 2 volume(s), 1 snapshot(s)"),
        "{line}"
    );
    assert_eq!(d.json(&["volume", "list"]).as_array().unwrap().len(), 2);
    assert!(d.stop().success());
    let d = Daemon::start(&dir, &[]);
    assert_eq!(d.log().matches("after an unclean stop").count(), 1);
    drop(d);
}

fn metric(d: &Daemon, key: &str) -> f64 {
    let m = d.metrics();
    *m.get(key)
        .unwrap_or_else(|| panic!("no metric {key} in {:#?}", m.keys().collect::<Vec<_>>()))
}

fn health_metric(d: &Daemon, state: &str) -> f64 {
    metric(
        d,
        &format!("vsa_pool_health{{pool=\"default\",state=\"{state}\"}}"),
    )
}

fn pool(d: &Daemon) -> Value {
    d.json(&["pool", "show", "default"])
}

/// WRITE (10) of `blocks` blocks of `bs` bytes at `lba` on LUN 0.
fn write10(i: &mut Initiator, lba: u32, blocks: u16, bs: usize) -> Reply {
    let mut cdb = [0u8; 10];
    cdb[0] = 0x2A;
    cdb[2..6].copy_from_slice(&lba.to_be_bytes());
    cdb[7..9].copy_from_slice(&blocks.to_be_bytes());
    i.command(0, &cdb, &vec![0x5A; usize::from(blocks) * bs], 0)
        .unwrap()
}

/// The watcher's WARN line with `words` (waited for generously: the daemon looks every
/// second, on a loaded machine).
fn wait_change(d: &Daemon, words: &str) -> String {
    d.wait_log(&["WARN", words], 60)
}

#[test]
fn pool_health_shows_space_and_members_and_every_change_is_logged() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    let p = pool(&d);
    assert_eq!(
        (p["health"].as_str(), p["conditions"].clone()),
        (Some("healthy"), json!(["healthy"]))
    );
    assert_eq!(health_metric(&d, "healthy"), 1.0);
    assert_eq!(health_metric(&d, "full"), 0.0);
    let cs = p["chunk_size"].as_u64().unwrap();

    // Less than 10% free: low space.
    let free = p["space"]["free"].as_u64().unwrap();
    assert!(free > 20 * cs, "{p}");
    let a = free - 8 * cs;
    d.ok(&["volume", "create", "a", "--size", &a.to_string(), "--thick"]);
    assert_eq!(pool(&d)["health"], "low_space");
    wait_change(&d, "pool 'default' is low_space");
    assert_eq!(
        (health_metric(&d, "low_space"), health_metric(&d, "healthy")),
        (1.0, 0.0)
    );

    // One chunk left; a write to a thin volume that needs two fails, and from then on the
    // pool is full although a chunk is free.
    d.ok(&[
        "volume",
        "create",
        "b",
        "--size",
        &(7 * cs).to_string(),
        "--thick",
    ]);
    d.ok(&["volume", "create", "t", "--size", &(4 * cs).to_string()]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "t", "--lun", "0"]);
    let initiator = "iqn.2026-01.invalid.vsa:health";
    let mut i = Initiator::login(&d.iscsi_addr(), IQN, initiator, 0x023D_0000_0003).unwrap();
    i.clear_unit_attentions(0).unwrap();
    let bs = block_size(&mut i);
    let p = pool(&d);
    assert_eq!(
        (p["space"]["free"].as_u64(), p["health"].as_str()),
        (Some(cs), Some("low_space"))
    );
    let boundary = u32::try_from(cs / bs).unwrap();
    let r = write10(&mut i, boundary - 8, 16, bs as usize);
    assert_eq!(
        (r.status, sense(&r)),
        (2, (7, 0x27, 0x07)),
        "SPACE ALLOCATION FAILED WRITE PROTECT: {r:?}"
    );
    let p = pool(&d);
    assert_eq!(
        (
            p["space"]["free"].as_u64(),
            p["space"]["exhausted"].as_bool(),
            p["conditions"].clone()
        ),
        (Some(cs), Some(true), json!(["full", "low_space"])),
        "{p}"
    );
    assert!(d
        .ok(&["pool", "show", "default"])
        .contains("full (also low_space)"));
    wait_change(
        &d,
        "pool 'default' is full (conditions: full, low_space; was low_space; 1 MiB free of",
    );
    assert_eq!(health_metric(&d, "full"), 1.0);
    // The last chunk is taken by a write that fits: 0 bytes free, full everywhere.
    let r = write10(&mut i, 0, 8, bs as usize);
    assert_eq!(r.status, 0, "{r:?}");
    let p = pool(&d);
    assert_eq!(
        (p["space"]["free"].as_u64(), p["health"].as_str()),
        (Some(0), Some("full"))
    );
    let row = |out: String| {
        out.lines()
            .find(|l| l.starts_with("default"))
            .unwrap_or("")
            .to_owned()
    };
    assert!(row(d.ok(&["pool", "list"])).contains(" full (also low_space)"));
    assert!(row(d.ok(&["status"])).contains(" full (also low_space)"));
    let st = d.json(&["status"]);
    assert_eq!(st["pools"][0]["health"], "full", "{st}");
    assert_eq!(st["pools"][0]["conditions"], json!(["full", "low_space"]));

    // A failed member: degraded comes first; the rest is still listed.
    let out = d.ok(&["pool", "fail", "default", "1"]);
    assert!(out.contains("pool 'default' is degraded"), "{out}");
    assert_eq!(
        pool(&d)["conditions"],
        json!(["degraded", "full", "low_space"])
    );
    let line = wait_change(&d, "pool 'default' is degraded");
    assert!(
        line.contains("member 1 ("),
        "the faulty member is named: {line}"
    );
    assert!(line.contains(") faulty"), "{line}");
    assert_eq!(
        (health_metric(&d, "degraded"), health_metric(&d, "full")),
        (1.0, 1.0)
    );

    // Replaced and rebuilt, then space freed: healthy again, said at WARN too (where an
    // episode ends).
    let new = dir.parent().unwrap().join("new-1.img");
    d.ok(&[
        "pool",
        "replace",
        "default",
        "1",
        new.to_str().unwrap(),
        "--create-size",
        "64M",
        "--wait",
    ]);
    assert_eq!(pool(&d)["health"], "full");
    d.ok(&["volume", "delete", "b"]);
    let p = pool(&d);
    assert_eq!(
        (p["space"]["exhausted"].as_bool(), p["health"].as_str()),
        (Some(false), Some("low_space")),
        "freed space ends the shortage: {p}"
    );
    d.ok(&["volume", "delete", "a"]);
    assert_eq!(pool(&d)["health"], "healthy");
    wait_change(&d, "pool 'default' is healthy again");
    assert_eq!(health_metric(&d, "healthy"), 1.0);
    assert_eq!(health_metric(&d, "degraded"), 0.0);
    assert_eq!(health_metric(&d, "full"), 0.0);
    let r = write10(&mut i, boundary - 8, 16, bs as usize);
    assert_eq!(r.status, 0, "{r:?}");
}

#[test]
fn pool_health_shows_scrubs_and_rebuilds_while_they_run() {
    let (t, dir) = data_dir();
    // Slow enough to be seen whatever the load: 64 MiB members at 256 KiB/s take minutes;
    // a stop cancels them.
    let config = t.path().join("vsa.toml");
    std::fs::write(&config, "[settings]\nrate_limit = \"256K\"\n").unwrap();
    let config = config.to_str().unwrap();
    let d = Daemon::start(&dir, &["--config", config]);
    d.ok(&["pool", "scrub", "default"]);
    let p = pool(&d);
    assert_eq!(p["health"], "scrubbing", "{p}");
    assert_eq!(health_metric(&d, "scrubbing"), 1.0);
    wait_change(&d, "pool 'default' is scrubbing");
    // Stopping cancels the scrub.
    assert!(d.stop().success());

    let d = Daemon::start(&dir, &["--config", config]);
    d.ok(&["pool", "fail", "default", "2"]);
    let new = t.path().join("new-2.img");
    let out = d.ok(&[
        "pool",
        "replace",
        "default",
        "2",
        new.to_str().unwrap(),
        "--create-size",
        "64M",
    ]);
    assert!(out.contains("pool 'default' is rebuilding"), "{out}");
    assert_eq!(pool(&d)["health"], "rebuilding");
    assert_eq!(health_metric(&d, "rebuilding"), 1.0);
    wait_change(&d, "pool 'default' is rebuilding");
    assert!(d.stop().success());
}
