//! A library as served: its cartridge store on the store volume, its inventory, a tape
//! drive per data transfer element, the changer, and the SCSI target with the changer at
//! LUN 0 and drive n at LUN n (or a target per device, each at LUN 0).

use super::error::LibraryError;
use super::kv::{DbKv, KvPrStore};
use super::model::{self, LibraryRecord};
use crate::core::Core;
use std::sync::Arc;
use vsa_scsi::spc::{Unit, UnitOptions};
use vsa_scsi::LogicalUnit;
use vsa_vtl::changer::{Changer, Model};
use vsa_vtl::drive::model::DriveModel;
use vsa_vtl::inventory::ElementType;
use vsa_vtl::store::Store;
use vsa_vtl::{DriveBay, Inventory, TapeDrive};

/// A library as served.
#[derive(Debug)]
pub struct LiveLibrary {
    pub record: LibraryRecord,
    pub store: Arc<Store>,
    pub inventory: Arc<Inventory>,
    pub changer: Arc<Unit<Changer>>,
    pub drives: Vec<TapeDrive>,
    /// The targets its devices are served on.
    pub entries: Vec<Arc<vsa_iscsi::TargetEntry>>,
}

fn invalid(e: impl std::fmt::Display) -> LibraryError {
    LibraryError::InvalidLibrary(e.to_string())
}

impl LiveLibrary {
    /// Builds library `r` over its store volume and catalog; the cartridges the inventory
    /// has in drives go back into them.
    pub fn build(core: &Core, r: &LibraryRecord) -> Result<LiveLibrary, LibraryError> {
        let model: Model = r.library_model.parse().map_err(invalid)?;
        let drive_model: DriveModel = r.drive_model.parse().map_err(invalid)?;
        let layout = model
            .layout(r.drives, r.slots, r.mailslots)
            .map_err(invalid)?;
        let vol = core
            .volumes()
            .open(&r.volume)
            .map_err(LibraryError::Volume)?;
        let kv = Arc::new(DbKv::new(core.store().clone(), model::data_prefix(&r.name)));
        let store = Store::open(vol.device, kv.clone())?;
        store.set_dedup(r.dedup);
        let inventory = Arc::new(Inventory::open(kv.clone(), layout)?);
        let drives: Vec<TapeDrive> = (0..usize::from(r.drives))
            .map(|i| TapeDrive::new(drive_model, &r.drive_serial(i), store.clone()))
            .collect();
        for d in &drives {
            d.set_clean_every(r.clean_every);
        }
        for e in inventory.elements() {
            if e.kind != ElementType::DataTransfer {
                continue;
            }
            let (Some(i), Some(c)) = (layout.drive_index(e.address), e.cartridge) else {
                continue;
            };
            if let Some(d) = drives.get(i) {
                if let Err(s) = d.insert(&c) {
                    tracing::error!(library = r.name, barcode = %c.barcode, "cannot load the cartridge its drive held: {s:?}");
                }
            }
        }
        let bays: Vec<Arc<dyn DriveBay>> = drives
            .iter()
            .map(|d| Arc::new(d.clone()) as Arc<dyn DriveBay>)
            .collect();
        let changer = Changer::new(inventory.clone(), bays, model)?;
        let pr = |lun: u16| {
            Arc::new(KvPrStore {
                kv: kv.clone(),
                key: format!("pr/{lun}").into_bytes(),
            })
        };
        let unit = |e: vsa_scsi::spc::PrStoreError| LibraryError::Internal(e.to_string());
        let changer = Arc::new(
            Unit::new(
                changer,
                model.identity(r.changer_serial(), r.naa(0)),
                UnitOptions::default(),
                pr(0),
            )
            .map_err(unit)?,
        );
        let mut units: Vec<Arc<dyn LogicalUnit>> = vec![changer.clone()];
        for (i, d) in drives.iter().enumerate() {
            let u = Unit::new(
                d.clone(),
                drive_model.identity(&r.drive_serial(i), r.naa(i as u16 + 1)),
                UnitOptions::default(),
                pr(i as u16 + 1),
            )
            .map_err(unit)?;
            units.push(Arc::new(u));
        }
        let mut entries: Vec<Arc<vsa_iscsi::TargetEntry>> = Vec::new();
        for ((name, lun), u) in r.device_targets().into_iter().zip(units) {
            let scsi = match entries.iter().find(|e| e.name == name) {
                Some(e) => e.scsi.clone(),
                None => {
                    let scsi = Arc::new(vsa_scsi::Target::new());
                    entries.push(Arc::new(vsa_iscsi::TargetEntry {
                        name: name.clone(),
                        alias: Some(format!("vsa tape library {}", r.name)),
                        chap: None,
                        mutual_chap: None,
                        acl: Vec::new(),
                        scsi: scsi.clone(),
                    }));
                    scsi
                }
            };
            scsi.insert(lun, u);
        }
        Ok(LiveLibrary {
            record: r.clone(),
            store,
            inventory,
            changer,
            drives,
            entries,
        })
    }

    /// The same library (shared parts) for a changed record.
    pub fn shallow_clone(&self) -> LiveLibrary {
        LiveLibrary {
            record: self.record.clone(),
            store: self.store.clone(),
            inventory: self.inventory.clone(),
            changer: self.changer.clone(),
            drives: self.drives.clone(),
            entries: self.entries.clone(),
        }
    }

    /// Makes what the drives wrote durable.
    pub fn flush(&self) {
        for d in &self.drives {
            if let Err(e) = d.flush() {
                tracing::error!(
                    library = self.record.name,
                    drive = d.serial(),
                    "cannot save the loaded cartridge: {e}"
                );
            }
        }
    }
}
