//! Login negotiation cases, without sockets.

use std::sync::Arc;

use super::*;
use crate::chap::{decode_binary, encode_hex, ChapAlgorithm, ChapCredentials};

#[derive(Debug)]
struct Reg(Vec<Arc<TargetEntry>>);

impl Registry for Reg {
    fn target(&self, name: &str) -> Option<Arc<TargetEntry>> {
        self.0.iter().find(|e| e.name == name).cloned()
    }
    fn targets(&self) -> Vec<Arc<TargetEntry>> {
        self.0.clone()
    }
}

fn reg(chap: bool, mutual: bool, acl: &[&str]) -> Reg {
    Reg(vec![Arc::new(TargetEntry {
        name: "iqn.t".into(),
        alias: None,
        chap: chap.then(|| ChapCredentials {
            user: "user".into(),
            secret: "secretsecret".into(),
        }),
        mutual_chap: mutual.then(|| ChapCredentials {
            user: "tgt".into(),
            secret: "tgtsecret123".into(),
        }),
        acl: acl.iter().map(|s| s.to_string()).collect(),
        scsi: Arc::new(vsa_scsi::Target::new()),
    })])
}

fn req(csg: Stage, nsg: Stage, transit: bool) -> LoginRequest {
    LoginRequest {
        transit,
        csg,
        nsg,
        isid: 1,
        itt: 1,
        ..Default::default()
    }
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(s: &'a Step, k: &str) -> Option<&'a str> {
    s.keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

const FIRST: &[(&str, &str)] = &[
    ("InitiatorName", "iqn.i"),
    ("TargetName", "iqn.t"),
    ("SessionType", "Normal"),
];

#[test]
fn no_auth_straight_to_operational_and_full_feature() {
    let r = reg(false, false, &[]);
    let mut l = Login::new(TargetLimits::default(), 1);
    let mut keys = kv(FIRST);
    keys.extend(kv(&[("AuthMethod", "None")]));
    let s = l
        .step(&req(Stage::Security, Stage::Operational, true), &keys, &r)
        .unwrap();
    assert_eq!(get(&s, "AuthMethod"), Some("None"));
    assert_eq!(get(&s, "TargetPortalGroupTag"), Some("1"));
    assert!(s.transit);
    let ops = kv(&[
        ("HeaderDigest", "None"),
        ("ImmediateData", "Yes"),
        ("MaxRecvDataSegmentLength", "8192"),
        ("X-com.foo", "1"),
    ]);
    let s = l
        .step(&req(Stage::Operational, Stage::FullFeature, true), &ops, &r)
        .unwrap();
    assert_eq!(s.nsg, Stage::FullFeature);
    assert_eq!(get(&s, "X-com.foo"), Some("NotUnderstood"));
    assert_eq!(get(&s, "MaxRecvDataSegmentLength"), Some("262144"));
    assert_eq!(l.params.initiator_mrdsl, 8192);
}

#[test]
fn failures_map_to_status_codes() {
    let r = reg(false, false, &["iqn.allowed"]);
    let mut l = Login::new(TargetLimits::default(), 1);
    let e = l
        .step(
            &req(Stage::Security, Stage::Operational, true),
            &kv(FIRST),
            &r,
        )
        .unwrap_err();
    assert_eq!(e.status(), (2, 2));
    let mut l = Login::new(TargetLimits::default(), 1);
    let k = kv(&[("InitiatorName", "iqn.i"), ("TargetName", "iqn.nope")]);
    assert_eq!(
        l.step(&req(Stage::Security, Stage::Operational, true), &k, &r)
            .unwrap_err()
            .status(),
        (2, 3)
    );
    let mut l = Login::new(TargetLimits::default(), 1);
    let k = kv(&[("TargetName", "iqn.t")]);
    assert_eq!(
        l.step(&req(Stage::Security, Stage::Operational, true), &k, &r)
            .unwrap_err()
            .status(),
        (2, 7)
    );
    let mut l = Login::new(TargetLimits::default(), 1);
    let mut rq = req(Stage::Security, Stage::Operational, true);
    rq.version_min = 2;
    assert_eq!(l.step(&rq, &kv(FIRST), &r).unwrap_err().status(), (2, 5));
}

#[test]
fn chap_is_required_when_configured() {
    let r = reg(true, false, &[]);
    let mut l = Login::new(TargetLimits::default(), 1);
    let e = l
        .step(
            &req(Stage::Operational, Stage::FullFeature, true),
            &kv(FIRST),
            &r,
        )
        .unwrap_err();
    assert_eq!(e.status(), (2, 1));
    let mut l = Login::new(TargetLimits::default(), 1);
    let mut k = kv(FIRST);
    k.extend(kv(&[("AuthMethod", "None")]));
    assert_eq!(
        l.step(&req(Stage::Security, Stage::Operational, true), &k, &r)
            .unwrap_err()
            .status(),
        (2, 1)
    );
}

fn chap_login(mutual: bool, alg: &str, secret: &str) -> Result<Step, LoginError> {
    let r = reg(true, true, &[]);
    let mut l = Login::new(TargetLimits::default(), 1);
    let mut k = kv(FIRST);
    k.extend(kv(&[("AuthMethod", "CHAP,None")]));
    let s = l.step(&req(Stage::Security, Stage::Operational, false), &k, &r)?;
    assert_eq!(get(&s, "AuthMethod"), Some("CHAP"));
    let s = l.step(
        &req(Stage::Security, Stage::Operational, false),
        &kv(&[("CHAP_A", alg)]),
        &r,
    )?;
    let a = if get(&s, "CHAP_A") == Some("7") {
        ChapAlgorithm::Sha256
    } else {
        ChapAlgorithm::Md5
    };
    let id: u8 = get(&s, "CHAP_I").unwrap().parse().unwrap();
    let c = decode_binary(get(&s, "CHAP_C").unwrap()).unwrap();
    let resp = encode_hex(&a.response(id, secret.as_bytes(), &c));
    let mut k = kv(&[("CHAP_N", "user"), ("CHAP_R", &resp)]);
    if mutual {
        k.extend(kv(&[("CHAP_I", "3"), ("CHAP_C", "0x0a0b0c0d0e0f")]));
    }
    let s = l.step(&req(Stage::Security, Stage::Operational, true), &k, &r)?;
    assert!(s.transit);
    if mutual {
        let want = encode_hex(&a.response(3, b"tgtsecret123", &[10, 11, 12, 13, 14, 15]));
        assert_eq!(get(&s, "CHAP_N"), Some("tgt"));
        assert_eq!(get(&s, "CHAP_R"), Some(want.as_str()));
    }
    Ok(s)
}

#[test]
fn chap_one_way_and_mutual() {
    chap_login(false, "5", "secretsecret").unwrap();
    chap_login(true, "7,5", "secretsecret").unwrap();
    assert_eq!(
        chap_login(false, "5", "wrongsecret!").unwrap_err().status(),
        (2, 1)
    );
    assert_eq!(
        chap_login(false, "6", "secretsecret").unwrap_err().status(),
        (2, 1)
    );
}

#[test]
fn discovery_marks_data_keys_irrelevant() {
    let r = reg(false, false, &[]);
    let mut l = Login::new(TargetLimits::default(), 1);
    let k = kv(&[
        ("InitiatorName", "iqn.i"),
        ("SessionType", "Discovery"),
        ("InitialR2T", "No"),
    ]);
    let s = l
        .step(&req(Stage::Operational, Stage::FullFeature, true), &k, &r)
        .unwrap();
    assert_eq!(get(&s, "InitialR2T"), Some("Irrelevant"));
    assert!(l.discovery && l.entry.is_none());
}

#[test]
fn discovery_chap_when_configured() {
    let r = reg(false, false, &[]);
    let creds = ChapCredentials {
        user: "d".into(),
        secret: "discoverysecret".into(),
    };
    let mut l = Login::new(TargetLimits::default(), 1).with_discovery_chap(Some(creds), None);
    let k = kv(&[
        ("InitiatorName", "iqn.i"),
        ("SessionType", "Discovery"),
        ("AuthMethod", "None"),
    ]);
    let e = l
        .step(&req(Stage::Security, Stage::Operational, true), &k, &r)
        .unwrap_err();
    assert_eq!(e.status(), (2, 1));
    let creds = ChapCredentials {
        user: "d".into(),
        secret: "discoverysecret".into(),
    };
    let mut l = Login::new(TargetLimits::default(), 1).with_discovery_chap(Some(creds), None);
    let k = kv(&[
        ("InitiatorName", "iqn.i"),
        ("SessionType", "Discovery"),
        ("AuthMethod", "CHAP,None"),
    ]);
    let s = l
        .step(&req(Stage::Security, Stage::Operational, false), &k, &r)
        .unwrap();
    assert_eq!(get(&s, "AuthMethod"), Some("CHAP"));
    let s = l
        .step(
            &req(Stage::Security, Stage::Operational, false),
            &kv(&[("CHAP_A", "5")]),
            &r,
        )
        .unwrap();
    let id: u8 = get(&s, "CHAP_I").unwrap().parse().unwrap();
    let c = decode_binary(get(&s, "CHAP_C").unwrap()).unwrap();
    let resp = encode_hex(&ChapAlgorithm::Md5.response(id, b"discoverysecret", &c));
    let k = kv(&[("CHAP_N", "d"), ("CHAP_R", &resp)]);
    assert!(
        l.step(&req(Stage::Security, Stage::Operational, true), &k, &r)
            .unwrap()
            .transit
    );
}
