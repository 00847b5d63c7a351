//! The reachability check a target gets when it is added: a `file://` target must be a
//! directory on the appliance, an `smb://` target's server must accept a TCP connection
//! on port 445 and an `nfs://` target's on port 2049. Each check gives up after
//! [`TIMEOUT`], name resolution included (it runs on a thread of its own, so a resolver
//! that hangs cannot hold the request). This is not a health probe: it runs once, when a
//! person adds the target.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vsa_namespace::{Scheme, TargetUrl};

/// How long one target's check may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The TCP port a target's server answers on (`None` for a local directory).
pub fn port(url: &TargetUrl) -> Option<u16> {
    match url.scheme() {
        Scheme::Smb => Some(445),
        Scheme::Nfs => Some(2049),
        Scheme::File => None,
    }
}

/// Checks that `url` can be reached; the error says why not.
pub fn check(url: &TargetUrl) -> Result<(), String> {
    match (port(url), url.server()) {
        (Some(port), Some(server)) => connect(server, port),
        _ => directory(url),
    }
}

/// Checks every URL at once (each on its own thread); the first failure in order.
pub fn check_all(urls: &[TargetUrl]) -> Result<(), (TargetUrl, String)> {
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = urls.iter().map(|u| s.spawn(|| check(u))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the check failed unexpectedly".into()))
            })
            .collect()
    });
    for (url, r) in urls.iter().zip(results) {
        r.map_err(|why| (url.clone(), why))?;
    }
    Ok(())
}

fn directory(url: &TargetUrl) -> Result<(), String> {
    let path = format!("/{}", url.path().join("/"));
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{path} on the appliance is not a directory")),
        Err(e) => Err(format!(
            "cannot find the directory {path} on the appliance: {e}"
        )),
    }
}

fn connect(server: &str, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    let addrs = resolve(server, port)?;
    let mut last = format!("{server} has no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "{server} port {port} did not answer within {} s",
                TIMEOUT.as_secs()
            ));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "{server} port {port} did not answer within {} s",
                    TIMEOUT.as_secs()
                );
            }
            Err(e) => last = format!("cannot connect to {server} port {port} ({addr}): {e}"),
        }
    }
    Err(last)
}

/// Resolves `server` on a thread of its own, waiting at most [`TIMEOUT`].
fn resolve(server: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let (tx, rx) = mpsc::channel();
    let name = format!("{server}:{port}");
    let spawned = std::thread::Builder::new()
        .name("ns-resolve".into())
        .spawn(move || {
            let r = name.to_socket_addrs().map(Iterator::collect::<Vec<_>>);
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return Err(format!("cannot look up {server}: {e}"));
    }
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(format!("cannot look up the server {server}: {e}")),
        Err(_) => Err(format!(
            "looking up the server {server} took more than {} s",
            TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> TargetUrl {
        TargetUrl::parse(s).unwrap()
    }

    #[test]
    fn directories_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let ok = url(&format!("file://{}", dir.path().display()));
        assert_eq!(check(&ok), Ok(()));
        let missing = url(&format!("file://{}/nope", dir.path().display()));
        assert!(check(&missing).unwrap_err().contains("cannot find"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let file = url(&format!("file://{}", file.display()));
        assert!(check(&file).unwrap_err().contains("not a directory"));
    }

    #[test]
    fn servers_must_accept_a_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(connect("127.0.0.1", port), Ok(()));
        drop(l);
        let e = connect("127.0.0.1", port).unwrap_err();
        assert!(e.contains("cannot connect to 127.0.0.1"), "{e}");
        let e = connect("no-such-host.invalid", 445).unwrap_err();
        assert!(e.contains("no-such-host.invalid"), "{e}");
        assert_eq!(port_of("smb://fs1/docs"), Some(445));
        assert_eq!(port_of("nfs://fs1/export"), Some(2049));
        assert_eq!(port_of("file:///srv"), None);
    }

    fn port_of(s: &str) -> Option<u16> {
        port(&url(s))
    }
}
