//! The iSCSI portal against hostile or broken initiators, end to end: the real `vsa serve`
//! with small limits in its configuration file refuses logins beyond them with 03/02,
//! counts and logs them, while an admitted session keeps doing I/O; wrong CHAP answers
//! wait longer and longer, are counted and logged without secrets, and the right secret
//! still logs in; a login with 1,000 unknown keys gets its answer in pieces of at most
//! 8192 bytes with the C bit, and completes; a limit out of range stops the daemon.
//!
//! No test depends on timing: no fixed sleeps, conditions are waited on with generous
//! limits, and a time is only checked from below, against the wait the daemon logged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use vsa_e2e::initiator::{parse_keys, text_keys, Initiator, LoginConn};
use vsa_e2e::{serve_refused, show, Daemon};

const IQN: &str = "iqn.2026-01.invalid.vsa:hardening";
const NO_SUCH_TARGET: &str = "iqn.2026-01.invalid.vsa:no-such-target";
const INI_A: &str = "iqn.2026-01.invalid.test:a";
const INI_B: &str = "iqn.2026-01.invalid.test:b";
const INI_C: &str = "iqn.2026-01.invalid.test:c";
/// Security stage → operational, and operational → full feature (CSG, NSG).
const SECURITY: (u8, u8) = (0, 1);
const OPERATIONAL: (u8, u8) = (1, 3);

/// A daemon with `config` as its configuration file, logging JSON lines, serving a 16 MiB
/// volume as LUN 0 of [`IQN`].
fn daemon(config: &str) -> (tempfile::TempDir, Daemon) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("vsa.toml");
    std::fs::write(&file, config).unwrap();
    let d = Daemon::start(
        &tmp.path().join("data"),
        &["--config", file.to_str().unwrap(), "--log-json"],
    );
    d.ok(&["volume", "create", "v", "--size", "16M"]);
    d.ok(&["target", "create", IQN]);
    d.ok(&["target", "lun", "add", IQN, "v", "--lun", "0"]);
    (tmp, d)
}

/// Waits (up to 60 s) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric(d: &Daemon, name: &str) -> f64 {
    d.metrics().get(name).copied().unwrap_or(0.0)
}

fn over_limit(d: &Daemon, limit: &str) -> f64 {
    metric(
        d,
        &format!("vsa_iscsi_logins_over_limit_total{{limit=\"{limit}\"}}"),
    )
}

fn logging_in(d: &Daemon) -> f64 {
    metric(d, "vsa_iscsi_login_connections")
}

fn stderr_log(tmp: &tempfile::TempDir) -> String {
    std::fs::read_to_string(tmp.path().join("logs/stderr.log")).unwrap_or_default()
}

/// The fields of the WARN lines of the daemon's log whose message starts with `message`.
fn warnings(tmp: &tempfile::TempDir, message: &str) -> Vec<Value> {
    stderr_log(tmp)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "WARN")
        .map(|v| v["fields"].clone())
        .filter(|f| {
            f["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message))
        })
        .collect()
}

/// Writes one block of `fill` at `lba` and reads it back.
fn write_and_read(s: &mut Initiator, lba: u32, fill: u8) {
    let cap = s
        .command(0, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[], 8)
        .unwrap();
    assert_eq!(cap.status, 0, "{cap:?}");
    let block = u32::from_be_bytes([cap.data[4], cap.data[5], cap.data[6], cap.data[7]]);
    let data = vec![fill; block as usize];
    let mut cdb = [0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    cdb[2..6].copy_from_slice(&lba.to_be_bytes());
    let w = s.command(0, &cdb, &data, 0).unwrap();
    assert_eq!(w.status, 0, "{w:?}");
    cdb[0] = 0x28;
    let r = s.command(0, &cdb, &[], block).unwrap();
    assert_eq!((r.status, r.data == data), (0, true));
}

fn session(addr: &str, initiator: &str, isid: u64) -> Initiator {
    let mut s = Initiator::login(addr, IQN, initiator, isid).unwrap();
    s.clear_unit_attentions(0).unwrap();
    s
}

/// A login to `target` from the security stage to full feature phase without
/// authentication; returns the status of the answer to its first request (a refused
/// login's connection must then be closed by the target).
fn try_login(addr: &str, initiator: &str, isid: u64, target: &str) -> (u8, u8) {
    let mut c = LoginConn::connect(addr, isid).unwrap();
    let keys = [
        ("InitiatorName", initiator),
        ("TargetName", target),
        ("SessionType", "Normal"),
        ("AuthMethod", "None"),
    ];
    let r = c.request(SECURITY, true, false, &text_keys(&keys)).unwrap();
    if r.status != (0, 0) {
        assert!(c.closed(), "the target closes a refused login");
    }
    r.status
}

/// Fills both login places with connections that send nothing, and checks that one more
/// login is turned away with 03/02. Its request names a target that does not exist, so
/// that a login let in (because the idle connections ran out of time, 15 s, first on a
/// very slow machine) is told apart (02/03) and the whole is tried again.
fn one_login_too_many(d: &Daemon, addr: &str) {
    for _ in 0..5 {
        wait_until("no logins under way", || logging_in(d) == 0.0);
        let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        wait_until("two connections logging in", || logging_in(d) == 2.0);
        let status = try_login(addr, INI_C, 2, NO_SUCH_TARGET);
        drop(idle);
        if status == (3, 2) {
            return;
        }
        assert_eq!(
            status,
            (2, 3),
            "a login let in asks for a target that is not there"
        );
    }
    panic!("the idle connections ran out of time five times over");
}

#[test]
fn logins_beyond_the_limits_get_03_02_while_admitted_sessions_do_io() {
    let (tmp, d) = daemon(
        "[iscsi]\nmax_sessions = 3\nmax_sessions_per_initiator = 2\nmax_login_connections = 2\n",
    );
    let addr = d.iscsi_addr();
    let mut a1 = session(&addr, INI_A, 1);
    write_and_read(&mut a1, 1, 0xA1);
    let _a2 = session(&addr, INI_A, 2);
    // A third session of initiator A: over max_sessions_per_initiator.
    assert_eq!(try_login(&addr, INI_A, 3, IQN), (3, 2));
    let b1 = session(&addr, INI_B, 1);
    // A fourth session in all: over max_sessions.
    assert_eq!(try_login(&addr, INI_C, 1, IQN), (3, 2));
    // A third connection logging in while two are: over max_login_connections.
    one_login_too_many(&d, &addr);
    // Each refusal is counted, and logged at WARN naming the setting.
    let keys = [
        "max_sessions_per_initiator",
        "max_sessions",
        "max_login_connections",
    ];
    for key in keys {
        assert_eq!(over_limit(&d, key), 1.0, "{key}");
    }
    wait_until("the warnings in the log", || {
        let logged = warnings(&tmp, "iSCSI login refused (03/02");
        keys.iter()
            .all(|k| logged.iter().filter(|f| f["setting"] == *k).count() == 1)
    });
    let logged = warnings(&tmp, "iSCSI login refused (03/02");
    assert_eq!(logged.len(), 3, "{logged:?}");
    let per_initiator = logged
        .iter()
        .find(|f| f["setting"] == "max_sessions_per_initiator")
        .unwrap();
    assert_eq!(per_initiator["initiator"], format!("{INI_A:?}"));
    // The admitted session still does I/O.
    write_and_read(&mut a1, 2, 0xA2);
    // With a session free again, initiator C gets in.
    drop(b1);
    wait_until("B's session to end", || {
        let v = d.json(&["target", "sessions", IQN]);
        v.as_array().map(Vec::len) == Some(2)
    });
    wait_until("no logins under way", || logging_in(&d) == 0.0);
    let mut c1 = session(&addr, INI_C, 1);
    write_and_read(&mut c1, 3, 0xC1);
    write_and_read(&mut a1, 4, 0xA4);
}

/// A wrong CHAP response (all zeros).
const WRONG_RESPONSE: &str = "0x00000000000000000000000000000000";

/// Starts a CHAP login as `initiator` and answers the challenge wrongly; returns the
/// status and how long the answer took (from before the response was sent).
fn wrong_chap(addr: &str, initiator: &str) -> ((u8, u8), Duration) {
    let mut c = LoginConn::connect(addr, 1).unwrap();
    let first = [
        ("InitiatorName", initiator),
        ("TargetName", IQN),
        ("SessionType", "Normal"),
        ("AuthMethod", "CHAP"),
    ];
    let r = c
        .request(SECURITY, true, false, &text_keys(&first))
        .unwrap();
    assert_eq!(r.status, (0, 0));
    assert!(parse_keys(&r.data).contains(&("AuthMethod".into(), "CHAP".into())));
    let r = c
        .request(SECURITY, true, false, &text_keys(&[("CHAP_A", "5")]))
        .unwrap();
    assert_eq!(r.status, (0, 0));
    let answer = text_keys(&[("CHAP_N", "web"), ("CHAP_R", WRONG_RESPONSE)]);
    let start = Instant::now();
    let r = c.request(SECURITY, true, false, &answer).unwrap();
    let took = start.elapsed();
    assert!(c.closed());
    (r.status, took)
}

/// The wait after `failures` failures with the documented defaults: 100 ms, doubling,
/// at most 5 s.
fn default_delay_ms(failures: u32) -> u64 {
    (100u64 << (failures - 1).min(16)).min(5000)
}

#[test]
fn wrong_chap_secrets_wait_longer_each_time_and_the_right_one_still_works() {
    let (tmp, d) = daemon("");
    let secret = "twelve-chars";
    d.ok(&[
        "target", "chap", "set", IQN, "--user", "web", "--secret", secret,
    ]);
    let addr = d.iscsi_addr();
    let failed = "iSCSI CHAP authentication failed";
    for n in 1..=5u32 {
        let (status, took) = wrong_chap(&addr, INI_A);
        assert_eq!(status, (2, 1), "failure {n}");
        // Each failure is logged with the failures so far and the wait it got. They are
        // forgotten only after 60 s without one: the attempts here come back to back.
        wait_until("the CHAP warning", || {
            warnings(&tmp, failed).len() == n as usize
        });
        let w = warnings(&tmp, failed).pop().unwrap();
        assert_eq!(w["initiator"], format!("{INI_A:?}"), "{w}");
        assert_eq!(w["address"], "127.0.0.1", "{w}");
        assert_eq!(w["failures"], n, "{w}");
        assert_eq!(w["delay_ms"], default_delay_ms(n), "{w}");
        // The answer came after that wait (a bound from below only).
        let least = Duration::from_millis(default_delay_ms(n));
        assert!(took >= least, "failure {n} was answered after {took:?}");
    }
    assert_eq!(metric(&d, "vsa_iscsi_chap_failures_total"), 5.0);
    // The right secret logs in (after its wait) with the same initiator name.
    let url = format!("iscsi://web%{secret}@{addr}/{IQN}/0");
    let out = Command::new("iscsi-inq")
        .args(["-i", INI_A, &url])
        .output()
        .expect("iscsi-inq (Debian libiscsi-bin) is installed");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(metric(&d, "vsa_iscsi_chap_failures_total"), 5.0);
    let log = stderr_log(&tmp);
    assert!(!log.contains(secret), "the secret is never logged");
    assert!(!log.contains(WRONG_RESPONSE), "nor the responses");
}

/// Cuts `text` into pieces of at most `max` bytes after whole `key=value` pairs.
fn pieces(text: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let cut = rest[..max].iter().rposition(|&b| b == 0).unwrap() + 1;
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

#[test]
fn a_login_with_1000_unknown_keys_gets_its_answer_in_pieces_and_completes() {
    let (_tmp, d) = daemon("");
    let addr = d.iscsi_addr();
    let names: Vec<String> = (0..1000)
        .map(|i| format!("X-invalid.test.k{i:04}"))
        .collect();
    let mut keys = vec![
        ("InitiatorName", INI_A),
        ("TargetName", IQN),
        ("SessionType", "Normal"),
    ];
    keys.extend(names.iter().map(|n| (n.as_str(), "1")));
    let text = text_keys(&keys);
    assert!(text.len() > 2 * 8192);
    let mut c = LoginConn::connect(&addr, 1).unwrap();
    // The request itself is too long for one PDU: it goes with the C bit too.
    let parts = pieces(&text, 8192);
    let (last, leading) = parts.split_last().unwrap();
    for p in leading {
        let r = c.request(OPERATIONAL, false, true, p).unwrap();
        assert_eq!((r.status, r.cont, r.data.len()), ((0, 0), false, 0));
    }
    let mut r = c.request(OPERATIONAL, true, false, last).unwrap();
    let mut answer = Vec::new();
    let mut sizes = Vec::new();
    loop {
        assert_eq!(r.status, (0, 0));
        assert!(r.data.len() <= 8192, "a piece of {} bytes", r.data.len());
        sizes.push(r.data.len());
        answer.extend_from_slice(&r.data);
        if !r.cont {
            break;
        }
        assert!(!r.transit, "a piece with the C bit has no T bit");
        // An empty Login Request asks for the next piece.
        r = c.request(OPERATIONAL, true, false, &[]).unwrap();
    }
    assert!(sizes.len() >= 3, "pieces: {sizes:?}");
    assert_eq!((r.transit, r.nsg), (true, 3));
    assert_ne!(r.tsih, 0);
    let answered = parse_keys(&answer);
    let unknown = answered
        .iter()
        .filter(|(k, v)| k.starts_with("X-invalid.test.") && v == "NotUnderstood")
        .count();
    assert_eq!(unknown, 1000);
    // The session works.
    let mut s = c.into_initiator();
    s.clear_unit_attentions(0).unwrap();
    write_and_read(&mut s, 0, 0x5A);
}

#[test]
fn a_limit_out_of_range_stops_the_daemon_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("vsa.toml");
    std::fs::write(&file, "[iscsi]\nmax_sessions = 0\n").unwrap();
    let data = tmp.path().join("data");
    let (status, stderr) = serve_refused(&data, &["--config", file.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("iscsi.max_sessions"), "{stderr}");
}
