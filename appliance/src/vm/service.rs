//! [`Exports`]: the volumes served over vhost-user-blk. Each change is stored before it
//! is answered; at open every stored export starts again, so a VMM set to reconnect finds
//! its disk where it was after a daemon restart.

use super::error::{meta, VmError};
use super::model::{self, ExportRecord, CF_VM};
use super::types::{ExportBody, ExportView};
use crate::core::{Claim, Core, Deleted};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use vsa_pool::MetaStore;
use vsa_vmm::blk::Disk;
use vsa_vmm::vhost_user::Export;

type Result<T> = std::result::Result<T, VmError>;

/// Queues offered when the request names none.
pub const DEFAULT_QUEUES: u16 = 4;
/// The most queues an export offers.
pub const MAX_QUEUES: u16 = 16;

/// One export as it runs.
#[derive(Debug)]
struct LiveExport {
    record: ExportRecord,
    size: u64,
    running: Option<Export>,
    problem: Option<String>,
}

impl LiveExport {
    fn view(&self) -> ExportView {
        let status = self.running.as_ref().map(Export::status);
        let state = match &status {
            Some(s) if s.connected => "connected",
            Some(s) if s.serving => "listening",
            Some(_) => "failed",
            None => "failed",
        };
        ExportView {
            volume: self.record.volume.clone(),
            socket: self.record.socket.clone(),
            read_only: self.record.read_only,
            queues: self.record.queues,
            size: self.size,
            state: state.into(),
            connections: status.as_ref().map_or(0, |s| s.connections),
            problem: self
                .problem
                .clone()
                .or_else(|| status.and_then(|s| s.last_error)),
        }
    }
}

/// The vhost-user-blk exports of the appliance.
#[derive(Debug)]
pub struct Exports {
    core: Arc<Core>,
    live: Mutex<BTreeMap<String, LiveExport>>,
}

fn claim(r: &ExportRecord) -> Claim {
    Claim {
        component: "vm",
        holder: format!("the vhost-user-blk export on {}", r.socket),
        release: format!("vsa vhost unexport {}", r.volume),
    }
}

impl Exports {
    /// Loads the stored exports, claims their volumes and starts them. One that cannot
    /// start (its volume is gone, its socket path is taken) stays listed as failed, with
    /// the reason, so the others serve.
    pub fn open(core: Arc<Core>) -> Result<Exports> {
        let exports = Exports {
            core,
            live: Mutex::new(BTreeMap::new()),
        };
        let rows = exports
            .core
            .store()
            .scan(CF_VM, model::EXPORT_PREFIX)
            .map_err(meta)?;
        for (k, v) in rows {
            let record: ExportRecord = MetaStore::decode(&k, &v).map_err(meta)?;
            let live = match exports.start(&record) {
                Ok(live) => live,
                Err(e) => {
                    tracing::error!(
                        volume = record.volume.as_str(),
                        "vhost-user-blk export: {e}"
                    );
                    LiveExport {
                        record: record.clone(),
                        size: 0,
                        running: None,
                        problem: Some(e.to_string()),
                    }
                }
            };
            exports.live.lock().insert(record.volume.clone(), live);
        }
        Ok(exports)
    }

    /// Claims the volume, opens it and listens; undone on failure.
    fn start(&self, r: &ExportRecord) -> Result<LiveExport> {
        let claims = self.core.claims();
        claims.claim(&r.volume, claim(r))?;
        let started = self.open_and_listen(r);
        if started.is_err() {
            claims.release(&r.volume, "vm");
        }
        started
    }

    fn open_and_listen(&self, r: &ExportRecord) -> Result<LiveExport> {
        let vol = self
            .core
            .volumes()
            .open(&r.volume)
            .map_err(VmError::Volume)?;
        let size = vol.device.size();
        let disk = Disk {
            device: vol.device,
            read_only: r.read_only,
            id: vol.uuid.chars().take(vsa_vmm::blk::ID_LEN).collect(),
        };
        let running = Export::start(disk, Path::new(&r.socket), r.queues)
            .map_err(|e| VmError::InvalidSocket(e.to_string()))?;
        tracing::info!(
            volume = r.volume.as_str(),
            socket = r.socket.as_str(),
            "vhost-user-blk export listening"
        );
        Ok(LiveExport {
            record: r.clone(),
            size,
            running: Some(running),
            problem: None,
        })
    }

    /// Serves a volume on a vhost-user socket.
    pub fn export(&self, b: ExportBody) -> Result<ExportView> {
        let queues = b.queues.unwrap_or(DEFAULT_QUEUES);
        if !(1..=MAX_QUEUES).contains(&queues) {
            return Err(VmError::InvalidQueues(queues));
        }
        let mut live = self.live.lock();
        if let Some(e) = live.get(&b.volume) {
            return Err(VmError::ExportExists {
                volume: b.volume,
                socket: e.record.socket.clone(),
            });
        }
        if let Some(e) = live.values().find(|e| e.record.socket == b.socket) {
            return Err(VmError::SocketInUse {
                socket: b.socket,
                volume: e.record.volume.clone(),
            });
        }
        let record = ExportRecord {
            volume: b.volume,
            socket: b.socket,
            read_only: b.read_only,
            queues,
        };
        let started = self.start(&record)?;
        if let Err(e) = self.persist(Some(&record), &record.volume) {
            drop(started);
            self.core.claims().release(&record.volume, "vm");
            return Err(e);
        }
        let view = started.view();
        live.insert(record.volume.clone(), started);
        Ok(view)
    }

    /// Stops serving a volume: the connected VMM (if any) loses the disk, the socket goes.
    pub fn unexport(&self, volume: &str) -> Result<Deleted> {
        let mut live = self.live.lock();
        if !live.contains_key(volume) {
            return Err(VmError::NoSuchExport(volume.to_owned()));
        }
        self.persist(None, volume)?;
        if let Some(e) = live.remove(volume) {
            if let Some(running) = e.running {
                running.stop();
            }
        }
        self.core.claims().release(volume, "vm");
        Ok(Deleted {
            deleted: volume.to_owned(),
        })
    }

    /// Every export.
    pub fn list(&self) -> Vec<ExportView> {
        self.live.lock().values().map(LiveExport::view).collect()
    }

    /// One export.
    pub fn show(&self, volume: &str) -> Result<ExportView> {
        self.live
            .lock()
            .get(volume)
            .map(LiveExport::view)
            .ok_or_else(|| VmError::NoSuchExport(volume.to_owned()))
    }

    /// Stops every export (at shutdown; the records stay).
    pub fn stop_all(&self) {
        let all = std::mem::take(&mut *self.live.lock());
        for (_, e) in all {
            if let Some(running) = e.running {
                running.stop();
            }
        }
    }

    fn persist(&self, record: Option<&ExportRecord>, volume: &str) -> Result<()> {
        let store = self.core.store();
        let cf = store.cf(CF_VM).map_err(meta)?;
        let mut b = rocksdb::WriteBatch::default();
        match record {
            Some(r) => b.put_cf(cf, model::export_key(volume), MetaStore::encode(r)),
            None => b.delete_cf(cf, model::export_key(volume)),
        }
        store.commit(b, true).map_err(meta)
    }
}
