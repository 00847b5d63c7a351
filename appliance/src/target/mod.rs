//! iSCSI targets: the durable records (`model.rs`), the live SCSI targets built from them
//! (`live.rs`: a `vsa_scsi::Target` per record, a disk unit per LUN over its volume), and
//! the registry the iSCSI server looks targets up in.
//!
//! Every change is written to the metadata store (synced) before the live state changes
//! and before the API answers, so a restart brings back exactly what was acknowledged.

pub mod live;
pub mod metrics;
pub mod model;
pub mod openapi;

use crate::error::ApiError;
use axum::http::StatusCode;
use model::{ChapRecord, LunRecord, TargetRecord, CF_TARGET};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use vsa_pool::MetaStore;

pub use live::{LiveTarget, VolumeOpener};

/// Most LUNs one target can have (REPORT LUNS, flat addressing allows 16384).
pub const MAX_LUN: u64 = vsa_scsi::target::MAX_LUN;

/// The targets of the appliance.
#[derive(Debug)]
pub struct Targets {
    store: Arc<MetaStore>,
    records: RwLock<BTreeMap<String, TargetRecord>>,
    live: RwLock<BTreeMap<String, Arc<LiveTarget>>>,
    /// Serialises changes so that "check, persist, apply" is one step.
    change: Mutex<()>,
    /// Sessions of the running iSCSI server, if one runs.
    server: RwLock<Option<vsa_iscsi::server::ServerHandle>>,
    /// Every LUN's device by NAA designator, for EXTENDED COPY between LUNs.
    copy: Arc<live::CopyIndex>,
    /// Per-LUN command metrics.
    metrics: Option<metrics::ScsiMetrics>,
}

fn meta_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "metadata_error",
        format!("cannot write the target configuration: {e}"),
    )
}

fn no_such_target(name: &str) -> ApiError {
    ApiError::not_found(
        "no_such_target",
        format!("there is no target '{name}'; `vsa target list` shows them"),
    )
}

fn bad(code: &'static str, msg: String) -> ApiError {
    ApiError::bad_request(code, msg)
}

impl Targets {
    /// No targets yet; [`Targets::load`] reads them. With `metrics`, every LUN's commands
    /// are counted.
    pub fn new(store: Arc<MetaStore>, metrics: Option<metrics::ScsiMetrics>) -> Targets {
        Targets {
            metrics,
            store,
            records: RwLock::new(BTreeMap::new()),
            live: RwLock::new(BTreeMap::new()),
            change: Mutex::new(()),
            server: RwLock::new(None),
            copy: Arc::new(live::CopyIndex::default()),
        }
    }

    /// Loads every target record and builds the live targets over the volumes.
    pub fn load(&self, volumes: &dyn VolumeOpener) -> Result<(), String> {
        let rows = self
            .store
            .scan(CF_TARGET, b"t/")
            .map_err(|e| e.to_string())?;
        let _g = self.change.lock();
        for (k, v) in rows {
            let r: TargetRecord = MetaStore::decode(&k, &v).map_err(|e| e.to_string())?;
            let live = LiveTarget::build(&r, self.builder(), volumes)
                .map_err(|e| format!("target '{}': {}", r.name, e.message))?;
            self.live.write().insert(r.name.clone(), Arc::new(live));
            self.records.write().insert(r.name.clone(), r);
        }
        Ok(())
    }

    /// Sets the running iSCSI server (for sessions and for dropping sessions of deleted
    /// targets).
    pub fn set_server(&self, server: Option<vsa_iscsi::server::ServerHandle>) {
        *self.server.write() = server;
    }

    fn builder(&self) -> live::UnitBuilder<'_> {
        live::UnitBuilder {
            store: &self.store,
            copy: &self.copy,
            metrics: self.metrics.as_ref(),
        }
    }

    /// The iSCSI transport's counters, when the server runs.
    pub fn transport_metrics(&self) -> Option<vsa_iscsi::MetricsSnapshot> {
        self.server.read().as_ref().map(|s| s.metrics())
    }

    fn persist(&self, r: &TargetRecord) -> Result<(), ApiError> {
        let mut b = rocksdb::WriteBatch::default();
        let cf = self.store.cf(CF_TARGET).map_err(meta_err)?;
        b.put_cf(cf, model::target_key(&r.name), MetaStore::encode(r));
        self.store.commit(b, true).map_err(meta_err)
    }

    fn record(&self, name: &str) -> Result<TargetRecord, ApiError> {
        self.records
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| no_such_target(name))
    }

    /// Stores `r` and rebuilds its live entry's access rules (LUN units are kept).
    fn commit(&self, r: TargetRecord) -> Result<Value, ApiError> {
        self.persist(&r)?;
        if let Some(l) = self.live.read().get(&r.name) {
            l.set_access(&r);
        }
        let view = view(&r);
        self.records.write().insert(r.name.clone(), r);
        Ok(view)
    }

    /// The live targets, for the iSCSI server's registry.
    pub fn live(&self) -> Vec<Arc<LiveTarget>> {
        self.live.read().values().cloned().collect()
    }

    /// One live target.
    pub fn live_target(&self, name: &str) -> Option<Arc<LiveTarget>> {
        self.live.read().get(name).cloned()
    }

    /// The targets and LUNs that serve `volume`.
    pub fn volume_users(&self, volume: &str) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.records.read().values() {
            for (lun, l) in &r.luns {
                if l.volume == volume {
                    out.push(format!("{} LUN {lun}", r.name));
                }
            }
        }
        out
    }

    /// All targets.
    pub fn list(&self) -> Value {
        Value::Array(self.records.read().values().map(view).collect())
    }

    /// One target.
    pub fn show(&self, name: &str) -> Result<Value, ApiError> {
        Ok(view(&self.record(name)?))
    }

    /// Creates a target.
    pub fn create(&self, name: &str, alias: Option<String>) -> Result<Value, ApiError> {
        model::check_iscsi_name(name).map_err(|m| bad("invalid_name", m))?;
        if let Some(a) = &alias {
            if a.len() > 255 || a.chars().any(|c| c.is_control()) {
                return Err(bad(
                    "invalid_name",
                    "the alias must be at most 255 printable characters".into(),
                ));
            }
        }
        let _g = self.change.lock();
        if self.records.read().contains_key(name) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "target_exists",
                format!("target '{name}' already exists"),
            ));
        }
        let r = TargetRecord {
            name: name.to_owned(),
            alias,
            luns: BTreeMap::new(),
            acl: Default::default(),
            chap: None,
            mutual_chap: None,
        };
        self.persist(&r)?;
        let live = LiveTarget::empty(&r);
        self.live.write().insert(name.to_owned(), Arc::new(live));
        let v = view(&r);
        self.records.write().insert(name.to_owned(), r);
        Ok(v)
    }

    /// Deletes a target: its sessions are dropped, its LUNs and reservations forgotten (the
    /// volumes stay).
    pub fn delete(&self, name: &str) -> Result<Value, ApiError> {
        let _g = self.change.lock();
        let r = self.record(name)?;
        let mut b = rocksdb::WriteBatch::default();
        let cf = self.store.cf(CF_TARGET).map_err(meta_err)?;
        b.delete_cf(cf, model::target_key(name));
        for lun in r.luns.keys() {
            b.delete_cf(cf, model::pr_key(name, *lun));
        }
        self.store.commit(b, true).map_err(meta_err)?;
        self.records.write().remove(name);
        self.live.write().remove(name);
        for l in r.luns.values() {
            self.copy.remove_naa(&l.naa);
        }
        if let Some(s) = self.server.read().clone() {
            s.drop_target_sessions(name);
        }
        Ok(json!({ "deleted": name }))
    }

    /// Adds a LUN serving `volume` (the lowest free number unless `lun` is given).
    pub fn add_lun(
        &self,
        volumes: &dyn VolumeOpener,
        name: &str,
        volume: &str,
        lun: Option<u64>,
        read_only: bool,
        removable: bool,
    ) -> Result<Value, ApiError> {
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        let lun = match lun {
            Some(l) if l > MAX_LUN => {
                return Err(bad(
                    "invalid_lun",
                    format!("LUN {l} is too large; use 0 to {MAX_LUN}"),
                ))
            }
            Some(l) if r.luns.contains_key(&l) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "lun_exists",
                    format!(
                        "target '{name}' already has LUN {l} (volume '{}'); pick another --lun",
                        r.luns[&l].volume
                    ),
                ))
            }
            Some(l) => l,
            None => (0..=MAX_LUN)
                .find(|l| !r.luns.contains_key(l))
                .ok_or_else(|| bad("invalid_lun", "the target has no free LUN".into()))?,
        };
        // One volume, one logical unit: reservations and COMPARE AND WRITE are per unit, so
        // a second LUN over the same volume would let initiators bypass them. Multipath
        // goes through several sessions to the same LUN instead.
        let users = self.volume_users(volume);
        if !users.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "volume_in_use",
                format!(
                    "volume '{volume}' is already served as {}; initiators reach one LUN through \
                     several sessions for multipath",
                    users.join(", ")
                ),
            ));
        }
        let (dev, uuid) = volumes.open_volume(volume)?;
        let (serial, naa) = model::lun_identity(&uuid, name, lun);
        let rec = LunRecord {
            volume: volume.to_owned(),
            read_only,
            removable,
            serial,
            naa,
        };
        let live = self.live_target(name).ok_or_else(|| no_such_target(name))?;
        let unit = self.builder().unit(name, lun, &rec, dev)?;
        r.luns.insert(lun, rec);
        self.persist(&r)?;
        live.scsi().insert(lun, unit);
        let v = view(&r);
        self.records.write().insert(name.to_owned(), r);
        Ok(v)
    }

    /// Removes a LUN (the volume stays).
    pub fn remove_lun(&self, name: &str, lun: u64) -> Result<Value, ApiError> {
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        let Some(removed) = r.luns.remove(&lun) else {
            return Err(ApiError::not_found(
                "no_such_lun",
                format!("target '{name}' has no LUN {lun}"),
            ));
        };
        let mut b = rocksdb::WriteBatch::default();
        let cf = self.store.cf(CF_TARGET).map_err(meta_err)?;
        b.put_cf(cf, model::target_key(name), MetaStore::encode(&r));
        b.delete_cf(cf, model::pr_key(name, lun));
        self.store.commit(b, true).map_err(meta_err)?;
        if let Some(l) = self.live_target(name) {
            l.scsi().remove(lun);
        }
        self.copy.remove_naa(&removed.naa);
        let v = view(&r);
        self.records.write().insert(name.to_owned(), r);
        Ok(v)
    }

    /// Admits (`add`) or stops admitting an initiator.
    pub fn acl(&self, name: &str, initiator: &str, add: bool) -> Result<Value, ApiError> {
        model::check_iscsi_name(initiator).map_err(|m| bad("invalid_name", m))?;
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        if add {
            r.acl.insert(initiator.to_owned());
        } else if !r.acl.remove(initiator) {
            return Err(ApiError::not_found(
                "no_such_acl",
                format!("'{initiator}' is not in the ACL of target '{name}'"),
            ));
        }
        self.commit(r)
    }

    /// Sets (or with `None`, clears) CHAP and mutual CHAP.
    pub fn set_chap(
        &self,
        name: &str,
        chap: Option<ChapRecord>,
        mutual: Option<ChapRecord>,
    ) -> Result<Value, ApiError> {
        if let Some(c) = &chap {
            model::check_chap(&c.user, &c.secret, "CHAP").map_err(|m| bad("invalid_chap", m))?;
        }
        if let Some(c) = &mutual {
            if chap.is_none() {
                return Err(bad(
                    "invalid_chap",
                    "mutual CHAP needs one-way CHAP too; give --user and --secret".into(),
                ));
            }
            model::check_chap(&c.user, &c.secret, "mutual CHAP")
                .map_err(|m| bad("invalid_chap", m))?;
            if chap.as_ref().is_some_and(|o| o.secret == c.secret) {
                return Err(bad(
                    "invalid_chap",
                    "the mutual secret must differ from the initiator's secret (RFC 7143 9.2.1)"
                        .into(),
                ));
            }
        }
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        r.chap = chap;
        r.mutual_chap = mutual;
        self.commit(r)
    }

    /// The sessions of the running iSCSI server.
    pub fn session_list(&self) -> Vec<vsa_iscsi::SessionInfo> {
        self.server
            .read()
            .as_ref()
            .map(|s| s.sessions())
            .unwrap_or_default()
    }

    /// The sessions of the running iSCSI server, optionally of one target.
    pub fn sessions(&self, target: Option<&str>) -> Result<Value, ApiError> {
        if let Some(t) = target {
            self.record(t)?;
        }
        let list: Vec<Value> = self
            .session_list()
            .into_iter()
            .filter(|s| target.is_none_or(|t| s.target == t))
            .map(|s| session_view(&s))
            .collect();
        Ok(Value::Array(list))
    }
}

/// The JSON view of a target (secrets left out).
pub fn view(r: &TargetRecord) -> Value {
    let luns: Vec<Value> = r
        .luns
        .iter()
        .map(|(n, l)| {
            json!({
                "lun": n,
                "volume": l.volume,
                "read_only": l.read_only,
                "removable": l.removable,
                "serial": l.serial,
                "naa": l.naa,
            })
        })
        .collect();
    json!({
        "name": r.name,
        "alias": r.alias,
        "luns": luns,
        "acl": r.acl,
        "chap": r.chap.as_ref().map(|c| json!({ "user": c.user })),
        "mutual_chap": r.mutual_chap.as_ref().map(|c| json!({ "user": c.user })),
    })
}

/// The JSON view of a session.
pub fn session_view(s: &vsa_iscsi::SessionInfo) -> Value {
    let params: serde_json::Map<String, Value> = s
        .params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    json!({
        "target": s.target,
        "initiator": s.initiator,
        "isid": format!("{:012x}", s.isid),
        "tsih": s.tsih,
        "peer": s.peer.to_string(),
        "discovery": s.discovery,
        "params": params,
        "commands_in_flight": s.commands_in_flight,
    })
}
