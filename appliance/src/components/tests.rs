#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::core::http::router;
use crate::core::{Appliance, ConfigFile, OpenOptions};
use axum::body::Body;
use axum::Router;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

mod api_input;
mod cli;
mod modules;
mod openapi;

/// `vsa serve`'s flags for these arguments (defaults for the rest).
pub fn serve_args(args: &[&str]) -> clap::ArgMatches {
    let mut argv = vec!["serve"];
    argv.extend_from_slice(args);
    crate::core::serve::command(&all())
        .try_get_matches_from(argv)
        .unwrap()
}

/// An appliance with every component over a 16 MiB default pool in `dir`.
pub fn open(dir: &std::path::Path) -> Appliance {
    let (app, _) = Appliance::open(
        all(),
        OpenOptions {
            data_dir: dir.to_owned(),
            config: ConfigFile::default(),
            args: serve_args(&["--default-member-size", "16M", "--iscsi", "127.0.0.1:0"]),
        },
    )
    .unwrap();
    app
}

fn setup(dir: &std::path::Path) -> Router {
    router(Arc::new(open(dir)), "s3cret".into())
}

async fn call(
    r: &Router,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut req = axum::http::Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
    )
}

#[tokio::test]
async fn requests_without_the_token_are_refused_and_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = setup(dir.path());
    let create = r#"{"name":"v1","size":"16M"}"#;
    for auth in [None, Some("Bearer wrong"), Some("s3cret"), Some("Bearer ")] {
        let (status, body) = call(&r, "POST", "/api/v1/volumes", auth, create).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _) = call(&r, "GET", "/api/v1/nothing-here", auth, "").await;
        assert_eq!(status, 401);
    }
    let (status, body) = call(&r, "GET", "/api/v1/volumes", Some("Bearer s3cret"), "").await;
    assert_eq!((status, body), (200, serde_json::json!([])));
    let (status, body) = call(&r, "POST", "/api/v1/volumes", Some("Bearer s3cret"), create).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["pool"], "default");
    // No peer address (not loopback): /metrics wants the token too.
    assert_eq!(call(&r, "GET", "/metrics", None, "").await.0, 401);
    let (status, text) = call(&r, "GET", "/metrics", Some("Bearer s3cret"), "").await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_owned();
    assert!(
        text.contains("vsa_volume_provisioned_bytes{pool=\"default\",volume=\"v1\"} 16777216"),
        "{text}"
    );
    assert!(
        text.contains(
            "vsa_api_requests_total{method=\"POST\",route=\"/api/v1/volumes\",status=\"401\"} 4"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn bad_input_gets_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = setup(dir.path());
    let a = Some("Bearer s3cret");
    let cases = [
        (
            "POST",
            "/api/v1/volumes",
            r#"{"name":"v","size":"12X"}"#,
            400,
            "invalid_size",
        ),
        (
            "POST",
            "/api/v1/volumes",
            r#"{"name":"v","size":0}"#,
            400,
            "invalid_size",
        ),
        (
            "POST",
            "/api/v1/volumes",
            r#"{"name":"bad name","size":4096}"#,
            400,
            "invalid_name",
        ),
        (
            "POST",
            "/api/v1/volumes",
            r#"{"name":"v","size":"1T","thick":true}"#,
            507,
            "space_exhausted",
        ),
        (
            "POST",
            "/api/v1/volumes",
            r#"{"nme":"v"}"#,
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/v1/volumes",
            "not json",
            400,
            "invalid_request",
        ),
        ("GET", "/api/v1/volumes/ghost", "", 404, "no_such_volume"),
        ("GET", "/api/v1/pools/ghost", "", 404, "no_such_pool"),
        (
            "POST",
            "/api/v1/pools/default/members/9/fail",
            "",
            404,
            "no_such_member",
        ),
        (
            "POST",
            "/api/v1/pools",
            r#"{"name":"p","raid":"7","members":["/a","/b"]}"#,
            400,
            "invalid_raid",
        ),
        (
            "POST",
            "/api/v1/pools",
            r#"{"name":"p","raid":1,"members":["a","b"]}"#,
            400,
            "bad_member",
        ),
        (
            "POST",
            "/api/v1/pools",
            r#"{"name":"p","raid":1,"members":["/nonexistent/a","/nonexistent/b"]}"#,
            400,
            "device_not_found",
        ),
        ("GET", "/api/v1/nope", "", 404, "not_found"),
    ];
    for (m, p, b, status, code) in cases {
        let (s, body) = call(&r, m, p, a, b).await;
        assert_eq!(
            (s, body["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{m} {p} {b}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
}

#[tokio::test]
async fn shrinking_a_held_volume_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(open(dir.path()));
    let r = router(app.clone(), "s3cret".into());
    let a = Some("Bearer s3cret");
    let (s, _) = call(
        &r,
        "POST",
        "/api/v1/volumes",
        a,
        r#"{"name":"v","size":"8M"}"#,
    )
    .await;
    assert_eq!(s, 201);
    let claim = crate::core::Claim {
        component: "iscsi",
        holder: "iSCSI target t LUN 0".into(),
        release: "vsa target lun remove t 0".into(),
    };
    app.core().claims().claim("v", claim).unwrap();
    let (s, body) = call(&r, "PATCH", "/api/v1/volumes/v", a, r#"{"size":"4M"}"#).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("volume_in_use"))
    );
    let msg = body["error"]["message"].as_str().unwrap();
    for words in [
        "iSCSI target t LUN 0",
        "from 8 MiB to 4 MiB",
        "`vsa volume resize v 4M --force`",
        "\"force\": true",
        "`vsa target lun remove t 0`",
    ] {
        assert!(msg.contains(words), "{words}: {msg}");
    }
    let (s, body) = call(&r, "PATCH", "/api/v1/volumes/v", a, r#"{"size":"12M"}"#).await;
    assert_eq!(
        (s, body["size"].as_u64()),
        (200, Some(12 << 20)),
        "growing needs no force"
    );
    let (s, body) = call(
        &r,
        "PATCH",
        "/api/v1/volumes/v",
        a,
        r#"{"size":"4M","force":true}"#,
    )
    .await;
    assert_eq!((s, body["size"].as_u64()), (200, Some(4 << 20)), "{body}");
}
