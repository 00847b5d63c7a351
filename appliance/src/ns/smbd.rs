//! `[namespace.samba]`: `vsa serve` runs Samba's `smbd` (Debian `samba`) as the DFS root
//! of every namespace, and supervises it.
//!
//! ```toml
//! [namespace.samba]
//! listen = "127.0.0.1"   # the address smbd serves on, port 445 (a referral carries no port)
//! trees = "/srv/dfs"     # where the namespaces' msdfs trees go, one directory each
//! smbd = "smbd"          # the program (default: smbd from PATH)
//! ```
//!
//! Each namespace gets a share of its name whose path is its msdfs tree (its Samba export,
//! `<trees>/<name>` unless `vsa ns export-samba` put it elsewhere), kept current by the
//! namespace component. `trees` must be outside the daemon's data directory, which is
//! private: Samba serves the trees to guests, which must be able to reach them. The daemon writes `<data-dir>/samba/smb.conf`
//! (state, locks and logs under `<data-dir>/samba` too), starts `smbd` in the foreground in
//! a process group of its own, rewrites the configuration and sends SIGHUP when
//! namespaces come and go, restarts it (after 1 s, doubling to 30 s) if it dies, and stops
//! it with SIGTERM (then SIGKILL) when the daemon stops.

pub use super::health::{SambaKeys, SambaSettings};
use super::service::Namespaces;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The `smb.conf` for `shares` (name, msdfs tree) served on `listen`:445, everything of
/// smbd's own under `dir`.
pub fn conf(dir: &Path, listen: IpAddr, shares: &[(String, String)]) -> String {
    let d = |s: &str| dir.join(s).display().to_string();
    // A loopback address other than 127.0.0.1 is on no interface: Samba takes it with a
    // netmask.
    let interfaces = match listen {
        IpAddr::V4(v4) if v4.is_loopback() => format!("{listen}/8"),
        _ => listen.to_string(),
    };
    let mut c = format!(
        "# Written by vsa serve ([namespace.samba]); rewritten as namespaces change.\n\
         [global]\n  interfaces = {interfaces}\n  bind interfaces only = yes\n  \
         smb ports = 445\n  disable netbios = yes\n  server role = standalone server\n  \
         map to guest = Bad User\n  host msdfs = yes\n  load printers = no\n  \
         printing = bsd\n  printcap name = /dev/null\n  disable spoolss = yes\n  \
         server min protocol = SMB2\n  pid directory = {}\n  lock directory = {}\n  \
         state directory = {}\n  cache directory = {}\n  private dir = {}\n  \
         ncalrpc dir = {}\n  log file = {}/log.%m\n",
        d("run"),
        d("lock"),
        d("state"),
        d("cache"),
        d("private"),
        d("ncalrpc"),
        d("log"),
    );
    for (share, path) in shares {
        c.push('\n');
        c.push_str(&vsa_namespace::msdfs::share_section(share, path));
    }
    c
}

/// Writes the configuration (and smbd's directories); its path.
fn write_conf(dir: &Path, s: &SambaSettings, ns: &Namespaces) -> std::io::Result<PathBuf> {
    for sub in ["run", "lock", "state", "cache", "private", "ncalrpc", "log"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let path = dir.join("smb.conf");
    let tmp = dir.join("smb.conf.new");
    std::fs::write(&tmp, conf(dir, s.listen, &ns.samba_shares()))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

fn signal(child: &std::process::Child, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status();
}

/// Stops `child`: SIGTERM, then SIGKILL after 10 s.
async fn stop_smbd(mut child: std::process::Child) {
    signal(&child, "-TERM");
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What woke the supervisor.
enum Ev {
    Stop,
    Changed,
    Tick,
}

/// Runs and supervises smbd until `stop`.
pub async fn supervise(
    ns: Arc<Namespaces>,
    s: SambaSettings,
    dir: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let conf = match write_conf(&dir, &s, &ns) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(dir = %dir.display(), "cannot write smbd's configuration: {e}");
                return;
            }
        };
        let log = std::fs::File::create(dir.join("log/smbd.out"));
        let mut cmd = std::process::Command::new(&s.smbd);
        cmd.process_group(0)
            .args(["--foreground", "--no-process-group", "--debug-stdout"])
            .arg(format!("--configfile={}", conf.display()))
            .stdin(std::process::Stdio::null());
        if let Ok(l) = log {
            if let Ok(l2) = l.try_clone() {
                cmd.stdout(l).stderr(l2);
            }
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(
                    smbd = s.smbd,
                    "cannot start smbd (apt-get install samba): {e}"
                );
                return;
            }
        };
        tracing::info!(pid = child.id(), listen = %s.listen, "smbd serves the namespaces on port 445");
        let started = std::time::Instant::now();
        loop {
            let ev = tokio::select! {
                _ = stop.wait_for(|v| *v) => Ev::Stop,
                _ = ns.samba_changed().notified() => Ev::Changed,
                _ = tokio::time::sleep(Duration::from_millis(500)) => Ev::Tick,
            };
            match ev {
                Ev::Stop => {
                    stop_smbd(child).await;
                    return;
                }
                Ev::Changed => {
                    if let Err(e) = write_conf(&dir, &s, &ns) {
                        tracing::error!("cannot rewrite smbd's configuration: {e}");
                    }
                    signal(&child, "-HUP");
                }
                Ev::Tick => {
                    if let Ok(Some(status)) = child.try_wait() {
                        tracing::error!(
                            %status,
                            "smbd stopped; starting it again in {backoff:?} (its log: {})",
                            dir.join("log/smbd.out").display()
                        );
                        break;
                    }
                }
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        let stopped = tokio::select! {
            _ = stop.wait_for(|v| *v) => true,
            _ = tokio::time::sleep(backoff) => false,
        };
        if stopped {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_configuration_serves_each_namespace() {
        let c = conf(
            Path::new("/d/samba"),
            "127.0.0.9".parse().unwrap(),
            &[("corp".into(), "/d/samba/trees/corp".into())],
        );
        assert!(c.contains("interfaces = 127.0.0.9/8\n"));
        assert!(c.contains("[corp]\n    path = /d/samba/trees/corp\n    msdfs root = yes\n"));
        assert!(c.contains("pid directory = /d/samba/run\n"));
        let c = conf(Path::new("/d"), "10.0.0.5".parse().unwrap(), &[]);
        assert!(c.contains("interfaces = 10.0.0.5\n"));
    }
}
