//! Real Samba servers for the namespace tests: an `smbd` (Debian `samba`) on one loopback
//! address and port 445 (a DFS referral carries no port, so each server needs an address
//! of its own), with its own configuration and state directories under a temporary
//! directory, stopped by PID when dropped.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `smbd`.
#[derive(Debug)]
pub struct Smbd {
    child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Smbd {
    /// Starts `smbd` on `addr`:445 serving `shares` (name, `smb.conf` lines of the share),
    /// its files under `dir`; waits until it accepts connections. `None` (with the reason
    /// printed) if it cannot start.
    pub fn start(addr: &str, dir: &Path, shares: &[(&str, String)]) -> Option<Smbd> {
        let d = dir.to_owned();
        for sub in ["pid", "lock", "state", "cache", "private", "ncalrpc", "log"] {
            std::fs::create_dir_all(d.join(sub)).ok()?;
        }
        let conf_path = d.join("smb.conf");
        std::fs::write(&conf_path, Smbd::conf(addr, &d, shares)).ok()?;
        let log = std::fs::File::create(d.join("smbd.out")).ok()?;
        // A process group of its own: smbd signals its whole group when it stops.
        let child = Command::new("smbd")
            .process_group(0)
            .args(["--foreground", "--no-process-group", "--debug-stdout"])
            .arg(format!("--configfile={}", conf_path.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot start smbd (apt-get install samba): {e}");
                return None;
            }
        };
        let sock: SocketAddr = format!("{addr}:445").parse().ok()?;
        let up = crate::wait_for(60, || {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(false);
            }
            TcpStream::connect_timeout(&sock, Duration::from_millis(200))
                .ok()
                .map(|_| true)
        });
        if up != Some(true) {
            let _ = child.kill();
            let _ = child.wait();
            let out = std::fs::read_to_string(d.join("smbd.out")).unwrap_or_default();
            eprintln!("smbd on {addr} did not start:\n{out}");
            return None;
        }
        Some(Smbd {
            child,
            addr: addr.to_owned(),
            dir: d,
        })
    }

    /// The `smb.conf` of a server on `addr` keeping its files under `d`, serving `shares`.
    fn conf(addr: &str, d: &Path, shares: &[(&str, String)]) -> String {
        let p = |s: &str| d.join(s).display().to_string();
        let mut conf = format!(
            "[global]\n  interfaces = {addr}/8\n  bind interfaces only = yes\n  smb ports = 445\n  \
             disable netbios = yes\n  pid directory = {}\n  lock directory = {}\n  \
             state directory = {}\n  cache directory = {}\n  private dir = {}\n  \
             ncalrpc dir = {}\n  log file = {}/log.%m\n  map to guest = Bad User\n  \
             server role = standalone server\n  host msdfs = yes\n  load printers = no\n  \
             printing = bsd\n  printcap name = /dev/null\n  disable spoolss = yes\n  \
             server min protocol = SMB2\n",
            p("pid"),
            p("lock"),
            p("state"),
            p("cache"),
            p("private"),
            p("ncalrpc"),
            p("log"),
        );
        for (name, body) in shares {
            conf.push_str(&format!("[{name}]\n{body}"));
        }
        conf
    }

    /// Sends `sig` to every process of this smbd (the main one and the ones it forked for
    /// each client connection: stopping all of them freezes the sessions already open too).
    pub fn signal_all(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .status();
    }

    /// Serves `shares` from now on (its configuration rewritten, then SIGHUP: smbd
    /// reloads it; a share left out is gone for new tree connects).
    pub fn reconfigure(&self, shares: &[(&str, String)]) {
        std::fs::write(
            self.dir.join("smb.conf"),
            Smbd::conf(&self.addr, &self.dir, shares),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", self.dir.display()));
        self.signal("-HUP");
    }

    /// A read-write share of `path` for guests (Samba's guest account must reach it:
    /// `path` and the directories above it are opened to others, e.g. a test's 0700
    /// temporary directory).
    pub fn share(path: &Path) -> String {
        open_to_guests(path);
        format!(
            "  path = {}\n  guest ok = yes\n  read only = no\n",
            path.display()
        )
    }

    /// A read-write share of `path` for `user` only (no guests).
    pub fn private_share(path: &Path, user: &str) -> String {
        format!(
            "  path = {}\n  guest ok = no\n  read only = no\n  valid users = {user}\n",
            path.display()
        )
    }

    /// Gives Unix user `user` the SMB password `password` in this server's own password
    /// database (`smbpasswd -a`, in its private directory).
    pub fn add_user(&self, user: &str, password: &str) {
        use std::io::Write;
        let mut child = Command::new("smbpasswd")
            .arg("-c")
            .arg(self.dir.join("smb.conf"))
            .args(["-a", "-s", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run smbpasswd (apt-get install samba): {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = write!(stdin, "{password}\n{password}\n");
        }
        let out = child.wait_with_output().expect("smbpasswd");
        assert!(
            out.status.success(),
            "smbpasswd -a {user}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends `sig` (`-STOP`, `-CONT`, ...) to the main smbd process.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }

    /// Stops it now (also on drop): SIGTERM, so it stops the processes it forked, then
    /// SIGKILL if it has not gone within 10 s.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // A test that failed while it was frozen: thawed first, or it would not stop.
        self.signal_all("-CONT");
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let gone = crate::wait_for(10, || match self.child.try_wait() {
            Ok(Some(_)) | Err(_) => Some(()),
            Ok(None) => None,
        });
        if gone.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `smbclient -N //ADDR/SHARE -c COMMANDS`: its output, or its error output.
pub fn smbclient(unc: &str, commands: &str) -> Result<String, String> {
    let out = Command::new("smbclient")
        .args(["-N", unc, "-c", commands])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run smbclient (apt-get install smbclient): {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Lets others (Samba's guest account) traverse the directories from `path` up, and read
/// and write `path` itself.
pub fn open_to_guests(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777));
    let mut p = path.parent();
    while let Some(dir) = p {
        if let Ok(m) = std::fs::metadata(dir) {
            let mode = m.permissions().mode();
            if mode & 0o005 != 0o005 {
                let _ =
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o005));
            }
        }
        p = dir.parent();
    }
}

/// The Python that has `smbprotocol` (PyPI), an SMB client library independent of
/// Samba's: `VSA_PYTHON`, or the virtual environment `.ci/run` makes.
pub fn smbprotocol_python() -> String {
    std::env::var("VSA_PYTHON").unwrap_or_else(|_| "/var/tmp/vsa-pyvenv/bin/python".to_owned())
}

/// Reads the file at UNC path `unc` with `smbprotocol`, as a guest of every server in
/// `servers` that answers (it follows DFS referrals itself); the file's text, or why not.
pub fn smbprotocol_read(unc: &str, servers: &[&str]) -> Result<String, String> {
    const SCRIPT: &str = "import sys, smbclient\n\
        smbclient.ClientConfig(require_secure_negotiate=False)\n\
        for s in sys.argv[2:]:\n\
        \x20   try:\n\
        \x20       smbclient.register_session(s, username='vsa-guest', password='x', require_signing=False)\n\
        \x20   except Exception as e:\n\
        \x20       print(f'{s}: {e}', file=sys.stderr)\n\
        with smbclient.open_file(sys.argv[1], mode='rb') as f:\n\
        \x20   sys.stdout.buffer.write(f.read())\n";
    let python = smbprotocol_python();
    let out = Command::new(&python)
        .args(["-c", SCRIPT, unc])
        .args(servers)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {python} ({e}): python3 -m venv /var/tmp/vsa-pyvenv && \
                 /var/tmp/vsa-pyvenv/bin/pip install smbprotocol (as .ci/run does)"
            )
        });
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A configuration file in `dir` with quick namespace health probes (every 200 ms, two
/// checks to change a target's health): a frozen or stopped server goes last in its
/// link's referral order within seconds, and comes back first as quickly.
pub fn quick_probes(dir: &Path) -> PathBuf {
    let config = dir.join("vsa.toml");
    std::fs::write(
        &config,
        "[namespace]\nprobe_interval_ms = 200\nprobe_timeout_ms = 2000\n\
         unhealthy_after = 2\nhealthy_after = 2\n",
    )
    .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    config
}
