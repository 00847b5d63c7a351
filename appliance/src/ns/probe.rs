//! Whether a target answers: the check a target gets when it is added, and the one the
//! health probes (`health.rs`) repeat. Each is bounded by a timeout, however the target
//! misbehaves:
//!
//! | target | check |
//! | --- | --- |
//! | `file:///dir` | `stat` says it is a directory (on a thread of its own: a hung mount can block `stat` forever) |
//! | `smb://server/share/dir` | TCP port 445 accepts, and answers an SMB2 NEGOTIATE with an SMB2 NEGOTIATE response (`wire.rs`); then a session (with the server's credentials if set, else as a guest) opens the share and finds the directory (`smb_share.rs`; a server that takes no guests, when it has no credentials, passes on NEGOTIATE alone) |
//! | `nfs://server/...` | TCP port 2049 accepts, and accepts an ONC RPC NULL call to NFS version 3 (`wire.rs`) |
//!
//! Name resolution runs on a thread of its own too and counts against the same timeout.
//! A server that accepts the connection and never answers costs its check the timeout,
//! nothing more. A `stat` still hanging after its timeout is not started again for that
//! directory until it returns, so a dead mount holds one thread, not one per check.

use super::credentials::Credentials;
use super::wire;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vsa_namespace::{Scheme, TargetUrl};

/// How long the check of a target being added may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Directories whose `stat` has not returned yet.
static PENDING_STAT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The TCP port a target's server answers on (`None` for a local directory).
pub fn port(url: &TargetUrl) -> Option<u16> {
    match url.scheme() {
        Scheme::Smb => Some(445),
        Scheme::Nfs => Some(2049),
        Scheme::File => None,
    }
}

/// `2 s`, `500 ms`.
pub fn shown(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Checks that `url` answers within [`TIMEOUT`]; the error says why not.
pub fn check(url: &TargetUrl, creds: &Credentials) -> Result<(), String> {
    probe(url, TIMEOUT, creds).map(|_| ())
}

/// Checks every URL at once (each on its own thread); the first failure in order.
pub fn check_all(urls: &[TargetUrl], creds: &Credentials) -> Result<(), (TargetUrl, String)> {
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = urls.iter().map(|u| s.spawn(|| check(u, creds))).collect();
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

/// Checks that `url` answers within `timeout`: what answered, or why it did not. An SMB
/// server is logged on to with its credentials in `creds`, if any.
pub fn probe(url: &TargetUrl, timeout: Duration, creds: &Credentials) -> Result<String, String> {
    match (url.scheme(), port(url), url.server()) {
        (Scheme::Smb, Some(port), Some(server)) => smb(url, server, port, timeout, creds),
        (Scheme::Nfs, Some(port), Some(server)) => nfs(server, port, timeout),
        _ => directory(&format!("/{}", url.path().join("/")), timeout),
    }
}

/// `stat` of `path` on a thread, waiting at most `timeout`.
fn directory(path: &str, timeout: Duration) -> Result<String, String> {
    let pending = || PENDING_STAT.lock().unwrap_or_else(|e| e.into_inner());
    if pending().iter().any(|p| p == path) {
        return Err(format!(
            "an earlier check of {path} on the appliance has not returned yet (a hung mount?)"
        ));
    }
    pending().push(path.to_owned());
    let (tx, rx) = mpsc::channel();
    let owned = path.to_owned();
    let spawned = std::thread::Builder::new()
        .name("ns-stat".into())
        .spawn(move || {
            let r = std::fs::metadata(&owned);
            pending().retain(|p| *p != owned);
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        pending().retain(|p| p != path);
        return Err(format!("cannot start the check of {path}: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(m)) if m.is_dir() => Ok("the directory is there".into()),
        Ok(Ok(_)) => Err(format!("{path} on the appliance is not a directory")),
        Ok(Err(e)) => Err(format!(
            "cannot find the directory {path} on the appliance: {e}"
        )),
        Err(_) => Err(format!(
            "stat of {path} on the appliance timed out after {}",
            shown(timeout)
        )),
    }
}

fn timed_out(server: &str, port: u16, timeout: Duration) -> String {
    format!(
        "{server} port {port} did not answer within {}",
        shown(timeout)
    )
}

/// SMB2 NEGOTIATE on `server:port`, then the share of `url` (`smb_share.rs`).
fn smb(
    url: &TargetUrl,
    server: &str,
    port: u16,
    timeout: Duration,
    creds: &Credentials,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    negotiate(server, port, deadline, timeout)?;
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out(server, port, timeout));
    }
    let unc = url.to_string();
    let cred = creds.get(server);
    let at = super::smb_share::At {
        server,
        port,
        unc: &unc,
        cred: cred.as_ref(),
    };
    super::smb_share::check(&at, url.path(), left).unwrap_or_else(|| {
        Err(format!(
            "{unc}: the server answered SMB2 NEGOTIATE but did not finish the session and \
             tree connect within {}",
            shown(timeout)
        ))
    })
}

/// SMB2 NEGOTIATE on `server:port`, answered before `deadline`.
fn negotiate(server: &str, port: u16, deadline: Instant, timeout: Duration) -> Result<(), String> {
    let mut s = connect(server, port, deadline, timeout)?;
    let reply = exchange(
        &mut s,
        &wire::smb2_negotiate_request(),
        wire::SMB2_HEADER_LEN,
        wire::smb2_frame_len,
        deadline,
    )
    .map_err(|e| e.say(server, port, "SMB2 NEGOTIATE", timeout))?;
    wire::check_smb2_negotiate_reply(&reply)
        .map_err(|e| format!("{server} port {port} answered SMB2 NEGOTIATE wrongly: {e}"))
}

/// ONC RPC NULL to NFS version 3 on `server:port`.
fn nfs(server: &str, port: u16, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let mut s = connect(server, port, deadline, timeout)?;
    let xid = rand::random::<u32>();
    let reply = exchange(
        &mut s,
        &wire::rpc_null_call(xid),
        wire::RPC_REPLY_MAX,
        wire::rpc_fragment_len,
        deadline,
    )
    .map_err(|e| e.say(server, port, "the RPC NULL call", timeout))?;
    wire::check_rpc_null_reply(&reply, xid)
        .map(|a| a.to_string())
        .map_err(|e| format!("{server} port {port} answered the RPC NULL call wrongly: {e}"))
}

/// Why an exchange failed.
enum Exchange {
    TimedOut,
    Closed,
    Io(std::io::Error),
}

impl Exchange {
    fn say(self, server: &str, port: u16, what: &str, timeout: Duration) -> String {
        match self {
            Exchange::TimedOut => format!(
                "{server} port {port} accepted the connection but did not answer {what} \
                 within {}",
                shown(timeout)
            ),
            Exchange::Closed => {
                format!("{server} port {port} closed the connection without answering {what}")
            }
            Exchange::Io(e) => format!("{server} port {port}, {what}: {e}"),
        }
    }
}

fn io(e: std::io::Error) -> Exchange {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Exchange::TimedOut,
        _ => Exchange::Io(e),
    }
}

fn left(deadline: Instant) -> Result<Duration, Exchange> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Exchange::TimedOut)
    } else {
        Ok(left)
    }
}

/// Reads into `buf` until it is full or the peer closes, each read waiting no later than
/// `deadline`; how many bytes came.
fn read_full(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Exchange> {
    let mut got = 0;
    while got < buf.len() {
        s.set_read_timeout(Some(left(deadline)?)).map_err(io)?;
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(got)
}

/// Sends `request`, then reads a 4-byte length prefix and up to `max` bytes of the
/// message it announces; gives back the prefix and those bytes (fewer if the peer closed
/// the connection early: the parser judges them).
fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    max: usize,
    len_of: fn([u8; 4]) -> usize,
    deadline: Instant,
) -> Result<Vec<u8>, Exchange> {
    s.set_write_timeout(Some(left(deadline)?)).map_err(io)?;
    s.write_all(request).map_err(io)?;
    let mut prefix = [0u8; 4];
    match read_full(s, &mut prefix, deadline)? {
        0 => return Err(Exchange::Closed),
        n if n < 4 => return Ok(prefix[..n].to_vec()),
        _ => {}
    }
    let mut out = prefix.to_vec();
    out.resize(4 + len_of(prefix).min(max), 0);
    let n = read_full(s, &mut out[4..], deadline)?;
    out.truncate(4 + n);
    Ok(out)
}

/// A TCP connection to `server:port`, made before `deadline`.
fn connect(
    server: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let addrs = resolve(server, port, deadline)?;
    let mut last = format!("{server} has no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(server, port, timeout));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = timed_out(server, port, timeout);
            }
            Err(e) => last = format!("cannot connect to {server} port {port} ({addr}): {e}"),
        }
    }
    Err(last)
}

/// Resolves `server` on a thread of its own, waiting no later than `deadline`.
fn resolve(server: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
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
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(format!("cannot look up the server {server}: {e}")),
        Err(_) => Err(format!("looking up the server {server} took too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn url(s: &str) -> TargetUrl {
        TargetUrl::parse(s).unwrap()
    }

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn directories_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let ok = url(&format!("file://{}", dir.path().display()));
        assert_eq!(check(&ok, &Credentials::default()), Ok(()));
        let missing = url(&format!("file://{}/nope", dir.path().display()));
        assert!(check(&missing, &Credentials::default())
            .unwrap_err()
            .contains("cannot find"));
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let file = url(&format!("file://{}", file.display()));
        assert!(check(&file, &Credentials::default())
            .unwrap_err()
            .contains("not a directory"));
        assert!(PENDING_STAT.lock().unwrap().is_empty());
    }

    /// A server on an ephemeral port of 127.0.0.1 that answers each connection with
    /// `answer` (after reading what the client sent), or never when `None`.
    fn server(answer: Option<Vec<u8>>) -> (u16, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            match answer {
                Some(a) => {
                    let _ = s.write_all(&a);
                }
                // Frozen: hold the connection until the client gives up.
                None => {
                    let _ = s.read(&mut buf);
                }
            }
        });
        (port, h)
    }

    #[test]
    fn servers_must_accept_a_connection() {
        let deadline = || Instant::now() + T;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(connect("127.0.0.1", port, deadline(), T).is_ok());
        drop(l);
        let e = connect("127.0.0.1", port, deadline(), T).unwrap_err();
        assert!(e.contains("cannot connect to 127.0.0.1"), "{e}");
        let e = connect("no-such-host.invalid", 445, deadline(), T).unwrap_err();
        assert!(e.contains("no-such-host.invalid"), "{e}");
        assert_eq!(port_of("smb://fs1/docs"), Some(445));
        assert_eq!(port_of("nfs://fs1/export"), Some(2049));
        assert_eq!(port_of("file:///srv"), None);
    }

    #[test]
    fn smb_servers_must_answer_negotiate() {
        let mut reply = vec![0u8, 0, 0, 64];
        reply.extend_from_slice(&wire::SMB2_MAGIC);
        reply.extend_from_slice(&64u16.to_le_bytes());
        reply.resize(4 + 16, 0);
        reply.extend_from_slice(&1u32.to_le_bytes());
        reply.resize(4 + 64, 0);
        let (port, h) = server(Some(reply));
        let deadline = || Instant::now() + T;
        assert_eq!(negotiate("127.0.0.1", port, deadline(), T), Ok(()));
        h.join().unwrap();

        let (port, h) = server(Some(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()));
        let e = negotiate("127.0.0.1", port, deadline(), T).unwrap_err();
        assert!(e.contains("not an SMB2 message"), "{e}");
        h.join().unwrap();

        let (port, h) = server(Some(Vec::new()));
        let e = negotiate("127.0.0.1", port, deadline(), T).unwrap_err();
        assert!(e.contains("closed the connection"), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn a_frozen_server_times_out() {
        let (port, h) = server(None);
        let short = Duration::from_millis(300);
        let start = Instant::now();
        let e = nfs("127.0.0.1", port, short).unwrap_err();
        let took = start.elapsed();
        assert!(
            e.contains(
                "accepted the connection but did not answer the RPC NULL call within 300 ms"
            ),
            "{e}"
        );
        assert!(took >= short && took < Duration::from_secs(2), "{took:?}");
        h.join().unwrap();
    }

    #[test]
    fn nfs_servers_must_accept_a_null_call() {
        // The server echoes the transaction id it was sent in an accepted reply.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut call = [0u8; 44];
            s.read_exact(&mut call).unwrap();
            let mut r = (0x8000_0000u32 | 24).to_be_bytes().to_vec();
            r.extend_from_slice(&call[4..8]);
            for w in [1u32, 0, 0, 0, 0] {
                r.extend_from_slice(&w.to_be_bytes());
            }
            s.write_all(&r).unwrap();
        });
        assert_eq!(
            nfs("127.0.0.1", port, T),
            Ok("NFS version 3 answered a NULL call".into())
        );
        h.join().unwrap();
    }

    fn port_of(s: &str) -> Option<u16> {
        port(&url(s))
    }
}
