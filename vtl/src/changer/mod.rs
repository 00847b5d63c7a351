//! [`Changer`]: the library's robot as a SCSI medium changer (SMC-3, peripheral device
//! type 08h), served through [`vsa_scsi::spc::Unit`], which answers INQUIRY (with the
//! [`Model`]'s strings, see [`Model::identity`]), VPD 80h/83h, MODE SENSE/SELECT, TEST UNIT
//! READY, REQUEST SENSE, reservations and REPORT SUPPORTED OPERATION CODES.
//!
//! ```text
//!  Unit<Changer> ── MOVE MEDIUM, EXCHANGE MEDIUM ────────── moves.rs ──▶ Inventory (Kv)
//!        │        ── POSITION TO ELEMENT, INITIALIZE ...      │             │
//!        │        ── PREVENT ALLOW MEDIUM REMOVAL             └─ DriveBay::insert/remove
//!        │        ── READ ELEMENT STATUS ──────────────── element_status.rs
//!        │        ── mode pages 1Dh 1Eh 1Fh ──────────────────── mode.rs
//!        ▼
//!  pending_attention: IMPORT OR EXPORT ELEMENT ACCESSED (28h/01h) after the operator used
//!  a mail slot; NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (28h/00h) after
//!  cartridges were added to or deleted from storage slots.
//! ```
//!
//! Sense data of failed commands: INVALID ELEMENT ADDRESS (05h/21h/01h, field pointer on
//! the address), MEDIUM SOURCE ELEMENT EMPTY (05h/3Bh/0Eh), MEDIUM DESTINATION ELEMENT
//! FULL (05h/3Bh/0Dh), INVALID FIELD IN CDB (05h/24h/00h, field pointer), the drive's own
//! sense when it refuses a cartridge or to give one up (MEDIUM REMOVAL PREVENTED,
//! 05h/53h/02h, while an initiator prevents removal through the drive), and INTERNAL
//! TARGET FAILURE (04h/44h/00h) when the inventory could not be saved. A failed command
//! changes nothing.

mod element_status;
mod mode;
mod model;
mod moves;
mod opcodes;
#[cfg(test)]
mod tests;

pub use model::Model;

use crate::bay::DriveBay;
use crate::error::{Result, VtlError};
use crate::inventory::{Inventory, Layout};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;
use vsa_scsi::cdb::{byte, PREVENT_ALLOW};
use vsa_scsi::{
    Access, Command, Device, Nexus, OpcodeInfo, PageControl, Response, Sense, SenseKey, UnitCtx,
};

/// The T10 version descriptor of SMC-3 (no version claimed).
const SMC3: u16 = 0x0480;

/// A library's medium changer.
#[derive(Debug)]
pub struct Changer {
    inventory: Arc<Inventory>,
    /// The inventory's layout (fixed), so drives are found without its lock.
    layout: Layout,
    drives: Vec<Arc<dyn DriveBay>>,
    model: Model,
    /// The nexuses that prevent medium removal.
    preventing: Mutex<BTreeSet<Nexus>>,
    /// The inventory's (import/export, door) event counts already raised.
    seen: Mutex<(u64, u64)>,
}

impl Changer {
    /// The changer of the library `inventory`, with its drives in drive element order
    /// (the first drive is the lowest data transfer element address).
    pub fn new(
        inventory: Arc<Inventory>,
        drives: Vec<Arc<dyn DriveBay>>,
        model: Model,
    ) -> Result<Changer> {
        let layout = inventory.layout();
        let want = usize::from(layout.drives.count);
        if drives.len() != want {
            return Err(VtlError::Invalid(format!(
                "the library has {want} drive elements but {} drives were given: give one \
                 drive per data transfer element",
                drives.len()
            )));
        }
        let seen = (inventory.import_export_events(), inventory.door_events());
        Ok(Changer {
            inventory,
            layout,
            drives,
            model,
            preventing: Mutex::new(BTreeSet::new()),
            seen: Mutex::new(seen),
        })
    }

    /// The library's inventory.
    pub fn inventory(&self) -> &Arc<Inventory> {
        &self.inventory
    }

    /// The model the changer presents itself as.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The drive at element address `addr`.
    fn drive(&self, addr: u16) -> Option<&dyn DriveBay> {
        let i = self.layout.drive_index(addr)?;
        self.drives.get(i).map(|d| d.as_ref())
    }

    /// Updates the nexus's PREVENT state and the mail slots' lock.
    fn set_preventing(&self, nexus: &Nexus, on: bool) {
        let mut p = self.preventing.lock();
        if on {
            p.insert(nexus.clone());
        } else {
            p.remove(nexus);
        }
        self.inventory.set_removal_prevented(!p.is_empty());
    }

    /// PREVENT ALLOW MEDIUM REMOVAL (SMC-3 6.9): PREVENT 01b locks the mail slots against
    /// the operator taking cartridges out, 00b unlocks them for this nexus; the slots stay
    /// locked while any nexus prevents.
    fn prevent_allow(&self, cmd: &Command<'_>) -> Result<Response, Sense> {
        match byte(cmd.cdb, 4) & 0x03 {
            0 => self.set_preventing(cmd.nexus, false),
            1 => self.set_preventing(cmd.nexus, true),
            _ => return Err(Sense::invalid_field_in_cdb(4, Some(1))),
        }
        Ok(Response::good())
    }

    fn dispatch(&self, cmd: &Command<'_>) -> Option<Result<Response, Sense>> {
        let r = match byte(cmd.cdb, 0) {
            opcodes::MOVE_MEDIUM => self.move_cdb(cmd.cdb),
            opcodes::EXCHANGE_MEDIUM => self.exchange_cdb(cmd.cdb),
            opcodes::READ_ELEMENT_STATUS => element_status::read(self, cmd.cdb),
            opcodes::POSITION_TO_ELEMENT => self.position(cmd.cdb),
            opcodes::INITIALIZE_ELEMENT_STATUS => Ok(Response::good()),
            opcodes::INITIALIZE_ELEMENT_STATUS_WITH_RANGE => self.initialize_range(cmd.cdb),
            PREVENT_ALLOW => self.prevent_allow(cmd),
            _ => return None,
        };
        Some(r)
    }
}

/// UNIT ATTENTION with `asc`/`ascq`.
fn attention(asc: u8, ascq: u8) -> Sense {
    Sense::new(SenseKey::UnitAttention, asc, ascq)
}

impl Device for Changer {
    fn peripheral_type(&self) -> u8 {
        0x08
    }

    fn sequential(&self) -> bool {
        true
    }

    fn removable(&self) -> bool {
        true
    }

    fn vpd_pages(&self) -> &[u8] {
        &[]
    }

    fn vpd_page(&self, _page: u8) -> Option<Vec<u8>> {
        None
    }

    fn version_descriptors(&self) -> &[u16] {
        &[SMC3]
    }

    fn mode_pages(&self) -> &[u8] {
        mode::PAGES
    }

    fn mode_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        mode::page(&self.layout, page, pc)
    }

    fn mode_select(&self, page: u8, data: &[u8]) -> Result<(), Sense> {
        mode::select(&self.layout, page, data)
    }

    fn mode_device_specific(&self, _write_protected: bool) -> u8 {
        0
    }

    fn block_descriptor(&self) -> Option<(u64, u32)> {
        None
    }

    fn opcodes(&self) -> &[OpcodeInfo] {
        opcodes::OPCODES
    }

    fn access(&self, cdb: &[u8]) -> Access {
        opcodes::access(cdb)
    }

    fn execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        self.dispatch(cmd)
            .map(|r| r.unwrap_or_else(|s| ctx.check(&s)))
    }

    fn pending_attention(&self) -> Option<Sense> {
        let mut seen = self.seen.lock();
        let io = self.inventory.import_export_events();
        if io != seen.0 {
            seen.0 = io;
            return Some(attention(0x28, 0x01));
        }
        let door = self.inventory.door_events();
        if door != seen.1 {
            seen.1 = door;
            return Some(attention(0x28, 0x00));
        }
        None
    }

    fn reset(&self) {
        self.preventing.lock().clear();
        self.inventory.set_removal_prevented(false);
    }

    fn nexus_lost(&self, nexus: &Nexus) {
        self.set_preventing(nexus, false);
    }
}
