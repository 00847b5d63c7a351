//! UNMAP (SBC-4 5.31) and WRITE SAME (10/16) (5.49, 5.50), the commands that write one
//! block over a range or release the range to the pool.

use super::disk::Disk;
use super::unmap_list::{self, Extent};
use crate::cdb::{be16, be32, be64, byte, need};
use crate::param;
use crate::{Command, Response, Sense, UnitCtx};

/// Bytes written per device call when WRITE SAME replicates its block.
const PIECE: usize = 1 << 20;

impl Disk {
    /// UNMAP: checks every descriptor, then releases each range.
    pub(crate) fn unmap(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        need(c.cdb, 10)?;
        if byte(c.cdb, 1) & 0x01 != 0 {
            // ANCHOR: anchored blocks are not supported (ANC_SUP = 0).
            return Err(Sense::invalid_field_in_cdb(1, Some(0)));
        }
        if ctx.write_protected {
            return Err(Sense::write_protected());
        }
        let len = usize::from(be16(c.cdb, 7));
        if len == 0 {
            return Ok(Response::good());
        }
        let list = c.data_out.get(..len).unwrap_or(c.data_out);
        let extents = self.unmap_descriptors(list)?;
        for e in &extents {
            self.release(e.lba, u64::from(e.blocks))?;
        }
        Ok(Response::good())
    }

    /// Parses the UNMAP parameter list and checks every descriptor against the limits
    /// and the capacity, in order.
    fn unmap_descriptors(&self, list: &[u8]) -> Result<Vec<Extent>, Sense> {
        let extents = unmap_list::parse(list, self.limits.max_unmap_descriptors)?;
        for (i, e) in extents.iter().enumerate() {
            if e.blocks > self.limits.max_unmap_blocks {
                let at = unmap_list::HEADER + unmap_list::DESCRIPTOR * i + 8;
                return Err(param::field(at, None));
            }
            self.check_range(e.lba, u64::from(e.blocks))?;
        }
        Ok(extents)
    }

    /// Releases `[lba, lba + blocks)`; afterwards it reads as zeros.
    pub(crate) fn release(&self, lba: u64, blocks: u64) -> Result<(), Sense> {
        if blocks == 0 {
            return Ok(());
        }
        let _guard = self.locks.lock(lba, blocks);
        self.dev
            .unmap(self.offset(lba), self.offset(blocks))
            .map_err(|e| Sense::from_block_error(&e, lba, true))
    }

    /// WRITE SAME (10) and (16).
    pub(crate) fn write_same(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let cdb = c.cdb;
        let sixteen = byte(cdb, 0) == 0x93;
        need(cdb, if sixteen { 16 } else { 10 })?;
        let (lba, count, count_at) = if sixteen {
            (be64(cdb, 2), u64::from(be32(cdb, 10)), 10)
        } else {
            (u64::from(be32(cdb, 2)), u64::from(be16(cdb, 7)), 7)
        };
        let flags = byte(cdb, 1);
        let (anchor, unmap, ndob) = (
            flags & 0x10 != 0,
            flags & 0x08 != 0,
            sixteen && flags & 0x01 != 0,
        );
        if flags >> 5 != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(7)));
        }
        if anchor {
            // ANCHOR needs UNMAP, and anchored blocks are not supported (ANC_SUP = 0).
            return Err(Sense::invalid_field_in_cdb(1, Some(4)));
        }
        if unmap && !self.opts.thin {
            return Err(Sense::invalid_field_in_cdb(1, Some(3)));
        }
        if ctx.write_protected {
            return Err(Sense::write_protected());
        }
        if lba > self.blocks() {
            return Err(Sense::lba_out_of_range());
        }
        // NUMBER OF LOGICAL BLOCKS zero: to the end of the medium (WSNZ = 0).
        let blocks = if count == 0 {
            self.blocks() - lba
        } else {
            count
        };
        if blocks > self.limits.max_write_same {
            return Err(Sense::invalid_field_in_cdb(count_at, None));
        }
        self.check_range(lba, blocks)?;
        let block = self.write_same_block(c.data_out, ndob)?;
        if unmap {
            // SBC-4 lets the device server unmap instead of writing; released blocks
            // read as zeros (LBPRZ).
            self.release(lba, blocks)?;
        } else {
            self.replicate(lba, blocks, &block)?;
        }
        Ok(Response::good())
    }

    /// The one block WRITE SAME writes: the data-out, which must be exactly one block,
    /// or zeros with NDOB.
    fn write_same_block(&self, data: &[u8], ndob: bool) -> Result<Vec<u8>, Sense> {
        if ndob {
            return Ok(vec![0u8; self.bs as usize]);
        }
        if data.len() != self.bs as usize {
            return Err(Sense::invalid_field_in_iu());
        }
        Ok(data.to_vec())
    }

    /// Writes `block` over `[lba, lba + blocks)` in pieces of about [`PIECE`] bytes.
    fn replicate(&self, lba: u64, blocks: u64, block: &[u8]) -> Result<(), Sense> {
        let per_piece = (PIECE / block.len().max(1)).max(1) as u64;
        let buf = block.repeat(per_piece.min(blocks.max(1)) as usize);
        let _guard = self.locks.lock(lba, blocks);
        let mut done = 0u64;
        while done < blocks {
            let n = per_piece.min(blocks - done);
            let piece = buf.get(..self.bytes(n)).unwrap_or(&buf);
            self.dev
                .write_at(piece, self.offset(lba + done))
                .map_err(|e| Sense::from_block_error(&e, lba + done, true))?;
            done += n;
        }
        if self.must_flush(false) {
            self.flush(lba)?;
        }
        Ok(())
    }
}
