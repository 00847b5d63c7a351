//! [`Inventory`]: a library's elements and what is where, kept in the library's [`Kv`]
//! namespace.
//!
//! The inventory owns every cartridge's [`CartridgeInfo`] and its place: an element
//! (transport, storage slot, mail slot, drive) or the shelf (exported: out of the library,
//! its records kept, so it can be imported again). Each element remembers the storage or
//! mail slot its cartridge last left (SVALID and SOURCE STORAGE ELEMENT ADDRESS of READ
//! ELEMENT STATUS) and whether the operator put it into a mail slot (IMPEXP).
//!
//! # Durability
//!
//! Every change is one [`Batch`] committed with `sync = true` before the call returns:
//! an operation runs on a copy of the contents, the difference between the copy and the
//! stored contents becomes the batch, and the copy replaces the contents only once the
//! commit succeeded. After a crash no cartridge is lost or in two places; after a failed
//! commit nothing changed.
//!
//! # Keys and values (the library's own namespace, so no library name in the keys)
//!
//! | key | value (JSON) |
//! | --- | --- |
//! | `inv/layout` | [`Layout`]: `{"transport":{"first":1,"count":1},"storage":{..},"import_export":{..},"drives":{..}}`, written once when the library is created |
//! | `inv/c/<barcode>` | [`CartridgeInfo`]: `{"barcode":"VSA001L8","generation":"Lto8","kind":"Data","capacity":12000000000000,"write_protected":false}`; one per cartridge the library knows, in an element or on the shelf |
//! | `inv/e/<address>` | [`Occupant`] of a full element, the address as 4 upper-case hex digits (`inv/e/03E8`): `{"barcode":"VSA001L8","source":1000,"by_operator":false}` (`source` is `null` until it moves); an empty element has no key |
//!
//! A cartridge whose barcode no `inv/e/` value names is on the shelf. Loading checks that
//! every element is in the layout, names a known cartridge, and that no cartridge is in
//! two elements (else [`VtlError::Corrupt`]).
//!
//! # Events
//!
//! The operator's work is counted for the changer's unit attentions: an import or export
//! through a mail slot ([`Inventory::import_export_events`]: IMPORT OR EXPORT ELEMENT
//! ACCESSED) and cartridges added to or deleted from storage slots
//! ([`Inventory::door_events`]: NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED).

mod contents;
mod layout;
mod store;
#[cfg(test)]
mod tests;

pub use contents::{MoveError, Occupant, Operand};
pub use layout::{ElementType, Layout, Range};

pub(crate) use contents::Contents;

use crate::error::{Result, VtlError};
use crate::kv::{Batch, Kv};
use crate::media::{Barcode, CartridgeInfo};
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One element as listed: its address, type and cartridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub address: u16,
    pub kind: ElementType,
    /// The cartridge in it and where that came from.
    pub occupant: Option<Occupant>,
    /// The cartridge's information (with `occupant`).
    pub cartridge: Option<CartridgeInfo>,
}

/// A cartridge the library knows and where it is (`None`: on the shelf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub cartridge: CartridgeInfo,
    pub element: Option<(u16, ElementType)>,
}

/// A library's elements and cartridges, shared by its changer and the appliance's API.
#[derive(Debug)]
pub struct Inventory {
    kv: Arc<dyn Kv>,
    contents: Mutex<Contents>,
    prevented: AtomicBool,
    import_export: AtomicU64,
    door: AtomicU64,
}

impl Inventory {
    /// Loads the library kept in `kv`, or creates an empty one with `layout` if `kv` has
    /// none. A library that exists must have been created with the same layout.
    pub fn open(kv: Arc<dyn Kv>, layout: Layout) -> Result<Inventory> {
        layout.check()?;
        let contents = match store::load_layout(kv.as_ref())? {
            Some(stored) if stored != layout => {
                return Err(VtlError::Conflict(format!(
                    "the library was created with the layout {stored:?}, not {layout:?}: \
                     open it with the layout it has (changing a library's elements is not \
                     supported)"
                )))
            }
            Some(_) => store::load(kv.as_ref(), layout)?,
            None => {
                kv.commit(store::create(&layout)?, true)?;
                Contents::new(layout)
            }
        };
        Ok(Inventory {
            kv,
            contents: Mutex::new(contents),
            prevented: AtomicBool::new(false),
            import_export: AtomicU64::new(0),
            door: AtomicU64::new(0),
        })
    }

    /// The element addresses.
    pub fn layout(&self) -> Layout {
        self.contents.lock().layout
    }

    /// Every element, ascending by address.
    pub fn elements(&self) -> Vec<Element> {
        let c = self.contents.lock();
        c.layout
            .elements()
            .into_iter()
            .map(|(address, kind)| Element {
                address,
                kind,
                occupant: c.elements.get(&address).cloned(),
                cartridge: c.cartridge_at(address).cloned(),
            })
            .collect()
    }

    /// Every cartridge the library knows, by barcode, with its place.
    pub fn cartridges(&self) -> Vec<Placed> {
        let c = self.contents.lock();
        let mut at = std::collections::BTreeMap::new();
        for (a, o) in &c.elements {
            at.insert(o.barcode.clone(), *a);
        }
        c.carts
            .values()
            .map(|cart| Placed {
                cartridge: cart.clone(),
                element: at
                    .get(&cart.barcode)
                    .and_then(|&a| c.layout.kind(a).map(|k| (a, k))),
            })
            .collect()
    }

    /// A cartridge and its place.
    pub fn find(&self, barcode: &Barcode) -> Option<Placed> {
        let c = self.contents.lock();
        let cartridge = c.carts.get(barcode)?.clone();
        let element = c
            .location(barcode)
            .and_then(|a| c.layout.kind(a).map(|k| (a, k)));
        Some(Placed { cartridge, element })
    }

    /// Adds new cartridges into the lowest free storage slots, all or none. Refuses a
    /// barcode the library knows (anywhere, the shelf included) and more cartridges than
    /// free slots. Returns the slots, in the order given.
    pub fn add(&self, carts: Vec<CartridgeInfo>) -> Result<Vec<u16>> {
        let slots = self.lock().apply(|c| c.add(carts))?;
        self.door.fetch_add(1, Ordering::SeqCst);
        Ok(slots)
    }

    /// Deletes a cartridge (its records are the store's to drop) from a storage slot, a
    /// mail slot or the shelf; refused while it is in a drive or the robot, and from a
    /// mail slot while removal is prevented.
    pub fn delete(&self, barcode: &Barcode) -> Result<CartridgeInfo> {
        let mut l = self.lock();
        let at = l.contents().location(barcode);
        let kind = at.and_then(|a| l.contents().layout.kind(a));
        if kind == Some(ElementType::ImportExport) {
            self.refuse_if_prevented(barcode)?;
        }
        let (cart, _) = l.apply(|c| c.delete(barcode))?;
        drop(l);
        match kind {
            Some(ElementType::ImportExport) => self.import_export.fetch_add(1, Ordering::SeqCst),
            Some(_) => self.door.fetch_add(1, Ordering::SeqCst),
            None => 0,
        };
        Ok(cart)
    }

    /// The operator puts a new cartridge into the first free mail slot. Returns the slot.
    pub fn import_new(&self, cart: CartridgeInfo) -> Result<u16> {
        let slot = self.lock().apply(|c| c.import_new(cart))?;
        self.import_export.fetch_add(1, Ordering::SeqCst);
        Ok(slot)
    }

    /// The operator puts an exported cartridge (on the shelf) back into the first free
    /// mail slot. Returns the slot.
    pub fn import(&self, barcode: &Barcode) -> Result<u16> {
        let slot = self.lock().apply(|c| c.import(barcode))?;
        self.import_export.fetch_add(1, Ordering::SeqCst);
        Ok(slot)
    }

    /// The operator takes a cartridge out of the library to the shelf: from its mail slot,
    /// or from a storage slot through a free mail slot (as the operator would have the
    /// robot do). Refused while removal is prevented and for a cartridge in a drive.
    /// Returns the element it left.
    pub fn export(&self, barcode: &Barcode) -> Result<u16> {
        let at = self.lock().apply(|c| {
            let at = c.export(barcode)?;
            self.refuse_if_prevented(barcode)?;
            Ok(at)
        })?;
        self.import_export.fetch_add(1, Ordering::SeqCst);
        Ok(at)
    }

    /// Moves a cartridge between elements that are not drives (a move into or out of a
    /// drive must load or unload it: use [`crate::changer::Changer::move_medium`]).
    pub fn move_medium(&self, src: u16, dst: u16) -> Result<()> {
        let mut l = self.lock();
        l.contents().check_move(src, dst)?;
        refuse_drive(l.contents(), &[src, dst])?;
        l.apply(|c| {
            c.apply_move(src, dst);
            Ok(())
        })
    }

    /// Exchanges between elements that are not drives: the cartridge of `src` goes to
    /// `dst1`, the one of `dst1` to `dst2` (which may be `src`).
    pub fn exchange(&self, src: u16, dst1: u16, dst2: u16) -> Result<()> {
        let mut l = self.lock();
        l.contents().check_exchange(src, dst1, dst2)?;
        refuse_drive(l.contents(), &[src, dst1, dst2])?;
        l.apply(|c| {
            c.apply_exchange(src, dst1, dst2);
            Ok(())
        })
    }

    /// Sets or clears a cartridge's write-protect tab (a loaded cartridge keeps the state
    /// it was loaded with until it is loaded again).
    pub fn set_write_protect(&self, barcode: &Barcode, on: bool) -> Result<()> {
        self.lock().apply(|c| c.set_write_protect(barcode, on))
    }

    /// Locks (or unlocks) the mail slots against the operator taking cartridges out: the
    /// changer sets it while an initiator prevents medium removal.
    pub fn set_removal_prevented(&self, on: bool) {
        self.prevented.store(on, Ordering::SeqCst);
    }

    /// Whether the mail slots are locked.
    pub fn removal_prevented(&self) -> bool {
        self.prevented.load(Ordering::SeqCst)
    }

    /// How many imports and exports through the mail slots there were since opening.
    pub fn import_export_events(&self) -> u64 {
        self.import_export.load(Ordering::SeqCst)
    }

    /// How many times cartridges were added to or deleted from storage slots since opening.
    pub fn door_events(&self) -> u64 {
        self.door.load(Ordering::SeqCst)
    }

    fn refuse_if_prevented(&self, barcode: &Barcode) -> Result<()> {
        match self.removal_prevented() {
            true => Err(VtlError::Conflict(format!(
                "cannot take {barcode} out: the mail slots are locked because an initiator \
                 prevents medium removal; have the backup application allow removal (or \
                 end its session) and try again"
            ))),
            false => Ok(()),
        }
    }

    /// Holds the inventory for an operation that must check, act and commit as one.
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked {
            kv: self.kv.as_ref(),
            guard: self.contents.lock(),
        }
    }
}

fn refuse_drive(c: &Contents, addrs: &[u16]) -> Result<()> {
    match addrs
        .iter()
        .find(|&&a| c.layout.kind(a) == Some(ElementType::DataTransfer))
    {
        Some(a) => Err(VtlError::Invalid(format!(
            "element {a:#06x} is a drive: moves into and out of drives go through the \
             library's changer, which loads and unloads the drive"
        ))),
        None => Ok(()),
    }
}

/// The inventory, locked.
#[derive(Debug)]
pub(crate) struct Locked<'a> {
    kv: &'a dyn Kv,
    guard: MutexGuard<'a, Contents>,
}

impl Locked<'_> {
    /// What is where now.
    pub(crate) fn contents(&self) -> &Contents {
        &self.guard
    }

    /// Runs `change` on a copy of the contents and commits the difference as one synced
    /// batch; the copy becomes the contents only if both succeed.
    pub(crate) fn apply<T>(
        &mut self,
        change: impl FnOnce(&mut Contents) -> Result<T>,
    ) -> Result<T> {
        let mut draft = self.guard.clone();
        let out = change(&mut draft)?;
        let batch: Batch = store::changes(&self.guard, &draft)?;
        if !batch.is_empty() {
            self.kv.commit(batch, true).inspect_err(|e| {
                tracing::error!(error = %e, "inventory change not saved; nothing changed");
            })?;
        }
        *self.guard = draft;
        Ok(out)
    }
}
