//! A harness for end-to-end tests: starts the real `vsa` binary on a free port with a
//! temporary data directory and drives it through the `vsa` CLI and HTTP.
//!
//! The `vsa` binary is found next to the test executable's directory
//! (`<target-dir>/<profile>/deps/e2e-…` → `<target-dir>/<profile>/vsa`). `cargo test
//! --workspace` builds it before running any test (the `vsa-appliance` package has
//! integration tests, so Cargo builds its binary); with `-p vsa-e2e` alone, build it first:
//! `cargo build -p vsa-appliance`.
#![forbid(unsafe_code)]
// Test support: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod asm;
pub mod guest;
pub mod initiator;
pub mod netns;
pub mod samba;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `vsa` binary of this build.
pub fn vsa_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let bin = profile_dir.join("vsa");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p vsa-appliance` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// Runs `vsa` with these arguments and no daemon-specific flags.
pub fn vsa(args: &[&str]) -> Output {
    Command::new(vsa_bin())
        .args(args)
        .env_remove("VSA_DATA_DIR")
        .env_remove("VSA_API")
        .env_remove("VSA_TOKEN")
        .output()
        .expect("running vsa")
}

/// Output as text, for messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A running `vsa serve`.
#[derive(Debug)]
pub struct Daemon {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The API token.
    pub token: String,
    child: Option<Child>,
    agent: ureq::Agent,
}

fn log_file(data_dir: &Path, name: &str) -> std::fs::File {
    let logs = data_dir.parent().unwrap_or(data_dir).join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(name))
        .unwrap()
}

/// The daemon's stderr log for `data_dir` (see [`Daemon::log`]).
pub fn read_log(data_dir: &Path) -> String {
    let logs = data_dir
        .parent()
        .unwrap_or(data_dir)
        .join("logs/stderr.log");
    std::fs::read_to_string(logs).unwrap_or_default()
}

/// Calls `f` every 100 ms until it returns `Some`, for at most `secs` seconds.
pub fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether /dev/kvm can be used; when not, says so on stderr (a VM test then passes
/// without booting anything).
pub fn kvm_here() -> bool {
    let here = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !here {
        eprintln!("NOT RUN: /dev/kvm cannot be opened on this machine; no guest was booted");
    }
    here
}

/// Whether /dev/fuse can be used; when not, says so on stderr (a mount test then passes
/// without mounting anything).
pub fn fuse_here() -> bool {
    let here = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok();
    if !here {
        eprintln!("NOT RUN: /dev/fuse cannot be opened here; nothing was mounted");
    }
    here
}

/// Starts `vsa serve` on `data_dir` with a small default pool and `extra` flags, and
/// returns the child without waiting for it.
pub fn spawn_serve(data_dir: &Path, extra: &[&str]) -> Child {
    Command::new(vsa_bin())
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--api", "127.0.0.1:0", "--iscsi", "127.0.0.1:0"])
        .args(["--default-member-size", "64M"])
        .args(extra)
        // VSA_E2E_RUST_LOG=vsa_vtl=debug,info shows a test's daemon in more detail.
        .env(
            "RUST_LOG",
            std::env::var("VSA_E2E_RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .stdin(Stdio::null())
        .stdout(log_file(data_dir, "stdout.log"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting vsa serve")
}

/// Starts a daemon that is expected to refuse to start; returns its exit status and
/// standard error.
pub fn serve_refused(data_dir: &Path, extra: &[&str]) -> (ExitStatus, String) {
    let child = spawn_serve(data_dir, extra);
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Daemon {
    /// Starts `vsa serve` and waits until its API answers.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Daemon {
        let addr_file = data_dir.join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut child = spawn_serve(data_dir, extra);
        // Drain stderr into a log file so the daemon never blocks on it.
        let mut err = child.stderr.take().unwrap();
        let mut log = log_file(data_dir, "stderr.log");
        std::thread::spawn(move || std::io::copy(&mut err, &mut log));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let logs = data_dir.parent().unwrap().join("logs/stderr.log");
                panic!(
                    "vsa serve exited with {status} before serving:\n{}",
                    std::fs::read_to_string(logs).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "vsa serve did not write {}",
                addr_file.display()
            );
            if let Ok(addr) = std::fs::read_to_string(&addr_file) {
                let token = std::fs::read_to_string(data_dir.join("token")).unwrap();
                let d = Daemon {
                    data_dir: data_dir.to_owned(),
                    addr: addr.trim().to_owned(),
                    token: token.trim().to_owned(),
                    child: Some(child),
                    agent: agent.clone(),
                };
                if d.get("/api/v1/status").0 == 200 {
                    return d;
                }
                child = d.into_child();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn into_child(mut self) -> Child {
        self.child.take().unwrap()
    }

    /// The iSCSI portal the daemon listens on (`127.0.0.1:port`, from `iscsi.addr`).
    pub fn iscsi_addr(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("iscsi.addr"))
            .expect("the daemon writes iscsi.addr")
            .trim()
            .to_owned()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Runs `vsa --data-dir DIR args...` (the CLI finds address and token itself).
    pub fn cli(&self, args: &[&str]) -> Output {
        let dir = self.data_dir.to_str().unwrap();
        let mut all = vec!["--data-dir", dir];
        all.extend_from_slice(args);
        vsa(&all)
    }

    /// Runs the CLI, asserts it failed, returns its standard error.
    pub fn refused(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(
            !o.status.success(),
            "vsa {args:?} should fail: {}",
            show(&o)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Runs the CLI, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(o.status.success(), "vsa {args:?} failed: {}", show(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits (up to 5 minutes) for the scrub of `pool` to finish; returns `pool show`.
    pub fn wait_scrub(&self, pool: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let p = self.json(&["pool", "show", pool]);
            if p["scrub"]["finished"] == true {
                return p;
            }
            assert!(Instant::now() < deadline, "the scrub did not finish: {p}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs the CLI with `--json`, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("vsa {args:?}: {e}: {out}"))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
        let mut r = r.unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET with the token.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_with(path, Some(&self.token))
    }

    /// GET with this token (or none).
    pub fn get_with(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::answer(req.call())
    }

    /// POST a JSON body with this token (or none).
    pub fn post_with(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.agent.post(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::answer(req.send_json(body))
    }

    /// POST a JSON body with the token.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_with(path, Some(&self.token), body)
    }

    /// PATCH a JSON body with the token.
    pub fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let req = self
            .agent
            .patch(self.url(path))
            .header("Authorization", format!("Bearer {}", self.token));
        Self::answer(req.send_json(body))
    }

    /// Everything the daemons of this data directory wrote to stderr so far (the log; it
    /// is kept across restarts).
    pub fn log(&self) -> String {
        read_log(&self.data_dir)
    }

    /// Waits (up to `secs` seconds) until the log has a line containing every one of
    /// `words`, and returns that line.
    pub fn wait_log(&self, words: &[&str], secs: u64) -> String {
        let found = wait_for(secs, || {
            self.log()
                .lines()
                .find(|l| words.iter().all(|w| l.contains(w)))
                .map(str::to_owned)
        });
        found.unwrap_or_else(|| {
            panic!(
                "no log line with {words:?} within {secs} s; the log:\n{}",
                self.log()
            )
        })
    }

    /// `GET /metrics` (no token: the test runs on loopback) parsed into
    /// `name{labels}` → value.
    pub fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let (status, body) = self.get_with("/metrics", None);
        assert_eq!(status, 200, "{body}");
        body.as_str()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_owned(), v.parse().ok()?))
            })
            .collect()
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        let mut c = self.child.take().unwrap();
        // The shell's `kill` builtin: no unsafe code and no extra package.
        let st = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", c.id())])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "vsa serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The outcome of one `iscsi-test-cu` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CuOutcome {
    /// Ran and passed.
    Passed,
    /// Reported `[SKIPPED]` (the suite prints "passed" after it; it did not run).
    Skipped,
    /// Failed.
    Failed,
}

/// Parses `iscsi-test-cu`'s verbose output into `Suite.Test` → outcome, keeping each
/// test's text for messages.
///
/// CUnit's verdict is the word after `Test: NAME ...` or on a line of its own (`passed`
/// or `FAILED`); `[FAILED]` lines are libiscsi's own logging (retries, cleanups) and do
/// not decide. A passed test whose text says `[SKIPPED]` did not run.
pub fn parse_test_cu(out: &str) -> Vec<(String, CuOutcome, String)> {
    let mut results = Vec::new();
    let mut suite = String::new();
    let mut current: Option<(String, String)> = None;
    let finish = |cur: Option<(String, String)>, results: &mut Vec<_>| {
        if let Some((name, text)) = cur {
            results.push((name, verdict(&text), text));
        }
    };
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("Suite: ") {
            finish(current.take(), &mut results);
            suite = s.trim().to_owned();
        } else if let Some(t) = line.trim_start().strip_prefix("Test: ") {
            finish(current.take(), &mut results);
            let (name, rest) = t.split_once(" ...").unwrap_or((t, ""));
            current = Some((format!("{suite}.{}", name.trim()), format!("{rest}\n")));
        } else if line.starts_with("Run Summary") {
            finish(current.take(), &mut results);
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    finish(current.take(), &mut results);
    results
}

fn verdict(text: &str) -> CuOutcome {
    let mut passed = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("FAILED") || t.ends_with("...FAILED") {
            return CuOutcome::Failed;
        }
        if t.starts_with("passed") || (t.ends_with("passed") && !t.contains('[')) {
            passed = true;
        }
    }
    match (passed, text.contains("[SKIPPED]")) {
        (true, true) => CuOutcome::Skipped,
        (true, false) => CuOutcome::Passed,
        (false, _) => CuOutcome::Failed,
    }
}

/// Every directory (ending in `/`) and every file's sha256 below `root`, paths relative to
/// it, as `find` and `sha256sum` see them: two trees are copies when these are equal.
pub fn tree_listing(root: &Path) -> String {
    let sh = |script: String| {
        let o = Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh");
        assert!(o.status.success(), "{script}: {}", show(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let r = root.display();
    let dirs = sh(format!(
        "find '{r}' -mindepth 1 -type d -printf '%P/\\n' | sort"
    ));
    let files = sh(format!(
        "cd '{r}' && find . -type f -exec sha256sum {{}} + | sort -k2"
    ));
    format!("{dirs}\n{files}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cunit_verdicts_not_libiscsi_log_lines() {
        let out = "Suite: Inquiry\n  Test: Standard ...passed\n  Test: BlockLimits ...    \
                   [SKIPPED] Logical unit is fully provisioned.\npassed\n  Test: Residuals \
                   ...passed    [FAILED] PRIN command: failed with sense.\n  Test: Simple ...    \
                   [FAILED] COMPAREANDWRITE successful\nFAILED\n    1. x.c:93 - 0\n\
                   Run Summary: ...\n";
        let r: Vec<(String, CuOutcome)> = parse_test_cu(out)
            .into_iter()
            .map(|(n, o, _)| (n, o))
            .collect();
        assert_eq!(
            r,
            vec![
                ("Inquiry.Standard".into(), CuOutcome::Passed),
                ("Inquiry.BlockLimits".into(), CuOutcome::Skipped),
                ("Inquiry.Residuals".into(), CuOutcome::Passed),
                ("Inquiry.Simple".into(), CuOutcome::Failed),
            ]
        );
    }
}
