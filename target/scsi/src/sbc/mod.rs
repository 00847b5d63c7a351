//! SBC-4 direct-access block device: [`Disk`], a [`crate::Device`] over any
//! [`vsa_blockdev::BlockDevice`], served to initiators through [`crate::spc::Unit`].
//!
//! ```text
//!  spc::Unit ──Device::execute──▶ Disk ── parse + check CDB ── range lock ──▶ BlockDevice
//!                                  │ rw        READ / WRITE / VERIFY / WRITE AND VERIFY /
//!                                  │           ORWRITE / WRITE ATOMIC
//!                                  │ caw       COMPARE AND WRITE
//!                                  │ unmap     UNMAP, WRITE SAME
//!                                  │ lba_status, capacity, cache, defect, medium
//!                                  │ sanitize  SANITIZE (sanitizer: the operation's thread)
//!                                  │ xcopy     EXTENDED COPY, RECEIVE COPY RESULTS
//!                                  └ vpd, mode: what INQUIRY and MODE SENSE show
//!
//!  opcodes: the one table of the disk's commands, a row per opcode (and service action):
//!  handler, data-out length rule, reservation access class, medium gate, CDB usage map
//! ```
//!
//! The appliance builds one per LUN:
//!
//! ```
//! use std::sync::Arc;
//! use vsa_blockdev::testing::MemDevice;
//! use vsa_scsi::sbc::{Disk, DiskOptions, NoCopyTargets};
//!
//! let dev = Arc::new(MemDevice::new(64 << 20, 512));
//! let disk = Disk::new(dev, DiskOptions { thin: true, ..Default::default() },
//!                      Arc::new(NoCopyTargets));
//! # let _ = disk;
//! ```

mod cache;
mod capacity;
mod caw;
pub(crate) mod copy_list;
mod defect;
mod disk;
mod lba_status;
mod lock;
mod medium;
mod mode;
mod opcodes;
mod rw;
mod sanitize;
mod sanitizer;
mod unmap;
pub(crate) mod unmap_list;
mod vpd;
mod xcopy;

#[cfg(test)]
mod tests;

pub use disk::{CopyTargets, Disk, DiskOptions, DiskTuning, NoCopyTargets};
