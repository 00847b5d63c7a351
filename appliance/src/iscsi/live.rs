//! The live side of a target: the `vsa_scsi::Target` with a disk unit per LUN over its
//! volume, the access rules the iSCSI server checks at login, the RocksDB store of each
//! LUN's persistent reservations, and the NAA index EXTENDED COPY resolves LUNs with.

use super::error::TargetError;
use super::model::{self, LunRecord, TargetRecord, CF_TARGET};
use super::scsi_metrics::ScsiMetrics;
use crate::core::Volumes;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use vsa_blockdev::BlockDevice;
use vsa_pool::MetaStore;
use vsa_scsi::sbc::{CopyTargets, Disk, DiskOptions, DiskTuning};
use vsa_scsi::spc::{PrStore, PrStoreError, Unit, UnitOptions};
use vsa_scsi::{Identity, LogicalUnit};

/// Every LUN's device by its NAA designator.
#[derive(Debug, Default)]
pub struct CopyIndex {
    devices: RwLock<HashMap<[u8; 16], Arc<dyn BlockDevice>>>,
}

impl CopyIndex {
    fn insert(&self, naa: [u8; 16], dev: Arc<dyn BlockDevice>) {
        self.devices.write().insert(naa, dev);
    }

    /// Forgets a LUN (by its hex designator).
    pub fn remove_naa(&self, hex: &str) {
        if let Some(naa) = model::naa_bytes(hex) {
            self.devices.write().remove(&naa);
        }
    }
}

impl CopyTargets for CopyIndex {
    fn lookup(&self, naa: &[u8]) -> Option<Arc<dyn BlockDevice>> {
        let key: [u8; 16] = naa.try_into().ok()?;
        self.devices.read().get(&key).cloned()
    }
}

/// A LUN's persistent reservations in the `target` column family.
#[derive(Debug)]
struct DbPrStore {
    store: Arc<MetaStore>,
    key: Vec<u8>,
}

impl PrStore for DbPrStore {
    fn load(&self) -> Result<Option<Vec<u8>>, PrStoreError> {
        self.store
            .get(CF_TARGET, &self.key)
            .map_err(|e| PrStoreError::Io(e.to_string()))
    }

    fn save(&self, state: &[u8]) -> Result<(), PrStoreError> {
        let cf = self
            .store
            .cf(CF_TARGET)
            .map_err(|e| PrStoreError::Io(e.to_string()))?;
        let mut b = rocksdb::WriteBatch::default();
        b.put_cf(cf, &self.key, state);
        self.store
            .commit(b, true)
            .map_err(|e| PrStoreError::Io(e.to_string()))
    }
}

/// What building a LUN's unit needs from the targets.
#[derive(Debug, Clone, Copy)]
pub struct UnitBuilder<'a> {
    /// Where persistent reservations are kept.
    pub store: &'a Arc<MetaStore>,
    /// The NAA index for EXTENDED COPY.
    pub copy: &'a Arc<CopyIndex>,
    /// Per-LUN command metrics.
    pub metrics: Option<&'a ScsiMetrics>,
}

impl UnitBuilder<'_> {
    /// Builds the SCSI unit of LUN `lun` of `target`, serving `dev`.
    pub fn unit(
        &self,
        target: &str,
        lun: u64,
        rec: &LunRecord,
        dev: Arc<dyn BlockDevice>,
    ) -> Result<Arc<dyn LogicalUnit>, TargetError> {
        let naa = model::naa_bytes(&rec.naa).ok_or_else(|| {
            TargetError::Internal(format!(
                "LUN {lun} of target '{target}' has a malformed NAA designator"
            ))
        })?;
        let identity = Identity {
            vendor: "VSA".into(),
            product: "VIRTUAL-DISK".into(),
            revision: concat!(
                env!("CARGO_PKG_VERSION_MAJOR"),
                ".",
                env!("CARGO_PKG_VERSION_MINOR")
            )
            .into(),
            serial: rec.serial.clone(),
            naa,
        };
        // Physical blocks of 4 KiB whatever the logical block size (pool members are
        // 4 KiB-aligned).
        let tuning = DiskTuning {
            physical_block_exponent: (4096 / dev.block_size().clamp(512, 4096)).trailing_zeros()
                as u8,
            ..DiskTuning::default()
        };
        let disk = Disk::with_tuning(
            dev.clone(),
            DiskOptions {
                removable: rec.removable,
                thin: true,
                naa,
            },
            tuning,
            self.copy.clone(),
        );
        let pr = Arc::new(DbPrStore {
            store: self.store.clone(),
            key: model::pr_key(target, lun),
        });
        let unit = Unit::new(
            disk,
            identity,
            UnitOptions {
                read_only: rec.read_only,
                ..UnitOptions::default()
            },
            pr,
        )
        .map_err(|e| TargetError::Internal(format!("LUN {lun} of target '{target}': {e}")))?;
        self.copy.insert(naa, dev);
        let unit: Arc<dyn LogicalUnit> = Arc::new(unit);
        Ok(match self.metrics {
            Some(m) => m.wrap(target, lun, unit),
            None => unit,
        })
    }
}

/// One target as served.
#[derive(Debug)]
pub struct LiveTarget {
    scsi: Arc<vsa_scsi::Target>,
    entry: RwLock<Arc<vsa_iscsi::TargetEntry>>,
}

fn entry(r: &TargetRecord, scsi: &Arc<vsa_scsi::Target>) -> vsa_iscsi::TargetEntry {
    let cred = |c: &model::ChapRecord| vsa_iscsi::ChapCredentials {
        user: c.user.clone(),
        secret: c.secret.clone(),
    };
    vsa_iscsi::TargetEntry {
        name: r.name.clone(),
        alias: r.alias.clone(),
        chap: r.chap.as_ref().map(cred),
        mutual_chap: r.mutual_chap.as_ref().map(cred),
        acl: r.acl.iter().cloned().collect(),
        scsi: scsi.clone(),
    }
}

impl LiveTarget {
    /// A target with no LUNs.
    pub fn empty(r: &TargetRecord) -> LiveTarget {
        let scsi = Arc::new(vsa_scsi::Target::new());
        LiveTarget {
            entry: RwLock::new(Arc::new(entry(r, &scsi))),
            scsi,
        }
    }

    /// A target with a unit per LUN. A LUN whose volume cannot be opened is left out (and
    /// logged) so the other LUNs and targets still serve.
    pub fn build(r: &TargetRecord, builder: UnitBuilder<'_>, volumes: &Volumes) -> LiveTarget {
        let live = LiveTarget::empty(r);
        for (lun, rec) in &r.luns {
            let unit = volumes
                .open(&rec.volume)
                .map_err(TargetError::Volume)
                .and_then(|v| builder.unit(&r.name, *lun, rec, v.device));
            match unit {
                Ok(u) => live.scsi.insert(*lun, u),
                Err(e) => tracing::error!(
                    target = r.name.as_str(),
                    lun,
                    volume = rec.volume.as_str(),
                    "LUN not served: {e}"
                ),
            }
        }
        live
    }

    /// The SCSI target (LUN map).
    pub fn scsi(&self) -> &Arc<vsa_scsi::Target> {
        &self.scsi
    }

    /// What the iSCSI server checks at login.
    pub fn entry(&self) -> Arc<vsa_iscsi::TargetEntry> {
        self.entry.read().clone()
    }

    /// Takes new ACL, CHAP and alias settings (sessions already logged in stay).
    pub fn set_access(&self, r: &TargetRecord) {
        *self.entry.write() = Arc::new(entry(r, &self.scsi));
    }
}
