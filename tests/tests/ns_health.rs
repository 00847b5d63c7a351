//! Health probes of namespace targets through the real daemon, with fast probe settings:
//! a local directory that goes away turns unhealthy (referrals put it last, an event and
//! the metrics say so) and healthy again when it is back; an SMB server that accepts
//! connections and never answers turns unhealthy by timeout while the other target's
//! probes keep their pace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vsa_e2e::{wait_for, Daemon};

/// Writes a configuration file with fast probes and gives back the `--config` flag.
fn fast_probes(dir: &Path, timeout_ms: u64) -> [String; 2] {
    let path = dir.join("vsa.toml");
    std::fs::write(
        &path,
        format!(
            "[namespace]\nprobe_interval_ms = 200\nprobe_timeout_ms = {timeout_ms}\n\
             unhealthy_after = 2\nhealthy_after = 2\n"
        ),
    )
    .unwrap();
    ["--config".into(), path.display().to_string()]
}

fn args(a: &[String; 2]) -> [&str; 2] {
    [a[0].as_str(), a[1].as_str()]
}

/// The health of target `url` of link `link` in `vsa ns show corp`.
fn health(d: &Daemon, link: &str, url: &str) -> String {
    let v = d.json(&["ns", "show", "corp"]);
    let l = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == link)
        .unwrap_or_else(|| panic!("no link {link}: {v}"));
    let t = l["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["url"] == url)
        .unwrap_or_else(|| panic!("no target {url}: {v}"));
    t["health"].as_str().unwrap().to_owned()
}

/// Waits (at most `secs`) until the target has `want` health; how long it took.
fn wait_health(d: &Daemon, link: &str, url: &str, want: &str, secs: u64) -> Duration {
    let start = Instant::now();
    let got = wait_for(secs, || (health(d, link, url) == want).then_some(()));
    assert!(
        got.is_some(),
        "{url} did not become {want} within {secs} s: {}\nlog:\n{}",
        d.ok(&["ns", "show", "corp"]),
        d.log()
    );
    start.elapsed()
}

/// The URLs of a referral, in order, with their `unhealthy` flag.
fn referral(d: &Daemon, path: &str) -> Vec<(String, bool)> {
    let r = d.json(&["ns", "resolve", "corp", path]);
    r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["url"].as_str().unwrap().to_owned(),
                t["unhealthy"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn metric(d: &Daemon, name: &str) -> f64 {
    d.metrics()
        .get(&format!("{name}{{namespace=\"corp\"}}"))
        .copied()
        .unwrap_or(0.0)
}

#[test]
fn a_directory_that_goes_away_fails_over_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    for d in [&first, &second] {
        std::fs::create_dir_all(d).unwrap();
    }
    let url = |p: &Path| format!("file://{}", p.display());
    let (a, b) = (url(&first), url(&second));
    let config = fast_probes(tmp.path(), 1000);

    let d = Daemon::start(&dir, &args(&config));
    d.ok(&["ns", "create", "corp"]);
    let v = d.json(&[
        "ns",
        "link",
        "add",
        "corp",
        "docs",
        &a,
        &b,
        "--stable",
        "--failback",
    ]);
    assert_eq!(v["failback"], true, "{v}");
    assert_eq!(
        referral(&d, "docs/x"),
        [(a.clone(), false), (b.clone(), false)]
    );
    let r = d.json(&["ns", "resolve", "corp", "docs"]);
    assert_eq!(r["failback"], true, "{r}");

    // The first directory goes away: unhealthy after two failed checks, placed last.
    std::fs::remove_dir(&first).unwrap();
    wait_health(&d, "docs", &a, "unhealthy", 30);
    assert_eq!(
        referral(&d, "docs/x"),
        [(b.clone(), false), (a.clone(), true)]
    );
    let shown = d.ok(&["ns", "show", "corp"]);
    assert!(shown.contains("unhealthy since"), "{shown}");
    let events = d.json(&["ns", "events"]);
    let e = &events.as_array().unwrap()[0];
    assert_eq!(
        (&e["target"], &e["from"], &e["to"], &e["link"]),
        (
            &Value::from(a.as_str()),
            &Value::from("healthy"),
            &Value::from("unhealthy"),
            &Value::from("docs")
        ),
        "{events}"
    );
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot find the directory") && reason.contains("2 failed checks"),
        "{reason}"
    );
    let text = d.ok(&["ns", "events", "--namespace", "corp"]);
    assert!(text.contains("healthy -> unhealthy"), "{text}");
    d.wait_log(&["is now unhealthy", &a], 10);
    assert_eq!(metric(&d, "vsa_ns_health_changes_total"), 1.0);
    assert!(metric(&d, "vsa_ns_probe_failures_total") >= 2.0);
    let m = d.metrics();
    assert_eq!(
        m.get("vsa_ns_targets{health=\"unhealthy\",namespace=\"corp\"}"),
        Some(&1.0),
        "{m:?}"
    );

    // It comes back: healthy after two good checks, first again.
    std::fs::create_dir(&first).unwrap();
    wait_health(&d, "docs", &a, "healthy", 30);
    assert_eq!(
        referral(&d, "docs/x"),
        [(a.clone(), false), (b.clone(), false)]
    );
    let events = d.json(&["ns", "events", "--namespace", "corp"]);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        (&events[1]["from"], &events[1]["to"]),
        (&Value::from("unhealthy"), &Value::from("healthy"))
    );
    d.wait_log(&["is now healthy", &a], 10);
    assert_eq!(metric(&d, "vsa_ns_health_changes_total"), 2.0);
    let e = d.cli(&["ns", "events", "--namespace", "ghost"]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("no_such_namespace"));

    // The stored health survives a restart (a change is stored like any other).
    std::fs::remove_dir(&first).unwrap();
    wait_health(&d, "docs", &a, "unhealthy", 30);
    assert!(d.stop().success());
    std::fs::create_dir(&first).unwrap();
    let d = Daemon::start(&dir, &args(&config));
    let h = health(&d, "docs", &a);
    assert!(
        h == "unhealthy" || h == "healthy",
        "stored unhealthy, healthy once probed again: {h}"
    );
    wait_health(&d, "docs", &a, "healthy", 30);
    assert!(d.stop().success());
}

/// A TCP server that accepts connections and never answers; stops when dropped.
struct FrozenServer {
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FrozenServer {
    fn bind(addr: &str) -> std::io::Result<FrozenServer> {
        let l = TcpListener::bind(addr)?;
        l.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        n.fetch_add(1, Ordering::Relaxed);
                        held.push(c);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(FrozenServer {
            stop,
            accepted,
            thread: Some(thread),
        })
    }
}

impl Drop for FrozenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_frozen_smb_server_times_out_without_holding_up_the_others() {
    // SMB is port 445: a loopback address of its own, which needs root (as in CI).
    let server = match FrozenServer::bind("127.0.0.77:445") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: cannot listen on 127.0.0.77:445 ({e}); run the tests as root");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let local = tmp.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let file = format!("file://{}", local.display());
    let smb = "smb://127.0.0.77/docs";
    let timeout_secs = 4;
    let config = fast_probes(tmp.path(), timeout_secs * 1000);

    let d = Daemon::start(&dir, &args(&config));
    d.ok(&["ns", "create", "corp"]);
    // Forced: the frozen server would fail the check at add time.
    let v = d.json(&["ns", "link", "add", "corp", "docs", smb, &file, "--force"]);
    assert_eq!(v["targets"][0]["health"], "unknown", "{v}");
    wait_health(&d, "docs", &file, "healthy", 30);

    // While the SMB server's checks hang, the directory's go on every 200 ms: it turns
    // unhealthy long before one SMB check times out (were the checks in step, two
    // failed checks would take two SMB timeouts).
    std::fs::remove_dir(&local).unwrap();
    let took = wait_health(&d, "docs", &file, "unhealthy", 30);
    assert!(
        took < Duration::from_secs(timeout_secs),
        "the directory's probes were held up: {took:?}"
    );

    // The SMB target turns unhealthy by timeout.
    wait_health(&d, "docs", smb, "unhealthy", 30);
    assert!(server.accepted.load(Ordering::Relaxed) >= 2);
    let events = d.json(&["ns", "events"]);
    let e = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == smb)
        .unwrap_or_else(|| panic!("no event for {smb}: {events}"));
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not answer SMB2 NEGOTIATE within 4 s"),
        "{reason}"
    );
    // The daemon stops promptly, a check still hanging or not.
    let start = Instant::now();
    assert!(d.stop().success());
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    drop(server);
}
