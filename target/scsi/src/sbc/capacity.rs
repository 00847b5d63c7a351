//! READ CAPACITY (10) and (16) (SBC-4 5.20, 5.21).

use super::disk::Disk;
use crate::cdb::{be32, byte, need, put, truncate};
use crate::{Response, Sense};

impl Disk {
    /// READ CAPACITY (10): the last LBA (saturated at FFFFFFFFh) and the block length.
    pub(crate) fn read_capacity10(&self, cdb: &[u8]) -> Result<Response, Sense> {
        need(cdb, 10)?;
        if byte(cdb, 8) & 0x01 == 0 && be32(cdb, 2) != 0 {
            // The obsolete LOGICAL BLOCK ADDRESS field must be zero without PMI.
            return Err(Sense::invalid_field_in_cdb(2, None));
        }
        let last = self.blocks().saturating_sub(1);
        let mut d = vec![0u8; 8];
        put(
            &mut d,
            0,
            u32::try_from(last).unwrap_or(u32::MAX).to_be_bytes(),
        );
        put(&mut d, 4, self.bs.to_be_bytes());
        Ok(Response::with_data(d))
    }

    /// READ CAPACITY (16): adds the physical block exponent and, for a thin disk, LBPME
    /// and LBPRZ (unmapped blocks read as zeros).
    pub(crate) fn read_capacity16(&self, cdb: &[u8]) -> Result<Response, Sense> {
        need(cdb, 16)?;
        let alloc = be32(cdb, 10) as usize;
        let mut d = vec![0u8; 32];
        put(&mut d, 0, self.blocks().saturating_sub(1).to_be_bytes());
        put(&mut d, 8, self.bs.to_be_bytes());
        put(&mut d, 13, [self.tuning.physical_block_exponent & 0x0F]);
        if self.opts.thin {
            put(&mut d, 14, [0xC0]);
        }
        Ok(Response::with_data(truncate(d, alloc)))
    }
}
