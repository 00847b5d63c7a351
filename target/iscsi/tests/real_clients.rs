//! The real initiators against the target: libiscsi's iscsi-ls, iscsi-inq and
//! iscsi-test-cu (the iSCSI-level suites), and qemu-img.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use vsa_iscsi::{ServerConfig, TargetLimits};

const IQN: &str = "iqn.2024-01.vsa:test";

async fn run(cmd: &str, args: Vec<String>) -> (bool, String) {
    let cmd = cmd.to_string();
    tokio::task::spawn_blocking(move || {
        let o = Command::new("timeout")
            .arg("300")
            .arg(&cmd)
            .args(&args)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    })
    .await
    .unwrap()
}

/// `(ran, failed)` from a CUnit run summary.
fn summary(out: &str) -> (u32, u32) {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("tests "))
        .unwrap_or_else(|| panic!("no CUnit summary in:\n{out}"));
    let n: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    (n[1], n[3])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn libiscsi_tools_and_iscsi_level_conformance() {
    if !support::have("iscsi-test-cu") {
        eprintln!("libiscsi-bin not installed; skipping");
        return;
    }
    let (addr, handle, stop, j) =
        support::start(vec![support::ram_target(IQN, 64)], ServerConfig::default()).await;
    let portal = format!("iscsi://{addr}");
    let url = format!("{portal}/{IQN}/0");

    let (ok, out) = run("iscsi-ls", vec!["-s".into(), portal.clone()]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("Target:{IQN} Portal:{addr},1")),
        "{out}"
    );
    assert!(
        out.contains("Lun:0") && out.contains("DIRECT_ACCESS"),
        "{out}"
    );

    let (ok, out) = run("iscsi-inq", vec![url.clone()]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Vendor:VSA") && out.contains("Product:RAMDISK"),
        "{out}"
    );

    let digest_url = format!("{url}?header_digest=crc32c");
    let (ok, out) = run("iscsi-inq", vec![digest_url.clone()]).await;
    assert!(ok && out.contains("Vendor:VSA"), "{out}");

    for suite in ["iSCSI.iSCSIcmdsn", "iSCSI.iSCSIResiduals", "iSCSI.iSCSITMF"] {
        for u in [&url, &digest_url] {
            let (_, out) = run(
                "iscsi-test-cu",
                vec!["-d".into(), "-t".into(), suite.into(), u.clone()],
            )
            .await;
            let (ran, failed) = summary(&out);
            assert!(ran > 0 && failed == 0, "{suite} on {u}:\n{out}");
        }
    }
    // Two sessions from one initiator (different ISIDs) to the same LUN.
    let (_, out) = run(
        "iscsi-test-cu",
        vec![
            "-d".into(),
            "-t".into(),
            "SCSI.MultipathIO.Simple".into(),
            url.clone(),
            url.clone(),
        ],
    )
    .await;
    let (ran, failed) = summary(&out);
    assert!(ran > 0 && failed == 0, "{out}");

    let m = handle.metrics();
    assert!(
        m.sessions_opened > 10
            && m.commands_by_opcode
                .iter()
                .any(|&(op, n)| op == 0x2A && n > 0),
        "{m:?}"
    );
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(30), j)
        .await
        .unwrap()
        .unwrap();
}

/// DataSN checking: the libiscsi test reconnects between cases, and the reconnected
/// session negotiates ImmediateData again; with the target refusing immediate data every
/// case really sends Data-Out PDUs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn libiscsi_datasn_suite_without_immediate_data() {
    if !support::have("iscsi-test-cu") {
        return;
    }
    let config = ServerConfig {
        limits: TargetLimits {
            immediate_data: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let (addr, _h, stop, _j) = support::start(vec![support::ram_target(IQN, 16)], config).await;
    let url = format!("iscsi://{addr}/{IQN}/0");
    let (_, out) = run(
        "iscsi-test-cu",
        vec!["-d".into(), "-t".into(), "iSCSI.iSCSIdatasn".into(), url],
    )
    .await;
    let (ran, failed) = summary(&out);
    assert!(ran > 0 && failed == 0, "{out}");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn qemu_img_writes_and_reads_back() {
    if !support::have("qemu-img") {
        return;
    }
    let (addr, _h, stop, _j) =
        support::start(vec![support::ram_target(IQN, 16)], ServerConfig::default()).await;
    let url = format!("iscsi://{addr}/{IQN}/0");
    let dir = std::env::temp_dir().join(format!("vsa-iscsi-qemu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("src.img");
    let back = dir.join("back.img");
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).unwrap();
    let (ok, out) = run(
        "qemu-img",
        vec![
            "convert".into(),
            "-n".into(),
            "-f".into(),
            "raw".into(),
            "-O".into(),
            "raw".into(),
            src.display().to_string(),
            url.clone(),
        ],
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = run(
        "qemu-img",
        vec![
            "convert".into(),
            "-f".into(),
            "raw".into(),
            "-O".into(),
            "raw".into(),
            url,
            back.display().to_string(),
        ],
    )
    .await;
    assert!(ok, "{out}");
    let got = std::fs::read(&back).unwrap();
    assert_eq!(got.len(), 16 << 20);
    assert!(got[..data.len()] == data[..], "data read back differs");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libiscsi_chap_one_way_mutual_and_discovery() {
    if !support::have("iscsi-inq") {
        return;
    }
    use std::sync::Arc;
    use vsa_iscsi::{ChapCredentials, TargetEntry};
    let creds = |u: &str, s: &str| ChapCredentials {
        user: u.into(),
        secret: s.into(),
    };
    let base = support::ram_target(IQN, 1);
    let entry = Arc::new(TargetEntry {
        name: IQN.into(),
        alias: None,
        chap: Some(creds("ini", "inisecret1234")),
        mutual_chap: Some(creds("tgt", "tgtsecret5678")),
        acl: Vec::new(),
        scsi: base.scsi.clone(),
    });
    let config = ServerConfig {
        discovery_chap: Some(creds("disc", "discsecret12")),
        ..Default::default()
    };
    let (addr, handle, stop, _j) = support::start(vec![entry], config).await;
    let url = |user: &str| format!("iscsi://{user}@{addr}/{IQN}/0");
    let (ok, out) = run("iscsi-inq", vec![url("ini%inisecret1234")]).await;
    assert!(ok && out.contains("Vendor:VSA"), "{out}");
    let (ok, out) = run("iscsi-inq", vec![url("ini%wrongsecret1")]).await;
    assert!(!ok && out.contains("Authentication failure"), "{out}");
    let (ok, out) = run("iscsi-inq", vec![format!("iscsi://{addr}/{IQN}/0")]).await;
    assert!(!ok, "{out}");
    // Mutual: the initiator checks the target's answer.
    let mutual = |secret: &str| {
        let url = url("ini%inisecret1234");
        let secret = secret.to_string();
        tokio::task::spawn_blocking(move || {
            let o = Command::new("timeout")
                .args(["30", "iscsi-inq", &url])
                .env("LIBISCSI_CHAP_TARGET_USERNAME", "tgt")
                .env("LIBISCSI_CHAP_TARGET_PASSWORD", secret)
                .output()
                .unwrap();
            o.status.success()
        })
    };
    assert!(mutual("tgtsecret5678").await.unwrap());
    assert!(!mutual("notthesecret").await.unwrap());
    // Discovery needs its own credentials.
    let (ok, _) = run("iscsi-ls", vec![format!("iscsi://{addr}")]).await;
    assert!(!ok);
    let (ok, out) = run(
        "iscsi-ls",
        vec![format!("iscsi://disc%discsecret12@{addr}")],
    )
    .await;
    assert!(ok && out.contains(IQN), "{out}");
    assert!(handle.metrics().login_failures >= 3);
    let _ = stop.send(true);
}
