//! Hostile or broken initiators, on the wire: a login that is not over in time is
//! closed; long login answers come in pieces with the C bit; oversized login requests are
//! answered, not dropped.
//!
//! No test depends on timing: conditions are waited on with generous limits, never with
//! fixed sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::client::Client;
use vsa_iscsi::pdu::*;
use vsa_iscsi::text;
use vsa_iscsi::ServerConfig;

const IQN: &str = "iqn.2024-01.vsa:hard";
const INI_A: &str = "iqn.2024-01.test:a";

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

#[tokio::test]
async fn a_login_not_over_in_time_is_closed() {
    let config = ServerConfig {
        login_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (addr, _h, _stop, _j) = support::start(vec![support::ram_target(IQN, 1)], config).await;
    // A connection that never sends anything.
    let mut idle = Client::connect(addr).await;
    assert!(closed(&mut idle).await);
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
    // A prompt login is not affected.
    let (mut ok, st) = login(addr, 1, INI_A).await;
    assert_eq!(st, (0, 0));
    write_and_read(&mut ok, 0, 0x3C).await;
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
