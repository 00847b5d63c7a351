//! Serves a RAM disk over iSCSI for manual runs with real initiators:
//!
//! ```text
//! cargo run -p vsa-iscsi --example ramtarget -- 127.0.0.1:3260 [MiB]
//! iscsi-ls iscsi://127.0.0.1:3260
//! iscsi-inq iscsi://127.0.0.1:3260/iqn.2024-01.vsa:ram/0
//! ```
//! `RAMTARGET_CHAP=user:secret` requires CHAP; `RAMTARGET_MUTUAL=user:secret` enables
//! mutual CHAP, `RAMTARGET_DISCOVERY_CHAP=user:secret` protects discovery.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use vsa_iscsi::{ChapCredentials, Server, ServerConfig, TargetEntry};

fn creds(var: &str) -> Option<ChapCredentials> {
    let v = std::env::var(var).ok()?;
    let (user, secret) = v.split_once(':')?;
    Some(ChapCredentials {
        user: user.into(),
        secret: secret.into(),
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3260".into());
    let mib: usize = args.next().and_then(|m| m.parse().ok()).unwrap_or(64);
    let base = support::ram_target("iqn.2024-01.vsa:ram", mib);
    let entry = Arc::new(TargetEntry {
        name: base.name.clone(),
        alias: base.alias.clone(),
        chap: creds("RAMTARGET_CHAP"),
        mutual_chap: creds("RAMTARGET_MUTUAL"),
        acl: Vec::new(),
        scsi: base.scsi.clone(),
    });
    let reg = Arc::new(support::ListRegistry::default());
    reg.0.write().push(entry);
    let addr = addr.parse().map_err(std::io::Error::other)?;
    let server = Server::bind(
        addr,
        reg,
        ServerConfig {
            discovery_chap: creds("RAMTARGET_DISCOVERY_CHAP"),
            ..ServerConfig::default()
        },
    )
    .await?;
    println!("serving iqn.2024-01.vsa:ram on {}", server.local_addr()?);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    });
    server.run(rx).await;
    Ok(())
}
