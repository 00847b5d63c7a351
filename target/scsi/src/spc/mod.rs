//! SPC-4 commands shared by every device type, unit attentions and reservations:
//! [`Unit<D>`], the [`crate::LogicalUnit`] the transport talks to, around any
//! [`crate::Device`].
//!
//! ```text
//!  Unit::execute ── cdb ─────── CDB length, NACA/LINK            (crate::cdb)
//!        │        ── ua ──────── pending unit attentions per nexus (ua.rs)
//!        │        ── reserve ─── RESERVE(6)/(10), PR conflicts    (reserve.rs, pr.rs)
//!        │        ── inquiry ─── INQUIRY, VPD 00h/80h/83h/86h      (inquiry.rs)
//!        │        ── mode ────── MODE SENSE/SELECT, pages 0Ah 1Ch  (mode.rs, mode_list.rs)
//!        │        ── rsoc ────── REPORT SUPPORTED OPCODES / TMFs   (rsoc.rs)
//!        │        ── prout ───── PERSISTENT RESERVE OUT  (prout.rs, prout_list.rs, pr_store.rs)
//!        ▼
//!   Device::execute (everything else)
//! ```
//!
//! The appliance builds a unit with [`Unit::new`], giving it a [`PrStore`] where the
//! persistent reservation state is saved before any PERSISTENT RESERVE OUT completes.
//!
//! Choices worth knowing:
//! - Unit attentions: a nexus seen for the first time gets 29h/00; LOGICAL UNIT RESET and
//!   TARGET WARM RESET give every known nexus (the one that asked included) 29h/03, TARGET
//!   COLD RESET 29h/01; MODE SELECT gives the other nexuses 2Ah/01; persistent
//!   reservations raise 2Ah/03, 2Ah/04 and 2Ah/05 as SPC-4 5.13 says; `tasks_cleared`
//!   raises 2Fh/00 (TAS = 0); [`crate::Device::pending_attention`] goes to every nexus.
//! - Persistent reservations: all six types, ALL_TG_PT, APTPL (honoured: without it the
//!   state does not survive a restart, see [`PrStore`]), REGISTER AND MOVE with iSCSI
//!   TransportIDs. SPEC_I_PT is rejected (SIP_C = 0). PREEMPT AND ABORT changes the
//!   reservation like PREEMPT; aborting the preempted nexuses' tasks is up to the
//!   transport. Resets leave persistent reservations alone.
//! - Mode pages: control (0Ah; D_SENSE and SWP changeable) and informational exceptions
//!   (1Ch) here, the rest from the device; no saved pages, so resets restore defaults.
//! - No ALUA (TPGS = 0), no ACA (NACA in a CDB is an invalid field).

mod inquiry;
pub(crate) mod mode;
pub(crate) mod mode_list;
mod pr;
mod pr_store;
mod prout;
pub(crate) mod prout_list;
mod reserve;
mod rsoc;
pub(crate) mod transport_id;
mod ua;
mod unit;

#[cfg(test)]
mod tests;

pub use pr_store::{MemPrStore, PrStore, PrStoreError};
pub use unit::{Unit, UnitOptions};
