//! The second half of an SMB target's check: what a client following the referral does
//! next, a guest session and a tree connect to the share, then a look at the directory in
//! it (with the `smb2` crate). So a share that was removed, or a directory that is gone,
//! makes the target unhealthy, not only a server that stopped.
//!
//! A server with credentials (`vsa ns credential set`) is logged on to with them, and a
//! refused logon fails the check (the appliance cannot reach the data: the message says
//! how to fix it). A server without credentials that takes no guest sessions cannot be
//! looked into: it passes on its NEGOTIATE answer alone, and the result says the share
//! was not checked.

use super::credentials::Credential;
use smb2::{ClientConfig, ErrorKind, SmbClient};
use std::time::Duration;

/// The server a check talks to, and as whom.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub server: &'a str,
    pub port: u16,
    /// The target, for messages.
    pub unc: &'a str,
    /// `None`: a guest session.
    pub cred: Option<&'a Credential>,
}

/// What a check found, when the target passes.
fn passed(what: &str) -> Result<String, String> {
    Ok(what.to_owned())
}

/// Checks share `path[0]` (and the directory `path[1..]` in it) on `at` within `left`.
/// `None` when it did not finish in time.
pub fn check(at: &At<'_>, path: &[String], left: Duration) -> Option<Result<String, String>> {
    let unc = at.unc;
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
    let work = look(at, config(at.server, at.port, left, at.cred), share, dir);
    rt.block_on(async { tokio::time::timeout(left, work).await })
        .ok()
}

/// What a session to `server:port` is made with: `cred`, or a guest session without; no
/// reconnecting by itself, no DFS (the share itself is what is wanted); each step bounded
/// by `timeout`.
pub fn config(
    server: &str,
    port: u16,
    timeout: Duration,
    cred: Option<&Credential>,
) -> ClientConfig {
    let addr = if server.contains(':') {
        format!("[{server}]:{port}")
    } else {
        format!("{server}:{port}")
    };
    ClientConfig {
        addr,
        timeout,
        username: cred.map(|c| c.user.clone()).unwrap_or_default(),
        password: cred.map(|c| c.secret.clone()).unwrap_or_default(),
        domain: cred.map(|c| c.domain.clone()).unwrap_or_default(),
        auto_reconnect: false,
        compression: false,
        dfs_enabled: false,
        dfs_target_overrides: Default::default(),
    }
}

async fn look(
    at: &At<'_>,
    config: ClientConfig,
    share: &str,
    dir: &[String],
) -> Result<String, String> {
    let unc = at.unc;
    if let Some(c) = at.cred {
        return look_as(at, c, config, share, dir).await;
    }
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

/// [`look`] logged on as `c`: every refusal fails the check, naming who was refused.
async fn look_as(
    at: &At<'_>,
    c: &Credential,
    config: ClientConfig,
    share: &str,
    dir: &[String],
) -> Result<String, String> {
    let (unc, who) = (at.unc, c.who());
    let fix = format!(
        "check the user and secret (`vsa ns credential set {} --user USER --secret ...`) \
         and the share's permissions",
        at.server
    );
    let mut client = SmbClient::connect(config)
        .await
        .map_err(|e| format!("{unc}: the server refused the logon as {who} ({e}); {fix}"))?;
    let mut tree = match client.connect_share(share).await {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!(
                "{unc}: the server has no share named '{share}' ({e})"
            ))
        }
        Err(e) => {
            return Err(format!(
                "{unc}: the tree connect as {who} failed: {e}; {fix}"
            ))
        }
    };
    let r = if dir.is_empty() {
        Ok(format!("the share is there (logged on as {who})"))
    } else {
        match client.stat(&mut tree, &dir.join("/")).await {
            Ok(info) if info.is_directory => Ok(format!(
                "the share and its directory are there (logged on as {who})"
            )),
            Ok(_) => Err(format!("{unc} is a file on the server, not a directory")),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(format!("{unc}: the directory is not on the share ({e})"))
            }
            Err(e) => Err(format!("{unc}: cannot look at the directory as {who}: {e}")),
        }
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
