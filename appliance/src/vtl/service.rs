//! [`Libraries`]: the tape libraries of the appliance. Each is a record (`model.rs`), a
//! store volume it creates and claims, a catalog under its own prefix, and a live library
//! (`live.rs`) whose target the iSCSI portal serves (published in the core's target
//! names).
//!
//! A library's record is written (synced) before the API answers; its cartridges, their
//! places and records are kept by `vsa_vtl` in its catalog, each change synced as it
//! happens.

use super::error::{meta, LibraryError};
use super::live::LiveLibrary;
use super::model::{self, LibraryRecord, CF_VTL};
use super::scratch::{apply_scratch, keep_scratch};
use super::types::*;
use super::views::{element, tape_view, view};
use crate::core::{Claim, Core, Deleted};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;
use vsa_pool::MetaStore;
use vsa_vtl::inventory::ElementType;
use vsa_vtl::media::{Barcode, CartridgeInfo, Generation, MediaKind};
use vsa_vtl::store::{Tape, SEGMENT};

type Result<T> = std::result::Result<T, LibraryError>;

/// The tape libraries of the appliance.
#[derive(Debug)]
pub struct Libraries {
    core: Arc<Core>,
    live: RwLock<BTreeMap<String, Arc<LiveLibrary>>>,
    /// Serialises creating and deleting libraries.
    change: Mutex<()>,
}

fn claim(name: &str) -> Claim {
    Claim {
        component: "vtl",
        holder: format!("tape library '{name}' (its cartridges)"),
        release: format!("vsa vtl delete {name}"),
    }
}

fn holder(name: &str) -> String {
    format!("tape library '{name}'")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Libraries {
    /// Loads every library and serves it. A library that cannot be built is logged and
    /// left out, so the others still serve.
    pub fn open(core: Arc<Core>) -> Result<Libraries> {
        let libs = Libraries {
            core,
            live: RwLock::new(BTreeMap::new()),
            change: Mutex::new(()),
        };
        for (k, v) in libs.core.store().scan(CF_VTL, b"l/").map_err(meta)? {
            let r: LibraryRecord = MetaStore::decode(&k, &v).map_err(meta)?;
            if let Err(e) = libs.core.claims().claim(&r.volume, claim(&r.name)) {
                tracing::error!(library = r.name, "{e}");
            }
            match LiveLibrary::build(&libs.core, &r) {
                Ok(l) => {
                    libs.publish(&l)?;
                    libs.live.write().insert(r.name.clone(), Arc::new(l));
                }
                Err(e) => tracing::error!(library = r.name, "tape library not served: {e}"),
            }
        }
        Ok(libs)
    }

    fn publish(&self, l: &LiveLibrary) -> Result<()> {
        let r = &l.record;
        for e in &l.entries {
            self.core
                .targets()
                .hold(&e.name, "vtl", &holder(&r.name), Some(e.clone()))
                .map_err(LibraryError::NameTaken)?;
        }
        Ok(())
    }

    /// Takes the names of `r`'s targets (not yet served), all or none.
    fn hold_names(&self, r: &LibraryRecord) -> Result<()> {
        let targets = self.core.targets();
        let names = r.target_names();
        for (i, n) in names.iter().enumerate() {
            if let Err(e) = targets.hold(n, "vtl", &holder(&r.name), None) {
                for taken in &names[..i] {
                    targets.release(taken, "vtl");
                }
                return Err(LibraryError::NameTaken(e));
            }
        }
        Ok(())
    }

    fn release_names(&self, r: &LibraryRecord) {
        for n in r.target_names() {
            self.core.targets().release(&n, "vtl");
        }
    }

    fn get(&self, name: &str) -> Result<Arc<LiveLibrary>> {
        self.live
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| LibraryError::NoSuchLibrary(name.to_owned()))
    }

    /// Every library.
    pub fn live(&self) -> Vec<Arc<LiveLibrary>> {
        self.live.read().values().cloned().collect()
    }

    pub fn list(&self) -> Vec<LibraryView> {
        self.live().iter().map(|l| view(l, false)).collect()
    }

    pub fn show(&self, name: &str) -> Result<LibraryView> {
        Ok(view(&*self.get(name)?, true))
    }

    /// Creates a library: its store volume (thin, in `pool`), its record, its elements,
    /// and its target on the iSCSI portal.
    pub fn create(&self, b: CreateLibraryBody) -> Result<LibraryView> {
        model::check_name(&b.name).map_err(LibraryError::InvalidLibrary)?;
        let library_model: vsa_vtl::Model = b
            .library_model
            .as_deref()
            .unwrap_or("stk-l700")
            .parse()
            .map_err(|e: vsa_vtl::VtlError| LibraryError::InvalidLibrary(e.to_string()))?;
        let drive_model: vsa_vtl::drive::model::DriveModel = b
            .drive_model
            .as_deref()
            .unwrap_or("ibm-lto8")
            .parse()
            .map_err(|e: vsa_vtl::VtlError| LibraryError::InvalidLibrary(e.to_string()))?;
        let mailslots = b.mailslots.unwrap_or(4);
        if b.drives == 0 || b.slots == 0 {
            return Err(LibraryError::InvalidLibrary(
                "a library needs at least one drive (--drives) and one slot (--slots)".into(),
            ));
        }
        library_model
            .layout(b.drives, b.slots, mailslots)
            .map_err(|e| LibraryError::InvalidLibrary(e.to_string()))?;
        let target = b
            .target
            .clone()
            .unwrap_or_else(|| model::default_target(&b.name));
        vsa_iscsi::name::check(&target)
            .map_err(|e| LibraryError::InvalidLibrary(format!("--target {target}: {e}")))?;
        let _g = self.change.lock();
        if self.live.read().contains_key(&b.name) {
            return Err(LibraryError::LibraryExists(b.name));
        }
        let volume = model::store_volume(&b.name);
        let mut r = LibraryRecord {
            name: b.name.clone(),
            target,
            volume: volume.clone(),
            library_model: library_model.to_string(),
            drive_model: drive_model.to_string(),
            drives: b.drives,
            slots: b.slots,
            mailslots,
            serial: String::new(),
            created: now(),
            per_device: b.target_per_device,
            scratch_min: 0,
            scratch_prefix: "SCR".into(),
            scratch_capacity: None,
            clean_every: 0,
            dedup: true,
        };
        apply_scratch(
            &mut r,
            &ScratchBody {
                scratch: b.scratch,
                scratch_prefix: b.scratch_prefix.clone(),
                scratch_capacity: b.scratch_capacity.clone(),
                clean_every: b.clean_every,
                dedup: b.dedup,
            },
        )?;
        self.hold_names(&r)?;
        match self.make(&mut r, b.pool.as_deref()) {
            Ok(l) => {
                let l = Arc::new(l);
                self.live.write().insert(b.name.clone(), l.clone());
                keep_scratch(&l);
                Ok(view(&l, true))
            }
            Err(e) => {
                self.release_names(&r);
                Err(e)
            }
        }
    }

    /// Creates `r`'s store volume (its serial numbers come from the volume's id), builds
    /// the library and saves its record.
    fn make(&self, r: &mut LibraryRecord, pool: Option<&str>) -> Result<LiveLibrary> {
        let volume = r.volume.clone();
        let volume = volume.as_str();
        let vols = self.core.volumes();
        vols.create_thin(volume, model::STORE_SIZE, pool)
            .map_err(LibraryError::Volume)?;
        let undo = |e: LibraryError| {
            self.core.claims().release(volume, "vtl");
            if let Err(d) = vols.delete(volume) {
                tracing::error!(
                    volume,
                    "cannot delete the store volume of a library not created: {d}"
                );
            }
            e
        };
        self.core
            .claims()
            .claim(volume, claim(&r.name))
            .map_err(|e| undo(e.into()))?;
        let uuid = vols
            .open(volume)
            .map_err(|e| undo(LibraryError::Volume(e)))?
            .uuid;
        r.serial = model::serial_base(&uuid, &r.name);
        let live = LiveLibrary::build(&self.core, r).map_err(undo)?;
        self.persist(r).map_err(undo)?;
        self.publish(&live)?;
        Ok(live)
    }

    fn persist(&self, r: &LibraryRecord) -> Result<()> {
        let store = self.core.store();
        let cf = store.cf(CF_VTL).map_err(meta)?;
        let mut b = rocksdb::WriteBatch::default();
        b.put_cf(cf, model::library_key(&r.name), MetaStore::encode(r));
        store.commit(b, true).map_err(meta)
    }

    /// Deletes a library: its target stops being served, its records and its store
    /// volume go. With cartridges in it, only with `force`.
    pub fn delete(&self, name: &str, force: bool) -> Result<Deleted> {
        let _g = self.change.lock();
        let l = self.get(name)?;
        let n = l.inventory.cartridges().len();
        if n > 0 && !force {
            return Err(LibraryError::Busy(format!(
                "tape library '{name}' holds {n} cartridges; delete them first (`vsa vtl tape \
                 delete {name} BARCODE`) or delete the library with --force, which destroys \
                 what they hold"
            )));
        }
        let r = &l.record;
        self.release_names(r);
        let store = self.core.store();
        let cf = store.cf(CF_VTL).map_err(meta)?;
        let mut b = rocksdb::WriteBatch::default();
        b.delete_cf(cf, model::library_key(name));
        let prefix = model::data_prefix(name);
        let mut end = prefix.clone();
        end.push(0xFF);
        b.delete_range_cf(cf, &prefix, &end);
        store.commit(b, true).map_err(meta)?;
        self.live.write().remove(name);
        self.core.claims().release(&r.volume, "vtl");
        if let Err(e) = self.core.volumes().delete(&r.volume) {
            tracing::error!(
                library = name,
                volume = r.volume,
                "the library is gone but its store volume could not be deleted: {e}"
            );
        }
        Ok(Deleted {
            deleted: name.to_owned(),
        })
    }

    /// Creates cartridges in free storage slots.
    pub fn create_tapes(&self, name: &str, b: CreateTapesBody) -> Result<Vec<TapeView>> {
        let l = self.get(name)?;
        let mut carts = Vec::new();
        for spec in &b.barcodes {
            for bc in Barcode::expand(spec)? {
                carts.push(cartridge(
                    bc,
                    b.media.as_deref(),
                    b.worm,
                    b.capacity.as_ref(),
                )?);
            }
        }
        if carts.is_empty() {
            return Err(LibraryError::InvalidTape(
                "name at least one barcode".into(),
            ));
        }
        let barcodes: Vec<Barcode> = carts.iter().map(|c| c.barcode.clone()).collect();
        if let Some(dup) = barcodes.iter().find(|b| l.inventory.find(b).is_some()) {
            return Err(LibraryError::TapeExists(format!(
                "tape library '{name}' already has cartridge {dup}; barcodes are unique in a                  library (`vsa vtl tape delete {name} {dup}` first, or choose another label)"
            )));
        }
        l.inventory.add(carts)?;
        barcodes.iter().map(|bc| tape_view(&l, bc)).collect()
    }

    pub fn tapes(&self, name: &str) -> Result<Vec<TapeView>> {
        let l = self.get(name)?;
        l.inventory
            .cartridges()
            .iter()
            .map(|p| tape_view(&l, &p.cartridge.barcode))
            .collect()
    }

    pub fn tape(&self, name: &str, barcode: &str) -> Result<TapeView> {
        let l = self.get(name)?;
        tape_view(&l, &self.barcode(&l, barcode)?)
    }

    fn barcode(&self, l: &LiveLibrary, text: &str) -> Result<Barcode> {
        let bc = Barcode::parse(text)?;
        if l.inventory.find(&bc).is_none() {
            return Err(LibraryError::NoSuchTape {
                library: l.record.name.clone(),
                barcode: text.to_owned(),
            });
        }
        Ok(bc)
    }

    fn not_in_drive(l: &LiveLibrary, bc: &Barcode, what: &str) -> Result<()> {
        let p = l.inventory.find(bc);
        if let Some((_, ElementType::DataTransfer)) = p.and_then(|p| p.element) {
            return Err(LibraryError::Conflict(format!(
                "cartridge {bc} is in a drive; move it to a slot before you {what} it (`vsa vtl \
                 tape move {} drive:N slot:M`)",
                l.record.name
            )));
        }
        Ok(())
    }

    /// Erases a cartridge (not in a drive, not WORM): its records are gone and their space
    /// goes back to the pool.
    pub fn erase(&self, name: &str, barcode: &str) -> Result<TapeView> {
        let l = self.get(name)?;
        let bc = self.barcode(&l, barcode)?;
        Self::not_in_drive(&l, &bc, "erase")?;
        if l.inventory
            .find(&bc)
            .is_some_and(|p| p.cartridge.kind == MediaKind::Worm)
        {
            return Err(LibraryError::Conflict(format!(
                "cartridge {bc} is WORM: it cannot be erased"
            )));
        }
        let mut t = Tape::open(l.store.clone(), bc.as_str())?;
        t.truncate(0)?;
        tape_view(&l, &bc)
    }

    /// Deletes a cartridge (not in a drive) and everything on it.
    pub fn delete_tape(&self, name: &str, barcode: &str) -> Result<Deleted> {
        let l = self.get(name)?;
        let bc = self.barcode(&l, barcode)?;
        Self::not_in_drive(&l, &bc, "delete")?;
        l.inventory.delete(&bc)?;
        l.store.delete(bc.as_str())?;
        Ok(Deleted {
            deleted: bc.to_string(),
        })
    }

    /// Puts a cartridge into a free mail slot, as an operator: one the library knows (on
    /// the shelf) or a new one.
    pub fn import(&self, name: &str, barcode: &str, b: ImportBody) -> Result<TapeView> {
        let l = self.get(name)?;
        let bc = Barcode::parse(barcode)?;
        match l.inventory.find(&bc) {
            Some(_) => l.inventory.import(&bc)?,
            None => {
                let c = cartridge(bc.clone(), b.media.as_deref(), b.worm, b.capacity.as_ref())?;
                l.inventory.import_new(c)?
            }
        };
        tape_view(&l, &bc)
    }

    /// Takes a cartridge out through a mail slot, as an operator (it stays known, on the
    /// shelf, and can be imported again).
    pub fn export(&self, name: &str, barcode: &str) -> Result<TapeView> {
        let l = self.get(name)?;
        let bc = self.barcode(&l, barcode)?;
        l.inventory.export(&bc)?;
        tape_view(&l, &bc)
    }

    /// Moves a cartridge with the robot, as MOVE MEDIUM does (loading or unloading
    /// drives).
    pub fn move_tape(&self, name: &str, b: MoveBody) -> Result<LibraryView> {
        let l = self.get(name)?;
        let layout = l.inventory.layout();
        let from = element(&layout, &b.from)?;
        let to = element(&layout, &b.to)?;
        l.changer.device().move_medium(from, to)?;
        Ok(view(&l, true))
    }

    /// Changes a library's scratch settings (and creates what they now ask for).
    pub fn set_scratch(&self, name: &str, b: ScratchBody) -> Result<LibraryView> {
        let _g = self.change.lock();
        let l = self.get(name)?;
        let mut r = l.record.clone();
        apply_scratch(&mut r, &b)?;
        self.persist(&r)?;
        let mut live = self.live.write();
        let updated = Arc::new(LiveLibrary {
            record: r,
            ..l.shallow_clone()
        });
        live.insert(name.to_owned(), updated.clone());
        drop(live);
        for d in &updated.drives {
            d.set_clean_every(updated.record.clean_every);
        }
        updated.store.set_dedup(updated.record.dedup);
        keep_scratch(&updated);
        Ok(view(&updated, true))
    }

    /// Tops every library's scratch cartridges up (the background task).
    pub fn keep_scratch(&self) {
        for l in self.live() {
            keep_scratch(&l);
        }
    }

    /// Makes every drive's writes durable (shutdown).
    pub fn flush(&self) {
        for l in self.live() {
            l.flush();
        }
    }
}

/// A new cartridge of `bc`, checked against the settings given.
fn cartridge(
    bc: Barcode,
    media: Option<&str>,
    worm: bool,
    capacity: Option<&crate::core::size::SizeArg>,
) -> Result<CartridgeInfo> {
    let gen = media.map(str::parse::<Generation>).transpose()?;
    let capacity = capacity
        .map(|c| c.bytes())
        .transpose()
        .map_err(|e| LibraryError::InvalidTape(e.to_string()))?;
    let c = CartridgeInfo::for_barcode(bc, gen.unwrap_or(Generation::Lto8), capacity);
    if let Some(g) = gen {
        if c.kind != MediaKind::Cleaning && c.generation != g {
            return Err(LibraryError::InvalidTape(format!(
                "barcode {} names {} media, not {g}; its last two characters are the media \
                 identifier ({} for {g})",
                c.barcode,
                c.generation,
                g.label_suffix(worm)
            )));
        }
    }
    if worm != (c.kind == MediaKind::Worm) && c.kind != MediaKind::Cleaning {
        return Err(LibraryError::InvalidTape(format!(
            "barcode {} is {}a WORM label; WORM cartridges end in LV..LZ (LY for LTO-8)",
            c.barcode,
            if c.kind == MediaKind::Worm {
                ""
            } else {
                "not "
            }
        )));
    }
    if c.capacity > c.generation.native_capacity() || c.capacity < (1 << 20) {
        return Err(LibraryError::InvalidTape(format!(
            "capacity {} is out of range: 1 MiB to the native {} bytes of {}",
            c.capacity,
            c.generation.native_capacity(),
            c.generation
        )));
    }
    Ok(c)
}

/// Bytes of a segment, for the CLI.
pub const SEGMENT_BYTES: u64 = SEGMENT;
