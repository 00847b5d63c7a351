//! The second half of an SMB target's check: what a client following the referral does
//! next, a guest session and a tree connect to the share, then a look at the directory in
//! it (with the `smb2` crate). So a share that was removed, or a directory that is gone,
//! makes the target unhealthy, not only a server that stopped.
//!
//! A server that takes no guest sessions cannot be looked into without credentials: it
//! passes on its NEGOTIATE answer alone, and the result says the share was not checked.

use smb2::{ClientConfig, ErrorKind, SmbClient};
use std::time::Duration;

/// What a check found, when the target passes.
fn passed(what: &str) -> Result<String, String> {
    Ok(what.to_owned())
}

/// Checks share `path[0]` (and the directory `path[1..]` in it) on `server:port` within
/// `left`; `unc` names the target in messages. `None` when it did not finish in time.
pub fn check(
    server: &str,
    port: u16,
    path: &[String],
    left: Duration,
    unc: &str,
) -> Option<Result<String, String>> {
    let Some((share, dir)) = path.split_first() else {
        return Some(passed(
            "SMB2 NEGOTIATE answered (the target names no share)",
        ));
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Some(Err(format!("cannot start the check of {unc}: {e}"))),
    };
    let work = look(guest(server, port, left), share, dir, unc);
    rt.block_on(async { tokio::time::timeout(left, work).await })
        .ok()
}

/// What a guest session to `server:port` is made with (no credentials, no reconnecting
/// by itself, no DFS: the share itself is what is wanted), each step bounded by `timeout`.
pub fn guest(server: &str, port: u16, timeout: Duration) -> ClientConfig {
    let addr = if server.contains(':') {
        format!("[{server}]:{port}")
    } else {
        format!("{server}:{port}")
    };
    ClientConfig {
        addr,
        timeout,
        username: String::new(),
        password: String::new(),
        domain: String::new(),
        auto_reconnect: false,
        compression: false,
        dfs_enabled: false,
        dfs_target_overrides: Default::default(),
    }
}

async fn look(
    config: ClientConfig,
    share: &str,
    dir: &[String],
    unc: &str,
) -> Result<String, String> {
    let mut client = match SmbClient::connect(config).await {
        Ok(c) => c,
        Err(e) if refused_guest(e.kind()) => {
            return passed(
                "SMB2 NEGOTIATE answered; the share was not checked (the server takes no \
                 guest sessions)",
            )
        }
        Err(e) => return Err(format!("{unc}: the guest session failed: {e}")),
    };
    let mut tree = match client.connect_share(share).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!(
                "{unc}: the server has no share named '{share}' ({e})"
            ))
        }
        Err(e) if refused_guest(e.kind()) => {
            return passed("the share is there (guests may not open it)")
        }
        Err(e) => return Err(format!("{unc}: the tree connect failed: {e}")),
    };
    if dir.is_empty() {
        let _ = client.disconnect_share(&tree).await;
        return passed("the share is there");
    }
    let r = match client.stat(&mut tree, &dir.join("/")).await {
        Ok(info) if info.is_directory => passed("the share and its directory are there"),
        Ok(_) => Err(format!("{unc} is a file on the server, not a directory")),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err(format!("{unc}: the directory is not on the share ({e})"))
        }
        Err(e) if refused_guest(e.kind()) => {
            passed("the share is there (guests may not open the directory)")
        }
        Err(e) => Err(format!("{unc}: cannot look at the directory: {e}")),
    };
    let _ = client.disconnect_share(&tree).await;
    r
}

/// The server wants credentials the appliance does not have (not a fault of the target).
fn refused_guest(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::AuthRequired | ErrorKind::SigningRequired | ErrorKind::AccessDenied
    )
}
