//! Hostile or broken initiators, on the wire: logins beyond the session and login-phase
//! limits get 03/02 while admitted sessions keep working; a login that is not over in
//! time is closed; wrong CHAP answers wait longer each time; long login answers come in
//! pieces with the C bit; oversized login requests are answered, not dropped.
//!
//! No test depends on timing: conditions are waited on with generous limits, never with
//! fixed sleeps, and times are only checked from below where the bound is certain (a
//! loaded machine makes everything slower, never faster).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::client::Client;
use vsa_iscsi::admission::Limit;
use vsa_iscsi::chap::{encode_hex, ChapAlgorithm, ChapCredentials};
use vsa_iscsi::pdu::*;
use vsa_iscsi::server::ServerHandle;
use vsa_iscsi::text;
use vsa_iscsi::ServerConfig;

const IQN: &str = "iqn.2024-01.vsa:hard";
const INI_A: &str = "iqn.2024-01.test:a";
const INI_B: &str = "iqn.2024-01.test:b";
const INI_C: &str = "iqn.2024-01.test:c";

/// Long enough that no login or idle connection of a test ever runs out of time.
const NEVER: Duration = Duration::from_secs(3600);

/// Waits (up to 60 s) until `cond` holds.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether the target closes the connection (after any PDUs it still sends) within 60 s.
async fn closed(c: &mut Client) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), c.rd.read()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

/// Writes one 512-byte block at `lba` and reads it back.
async fn write_and_read(c: &mut Client, lba: u8, fill: u8) {
    let block = vec![fill; 512];
    let mut cdb = vec![0x2A, 0, 0, 0, 0, lba, 0, 0, 1, 0];
    let itt = c.command(&cdb, false, true, 512, &block).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::ScsiResponse(ref r) if r.itt == itt && r.status == 0),
        "{p:?}"
    );
    cdb[0] = 0x28;
    let itt = c.command(&cdb, true, false, 512, &[]).await;
    let mut got = Vec::new();
    loop {
        match c.recv().await.unwrap() {
            (Pdu::DataIn(din), d) if din.itt == itt => {
                got.extend_from_slice(&d);
                if let Some(status) = din.status {
                    assert_eq!(status, 0);
                    break;
                }
            }
            (Pdu::ScsiResponse(r), _) if r.itt == itt => {
                assert_eq!(r.status, 0);
                break;
            }
            (p, _) => panic!("{p:?}"),
        }
    }
    assert_eq!(got, block);
}

/// A login of `initiator` with `isid` to [`IQN`]; the connection and the status.
async fn login(addr: SocketAddr, isid: u64, initiator: &str) -> (Client, (u8, u8)) {
    let mut c = Client::connect(addr).await;
    let r = c.login(isid, initiator, IQN, &[]).await;
    (c, (r.status_class, r.status_detail))
}

/// A discovery login of `initiator`; the connection and the status.
async fn discovery_login(addr: SocketAddr, initiator: &str) -> (Client, (u8, u8)) {
    let mut c = Client::connect(addr).await;
    let keys = [("InitiatorName", initiator), ("SessionType", "Discovery")];
    let (r, _) = c
        .login_step(1, Stage::Operational, Stage::FullFeature, &keys)
        .await;
    (c, (r.status_class, r.status_detail))
}

#[tokio::test]
async fn logins_beyond_the_session_limits_get_03_02_and_sessions_keep_working() {
    let config = ServerConfig {
        max_sessions: 3,
        max_sessions_per_initiator: 2,
        ..Default::default()
    };
    let (addr, handle, _stop, _j) = support::start(vec![support::ram_target(IQN, 1)], config).await;
    let (_a1, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    let (mut a2, st) = login(addr, 2, INI_A).await;
    assert_eq!(st, (0, 0));
    // A third session of the same initiator (names compare without case).
    let (mut a3, st) = login(addr, 3, &INI_A.to_uppercase()).await;
    assert_eq!(st, (3, 2));
    assert!(closed(&mut a3).await);
    // Reinstating one of its sessions (same ISID, same target) is not a new session.
    let (mut a1, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    let (mut b1, st) = login(addr, 1, INI_B).await;
    assert_eq!(st, (0, 0));
    // Three sessions: a fourth, normal or discovery, is one too many.
    let (mut c1, st) = login(addr, 1, INI_C).await;
    assert_eq!(st, (3, 2));
    assert!(closed(&mut c1).await);
    let (mut d1, st) = discovery_login(addr, INI_C).await;
    assert_eq!(st, (3, 2));
    assert!(closed(&mut d1).await);
    let m = handle.metrics();
    assert_eq!(m.over_limit(Limit::SessionsPerInitiator), 1);
    assert_eq!(m.over_limit(Limit::Sessions), 2);
    assert_eq!(m.over_limit(Limit::LoginConnections), 0);
    assert_eq!(m.login_failures, 0);
    // The admitted sessions still do I/O.
    write_and_read(&mut a1, 1, 0xA1).await;
    write_and_read(&mut a2, 2, 0xA2).await;
    write_and_read(&mut b1, 3, 0xB1).await;
    // When a session ends there is room again.
    drop(b1);
    wait_until("the session to end", || handle.sessions().len() == 2).await;
    let (mut c1, st) = login(addr, 1, INI_C).await;
    assert_eq!(st, (0, 0));
    write_and_read(&mut c1, 4, 0xC1).await;
}

fn logging_in(h: &ServerHandle) -> u64 {
    h.metrics().login_connections
}

#[tokio::test]
async fn connections_beyond_the_login_phase_limit_are_turned_away() {
    let config = ServerConfig {
        max_login_connections: 2,
        login_timeout: NEVER,
        ..Default::default()
    };
    let (addr, handle, _stop, _j) = support::start(vec![support::ram_target(IQN, 1)], config).await;
    let (mut admitted, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    wait_until("the login to end", || logging_in(&handle) == 0).await;
    // Two connections that never send anything hold both login places.
    let idle1 = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _idle2 = tokio::net::TcpStream::connect(addr).await.unwrap();
    wait_until("two connections logging in", || logging_in(&handle) == 2).await;
    let (mut late, st) = login(addr, 2, INI_B).await;
    assert_eq!(st, (3, 2));
    assert!(closed(&mut late).await);
    assert_eq!(handle.metrics().over_limit(Limit::LoginConnections), 1);
    // The session logged in before is not disturbed.
    write_and_read(&mut admitted, 1, 0x11).await;
    // A place comes free when an idle connection goes.
    drop(idle1);
    wait_until("a login place", || logging_in(&handle) == 1).await;
    let (mut b, st) = login(addr, 2, INI_B).await;
    assert_eq!(st, (0, 0));
    write_and_read(&mut b, 2, 0x22).await;
    assert_eq!(handle.metrics().over_limit(Limit::LoginConnections), 1);
}

#[tokio::test]
async fn a_login_not_over_in_time_is_closed_and_gives_its_place_back() {
    let config = ServerConfig {
        max_login_connections: 1,
        login_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (addr, handle, _stop, _j) = support::start(vec![support::ram_target(IQN, 1)], config).await;
    // A connection that never sends anything.
    let mut idle = Client::connect(addr).await;
    assert!(closed(&mut idle).await);
    wait_until("the idle connection's place", || logging_in(&handle) == 0).await;
    // A login that keeps answering at once but never moves on: each request is prompt,
    // the login as a whole is not.
    let mut c = Client::connect(addr).await;
    let first = text::encode(&[("InitiatorName", INI_A), ("TargetName", IQN)]);
    let stay = c.login_req(1, Stage::Operational, Stage::Operational, false);
    let mut data = first;
    let ended = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some((r, _)) = c.login_raw(stay.clone(), &data).await {
            assert_eq!((r.status_class, r.transit), (0, false));
            data.clear();
        }
    })
    .await;
    assert!(ended.is_ok(), "the target kept a dragging login open");
    wait_until("the dragging login's place", || logging_in(&handle) == 0).await;
    // The place is free for a prompt login.
    let (mut ok, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    write_and_read(&mut ok, 0, 0x3C).await;
    assert_eq!(handle.metrics().over_limit(Limit::LoginConnections), 0);
}

fn chap_target() -> Arc<vsa_iscsi::TargetEntry> {
    let mut t = support::ram_target(IQN, 1);
    Arc::get_mut(&mut t).unwrap().chap = Some(ChapCredentials {
        user: "user".into(),
        secret: "secretsecret".into(),
    });
    t
}

/// Starts a CHAP login and answers the challenge with `secret`; returns the status of
/// that answer and how long it took to come (from before the answer was sent).
async fn chap_attempt(addr: SocketAddr, initiator: &str, secret: &str) -> ((u8, u8), Duration) {
    let mut c = Client::connect(addr).await;
    let first = [
        ("InitiatorName", initiator),
        ("TargetName", IQN),
        ("AuthMethod", "CHAP"),
    ];
    let sec = (Stage::Security, Stage::Operational);
    let (r, _) = c.login_step(1, sec.0, sec.1, &first).await;
    assert_eq!(r.status_class, 0);
    let (r, keys) = c.login_step(1, sec.0, sec.1, &[("CHAP_A", "5")]).await;
    assert_eq!(r.status_class, 0);
    let get = |k: &str| keys.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let id = get("CHAP_I").parse::<u8>().unwrap();
    let challenge = vsa_iscsi::chap::decode_binary(&get("CHAP_C")).unwrap();
    let answer = encode_hex(&ChapAlgorithm::Md5.response(id, secret.as_bytes(), &challenge));
    let start = Instant::now();
    let (r, _) = c
        .login_step(1, sec.0, sec.1, &[("CHAP_N", "user"), ("CHAP_R", &answer)])
        .await;
    let took = start.elapsed();
    if r.status_class == 0 {
        let ops = [("ImmediateData", "Yes")];
        let (r, _) = c
            .login_step(1, Stage::Operational, Stage::FullFeature, &ops)
            .await;
        assert_eq!(
            (r.status_class, r.transit, r.nsg),
            (0, true, Stage::FullFeature)
        );
        assert_ne!(r.tsih, 0);
    } else {
        assert!(closed(&mut c).await);
    }
    ((r.status_class, r.status_detail), took)
}

#[tokio::test]
async fn wrong_chap_answers_wait_longer_each_time_and_a_right_one_still_logs_in() {
    let mut config = ServerConfig::default();
    // Failures are never forgotten during the test, however slow the machine: each
    // wait below is then certain, and is checked from below only.
    config.chap_throttle.forget_after = NEVER;
    config.login_timeout = NEVER;
    let throttle = config.chap_throttle.clone();
    assert_eq!(throttle.first_delay, Duration::from_millis(100));
    let (addr, handle, _stop, _j) = support::start(vec![chap_target()], config).await;
    for n in 1..=4u32 {
        let (st, took) = chap_attempt(addr, INI_A, "wrong-secret").await;
        assert_eq!(st, (2, 1));
        assert!(
            took >= throttle.delay(n),
            "failure {n} answered after {took:?}"
        );
        assert_eq!(handle.metrics().chap_failures, u64::from(n));
    }
    // Another initiator at the same address has its own count (nothing is checked of
    // how long it waits: only that it logs in).
    let (st, _) = chap_attempt(addr, INI_B, "secretsecret").await;
    assert_eq!(st, (0, 0));
    // A's right answer waits as long as its last failure did, then logs in...
    let (st, took) = chap_attempt(addr, INI_A, "secretsecret").await;
    assert_eq!(st, (0, 0));
    assert!(took >= throttle.delay(4), "answered after {took:?}");
    // ...and clears A's failures: the next wrong answer counts as a first one (it is
    // answered; only a lower bound could be checked, and the first one's is the least).
    let (st, took) = chap_attempt(addr, INI_A, "wrong-secret").await;
    assert_eq!(st, (2, 1));
    assert!(took >= throttle.delay(1));
    let m = handle.metrics();
    assert_eq!((m.chap_failures, m.login_failures), (5, 5));
}

/// `n` keys the target does not know, as `(key, value)` pairs.
fn unknown_keys(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("X-test.vsa.unknown{i:04}"), "1".to_string()))
        .collect()
}

/// Sends `text` in Login Requests of at most 8192 bytes with the C bit, then fetches a
/// long answer piece by piece (each at most `max_piece` bytes); returns the last response
/// and the whole answer.
async fn long_login(c: &mut Client, text: &[u8], max_piece: usize) -> (LoginResponse, Vec<u8>) {
    let req = c.login_req(1, Stage::Operational, Stage::FullFeature, true);
    let mut rest = text;
    while rest.len() > 8192 {
        let cut = text::split_point(rest, 8192);
        let more = LoginRequest {
            transit: false,
            continue_bit: true,
            ..req.clone()
        };
        let (r, d) = c.login_raw(more, &rest[..cut]).await.unwrap();
        assert_eq!(
            (r.status_class, r.transit, r.continue_bit),
            (0, false, false)
        );
        assert!(d.is_empty());
        rest = &rest[cut..];
    }
    let (mut r, mut d) = c.login_raw(req.clone(), rest).await.unwrap();
    let mut all = Vec::new();
    let mut pieces = 0;
    loop {
        assert_eq!(r.status_class, 0);
        assert!(d.len() <= max_piece, "a piece of {} bytes", d.len());
        all.extend_from_slice(&d);
        pieces += 1;
        if !r.continue_bit {
            break;
        }
        assert!(!r.transit, "a piece with the C bit never has the T bit");
        (r, d) = c.login_raw(req.clone(), &[]).await.unwrap();
    }
    assert!(pieces > 1, "the answer came in one piece");
    (r, all)
}

#[tokio::test]
async fn a_long_login_answer_comes_in_pieces_with_the_c_bit() {
    let (addr, _h, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    for (declared, max_piece) in [(None, 8192), (Some("65536"), 8192), (Some("1024"), 1024)] {
        let mut keys = vec![
            ("InitiatorName".to_string(), INI_A.to_string()),
            ("TargetName".to_string(), IQN.to_string()),
        ];
        if let Some(d) = declared {
            keys.push(("MaxRecvDataSegmentLength".into(), d.into()));
        }
        keys.extend(unknown_keys(1000));
        let mut c = Client::connect(addr).await;
        let (last, answer) = long_login(&mut c, &text::encode(&keys), max_piece).await;
        assert_eq!((last.transit, last.nsg), (true, Stage::FullFeature));
        assert_ne!(last.tsih, 0);
        let answer = text::parse(&answer).unwrap();
        let unknown = answer
            .iter()
            .filter(|(k, v)| k.starts_with("X-test.") && v == "NotUnderstood")
            .count();
        assert_eq!(unknown, 1000, "{declared:?}");
        // The session works.
        c.rd.framing.max_recv_data = 1 << 20;
        let itt = c.command(&[0; 6], false, false, 0, &[]).await;
        let (p, _) = c.recv().await.unwrap();
        assert!(
            matches!(p, Pdu::ScsiResponse(ref r) if r.itt == itt),
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn oversized_and_malformed_login_requests_get_02_00() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let keys = text::encode(&[("InitiatorName", INI_A), ("TargetName", IQN)]);
    // A data segment longer than the 8192 bytes a login may carry.
    let mut c = Client::connect(addr).await;
    let mut big = keys.clone();
    big.resize(9000, 0);
    let req = c.login_req(1, Stage::Operational, Stage::FullFeature, true);
    let (r, _) = c.login_raw(req, &big).await.unwrap();
    assert_eq!((r.status_class, r.status_detail), (2, 0));
    assert!(closed(&mut c).await);
    // C and T together.
    let mut c = Client::connect(addr).await;
    let mut req = c.login_req(1, Stage::Operational, Stage::FullFeature, true);
    req.continue_bit = true;
    let (r, _) = c.login_raw(req, &keys).await.unwrap();
    assert_eq!((r.status_class, r.status_detail), (2, 0));
    assert!(closed(&mut c).await);
    // Text sent while the target is still handing out a long answer.
    let mut c = Client::connect(addr).await;
    let mut long = vec![
        ("InitiatorName".to_string(), INI_A.to_string()),
        ("TargetName".to_string(), IQN.to_string()),
    ];
    long.extend(unknown_keys(300));
    let req = c.login_req(1, Stage::Operational, Stage::FullFeature, true);
    let (r, _) = c
        .login_raw(req.clone(), &text::encode(&long))
        .await
        .unwrap();
    assert!(r.continue_bit);
    let (r, _) = c.login_raw(req, b"Extra=1\0").await.unwrap();
    assert_eq!((r.status_class, r.status_detail), (2, 0));
    assert!(closed(&mut c).await);
    assert_eq!(handle.metrics().login_failures, 3);
    // None of it stops a proper login.
    let (mut ok, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    write_and_read(&mut ok, 0, 0x5A).await;
}
