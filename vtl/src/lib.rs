//! A virtual tape library: a SCSI medium changer (SMC-3) and LTO tape drives (SSC-4) as
//! [`vsa_scsi::Device`]s, with cartridges kept on one pool volume per library (the
//! cartridge store), so RAID protects tapes and the pool counts their space.
//!
//! ```text
//!  iSCSI LUN 0 ── spc::Unit<changer::Changer> ── Inventory (elements, what is where)
//!                                   │ MOVE MEDIUM into/out of a drive
//!                                   ▼
//!  iSCSI LUN n ── spc::Unit<drive::TapeDrive> ── store::Tape (records of one cartridge)
//!                                                   │
//!                                                   ▼
//!                                  store::Store (segments of the store volume, a BlockDevice)
//!                                  catalog in a Kv (the appliance's `vtl` column family)
//! ```
//!
//! This crate does no I/O but through [`vsa_blockdev::BlockDevice`] (the cartridge store)
//! and [`kv::Kv`] (its catalog); `vtl/FORMAT.md` describes both.
#![forbid(unsafe_code)]

pub mod bay;
pub mod changer;
pub mod drive;
pub mod error;
pub mod inventory;
pub mod kv;
pub mod media;
pub mod store;

pub use bay::DriveBay;
pub use changer::{Changer, Model};
pub use drive::TapeDrive;
pub use error::VtlError;
pub use inventory::Inventory;
pub use media::{Barcode, CartridgeInfo, Generation, MediaKind};
