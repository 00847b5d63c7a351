//! Replays the seed corpus of the fuzz targets (`fuzz/`; a sample is kept in
//! `tests/corpus/`) so every run checks what fuzzing found interesting: the parsers never
//! panic and round-trip what they accept, and a live server fed each input keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::client::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vsa_iscsi::ServerConfig;

const IQN: &str = "iqn.2026-01.invalid.vsa:corpus";

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 20, "the {name} corpus is missing");
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn pdu_corpus_parses_without_panics_and_round_trips() {
    for input in corpus("pdu") {
        vsa_iscsi::selfcheck::pdu_round_trip(&input);
    }
}

#[test]
fn login_text_corpus_negotiates_without_panics() {
    for input in corpus("login_text") {
        vsa_iscsi::selfcheck::login_text_round_trip(&input);
    }
}

#[tokio::test]
async fn a_server_fed_the_corpus_keeps_serving() {
    let (addr, handle, _stop, _j) =
        support::start(vec![support::ram_target(IQN, 1)], ServerConfig::default()).await;
    let mut sent = 0u64;
    for input in corpus("pdu").into_iter().chain(corpus("login_text")) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(&input).await;
        let _ = s.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
        sent += 1;
    }
    let mut c = Client::connect(addr).await;
    let login = c.login(1, "iqn.2026-01.invalid.vsa:ini", IQN, &[]).await;
    assert_eq!(login.status_class, 0, "the server stopped admitting logins");
    assert!(handle.metrics().connections_accepted > sent);
}
