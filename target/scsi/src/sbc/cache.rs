//! SYNCHRONIZE CACHE (10/16) and PRE-FETCH (10/16) (SBC-4 5.22, 5.23, 5.9, 5.10).
//!
//! The SCSI layer keeps no cache of its own: SYNCHRONIZE CACHE flushes the device, and
//! PRE-FETCH checks its range and completes with GOOD, which SBC-4 prescribes when the
//! blocks were not all transferred to a cache (CONDITION MET would claim they were).

use super::disk::Disk;
use crate::cdb::{be16, be32, be64, byte, need};
use crate::{Response, Sense};

/// LBA and block count of a 10- or 16-byte cache CDB.
fn cache_range(cdb: &[u8]) -> Result<(u64, u64), Sense> {
    if matches!(byte(cdb, 0), 0x91 | 0x90) {
        need(cdb, 16)?;
        Ok((be64(cdb, 2), u64::from(be32(cdb, 10))))
    } else {
        need(cdb, 10)?;
        Ok((u64::from(be32(cdb, 2)), u64::from(be16(cdb, 7))))
    }
}

impl Disk {
    /// SYNCHRONIZE CACHE: makes every completed write durable.
    pub(crate) fn synchronize_cache(&self, cdb: &[u8]) -> Result<Response, Sense> {
        let (lba, blocks) = cache_range(cdb)?;
        self.check_range(lba, blocks)?;
        self.flush(lba)?;
        Ok(Response::good())
    }

    /// PRE-FETCH: range-checked, nothing to stage.
    pub(crate) fn prefetch(&self, cdb: &[u8]) -> Result<Response, Sense> {
        let (lba, blocks) = cache_range(cdb)?;
        self.check_range(lba, blocks)?;
        Ok(Response::good())
    }
}
