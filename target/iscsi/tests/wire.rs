//! Wire-level behaviour checked with a raw initiator: login status codes, digests, R2T,
//! rejects, garbage on the socket, NOP pings, task management, logout, session control.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::client::Client;
use tokio::io::AsyncReadExt;
use vsa_iscsi::pdu::*;
use vsa_iscsi::{ServerConfig, TargetEntry};

const IQN: &str = "iqn.2024-01.vsa:wire";
const INI: &str = "iqn.2024-01.test:ini";

fn write10(lba: u32, blocks: u16) -> Vec<u8> {
    let mut c = vec![0x2A, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn read10(lba: u32, blocks: u16) -> Vec<u8> {
    let mut c = write10(lba, blocks);
    c[0] = 0x28;
    c
}

async fn closed(c: &mut Client) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), c.rd.read()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn login_failures_carry_rfc_status_codes() {
    let mut acl = support::ram_target("iqn.2024-01.vsa:acl", 1);
    Arc::get_mut(&mut acl).unwrap().acl = vec!["iqn.only-me".into()];
    let (addr, _h, _stop, _j) = support::start(
        vec![support::ram_target(IQN, 1), acl],
        ServerConfig::default(),
    )
    .await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, (u8, u8));
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("InitiatorName", INI), ("TargetName", "iqn.nope")],
            (2, 3),
        ),
        (
            vec![
                ("InitiatorName", INI),
                ("TargetName", "iqn.2024-01.vsa:acl"),
            ],
            (2, 2),
        ),
        (vec![("TargetName", IQN)], (2, 7)),
        (vec![("InitiatorName", INI)], (2, 7)),
        (
            vec![
                ("InitiatorName", INI),
                ("TargetName", IQN),
                ("SessionType", "Weird"),
            ],
            (2, 9),
        ),
    ];
    for (keys, want) in cases {
        let mut c = Client::connect(addr).await;
        let (r, _) = c
            .login_step(1, Stage::Security, Stage::Operational, &keys)
            .await;
        assert_eq!((r.status_class, r.status_detail), want, "{keys:?}");
        assert!(closed(&mut c).await);
    }
    let mut c = Client::connect(addr).await;
    let req = LoginRequest {
        transit: true,
        csg: Stage::Operational,
        nsg: Stage::FullFeature,
        version_min: 3,
        version_max: 3,
        ..Default::default()
    };
    c.send(
        &Pdu::LoginRequest(req),
        &vsa_iscsi::text::encode(&[("InitiatorName", INI), ("TargetName", IQN)]),
    )
    .await;
    let Some((Pdu::LoginResponse(r), _)) = c.recv().await else {
        panic!()
    };
    assert_eq!((r.status_class, r.status_detail), (2, 5));
    // Adding a connection to a session that does not exist.
    let mut c = Client::connect(addr).await;
    let req = LoginRequest {
        transit: true,
        csg: Stage::Operational,
        nsg: Stage::FullFeature,
        tsih: 77,
        ..Default::default()
    };
    let keys = vsa_iscsi::text::encode(&[("InitiatorName", INI), ("TargetName", IQN)]);
    c.send(&Pdu::LoginRequest(req), &keys).await;
    let Some((Pdu::LoginResponse(r), _)) = c.recv().await else {
        panic!()
    };
    assert_eq!((r.status_class, r.status_detail), (2, 0x0A));
}

#[tokio::test]
async fn digests_immediate_data_r2t_and_read_back() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 4)], ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    let ops = [
        ("HeaderDigest", "CRC32C"),
        ("DataDigest", "CRC32C"),
        ("InitialR2T", "Yes"),
        ("ImmediateData", "Yes"),
        ("FirstBurstLength", "4096"),
        ("MaxBurstLength", "8192"),
        ("MaxRecvDataSegmentLength", "4096"),
    ];
    let r = c.login(0x0023_0000_0001, INI, IQN, &ops).await;
    assert_eq!(r.status_class, 0);
    assert!(c.out.header_digest && c.out.data_digest);
    let s = handle.sessions();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].initiator.as_str(), s[0].target.as_str(), s[0].isid),
        (INI, IQN, 0x0023_0000_0001)
    );
    assert!(s[0].params.contains(&("DataDigest", "CRC32C".into())));

    // 40 blocks = 20480 bytes: 4096 immediate, the rest by R2T bursts of 8192.
    let data: Vec<u8> = (0..20480u32).map(|i| (i % 251) as u8).collect();
    let itt = c
        .command(&write10(8, 40), false, true, 20480, &data[..4096])
        .await;
    let mut off = 4096usize;
    loop {
        let (p, _) = c.recv().await.unwrap();
        match p {
            Pdu::R2t(r) => {
                assert_eq!(r.itt, itt);
                assert_eq!(r.buffer_offset as usize, off);
                let end = off + r.desired_len as usize;
                let mut sn = 0;
                while off < end {
                    let n = (end - off).min(4096);
                    let d = DataOut {
                        final_bit: off + n == end,
                        itt,
                        ttt: r.ttt,
                        data_sn: sn,
                        buffer_offset: off as u32,
                        ..Default::default()
                    };
                    c.send(&Pdu::DataOut(d), &data[off..off + n]).await;
                    off += n;
                    sn += 1;
                }
            }
            Pdu::ScsiResponse(r) => {
                assert_eq!((r.itt, r.status, r.residual), (itt, 0, 0));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(off, 20480);
    let itt = c.command(&read10(8, 40), true, false, 20480, &[]).await;
    let mut got = Vec::new();
    loop {
        let (p, d) = c.recv().await.unwrap();
        let Pdu::DataIn(din) = p else { panic!("{p:?}") };
        assert_eq!(din.itt, itt);
        assert_eq!(din.buffer_offset as usize, got.len());
        assert!(d.len() <= 4096);
        got.extend_from_slice(&d);
        if let Some(st) = din.status {
            assert_eq!(st, 0);
            break;
        }
    }
    assert_eq!(got, data);
    // The RAM disk's read ran on the connection's thread; the write went to the pool.
    assert_eq!(handle.metrics().inline_commands, 1);

    // A ping echoes its data.
    let itt = c.next_itt();
    let nop = NopOut {
        itt,
        ttt: NO_TAG,
        cmd_sn: c.cmd_sn,
        immediate: true,
        ..Default::default()
    };
    c.send(&Pdu::NopOut(nop), b"ping!").await;
    let (p, d) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::NopIn(n) if n.itt == itt));
    assert_eq!(&d[..], b"ping!");

    // Logout closes the session.
    let itt = c.next_itt();
    let lo = LogoutRequest {
        immediate: true,
        reason: LogoutReason::CloseSession,
        itt,
        cid: 0,
        cmd_sn: c.cmd_sn,
        exp_stat_sn: 0,
    };
    c.send(&Pdu::LogoutRequest(lo), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::LogoutResponse(r) if r.response == 0 && r.itt == itt));
    assert!(closed(&mut c).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(handle.sessions().is_empty());
}

#[tokio::test]
async fn rejects_unknown_opcodes_and_snack_and_drops_oversized_pdus() {
    let (addr, _h, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.login(1, INI, IQN, &[]).await.status_class, 0);
    let mut bhs = [0u8; 48];
    bhs[0] = 0x1C;
    bhs[16..20].copy_from_slice(&7u32.to_be_bytes());
    c.send_raw(&bhs).await.unwrap();
    let (p, d) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::Reject(r) if r.reason == RejectReason::CommandNotSupported as u8));
    assert_eq!(&d[..], &bhs[..]);
    c.send(&Pdu::Snack(Snack::default()), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::Reject(r) if r.reason == RejectReason::SnackReject as u8));
    // A target-only opcode from the initiator.
    c.send(&Pdu::R2t(R2t::default()), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::Reject(r) if r.reason == RejectReason::ProtocolError as u8));

    // A data segment beyond MaxRecvDataSegmentLength ends the connection...
    let mut other = Client::connect(addr).await;
    assert_eq!(other.login(2, INI, IQN, &[]).await.status_class, 0);
    let mut huge = [0u8; 48];
    huge[0] = 0x01;
    huge[5] = 0xFF;
    huge[6] = 0xFF;
    huge[7] = 0xFF;
    c.send_raw(&huge).await.unwrap();
    assert!(closed(&mut c).await);
    // ...and the other session keeps working.
    let itt = other
        .command(&[0, 0, 0, 0, 0, 0], false, false, 0, &[])
        .await;
    let (p, _) = other.recv().await.unwrap();
    assert!(matches!(p, Pdu::ScsiResponse(r) if r.itt == itt && r.status == 0));
}

#[tokio::test]
async fn garbage_on_the_socket_does_not_hurt_the_daemon() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut seed = 0x1234_5678u32;
    for round in 0..20 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let junk: Vec<u8> = (0..(round * 97 + 13))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        use tokio::io::AsyncWriteExt;
        let _ = s.write_all(&junk).await;
        let _ = s.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    }
    // A valid login still works, and a login-phase PDU that is not a login closes.
    let mut c = Client::connect(addr).await;
    assert_eq!(c.login(1, INI, IQN, &[]).await.status_class, 0);
    let mut d = Client::connect(addr).await;
    d.send(&Pdu::NopOut(NopOut::default()), &[]).await;
    assert!(closed(&mut d).await);
    assert!(handle.metrics().connections_accepted >= 22);
}

#[tokio::test]
async fn reinstatement_drop_target_and_task_management() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut a = Client::connect(addr).await;
    assert_eq!(a.login(0x42, INI, IQN, &[]).await.status_class, 0);
    // Same initiator + ISID: the old session is reinstated (closed).
    let mut b = Client::connect(addr).await;
    assert_eq!(b.login(0x42, INI, IQN, &[]).await.status_class, 0);
    assert!(closed(&mut a).await);
    assert_eq!(handle.sessions().len(), 1);

    let tmf = |c: &mut Client, f: TmfFunction, lun1: u8| {
        let itt = c.next_itt();
        TmfRequest {
            immediate: true,
            function: f,
            lun: [0, lun1, 0, 0, 0, 0, 0, 0],
            itt,
            ref_itt: 999,
            cmd_sn: c.cmd_sn,
            exp_stat_sn: 0,
            ref_cmd_sn: 0,
            exp_data_sn: 0,
        }
    };
    for (f, lun, want) in [
        (TmfFunction::AbortTask, 0, TmfResult::TaskDoesNotExist),
        (TmfFunction::ClearAca, 0, TmfResult::NotSupported),
        (TmfFunction::AbortTaskSet, 0, TmfResult::Complete),
        (TmfFunction::LogicalUnitReset, 5, TmfResult::LunDoesNotExist),
        (TmfFunction::LogicalUnitReset, 0, TmfResult::Complete),
        (TmfFunction::TargetWarmReset, 0, TmfResult::Complete),
    ] {
        let t = tmf(&mut b, f, lun);
        b.send(&Pdu::TmfRequest(t), &[]).await;
        let (p, _) = b.recv().await.unwrap();
        assert!(
            matches!(p, Pdu::TmfResponse(ref r) if r.response == want as u8),
            "{f:?}: {p:?}"
        );
    }

    // Deleting the target drops its sessions.
    // Deleting the target asks its initiators to log out.
    assert_eq!(handle.drop_target_sessions(IQN), 1);
    let (p, _) = b.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::AsyncMessage(ref m) if m.event == 1 && m.params[2] == 2),
        "{p:?}"
    );
    let itt = b.next_itt();
    let lo = LogoutRequest {
        immediate: true,
        reason: LogoutReason::CloseSession,
        itt,
        cid: 0,
        cmd_sn: b.cmd_sn,
        exp_stat_sn: 0,
    };
    b.send(&Pdu::LogoutRequest(lo), &[]).await;
    let (p, _) = b.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::LogoutResponse(ref r) if r.response == 0),
        "{p:?}"
    );
    assert!(closed(&mut b).await);

    // A cold reset answers, then ends every session of the target.
    let mut c = Client::connect(addr).await;
    assert_eq!(c.login(0x43, INI, IQN, &[]).await.status_class, 0);
    let t = tmf(&mut c, TmfFunction::TargetColdReset, 0);
    c.send(&Pdu::TmfRequest(t), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::TmfResponse(ref r) if r.response == 0));
    assert!(closed(&mut c).await);
}

#[tokio::test]
async fn idle_initiators_are_pinged_and_dead_ones_dropped() {
    let config = ServerConfig {
        nop_interval: Duration::from_millis(200),
        nop_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (addr, handle, _stop, _j) = support::start(vec![support::ram_target(IQN, 1)], config).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.login(1, INI, IQN, &[]).await.status_class, 0);
    // Answer the first ping, ignore the second.
    let (p, _) = c.recv().await.unwrap();
    let Pdu::NopIn(n) = p else { panic!("{p:?}") };
    assert_eq!(n.itt, NO_TAG);
    let reply = NopOut {
        immediate: true,
        itt: NO_TAG,
        ttt: n.ttt,
        lun: n.lun,
        cmd_sn: c.cmd_sn,
        exp_stat_sn: 0,
    };
    c.send(&Pdu::NopOut(reply), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::NopIn(_)));
    assert!(closed(&mut c).await);
    assert_eq!(handle.metrics().nop_timeouts, 1);
}

#[tokio::test]
async fn discovery_lists_admitted_targets_only() {
    let mut hidden = support::ram_target("iqn.2024-01.vsa:hidden", 1);
    Arc::get_mut(&mut hidden).unwrap().acl = vec!["iqn.someone-else".into()];
    let targets: Vec<Arc<TargetEntry>> = vec![support::ram_target(IQN, 1), hidden];
    let (addr, _h, _stop, _j) = support::start(targets, ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    let (r, _) = c
        .login_step(
            1,
            Stage::Operational,
            Stage::FullFeature,
            &[("InitiatorName", INI), ("SessionType", "Discovery")],
        )
        .await;
    assert_eq!(r.status_class, 0);
    let t = TextRequest {
        immediate: true,
        final_bit: true,
        itt: 9,
        ttt: NO_TAG,
        cmd_sn: c.cmd_sn,
        ..Default::default()
    };
    c.send(
        &Pdu::TextRequest(t),
        &vsa_iscsi::text::encode(&[("SendTargets", "All")]),
    )
    .await;
    let (p, d) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::TextResponse(ref r) if r.final_bit && r.itt == 9));
    let keys = vsa_iscsi::text::parse(&d).unwrap();
    assert_eq!(
        keys,
        vec![
            ("TargetName".into(), IQN.into()),
            ("TargetAddress".into(), format!("{addr},1"))
        ]
    );
    // SCSI commands are not allowed in a discovery session.
    c.command(&[0; 6], false, false, 0, &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(matches!(p, Pdu::Reject(_)));
}

fn slow_target(delay_ms: u64) -> Arc<TargetEntry> {
    let mut disk = support::ramdisk::RamDisk::new(1 << 20, "slow");
    disk.write_delay_ms = delay_ms;
    support::target_with(IQN, Arc::new(disk))
}

/// An initiator that logs out of one session and at once sends a command on another
/// must find the first nexus already gone (its RESERVE(6) released): the nexus is
/// released before the Logout Response, not after the connection winds down.
#[test]
fn logout_releases_the_nexus_before_answering() {
    // A slow release, so an answer sent before it would surely be seen first; the
    // server on a runtime of its own, so that release cannot hold up the client.
    let mut disk = support::ramdisk::RamDisk::new(1 << 20, "nexus");
    disk.lost_delay_ms = 30;
    let disk = Arc::new(disk);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let target = support::target_with(IQN, disk.clone());
    let (addr, _handle, stop, _j) =
        server_rt.block_on(support::start(vec![target], ServerConfig::default()));
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        for round in 0..5u64 {
            let isid = 0x100 + round;
            let mut c = Client::connect(addr).await;
            assert_eq!(c.login(isid, INI, IQN, &[]).await.status_class, 0);
            let itt = c.next_itt();
            let lo = LogoutRequest {
                immediate: true,
                reason: LogoutReason::CloseSession,
                itt,
                cid: 0,
                cmd_sn: c.cmd_sn,
                exp_stat_sn: 0,
            };
            c.send(&Pdu::LogoutRequest(lo), &[]).await;
            let (p, _) = c.recv().await.unwrap();
            assert!(matches!(p, Pdu::LogoutResponse(ref r) if r.response == 0));
            assert_eq!(disk.lost.lock().last(), Some(&isid), "round {round}");
            assert!(closed(&mut c).await);
        }
        // Released once per nexus, not again when the connection closes.
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    assert_eq!(disk.lost.lock().len(), 5);
    drop(stop);
    server_rt.shutdown_background();
}

/// A connection that drops takes its I_T nexus with it at once, not after its commands in
/// flight wind down: the initiator's next command on another session must not meet the
/// dropped session's RESERVE(6) (libiscsi's Sanitize.Reservations, then Sanitize.Reset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_releases_the_nexus_before_its_commands_end() {
    let mut disk = support::ramdisk::RamDisk::new(1 << 20, "drop");
    // Long enough that the write is surely still running when the nexus is checked.
    disk.write_delay_ms = 5000;
    let disk = Arc::new(disk);
    let (addr, handle, _stop, _j) = support::start(
        vec![support::target_with(IQN, disk.clone())],
        ServerConfig::default(),
    )
    .await;
    let mut c = Client::connect(addr).await;
    let keys = [("ImmediateData", "Yes")];
    assert_eq!(c.login(0x300, INI, IQN, &keys).await.status_class, 0);
    send_attr(&mut c, &write10(0, 1), 1, &[1; 512]).await;
    while handle.sessions().first().map(|s| s.commands_in_flight) != Some(1) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(c);
    let released = async {
        while disk.lost.lock().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(4), released)
        .await
        .expect("the nexus was not released while its write was still running");
    assert_eq!(disk.lost.lock().as_slice(), &[0x300]);
    assert_eq!(
        handle.sessions().first().map(|s| s.commands_in_flight),
        Some(1),
        "the write is still running"
    );
}

async fn send_attr(c: &mut Client, cdb: &[u8], attr: u8, data: &[u8]) -> u32 {
    let itt = c.next_itt();
    let cmd = ScsiCommand {
        final_bit: true,
        write: !data.is_empty(),
        attr,
        itt,
        expected_len: data.len() as u32,
        cmd_sn: c.cmd_sn,
        cdb: cdb.to_vec(),
        ..Default::default()
    };
    c.cmd_sn += 1;
    c.send(&Pdu::ScsiCommand(cmd), data).await;
    itt
}

async fn response_order(c: &mut Client, n: usize) -> Vec<u32> {
    let mut order = Vec::new();
    while order.len() < n {
        if let (Pdu::ScsiResponse(r), _) = c.recv().await.unwrap() {
            order.push(r.itt);
        }
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_attributes_order_execution() {
    let (addr, _h, _stop, _j) =
        support::start(vec![slow_target(300)], ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(
        c.login(1, INI, IQN, &[("ImmediateData", "Yes")])
            .await
            .status_class,
        0
    );
    let tur = [0u8; 6];
    // SIMPLE commands run concurrently: the TUR overtakes the slow write.
    let w = send_attr(&mut c, &write10(0, 1), 1, &[1; 512]).await;
    let t = send_attr(&mut c, &tur, 1, &[]).await;
    assert_eq!(response_order(&mut c, 2).await, vec![t, w]);
    // An ORDERED TUR waits for the write before it...
    let w = send_attr(&mut c, &write10(0, 1), 1, &[1; 512]).await;
    let o = send_attr(&mut c, &tur, 2, &[]).await;
    // ...and a SIMPLE TUR after it waits for the ORDERED one; HEAD OF QUEUE does not.
    let s = send_attr(&mut c, &tur, 1, &[]).await;
    let h = send_attr(&mut c, &tur, 3, &[]).await;
    assert_eq!(response_order(&mut c, 4).await, vec![h, w, o, s]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abort_task_suppresses_the_response_and_shutdown_drains() {
    let (addr, handle, stop, j) =
        support::start(vec![slow_target(300)], ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(
        c.login(1, INI, IQN, &[("ImmediateData", "Yes")])
            .await
            .status_class,
        0
    );
    let w = send_attr(&mut c, &write10(0, 1), 1, &[1; 512]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handle.sessions()[0].commands_in_flight, 1);
    let itt = c.next_itt();
    let t = TmfRequest {
        immediate: true,
        function: TmfFunction::AbortTask,
        lun: [0; 8],
        itt,
        ref_itt: w,
        cmd_sn: c.cmd_sn,
        exp_stat_sn: 0,
        ref_cmd_sn: 1,
        exp_data_sn: 0,
    };
    c.send(&Pdu::TmfRequest(t), &[]).await;
    let (p, _) = c.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::TmfResponse(ref r) if r.response == 0 && r.itt == itt),
        "{p:?}"
    );
    // A write in flight at shutdown still completes and answers before the close.
    let w = send_attr(&mut c, &write10(0, 1), 1, &[1; 512]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(true);
    // The initiator is asked to log out; it does not, so the target closes after the
    // grace time, with the write answered first.
    let (mut answered, mut asked) = (false, false);
    while let Some((p, _)) = c.recv().await {
        match p {
            Pdu::ScsiResponse(r) => answered |= r.itt == w && r.status == 0,
            Pdu::AsyncMessage(m) => asked |= m.event == 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(answered && asked);
    tokio::time::timeout(Duration::from_secs(10), j)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn long_send_targets_answers_continue_by_ttt() {
    let targets: Vec<Arc<TargetEntry>> = (0..100)
        .map(|i| support::ram_target(&format!("iqn.2024-01.vsa:t{i:03}"), 1))
        .collect();
    let (addr, _h, _stop, _j) = support::start(targets, ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    let keys = [
        ("InitiatorName", INI),
        ("SessionType", "Discovery"),
        ("MaxRecvDataSegmentLength", "512"),
    ];
    let (r, _) = c
        .login_step(1, Stage::Operational, Stage::FullFeature, &keys)
        .await;
    assert_eq!(r.status_class, 0);
    c.rd.framing.max_recv_data = 1 << 20;
    let mut t = TextRequest {
        immediate: true,
        final_bit: true,
        itt: 5,
        ttt: NO_TAG,
        cmd_sn: c.cmd_sn,
        ..Default::default()
    };
    c.send(
        &Pdu::TextRequest(t.clone()),
        &vsa_iscsi::text::encode(&[("SendTargets", "All")]),
    )
    .await;
    let mut all = Vec::new();
    loop {
        let (p, d) = c.recv().await.unwrap();
        let Pdu::TextResponse(r) = p else {
            panic!("{p:?}")
        };
        assert!(d.len() <= 512);
        all.extend_from_slice(&d);
        if r.final_bit {
            break;
        }
        assert!(r.continue_bit && r.ttt != NO_TAG);
        t.ttt = r.ttt;
        c.send(&Pdu::TextRequest(t.clone()), &[]).await;
    }
    let keys = vsa_iscsi::text::parse_list(&all).unwrap();
    assert_eq!(keys.len(), 200);
}

#[tokio::test]
async fn unsolicited_data_out_up_to_first_burst_then_r2t() {
    let (addr, _h, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut c = Client::connect(addr).await;
    let ops = [
        ("InitialR2T", "No"),
        ("ImmediateData", "Yes"),
        ("FirstBurstLength", "2048"),
        ("MaxRecvDataSegmentLength", "1024"),
    ];
    assert_eq!(c.login(1, INI, IQN, &ops).await.status_class, 0);
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    // 512 immediate, 1536 unsolicited in two Data-Outs, then 2048 by R2T.
    let itt = c.next_itt();
    let cmd = ScsiCommand {
        final_bit: false,
        write: true,
        attr: 1,
        itt,
        expected_len: 4096,
        cmd_sn: c.cmd_sn,
        cdb: write10(0, 8),
        ..Default::default()
    };
    c.cmd_sn += 1;
    c.send(&Pdu::ScsiCommand(cmd), &data[..512]).await;
    for (sn, (off, n, f)) in [(512usize, 1024usize, false), (1536, 512, true)]
        .into_iter()
        .enumerate()
    {
        let d = DataOut {
            final_bit: f,
            itt,
            ttt: NO_TAG,
            data_sn: sn as u32,
            buffer_offset: off as u32,
            ..Default::default()
        };
        c.send(&Pdu::DataOut(d), &data[off..off + n]).await;
    }
    let (p, _) = c.recv().await.unwrap();
    let Pdu::R2t(r) = p else { panic!("{p:?}") };
    assert_eq!((r.buffer_offset, r.desired_len, r.r2t_sn), (2048, 2048, 0));
    for (sn, off) in [2048usize, 3072].into_iter().enumerate() {
        let d = DataOut {
            final_bit: off == 3072,
            itt,
            ttt: r.ttt,
            data_sn: sn as u32,
            buffer_offset: off as u32,
            ..Default::default()
        };
        c.send(&Pdu::DataOut(d), &data[off..off + 1024]).await;
    }
    let (p, _) = c.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::ScsiResponse(ref r) if r.status == 0 && r.itt == itt),
        "{p:?}"
    );
    let itt = c.command(&read10(0, 8), true, false, 4096, &[]).await;
    let mut got = Vec::new();
    while got.len() < 4096 {
        let (p, d) = c.recv().await.unwrap();
        assert!(matches!(p, Pdu::DataIn(ref x) if x.itt == itt));
        got.extend_from_slice(&d);
    }
    assert_eq!(got, data);
}

/// Random but well-framed PDUs in full feature phase: the target answers, rejects or
/// drops the connection, never panics, and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_pdus_after_login_never_panic() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PANICKED: AtomicBool = AtomicBool::new(false);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if format!("{:?}", std::thread::current().name()).contains("tokio") {
            PANICKED.store(true, Ordering::SeqCst);
        }
        prev(info);
    }));
    let (addr, _h, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut seed = 0x9E37_79B9u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let ops = [0x00u8, 0x01, 0x02, 0x04, 0x05, 0x06, 0x10, 0x03, 0x1E, 0x25];
    let mut c = Client::connect(addr).await;
    assert_eq!(c.login(1, INI, IQN, &[]).await.status_class, 0);
    for i in 0..400 {
        let mut bhs = [0u8; 48];
        for b in bhs.iter_mut() {
            *b = next() as u8;
        }
        bhs[0] = ops[next() as usize % ops.len()] | (bhs[0] & 0x40);
        bhs[4] = 0;
        let len = next() as usize % 64;
        bhs[5] = 0;
        bhs[6] = 0;
        bhs[7] = len as u8;
        if i % 3 == 0 {
            // Often carry the right CmdSN so commands are really executed.
            bhs[24..28].copy_from_slice(&c.cmd_sn.to_be_bytes());
        }
        let mut frame = bhs.to_vec();
        frame.extend((0..len.div_ceil(4) * 4).map(|_| next() as u8));
        if c.send_raw(&frame).await.is_err() || i % 50 == 49 {
            c = Client::connect(addr).await;
            assert_eq!(c.login(1, INI, IQN, &[]).await.status_class, 0);
            continue;
        }
        c.cmd_sn = c.cmd_sn.wrapping_add(1);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!PANICKED.load(Ordering::SeqCst), "a server task panicked");
    let mut d = Client::connect(addr).await;
    assert_eq!(d.login(2, INI, IQN, &[]).await.status_class, 0);
    let itt = d.command(&[0; 6], false, false, 0, &[]).await;
    let (p, _) = d.recv().await.unwrap();
    assert!(matches!(p, Pdu::ScsiResponse(r) if r.itt == itt));
}

/// A LUN reset from one session ends another session's write that is still waiting for
/// its data: the reset answers at once, later Data-Out for it is dropped, and the other
/// session goes on.
#[tokio::test]
async fn lun_reset_aborts_other_sessions_writes_waiting_for_data() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut a = Client::connect(addr).await;
    assert_eq!(
        a.login(
            1,
            INI,
            IQN,
            &[("InitialR2T", "Yes"), ("ImmediateData", "No")]
        )
        .await
        .status_class,
        0
    );
    let mut b = Client::connect(addr).await;
    assert_eq!(b.login(2, INI, IQN, &[]).await.status_class, 0);
    let w = a.command(&write10(0, 1), false, true, 512, &[]).await;
    let (p, _) = a.recv().await.unwrap();
    let Pdu::R2t(r2t) = p else { panic!("{p:?}") };
    assert_eq!(
        handle
            .sessions()
            .iter()
            .map(|s| s.commands_in_flight)
            .sum::<usize>(),
        1
    );
    let itt = b.next_itt();
    let t = TmfRequest {
        immediate: true,
        function: TmfFunction::LogicalUnitReset,
        lun: [0; 8],
        itt,
        ref_itt: NO_TAG,
        cmd_sn: b.cmd_sn,
        exp_stat_sn: 0,
        ref_cmd_sn: 0,
        exp_data_sn: 0,
    };
    b.send(&Pdu::TmfRequest(t), &[]).await;
    let (p, _) = tokio::time::timeout(Duration::from_secs(2), b.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(p, Pdu::TmfResponse(ref r) if r.response == 0),
        "{p:?}"
    );
    let d = DataOut {
        final_bit: true,
        itt: w,
        ttt: r2t.ttt,
        data_sn: 0,
        buffer_offset: 0,
        ..Default::default()
    };
    a.send(&Pdu::DataOut(d), &[0; 512]).await;
    let tur = a.command(&[0; 6], false, false, 0, &[]).await;
    let (p, _) = a.recv().await.unwrap();
    assert!(
        matches!(p, Pdu::ScsiResponse(ref r) if r.itt == tur),
        "{p:?}"
    );
}
