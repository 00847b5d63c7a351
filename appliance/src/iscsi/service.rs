//! [`Targets`]: the iSCSI targets of the appliance. The durable records (`model.rs`), the
//! live SCSI targets built from them (`live.rs`: a `vsa_scsi::Target` per record, a unit
//! per LUN over its volume), the claims on the volumes they serve, and the sessions of the
//! running iSCSI server.
//!
//! Every change is written to the metadata store (synced) before the live state changes
//! and before the API answers, so a restart brings back exactly what was acknowledged.

use super::error::{meta, TargetError};
use super::live::{self, LiveTarget};
use super::model::{self, ChapRecord, LunKind, LunRecord, TargetRecord, CF_TARGET};
use super::scsi_metrics::ScsiMetrics;
use super::types::{AddLunBody, ChapBody, SessionView, TargetView};
use crate::core::{Claim, Core, Deleted};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;
use vsa_pool::MetaStore;

/// Most LUNs one target can have (REPORT LUNS, flat addressing allows 16384).
pub const MAX_LUN: u64 = vsa_scsi::target::MAX_LUN;

type Result<T> = std::result::Result<T, TargetError>;

/// The targets of the appliance.
#[derive(Debug)]
pub struct Targets {
    core: Arc<Core>,
    records: RwLock<BTreeMap<String, TargetRecord>>,
    live: RwLock<BTreeMap<String, Arc<LiveTarget>>>,
    /// Serialises changes so that "check, persist, apply" is one step.
    change: Mutex<()>,
    /// Sessions of the running iSCSI server, if one runs.
    server: RwLock<Option<vsa_iscsi::server::ServerHandle>>,
    /// Every LUN's device by NAA designator, for EXTENDED COPY between LUNs.
    copy: Arc<live::CopyIndex>,
    /// Per-LUN command metrics.
    metrics: ScsiMetrics,
}

/// How the iSCSI component names its targets in the appliance's target names.
fn holder(name: &str) -> String {
    format!("iSCSI target {name}")
}

/// The claim a LUN holds on its volume.
fn lun_claim(target: &str, lun: u64) -> Claim {
    Claim {
        component: "iscsi",
        holder: format!("iSCSI target {target} LUN {lun}"),
        release: format!("vsa target lun remove {target} {lun}"),
    }
}

impl Targets {
    /// Loads every target record, claims the volumes its LUNs serve and builds the live
    /// targets over them. A LUN whose volume cannot be opened is left out (and logged) so
    /// the others still serve.
    pub fn open(core: Arc<Core>, metrics: ScsiMetrics) -> Result<Targets> {
        let t = Targets {
            core,
            records: RwLock::new(BTreeMap::new()),
            live: RwLock::new(BTreeMap::new()),
            change: Mutex::new(()),
            server: RwLock::new(None),
            copy: Arc::new(live::CopyIndex::default()),
            metrics,
        };
        let rows = t.core.store().scan(CF_TARGET, b"t/").map_err(meta)?;
        for (k, v) in rows {
            let r: TargetRecord = MetaStore::decode(&k, &v).map_err(meta)?;
            if let Err(e) = t
                .core
                .targets()
                .hold(&r.name, "iscsi", &holder(&r.name), None)
            {
                tracing::error!(target = r.name.as_str(), "{e}");
            }
            for (lun, l) in &r.luns {
                if let Err(e) = t.core.claims().claim(&l.volume, lun_claim(&r.name, *lun)) {
                    tracing::error!(target = r.name.as_str(), lun, "{e}");
                }
            }
            let live = LiveTarget::build(&r, t.builder(), t.core.volumes());
            t.live.write().insert(r.name.clone(), Arc::new(live));
            t.records.write().insert(r.name.clone(), r);
        }
        Ok(t)
    }

    /// Sets the running iSCSI server (for sessions and for dropping sessions of deleted
    /// targets).
    pub fn set_server(&self, server: Option<vsa_iscsi::server::ServerHandle>) {
        // Targets other components publish end their sessions through the portal too.
        let dropper = server.clone().map(|s| {
            Arc::new(move |name: &str| {
                s.drop_target_sessions(name);
            }) as crate::core::targets::SessionDropper
        });
        self.core.targets().set_session_dropper(dropper);
        *self.server.write() = server;
    }

    fn builder(&self) -> live::UnitBuilder<'_> {
        live::UnitBuilder {
            store: self.core.store(),
            copy: &self.copy,
            metrics: Some(&self.metrics),
        }
    }

    /// The iSCSI transport's counters, when the server runs.
    pub fn transport_metrics(&self) -> Option<vsa_iscsi::MetricsSnapshot> {
        self.server.read().as_ref().map(|s| s.metrics())
    }

    fn persist(&self, r: &TargetRecord) -> Result<()> {
        let store = self.core.store();
        let mut b = rocksdb::WriteBatch::default();
        let cf = store.cf(CF_TARGET).map_err(meta)?;
        b.put_cf(cf, model::target_key(&r.name), MetaStore::encode(r));
        store.commit(b, true).map_err(meta)
    }

    fn record(&self, name: &str) -> Result<TargetRecord> {
        self.records
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| TargetError::NoSuchTarget(name.to_owned()))
    }

    /// Stores `r` and rebuilds its live entry's access rules (LUN units are kept).
    fn commit(&self, r: TargetRecord) -> Result<TargetView> {
        self.persist(&r)?;
        if let Some(l) = self.live.read().get(&r.name) {
            l.set_access(&r);
        }
        let view = TargetView::from(&r);
        self.records.write().insert(r.name.clone(), r);
        Ok(view)
    }

    /// The live targets, for the iSCSI server's registry.
    pub fn live(&self) -> Vec<Arc<LiveTarget>> {
        self.live.read().values().cloned().collect()
    }

    /// The appliance's core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// One live target.
    pub fn live_target(&self, name: &str) -> Option<Arc<LiveTarget>> {
        self.live.read().get(name).cloned()
    }

    /// All targets.
    pub fn list(&self) -> Vec<TargetView> {
        self.records.read().values().map(TargetView::from).collect()
    }

    /// One target.
    pub fn show(&self, name: &str) -> Result<TargetView> {
        Ok(TargetView::from(&self.record(name)?))
    }

    /// Creates a target.
    pub fn create(&self, name: &str, alias: Option<String>) -> Result<TargetView> {
        model::check_iscsi_name(name).map_err(TargetError::InvalidName)?;
        if let Some(a) = &alias {
            if a.len() > 255 || a.chars().any(|c| c.is_control()) {
                return Err(TargetError::InvalidName(
                    "the alias must be at most 255 printable characters".into(),
                ));
            }
        }
        let _g = self.change.lock();
        if self.records.read().contains_key(name) {
            return Err(TargetError::TargetExists(name.to_owned()));
        }
        self.core
            .targets()
            .hold(name, "iscsi", &holder(name), None)
            .map_err(TargetError::NameTaken)?;
        let r = TargetRecord {
            name: name.to_owned(),
            alias,
            luns: BTreeMap::new(),
            acl: Default::default(),
            chap: None,
            mutual_chap: None,
        };
        if let Err(e) = self.persist(&r) {
            self.core.targets().release(name, "iscsi");
            return Err(e);
        }
        let live = LiveTarget::empty(&r);
        self.live.write().insert(name.to_owned(), Arc::new(live));
        let v = TargetView::from(&r);
        self.records.write().insert(name.to_owned(), r);
        Ok(v)
    }

    /// Deletes a target: its sessions are dropped, its LUNs and reservations forgotten, its
    /// volumes released (they stay).
    pub fn delete(&self, name: &str) -> Result<Deleted> {
        let _g = self.change.lock();
        let r = self.record(name)?;
        let store = self.core.store();
        let mut b = rocksdb::WriteBatch::default();
        let cf = store.cf(CF_TARGET).map_err(meta)?;
        b.delete_cf(cf, model::target_key(name));
        for lun in r.luns.keys() {
            b.delete_cf(cf, model::pr_key(name, *lun));
        }
        store.commit(b, true).map_err(meta)?;
        self.records.write().remove(name);
        self.live.write().remove(name);
        self.core.targets().release(name, "iscsi");
        for l in r.luns.values() {
            self.copy.remove_naa(&l.naa);
            self.core.claims().release(&l.volume, "iscsi");
        }
        if let Some(s) = self.server.read().clone() {
            s.drop_target_sessions(name);
        }
        Ok(Deleted {
            deleted: name.to_owned(),
        })
    }

    fn pick_lun(r: &TargetRecord, lun: Option<u64>) -> Result<u64> {
        match lun {
            Some(l) if l > MAX_LUN => Err(TargetError::InvalidLun(format!(
                "LUN {l} is too large; use 0 to {MAX_LUN}"
            ))),
            Some(l) => match r.luns.get(&l) {
                Some(existing) => Err(TargetError::LunExists {
                    target: r.name.clone(),
                    lun: l,
                    volume: existing.volume.clone(),
                }),
                None => Ok(l),
            },
            None => (0..=MAX_LUN)
                .find(|l| !r.luns.contains_key(l))
                .ok_or_else(|| TargetError::InvalidLun("the target has no free LUN".into())),
        }
    }

    /// Adds a LUN serving a volume (the lowest free number unless one is given). The
    /// volume is claimed: one volume, one logical unit, since reservations and COMPARE
    /// AND WRITE are per unit (multipath goes through several sessions to the same LUN).
    pub fn add_lun(&self, name: &str, b: AddLunBody) -> Result<TargetView> {
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        let lun = Self::pick_lun(&r, b.lun)?;
        let claims = self.core.claims();
        claims.claim(&b.volume, lun_claim(name, lun))?;
        let added = self.add_claimed_lun(&mut r, lun, &b);
        if added.is_err() {
            claims.release(&b.volume, "iscsi");
        }
        added
    }

    fn add_claimed_lun(
        &self,
        r: &mut TargetRecord,
        lun: u64,
        b: &AddLunBody,
    ) -> Result<TargetView> {
        let vol = self
            .core
            .volumes()
            .open(&b.volume)
            .map_err(TargetError::Volume)?;
        let (serial, naa) = model::lun_identity(&vol.uuid, &r.name, lun);
        let rec = LunRecord {
            kind: LunKind::Disk,
            volume: b.volume.clone(),
            read_only: b.read_only,
            removable: b.removable,
            serial,
            naa,
        };
        let live = self
            .live_target(&r.name)
            .ok_or_else(|| TargetError::NoSuchTarget(r.name.clone()))?;
        let unit = self.builder().unit(&r.name, lun, &rec, vol.device)?;
        r.luns.insert(lun, rec);
        self.persist(r)?;
        live.scsi().insert(lun, unit);
        let v = TargetView::from(&*r);
        self.records.write().insert(r.name.clone(), r.clone());
        Ok(v)
    }

    /// Removes a LUN (the volume stays, released).
    pub fn remove_lun(&self, name: &str, lun: &str) -> Result<TargetView> {
        let lun: u64 = lun
            .parse()
            .map_err(|_| TargetError::InvalidLun(format!("'{lun}' is not a LUN number")))?;
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        let Some(removed) = r.luns.remove(&lun) else {
            return Err(TargetError::NoSuchLun {
                target: name.to_owned(),
                lun,
            });
        };
        let store = self.core.store();
        let mut b = rocksdb::WriteBatch::default();
        let cf = store.cf(CF_TARGET).map_err(meta)?;
        b.put_cf(cf, model::target_key(name), MetaStore::encode(&r));
        b.delete_cf(cf, model::pr_key(name, lun));
        store.commit(b, true).map_err(meta)?;
        if let Some(l) = self.live_target(name) {
            l.scsi().remove(lun);
        }
        self.copy.remove_naa(&removed.naa);
        self.core.claims().release(&removed.volume, "iscsi");
        let v = TargetView::from(&r);
        self.records.write().insert(name.to_owned(), r);
        Ok(v)
    }

    /// Admits (`add`) or stops admitting an initiator.
    pub fn acl(&self, name: &str, initiator: &str, add: bool) -> Result<TargetView> {
        model::check_iscsi_name(initiator).map_err(TargetError::InvalidName)?;
        let _g = self.change.lock();
        let mut r = self.record(name)?;
        if add {
            r.acl.insert(initiator.to_owned());
        } else if !r.acl.remove(initiator) {
            return Err(TargetError::NoSuchAcl {
                target: name.to_owned(),
                initiator: initiator.to_owned(),
            });
        }
        self.commit(r)
    }

    /// Sets CHAP and mutual CHAP (no user: off).
    pub fn set_chap(&self, name: &str, b: ChapBody) -> Result<TargetView> {
        let chap = chap_pair(b.user, b.secret, "CHAP")?;
        let mutual = chap_pair(b.mutual_user, b.mutual_secret, "mutual CHAP")?;
        if let Some(c) = &chap {
            model::check_chap(&c.user, &c.secret, "CHAP").map_err(TargetError::InvalidChap)?;
        }
        if let Some(c) = &mutual {
            let Some(one_way) = &chap else {
                return Err(TargetError::InvalidChap(
                    "mutual CHAP needs one-way CHAP too; give --user and --secret".into(),
                ));
            };
            model::check_chap(&c.user, &c.secret, "mutual CHAP")
                .map_err(TargetError::InvalidChap)?;
            if one_way.secret == c.secret {
                return Err(TargetError::InvalidChap(
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
    pub fn sessions(&self, target: Option<&str>) -> Result<Vec<SessionView>> {
        if let Some(t) = target {
            self.record(t)?;
        }
        Ok(self
            .session_list()
            .iter()
            .filter(|s| target.is_none_or(|t| s.target == t))
            .map(SessionView::from)
            .collect())
    }
}

fn chap_pair(
    user: Option<String>,
    secret: Option<String>,
    what: &str,
) -> Result<Option<ChapRecord>> {
    match (user, secret) {
        (Some(user), Some(secret)) => Ok(Some(ChapRecord { user, secret })),
        (None, None) => Ok(None),
        _ => Err(TargetError::InvalidChap(format!(
            "{what} needs both a user and a secret"
        ))),
    }
}
