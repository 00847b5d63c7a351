//! End to end: the real `vsa serve` on a free port with a temporary data directory,
//! driven only through the `vsa` CLI and HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use vsa_e2e::{serve_refused, show, Daemon};

const M: u64 = 1 << 20;

fn data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    (t, d)
}

fn metric(m: &std::collections::BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| {
        panic!(
            "metric {key} missing; have {:#?}",
            m.keys().collect::<Vec<_>>()
        )
    })
}

#[test]
fn volumes_snapshots_clones_metrics_and_kill_9() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);

    let st = d.json(&["status"]);
    assert_eq!(
        st["components"],
        json!(["pool", "iscsi", "vtl", "ns", "vm"])
    );
    assert_eq!(st["pools"][0]["name"], "default");
    assert_eq!(st["pools"][0]["raid"], "raid5");
    assert_eq!(st["pools"][0]["health"], "healthy");
    // 3 data members of 63 MiB after the label area.
    assert!(
        st["pools"][0]["capacity"].as_u64().unwrap() >= 180 * M,
        "{st}"
    );
    let out = d.ok(&["pool", "list"]);
    assert!(
        out.contains("NAME") && out.contains("default") && out.contains("raid5"),
        "{out}"
    );

    let out = d.ok(&["volume", "create", "db", "--size", "32M"]);
    assert!(
        out.contains("created thin volume 'db' of 32 MiB in pool 'default'"),
        "{out}"
    );
    d.ok(&["volume", "create", "big", "--size", "16M", "--thick"]);
    d.ok(&["volume", "snapshot", "db", "mon"]);
    let out = d.ok(&["volume", "clone", "db@mon", "db-test"]);
    assert!(out.contains("clone of db@mon"), "{out}");
    let snaps = d.json(&["volume", "snapshots", "db"]);
    assert_eq!(snaps[0]["name"], "mon");
    assert_eq!(snaps[0]["clones"], json!(["db-test"]));

    // Deleting a volume whose snapshot has clones is a conflict.
    let o = d.cli(&["volume", "delete", "db"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("db-test") && err.contains("[has_clones]"),
        "{err}"
    );
    let (status, body) = d.post("/api/v1/volumes", &json!({ "name": "db", "size": "1G" }));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("volume_exists"))
    );

    let v = d.json(&["volume", "resize", "db", "64M"]);
    assert_eq!(v["size"], 64 * M);
    d.ok(&["volume", "rollback", "db@mon"]);
    let v = d.json(&["volume", "show", "db"]);
    assert_eq!(v["size"], 32 * M);
    assert_eq!(v["snapshots"], json!(["mon"]));
    let out = d.ok(&["volume", "list"]);
    assert!(
        out.contains("db-test") && out.contains("db@mon") && out.contains("thick"),
        "{out}"
    );
    d.ok(&["volume", "snapshot", "big", "tmp"]);
    d.ok(&["volume", "delete-snapshot", "big@tmp"]);

    // Metrics agree with the API.
    let pool = d.json(&["pool", "show", "default"]);
    let m = d.metrics();
    let space = &pool["space"];
    for (name, field) in [
        ("capacity", "capacity"),
        ("allocated", "allocated"),
        ("free", "free"),
        ("provisioned", "provisioned"),
    ] {
        assert_eq!(
            metric(&m, &format!("vsa_pool_{name}_bytes{{pool=\"default\"}}")),
            space[field].as_u64().unwrap() as f64,
            "{name}"
        );
    }
    assert_eq!(space["provisioned"], (32 + 16 + 32) * M);
    assert_eq!(
        space["allocated"],
        16 * M,
        "the thick volume reserved its space"
    );
    for v in d.json(&["volume", "list"]).as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let labels = format!("{{pool=\"default\",volume=\"{name}\"}}");
        assert_eq!(
            metric(&m, &format!("vsa_volume_provisioned_bytes{labels}")),
            v["size"].as_u64().unwrap() as f64
        );
        assert_eq!(
            metric(&m, &format!("vsa_volume_allocated_bytes{labels}")),
            v["allocated"].as_u64().unwrap() as f64
        );
        for op in ["read", "write"] {
            assert_eq!(
                metric(
                    &m,
                    &format!("vsa_volume_io_ops_total{{op=\"{op}\",volume=\"{name}\"}}")
                ),
                0.0
            );
        }
    }
    for i in 0..4 {
        let member = pool["raid"]["members"][i]["name"].as_str().unwrap();
        let key = format!(
            "vsa_pool_member_state{{index=\"{i}\",member=\"{member}\",pool=\"default\",state=\"active\"}}"
        );
        assert_eq!(metric(&m, &key), 1.0);
    }
    assert_eq!(metric(&m, "vsa_pool_degraded{pool=\"default\"}"), 0.0);
    assert!(
        metric(
            &m,
            "vsa_api_requests_total{method=\"POST\",route=\"/api/v1/volumes\",status=\"201\"}"
        ) >= 2.0
    );
    assert!(
        metric(
            &m,
            "vsa_api_requests_total{method=\"POST\",route=\"/api/v1/volumes\",status=\"409\"}"
        ) >= 1.0
    );

    // kill -9, restart: everything is still there, and the token has not changed.
    let before = d.json(&["volume", "list"]);
    let token = d.token.clone();
    d.kill9();
    let d = Daemon::start(&dir, &[]);
    assert_eq!(d.token, token);
    assert_eq!(d.json(&["volume", "list"]), before);
    assert_eq!(
        d.json(&["volume", "snapshots", "db"])[0]["clones"],
        json!(["db-test"])
    );
    assert_eq!(
        d.json(&["pool", "list"]).as_array().unwrap().len(),
        1,
        "no second default pool"
    );

    // A clean stop removes the address file and exits 0.
    let status = d.stop();
    assert!(status.success(), "{status}");
    assert!(!dir.join("api.addr").exists());
    let d = Daemon::start(&dir, &[]);
    assert_eq!(d.json(&["volume", "list"]), before);
}

fn wait_pool(d: &Daemon, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let p = d.get("/api/v1/pools/default").1;
        if done(&p) {
            return p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pool never got there: {p}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn member_failure_rebuild_and_scrub_with_progress() {
    let (t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);
    d.ok(&["volume", "create", "vm1", "--size", "48M", "--thick"]);

    let out = d.ok(&["pool", "fail", "default", "1"]);
    assert!(
        out.contains("member 1 failed; pool 'default' is degraded"),
        "{out}"
    );
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["raid"]["members"][1]["state"], "faulty");
    assert_eq!(
        metric(&d.metrics(), "vsa_pool_degraded{pool=\"default\"}"),
        1.0
    );
    // RAID 5 cannot lose a second member.
    let o = d.cli(&["pool", "fail", "default", "2"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[not_redundant]"),
        "{}",
        show(&o)
    );

    let new = t.path().join("new-1.img");
    let new = new.to_str().unwrap();
    let out = d.ok(&[
        "pool",
        "replace",
        "default",
        "1",
        new,
        "--create-size",
        "64M",
        "--wait",
    ]);
    // Not a terminal: plain progress lines, ending at 100%.
    assert!(out.contains("rebuild finished: 100%"), "{out}");
    assert!(out.contains("pool 'default' is healthy"), "{out}");
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["raid"]["members"][1]["name"], new);
    assert_eq!(p["raid"]["members"][1]["state"], "active");
    let rebuild = &p["rebuild"];
    assert_eq!(rebuild["finished"], true);
    assert!(rebuild["total"].as_u64().unwrap() > 0);
    assert_eq!(rebuild["done"], rebuild["total"]);
    let m = d.metrics();
    assert_eq!(
        metric(
            &m,
            "vsa_pool_task_done_bytes{pool=\"default\",task=\"rebuild\"}"
        ),
        rebuild["done"].as_u64().unwrap() as f64
    );
    assert_eq!(
        metric(
            &m,
            "vsa_pool_task_running{pool=\"default\",task=\"rebuild\"}"
        ),
        0.0
    );

    // Scrub through HTTP: 202 with progress, then through the CLI with --wait.
    let (status, body) = d.post("/api/v1/pools/default/scrub", &json!({}));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["task"], "scrub");
    assert!(body["progress"].is_object(), "{body}");
    let p = wait_pool(&d, |p| p["scrub"]["finished"] == true);
    assert_eq!(p["last_scrub"]["mismatches"], 0);
    let out = d.ok(&["pool", "scrub", "default", "--wait"]);
    assert!(out.contains("scrub finished: 100%"), "{out}");
    assert!(out.contains("0 mismatches"), "{out}");
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["scrub"]["done"], p["scrub"]["total"]);
    assert!(p["last_scrub"]["bytes_checked"].as_u64().unwrap() > 0);
    let m = d.metrics();
    assert_eq!(
        metric(
            &m,
            "vsa_pool_task_total_bytes{pool=\"default\",task=\"scrub\"}"
        ),
        p["scrub"]["total"].as_u64().unwrap() as f64
    );
    assert_eq!(
        metric(&m, "vsa_pool_scrub_mismatches{pool=\"default\"}"),
        0.0
    );

    // A hot spare, then a failure it absorbs.
    let spare = t.path().join("spare.img");
    d.ok(&[
        "pool",
        "spare",
        "default",
        spare.to_str().unwrap(),
        "--create-size",
        "64M",
    ]);
    let out = d.ok(&["pool", "fail", "default", "0", "--wait"]);
    assert!(out.contains("is healthy"), "{out}");
    let p = d.json(&["pool", "show", "default"]);
    assert_eq!(p["raid"]["members"][0]["name"], spare.to_str().unwrap());
}

#[test]
fn refusals_use_the_documented_codes() {
    let (_t, dir) = data_dir();
    let d = Daemon::start(&dir, &[]);

    // Wrong or missing token: 401, and nothing happens.
    for token in [Some("0123456789abcdef0123456789abcdef"), None] {
        let (status, body) = d.get_with("/api/v1/status", token);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
        let (status, _) = d.post_with(
            "/api/v1/volumes",
            token,
            &json!({ "name": "x", "size": "1M" }),
        );
        assert_eq!(status, 401);
    }
    assert_eq!(d.json(&["volume", "list"]), json!([]));
    let o = d.cli(&["--token", "wrong", "status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[unauthorized]"),
        "{}",
        show(&o)
    );

    // Bad sizes.
    let o = d.cli(&["volume", "create", "v", "--size", "12X"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'12X' is not a size"));
    for size in [json!("12X"), json!(-4), json!(0), json!(1000)] {
        let (status, body) = d.post("/api/v1/volumes", &json!({ "name": "v", "size": size }));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_size")),
            "{size}"
        );
    }
    let (status, body) = d.post(
        "/api/v1/volumes",
        &json!({ "name": "huge", "size": "1T", "thick": true }),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (507, Some("space_exhausted"))
    );

    // Unknown names.
    for (args, code) in [
        (vec!["volume", "show", "ghost"], "[no_such_volume]"),
        (vec!["volume", "snapshot", "ghost", "s"], "[no_such_volume]"),
        (vec!["pool", "show", "ghost"], "[no_such_pool]"),
        (
            vec!["pool", "fail", "default", "/no/such/member"],
            "[no_such_member]",
        ),
    ] {
        let o = d.cli(&args);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(code),
            "{args:?}: {}",
            show(&o)
        );
    }
    let (status, body) = d.get("/api/v1/volumes/ghost");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no_such_volume"))
    );
    d.ok(&["volume", "create", "v", "--size", "8M"]);
    let o = d.cli(&["volume", "rollback", "v@never"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[no_such_snapshot]"),
        "{}",
        show(&o)
    );

    // A bad argument names the choices.
    let o = d.cli(&["pool", "create", "p", "--raid", "7", "/a", "/b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values"));

    // The OpenAPI document is served and lists the routes.
    let (status, doc) = d.get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["paths"]["/volumes/{name}/snapshots/{snap}/clone"]["post"].is_object());

    // A second daemon on the same data directory is refused, and the first goes on.
    let (status, err) = serve_refused(&dir, &[]);
    assert!(!status.success());
    assert!(err.contains("in use by another vsa process"), "{err}");
    assert_eq!(d.get("/api/v1/status").0, 200);
}

#[test]
fn configured_pools_and_start_refusals() {
    let (t, dir) = data_dir();
    let disks = t.path().join("disks");
    std::fs::create_dir_all(&disks).unwrap();
    let a = disks.join("a.img");
    let b = disks.join("b.img");
    let cfg = t.path().join("vsa.toml");
    std::fs::write(
        &cfg,
        format!(
            "[settings]\nrate_limit = \"1G\"\nread_cache = \"8M\"\n\n[[pool]]\nname = \"mirror\"\nraid = \"1\"\nmembers = [{:?}, {:?}]\ncreate_size = \"16M\"\n",
            a.display().to_string(),
            b.display().to_string()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let d = Daemon::start(&dir, &["--config", cfg]);
    let pools = d.json(&["pool", "list"]);
    assert_eq!(
        pools.as_array().unwrap().len(),
        1,
        "no default pool when pools are configured"
    );
    assert_eq!(pools[0]["name"], "mirror");
    assert_eq!(pools[0]["level"], "raid1");
    let v = d.json(&["volume", "create", "v", "--size", "4M"]);
    assert_eq!(
        v["pool"], "mirror",
        "the only pool is the default for volumes"
    );
    let shown = d.ok(&["pool", "show", "mirror"]);
    assert!(shown.contains("read cache: 0 B of 8 MiB in use"), "{shown}");
    assert!(d.stop().success());

    // A missing member device is named.
    std::fs::remove_file(&b).unwrap();
    let (status, err) = serve_refused(&dir, &["--config", cfg]);
    assert!(!status.success());
    assert!(
        err.contains(&b.display().to_string()) && err.contains("does not exist"),
        "{err}"
    );

    // An invalid configuration names the field.
    let bad = t.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[pool]]\nname = \"p\"\nraid = \"7\"\nmembers = [\"/x\", \"/y\", \"/z\"]\n",
    )
    .unwrap();
    let (status, err) = serve_refused(&dir, &["--config", bad.to_str().unwrap()]);
    assert!(!status.success());
    assert!(err.contains("pool[0].raid"), "{err}");
}
