//! [`DriveBay`]: what the medium changer needs from a tape drive it moves cartridges into
//! and out of. The drive implements it; the changer's tests use a fake.

use crate::media::CartridgeInfo;
use vsa_scsi::Sense;

/// A tape drive as the library's robot sees it.
pub trait DriveBay: Send + Sync + std::fmt::Debug {
    /// The drive's identification as READ ELEMENT STATUS reports it with DVCID (SMC-3
    /// 6.11.7, identifier type ASCII): vendor (8), product (16) and serial number, the
    /// same strings as the drive's standard INQUIRY and VPD page 0x80.
    fn device_identifier(&self) -> Vec<u8>;

    /// The cartridge is put into the drive, which loads it (and opens its records).
    /// A cartridge the drive cannot read (a newer generation) stays in and the drive
    /// reports it as incompatible when used, as a real drive does; an error here means the
    /// drive could not take it at all (the store failed), with the sense the changer
    /// returns.
    fn insert(&self, cartridge: &CartridgeInfo) -> Result<(), Sense>;

    /// The cartridge is taken out: the drive writes what it buffered, rewinds and
    /// unloads. Refused with MEDIUM REMOVAL PREVENTED (ILLEGAL REQUEST, 53h/02h) while an
    /// initiator prevents removal through the drive, or with the sense of a failed flush.
    fn remove(&self) -> Result<(), Sense>;

    /// Whether the drive has unloaded the cartridge (LOAD UNLOAD with LOAD 0, or an
    /// eject) so the robot may take it (for the ACCESS bit of its data transfer element).
    fn unloaded(&self) -> bool;
}
