//! `vsa vm console NAME --attach|--follow`: typing on a VM's serial console and
//! following what it prints, through the real CLI, with a guest that answers each line
//! (`vsa_e2e::asm::ECHO_GUEST`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use vsa_e2e::asm::{c_guest, ECHO_GUEST};
use vsa_e2e::{kvm_here, vsa_bin, wait_for, Daemon};

/// A CLI process whose output is gathered as it comes.
struct Cli {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Cli {
    fn start(d: &Daemon, args: &[&str]) -> Cli {
        let mut child = Command::new(vsa_bin())
            .arg("--data-dir")
            .arg(&d.data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Cli { child, out }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn wait_text(&self, want: &str) {
        wait_for(60, || self.text().contains(want).then_some(()))
            .unwrap_or_else(|| panic!("no {want:?} in {:?}", self.text()));
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the CLI to end; its exit status and standard error.
    fn finish(mut self) -> (bool, String) {
        let status = wait_for(60, || self.child.try_wait().unwrap()).expect("the CLI did not end");
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.success(), err)
    }
}

#[test]
fn typing_on_a_vm_console_and_following_it() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    let elf = c_guest(tmp.path(), "echo", ECHO_GUEST);
    d.ok(&[
        "vm",
        "create",
        "echo",
        "--kernel",
        elf.to_str().unwrap(),
        "--memory",
        "32M",
    ]);
    // Typing on a VM that does not run is refused with what to do.
    let (status, body) = d.post("/api/v1/vms/echo/console", &json!({"input": "x"}));
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("vsa vm start echo"), "{body}");
    d.ok(&["vm", "start", "echo"]);

    // Attach, type a line, read the answer, detach with Ctrl+]: the VM runs on.
    let mut attached = Cli::start(&d, &["vm", "console", "echo", "--attach"]);
    attached.wait_text("type a line");
    attached.type_bytes(b"hello vsa\r");
    attached.wait_text("echo: HELLO VSA");
    attached.type_bytes(b"second\r");
    attached.wait_text("echo: SECOND");
    attached.type_bytes(&[0x1d]);
    let (ok, err) = attached.finish();
    assert!(ok && err.contains("detached"), "{err}");
    assert_eq!(d.json(&["vm", "show", "echo"])["state"], "running");

    // Following from another client while typing through the API: it ends when the VM
    // stops.
    let follower = Cli::start(&d, &["vm", "console", "echo", "--follow"]);
    follower.wait_text("echo: SECOND");
    let (status, body) = d.post("/api/v1/vms/echo/console", &json!({"input": "quit\r"}));
    assert_eq!(status, 200, "{body}");
    follower.wait_text("bye");
    let (ok, err) = follower.finish();
    assert!(ok && err.contains("not running"), "{err}");

    // Reading from an offset gives what came after it.
    let all = d.post("/api/v1/vms/echo/console", &json!({"from": 0})).1;
    let at = all["text"].as_str().unwrap().find("echo: SECOND").unwrap() as u64;
    let rest = d.post("/api/v1/vms/echo/console", &json!({"from": at})).1;
    assert!(
        rest["text"].as_str().unwrap().starts_with("echo: SECOND"),
        "{rest}"
    );
    assert_eq!(rest["running"], false, "{rest}");
    let long = "x".repeat(5000);
    let (status, _) = d.post("/api/v1/vms/echo/console", &json!({"input": long}));
    assert_eq!(status, 400);
}
