//! READ (6/10/12/16), WRITE (6/10/12/16), VERIFY (10/12/16), WRITE AND VERIFY
//! (10/12/16), ORWRITE (16) and WRITE ATOMIC (16): SBC-4 5.x.
//!
//! Every handler parses and checks its CDB, then the range, then moves data. Data-out
//! shorter than the CDB asks for (the initiator's expected length was smaller) is
//! written as far as whole blocks arrived, as the transport reports the overflow
//! residual; data-out that ends inside a block is refused.

use super::disk::Disk;
use crate::cdb::{be16, be32, be64, byte, need};
use crate::{Command, Response, Sense, UnitCtx};

/// The common fields of the READ/WRITE family of CDBs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rw {
    pub(crate) lba: u64,
    pub(crate) blocks: u64,
    /// CDB byte 1 (protection field, DPO, FUA, BYTCHK); zero for 6-byte CDBs.
    pub(crate) flags: u8,
    /// Where the TRANSFER LENGTH field starts, for field pointers.
    pub(crate) tl_at: u16,
}

impl Rw {
    /// RDPROTECT / WRPROTECT / VRPROTECT / ORPROTECT.
    fn protect(&self) -> u8 {
        self.flags >> 5
    }

    fn fua(&self) -> bool {
        self.flags & 0x08 != 0
    }

    /// BYTCHK of VERIFY and WRITE AND VERIFY.
    fn bytchk(&self) -> u8 {
        (self.flags >> 1) & 0x03
    }
}

/// Decodes LBA, transfer length and flags of any CDB of the family.
pub(crate) fn parse(cdb: &[u8]) -> Result<Rw, Sense> {
    let op = byte(cdb, 0);
    let rw = |lba, blocks, tl_at| Rw {
        lba,
        blocks,
        flags: byte(cdb, 1),
        tl_at,
    };
    match op {
        0x08 | 0x0A => {
            need(cdb, 6)?;
            let blocks = match byte(cdb, 4) {
                0 => 256,
                n => u64::from(n),
            };
            let lba = u64::from(be32(cdb, 0) & 0x001F_FFFF);
            Ok(Rw {
                flags: 0,
                ..rw(lba, blocks, 4)
            })
        }
        0x28 | 0x2A | 0x2F | 0x2E => {
            need(cdb, 10)?;
            Ok(rw(u64::from(be32(cdb, 2)), u64::from(be16(cdb, 7)), 7))
        }
        0xA8 | 0xAA | 0xAF | 0xAE => {
            need(cdb, 12)?;
            Ok(rw(u64::from(be32(cdb, 2)), u64::from(be32(cdb, 6)), 6))
        }
        0x88 | 0x8A | 0x8F | 0x8E | 0x8B => {
            need(cdb, 16)?;
            Ok(rw(be64(cdb, 2), u64::from(be32(cdb, 10)), 10))
        }
        0x9C => {
            need(cdb, 16)?;
            Ok(rw(be64(cdb, 2), u64::from(be16(cdb, 12)), 12))
        }
        _ => Err(Sense::invalid_opcode()),
    }
}

/// The number of blocks a CDB of the family transfers (0 if it does not parse).
pub(crate) fn transfer_length(cdb: &[u8]) -> u64 {
    parse(cdb).map(|rw| rw.blocks).unwrap_or(0)
}

/// The first byte where `a` and `b` differ.
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

impl Disk {
    /// Protection field, range and transfer-length checks shared by the family.
    fn check_rw(&self, rw: &Rw) -> Result<(), Sense> {
        if rw.protect() != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(7)));
        }
        self.check_range(rw.lba, rw.blocks)?;
        if rw.blocks > u64::from(self.limits.max_transfer) {
            return Err(Sense::invalid_field_in_cdb(rw.tl_at, None));
        }
        Ok(())
    }

    /// The whole blocks of data-out to use for a transfer of `blocks`.
    pub(crate) fn received<'a>(&self, data: &'a [u8], blocks: u64) -> Result<&'a [u8], Sense> {
        let want = self.bytes(blocks);
        if let Some(d) = data.get(..want) {
            return Ok(d);
        }
        if data.len() % self.bs as usize != 0 {
            return Err(Sense::invalid_field_in_iu());
        }
        Ok(data)
    }

    /// Reads `blocks` at `lba` (the caller holds the range lock if it needs one).
    pub(crate) fn read_blocks(&self, lba: u64, blocks: u64) -> Result<Vec<u8>, Sense> {
        let mut buf = vec![0u8; self.bytes(blocks)];
        if !buf.is_empty() {
            self.dev
                .read_at(&mut buf, self.offset(lba))
                .map_err(|e| Sense::from_block_error(&e, lba, false))?;
        }
        Ok(buf)
    }

    /// Writes whole blocks at `lba`, flushing after if `fua` or the cache is off.
    pub(crate) fn write_blocks(&self, lba: u64, data: &[u8], fua: bool) -> Result<(), Sense> {
        if data.is_empty() {
            return Ok(());
        }
        self.dev
            .write_at(data, self.offset(lba))
            .map_err(|e| Sense::from_block_error(&e, lba, true))?;
        if self.must_flush(fua) {
            self.flush(lba)?;
        }
        Ok(())
    }

    /// READ (6/10/12/16).
    pub(crate) fn read(&self, cdb: &[u8]) -> Result<Response, Sense> {
        let rw = parse(cdb)?;
        self.check_rw(&rw)?;
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        Ok(Response::with_data(self.read_blocks(rw.lba, rw.blocks)?))
    }

    /// READ (6/10/12/16) if it needs no waiting: `None` when the range is locked or the
    /// device would have to go to storage.
    pub(crate) fn try_read(
        &self,
        c: &Command<'_>,
        _ctx: &UnitCtx,
    ) -> Option<Result<Response, Sense>> {
        let rw = match parse(c.cdb).and_then(|rw| self.check_rw(&rw).map(|()| rw)) {
            Ok(rw) => rw,
            Err(s) => return Some(Err(s)),
        };
        let _guard = self.locks.try_lock(rw.lba, rw.blocks)?;
        let len = self.bytes(rw.blocks);
        let mut parts = Vec::new();
        if len > 0 {
            if let Err(e) = self
                .dev
                .try_read_shared(&mut parts, self.offset(rw.lba), len)?
            {
                return Some(Err(Sense::from_block_error(&e, rw.lba, false)));
            }
        }
        Some(Ok(Response::with_shared(parts)))
    }

    /// WRITE (6/10/12/16).
    pub(crate) fn write(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let (rw, data) = self.write_args(c, ctx)?;
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        self.write_blocks(rw.lba, data, rw.fua())?;
        Ok(Response::good())
    }

    /// WRITE (6/10/12/16) if it needs no waiting: `None` when it must reach stable
    /// storage first (FUA, or the write cache is off), the range is locked, or the device
    /// would wait.
    pub(crate) fn try_write(
        &self,
        c: &Command<'_>,
        ctx: &UnitCtx,
    ) -> Option<Result<Response, Sense>> {
        let (rw, data) = match self.write_args(c, ctx) {
            Ok(x) => x,
            Err(s) => return Some(Err(s)),
        };
        if self.must_flush(rw.fua()) {
            return None;
        }
        let _guard = self.locks.try_lock(rw.lba, rw.blocks)?;
        if data.is_empty() {
            return Some(Ok(Response::good()));
        }
        let r = self.dev.try_write_at(data, self.offset(rw.lba))?;
        Some(
            r.map(|()| Response::good())
                .map_err(|e| Sense::from_block_error(&e, rw.lba, true)),
        )
    }

    /// The CDB of a WRITE, checked, and the whole blocks of data-out it writes.
    fn write_args<'a>(&self, c: &Command<'a>, ctx: &UnitCtx) -> Result<(Rw, &'a [u8]), Sense> {
        let rw = parse(c.cdb)?;
        self.check_write(&rw, ctx)?;
        Ok((rw, self.received(c.data_out, rw.blocks)?))
    }

    fn check_write(&self, rw: &Rw, ctx: &UnitCtx) -> Result<(), Sense> {
        if rw.protect() != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(7)));
        }
        if ctx.write_protected {
            return Err(Sense::write_protected());
        }
        self.check_rw(rw)
    }

    /// VERIFY (10/12/16): BYTCHK 0 reads the medium, 1 compares it with the data-out,
    /// 3 compares every block with the one block of data-out.
    pub(crate) fn verify(&self, c: &Command<'_>) -> Result<Response, Sense> {
        let rw = parse(c.cdb)?;
        if rw.bytchk() == 0x02 {
            return Err(Sense::invalid_field_in_cdb(1, Some(2)));
        }
        self.check_rw(&rw)?;
        let expected = match rw.bytchk() {
            0x01 => Some(self.received(c.data_out, rw.blocks)?),
            0x03 if rw.blocks > 0 => Some(self.received(c.data_out, 1)?),
            _ => None,
        };
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        let medium = self.read_blocks(rw.lba, rw.blocks)?;
        match (rw.bytchk(), expected) {
            (0x01, Some(data)) => compare(&medium, data)?,
            (0x03, Some(block)) if !block.is_empty() => {
                for (i, chunk) in medium.chunks(block.len()).enumerate() {
                    if let Some(at) = first_difference(chunk, block) {
                        return Err(Sense::miscompare((i * block.len() + at) as u64));
                    }
                }
            }
            _ => {}
        }
        Ok(Response::good())
    }

    /// WRITE AND VERIFY (10/12/16): writes, then reads back and compares.
    pub(crate) fn write_verify(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let rw = parse(c.cdb)?;
        if rw.bytchk() > 0x01 {
            return Err(Sense::invalid_field_in_cdb(1, Some(2)));
        }
        self.check_write(&rw, ctx)?;
        let data = self.received(c.data_out, rw.blocks)?;
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        self.write_blocks(rw.lba, data, true)?;
        let written = (data.len() / self.bs as usize) as u64;
        compare(&self.read_blocks(rw.lba, written)?, data)?;
        Ok(Response::good())
    }

    /// ORWRITE (16): ORs the data-out into the blocks, atomically.
    pub(crate) fn orwrite(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let rw = parse(c.cdb)?;
        self.check_write(&rw, ctx)?;
        let data = self.received(c.data_out, rw.blocks)?;
        let blocks = (data.len() / self.bs as usize) as u64;
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        let mut merged = self.read_blocks(rw.lba, blocks)?;
        merged.iter_mut().zip(data).for_each(|(m, d)| *m |= d);
        self.write_blocks(rw.lba, &merged, rw.fua())?;
        Ok(Response::good())
    }

    /// WRITE ATOMIC (16): a write that no other command sees half done.
    pub(crate) fn write_atomic(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let rw = parse(c.cdb)?;
        if be16(c.cdb, 10) != 0 {
            // ATOMIC BOUNDARY: this disk reports no boundary support.
            return Err(Sense::invalid_field_in_cdb(10, None));
        }
        self.check_write(&rw, ctx)?;
        if rw.blocks > u64::from(self.limits.max_atomic) {
            return Err(Sense::invalid_field_in_cdb(12, None));
        }
        let data = self.received(c.data_out, rw.blocks)?;
        if data.len() != self.bytes(rw.blocks) {
            // Atomic means all or nothing: a partial transfer is refused.
            return Err(Sense::invalid_field_in_iu());
        }
        let _guard = self.locks.lock(rw.lba, rw.blocks);
        self.write_blocks(rw.lba, data, rw.fua())?;
        Ok(Response::good())
    }
}

/// MISCOMPARE at the first byte where `medium` differs from `data`.
pub(crate) fn compare(medium: &[u8], data: &[u8]) -> Result<(), Sense> {
    match first_difference(medium, data) {
        Some(at) => Err(Sense::miscompare(at as u64)),
        None => Ok(()),
    }
}
