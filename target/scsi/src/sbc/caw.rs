//! COMPARE AND WRITE (SBC-4 5.3): compare the blocks with the first half of the data-out
//! and, only if all match, write the second half; atomic against every other command on
//! those blocks (the range lock is held from the read to the write).

use super::disk::Disk;
use super::rw::compare;
use crate::cdb::{be64, byte, need};
use crate::{Command, Response, Sense, UnitCtx};

impl Disk {
    /// COMPARE AND WRITE.
    pub(crate) fn compare_and_write(
        &self,
        c: &Command<'_>,
        ctx: &UnitCtx,
    ) -> Result<Response, Sense> {
        let cdb = c.cdb;
        need(cdb, 16)?;
        if byte(cdb, 1) >> 5 != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(7)));
        }
        let lba = be64(cdb, 2);
        let blocks = u64::from(byte(cdb, 13));
        if blocks > u64::from(self.limits.max_compare) {
            return Err(Sense::invalid_field_in_cdb(13, None));
        }
        if ctx.write_protected {
            return Err(Sense::write_protected());
        }
        self.check_range(lba, blocks)?;
        let half = self.bytes(blocks);
        if c.data_out.len() != 2 * half {
            // The verify and write instances must both be whole, and there is no data-out
            // at all with NUMBER OF LOGICAL BLOCKS zero: data-out that does not fit the
            // CDB is a count the field could not hold (more than 255 blocks) or a
            // mistake, either way not something to compare and write.
            return Err(Sense::invalid_field_in_cdb(13, None));
        }
        if blocks == 0 {
            return Ok(Response::good());
        }
        let (verify, write) = c.data_out.split_at(half);
        let _guard = self.locks.lock(lba, blocks);
        compare(&self.read_blocks(lba, blocks)?, verify)?;
        self.write_blocks(lba, write, byte(cdb, 1) & 0x08 != 0)?;
        Ok(Response::good())
    }
}
