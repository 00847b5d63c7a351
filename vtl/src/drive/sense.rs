//! The sense data of a tape drive (SSC-4 4.2 and its ASC table), one constructor per
//! condition so every command reports a condition the same way.

use vsa_scsi::{Sense, SenseKey};

/// NOT READY, MEDIUM NOT PRESENT: no cartridge, or one unloaded.
pub fn no_medium() -> Sense {
    Sense::medium_not_present()
}

/// NOT READY, CLEANING CARTRIDGE INSTALLED.
pub fn cleaning_installed() -> Sense {
    Sense::new(SenseKey::NotReady, 0x30, 0x03)
}

/// MEDIUM ERROR, INCOMPATIBLE MEDIUM INSTALLED: a generation the drive cannot read.
pub fn incompatible() -> Sense {
    Sense::new(SenseKey::MediumError, 0x30, 0x00)
}

/// DATA PROTECT, CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT: a generation the drive reads
/// but does not write.
pub fn cannot_write_format() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x30, 0x05)
}

/// DATA PROTECT, WRITE PROTECTED.
pub fn write_protected() -> Sense {
    Sense::write_protected()
}

/// DATA PROTECT, WORM MEDIUM - OVERWRITE ATTEMPTED.
pub fn worm_overwrite() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x30, 0x0C)
}

/// NO SENSE, FILEMARK DETECTED with the FILEMARK bit and a residual.
pub fn filemark(residual: i64) -> Sense {
    let mut s = Sense::new(SenseKey::NoSense, 0x00, 0x01).with_residual(residual);
    s.filemark = true;
    s
}

/// BLANK CHECK, END-OF-DATA DETECTED, with a residual.
pub fn end_of_data(residual: i64) -> Sense {
    Sense::new(SenseKey::BlankCheck, 0x00, 0x05).with_residual(residual)
}

/// NO SENSE, BEGINNING-OF-PARTITION/MEDIUM DETECTED with the EOM bit and a residual.
pub fn beginning(residual: i64) -> Sense {
    let mut s = Sense::new(SenseKey::NoSense, 0x00, 0x04).with_residual(residual);
    s.eom = true;
    s
}

/// NO SENSE, END-OF-PARTITION/MEDIUM DETECTED with the EOM bit: early warning passed
/// (the data was written; `residual` is what was not).
pub fn early_warning(residual: i64) -> Sense {
    let mut s = Sense::new(SenseKey::NoSense, 0x00, 0x02).with_residual(residual);
    s.eom = true;
    s
}

/// VOLUME OVERFLOW, END-OF-PARTITION/MEDIUM DETECTED with the EOM bit: the end of the
/// medium; `residual` is what was not written.
pub fn overflow(residual: i64) -> Sense {
    let mut s = Sense::new(SenseKey::VolumeOverflow, 0x00, 0x02).with_residual(residual);
    s.eom = true;
    s
}

/// NO SENSE with the ILI bit: a block of another length than asked for.
pub fn incorrect_length(residual: i64) -> Sense {
    let mut s = Sense::new(SenseKey::NoSense, 0x00, 0x00).with_residual(residual);
    s.ili = true;
    s
}

/// MEDIUM ERROR, UNRECOVERED READ ERROR.
pub fn read_error(residual: i64) -> Sense {
    Sense::new(SenseKey::MediumError, 0x11, 0x00).with_residual(residual)
}

/// MEDIUM ERROR, WRITE ERROR.
pub fn write_error(residual: i64) -> Sense {
    Sense::new(SenseKey::MediumError, 0x0C, 0x00).with_residual(residual)
}

/// A deferred MEDIUM ERROR, WRITE ERROR: `lost` records of writes that completed in
/// buffered mode did not reach the cartridge (SSC-4 4.2.10: INFORMATION counts the
/// objects the buffer held that were not written). The command it is returned for was not
/// performed.
pub fn deferred_write_error(lost: u64) -> Sense {
    Sense::new(SenseKey::MediumError, 0x0C, 0x00)
        .with_information(lost)
        .deferred()
}

/// ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED.
pub fn removal_prevented() -> Sense {
    Sense::removal_prevented()
}

/// UNIT ATTENTION, NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED.
pub fn medium_changed() -> Sense {
    Sense::new(SenseKey::UnitAttention, 0x28, 0x00)
}

/// ILLEGAL REQUEST, INVALID FIELD IN CDB at `byte`: a partition other than 0 (the drive
/// has one partition).
pub fn no_such_partition(byte: u16) -> Sense {
    Sense::invalid_field_in_cdb(byte, None)
}

/// The 16-byte forms of WRITE FILEMARKS and ERASE name where they apply: byte 3 the
/// partition (only 0 exists) and bytes 4-11 the logical object, which must be the current
/// position (SSC-4 6.6, 7.14). `pos` is that position.
pub(super) fn check_position_16(cdb: &[u8], pos: u64) -> Result<(), Sense> {
    if vsa_scsi::cdb::byte(cdb, 3) != 0 {
        return Err(no_such_partition(3));
    }
    if vsa_scsi::cdb::be64(cdb, 4) != pos {
        return Err(Sense::invalid_field_in_cdb(4, None));
    }
    Ok(())
}
