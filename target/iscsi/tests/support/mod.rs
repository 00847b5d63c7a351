//! Shared pieces of the integration tests: a RAM-disk LU and a registry.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

pub mod client;
pub mod ramdisk;

use std::sync::Arc;

use parking_lot::RwLock;
use vsa_iscsi::{Registry, TargetEntry};

/// A registry over a list that tests can change.
#[derive(Debug, Default)]
pub struct ListRegistry(pub RwLock<Vec<Arc<TargetEntry>>>);

impl Registry for ListRegistry {
    fn target(&self, name: &str) -> Option<Arc<TargetEntry>> {
        self.0.read().iter().find(|t| t.name == name).cloned()
    }
    fn targets(&self) -> Vec<Arc<TargetEntry>> {
        self.0.read().clone()
    }
}

/// A target with one RAM disk of `mib` MiB at LUN 0.
pub fn ram_target(name: &str, mib: usize) -> Arc<TargetEntry> {
    target_with(name, Arc::new(ramdisk::RamDisk::new(mib << 20, "ram0001")))
}

/// A target with `disk` at LUN 0.
pub fn target_with(name: &str, disk: Arc<ramdisk::RamDisk>) -> Arc<TargetEntry> {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, disk);
    Arc::new(TargetEntry {
        name: name.to_string(),
        alias: Some("ram".into()),
        chap: None,
        mutual_chap: None,
        acl: Vec::new(),
        scsi: Arc::new(scsi),
    })
}

use std::net::SocketAddr;

use vsa_iscsi::server::ServerHandle;
use vsa_iscsi::{Server, ServerConfig};

/// A server on 127.0.0.1:0 serving `targets`, running until the returned sender is set.
pub async fn start(
    targets: Vec<Arc<TargetEntry>>,
    config: ServerConfig,
) -> (
    SocketAddr,
    ServerHandle,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let reg = Arc::new(ListRegistry(RwLock::new(targets)));
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), reg, config)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let j = tokio::spawn(server.run(rx));
    (addr, handle, tx, j)
}

/// Whether an external tool is installed.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
