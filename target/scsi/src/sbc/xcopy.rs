//! EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.24): this disk as a copy
//! manager for block-to-block segments (descriptor type 02h) between logical units named
//! by identification CSCD descriptors (E4h) carrying an NAA designator.
//!
//! ```text
//!  header (16) | CSCD descriptors (32 each) | segment descriptors (28 each)
//!  CSCD E4h: designator → self (DiskOptions::naa) or CopyTargets::lookup → BlockDevice
//!  segment 02h: NUMBER OF BLOCKS from source LBA to destination LBA, in 1 MiB pieces
//! ```
//!
//! Checks of the parameter list (lengths, counts, descriptor types) fail with ILLEGAL
//! REQUEST before anything is copied; problems found while processing a segment (a
//! CSCD that names no reachable unit, a range past a unit's end) fail with COPY ABORTED.

use std::sync::Arc;

use vsa_blockdev::BlockDevice;

use super::copy_list::{
    self, CopyList, Cscd, Segment, IMPLEMENTED_DESCRIPTORS, MAX_CSCD_DESCRIPTORS,
    MAX_DESCRIPTOR_LIST, MAX_SEGMENT_DESCRIPTORS,
};
use super::disk::Disk;
use crate::cdb::{be32, byte, need, put, truncate};
use crate::{Command, Response, Sense, UnitCtx};

/// Bytes per read/write while copying.
const PIECE: u64 = 1 << 20;
/// The designator type of an NAA designator (SPC-4 7.8.6.6).
const NAA_DESIGNATOR: u8 = 0x03;
/// Copy results kept at most (oldest entries are dropped beyond this).
const MAX_RESULTS: usize = 256;

/// The outcome of a copy, for RECEIVE COPY RESULTS / COPY STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopyStatus {
    /// Copy manager status: 0 completed without errors, 1 completed with errors.
    failed: bool,
    segments: u16,
    bytes: u64,
}

/// A resolved copy source or destination.
struct Target {
    dev: Arc<dyn BlockDevice>,
    is_self: bool,
}

impl Disk {
    /// EXTENDED COPY (LID1).
    pub(crate) fn extended_copy(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        need(c.cdb, 16)?;
        let len = be32(c.cdb, 10) as usize;
        if len == 0 {
            return Ok(Response::good());
        }
        let data = c.data_out.get(..len).unwrap_or(c.data_out);
        let list = copy_list::parse(data, len)?;
        let mut status = CopyStatus {
            failed: false,
            segments: 0,
            bytes: 0,
        };
        let result = self.run_segments(&list, ctx, &mut status);
        status.failed = result.is_err();
        if list.hold {
            self.keep_status(c.nexus.initiator_port(), list.list_id, status);
        }
        result.map(|()| Response::good())
    }

    fn run_segments(
        &self,
        list: &CopyList,
        ctx: &UnitCtx,
        status: &mut CopyStatus,
    ) -> Result<(), Sense> {
        for seg in &list.segments {
            let src = self.resolve(list.cscds.get(seg.src))?;
            let dst = self.resolve(list.cscds.get(seg.dst))?;
            if dst.is_self && ctx.write_protected {
                return Err(Sense::write_protected());
            }
            status.bytes += self.copy_segment(seg, &src, &dst)?;
            status.segments += 1;
        }
        Ok(())
    }

    /// Finds the unit a CSCD descriptor names.
    fn resolve(&self, cscd: Option<&Cscd>) -> Result<Target, Sense> {
        let cscd = cscd.ok_or_else(Sense::copy_target_unreachable)?;
        if cscd.designator_type != NAA_DESIGNATOR {
            return Err(Sense::copy_target_unreachable());
        }
        let target = if cscd.designator == self.opts.naa {
            Target {
                dev: self.dev.clone(),
                is_self: true,
            }
        } else {
            let dev = self
                .copy
                .lookup(&cscd.designator)
                .ok_or_else(Sense::copy_target_unreachable)?;
            Target {
                dev,
                is_self: false,
            }
        };
        if cscd.block_len != 0 && cscd.block_len != target.dev.block_size() {
            return Err(Sense::copy_aborted());
        }
        Ok(target)
    }

    /// Copies one segment; returns the bytes copied.
    fn copy_segment(&self, seg: &Segment, src: &Target, dst: &Target) -> Result<u64, Sense> {
        let (sbs, dbs) = (
            u64::from(src.dev.block_size()),
            u64::from(dst.dev.block_size()),
        );
        let bytes = seg.blocks * if seg.dc { dbs } else { sbs };
        let fits = |lba: u64, bs: u64, size: u64| {
            bytes % bs == 0
                && lba
                    .checked_mul(bs)
                    .and_then(|o| o.checked_add(bytes))
                    .is_some_and(|end| end <= size)
        };
        if !fits(seg.src_lba, sbs, src.dev.size()) || !fits(seg.dst_lba, dbs, dst.dev.size()) {
            return Err(Sense::copy_aborted());
        }
        let (from, to) = (seg.src_lba * sbs, seg.dst_lba * dbs);
        let _guard = dst
            .is_self
            .then(|| self.locks.lock(seg.dst_lba, bytes / dbs));
        // Copy backwards when the destination overlaps the source from above.
        let backwards = src.is_self && dst.is_self && to > from && to < from + bytes;
        let pieces = bytes.div_ceil(PIECE);
        let mut buf = vec![0u8; PIECE.min(bytes) as usize];
        for i in 0..pieces {
            let k = if backwards { pieces - 1 - i } else { i };
            let at = k * PIECE;
            let n = PIECE.min(bytes - at) as usize;
            let piece = buf.get_mut(..n).unwrap_or_default();
            src.dev
                .read_at(piece, from + at)
                .map_err(|e| Sense::from_block_error(&e, seg.src_lba, false))?;
            dst.dev
                .write_at(piece, to + at)
                .map_err(|e| Sense::from_block_error(&e, seg.dst_lba, true))?;
        }
        if dst.is_self && self.must_flush(false) {
            self.flush(seg.dst_lba)?;
        }
        Ok(bytes)
    }

    fn keep_status(&self, initiator_port: String, list_id: u8, status: CopyStatus) {
        let mut copies = self.copies.lock();
        if copies.len() >= MAX_RESULTS {
            copies.clear();
        }
        copies.insert((initiator_port, list_id), status);
    }

    /// RECEIVE COPY RESULTS: COPY STATUS (00h) and OPERATING PARAMETERS (03h).
    pub(crate) fn receive_copy_results(&self, c: &Command<'_>) -> Result<Response, Sense> {
        need(c.cdb, 16)?;
        let alloc = be32(c.cdb, 10) as usize;
        let data = match byte(c.cdb, 1) & 0x1F {
            0x00 => self.copy_status(c)?,
            0x03 => operating_parameters(),
            _ => return Err(Sense::invalid_field_in_cdb(1, Some(4))),
        };
        Ok(Response::with_data(truncate(data, alloc)))
    }

    fn copy_status(&self, c: &Command<'_>) -> Result<Vec<u8>, Sense> {
        let key = (c.nexus.initiator_port(), byte(c.cdb, 2));
        let status = *self
            .copies
            .lock()
            .get(&key)
            .ok_or_else(|| Sense::invalid_field_in_cdb(2, None))?;
        let mut d = vec![0u8; 12];
        put(&mut d, 0, 8u32.to_be_bytes());
        put(&mut d, 4, [u8::from(status.failed)]);
        put(&mut d, 5, status.segments.to_be_bytes());
        // TRANSFER COUNT in bytes when it fits, else in KiB (F1h).
        let (units, count) = match u32::try_from(status.bytes) {
            Ok(b) => (0x00, b),
            Err(_) => (0xF1, u32::try_from(status.bytes >> 10).unwrap_or(u32::MAX)),
        };
        put(&mut d, 7, [units]);
        put(&mut d, 8, count.to_be_bytes());
        Ok(d)
    }
}

/// OPERATING PARAMETERS data (SPC-4 6.24.4).
fn operating_parameters() -> Vec<u8> {
    let mut d = vec![0u8; 44 + IMPLEMENTED_DESCRIPTORS.len()];
    let len = (d.len() - 4) as u32;
    put(&mut d, 0, len.to_be_bytes());
    put(&mut d, 8, MAX_CSCD_DESCRIPTORS.to_be_bytes());
    put(&mut d, 10, MAX_SEGMENT_DESCRIPTORS.to_be_bytes());
    put(&mut d, 12, MAX_DESCRIPTOR_LIST.to_be_bytes());
    put(&mut d, 16, max_segment_length().to_be_bytes());
    put(&mut d, 34, 1u16.to_be_bytes()); // TOTAL CONCURRENT COPIES
    put(&mut d, 36, [1]); // MAXIMUM CONCURRENT COPIES
    put(&mut d, 43, [IMPLEMENTED_DESCRIPTORS.len() as u8]);
    for (i, code) in IMPLEMENTED_DESCRIPTORS.iter().enumerate() {
        put(&mut d, 44 + i, [*code]);
    }
    d
}

/// MAXIMUM SEGMENT LENGTH in bytes: a segment's 16-bit block count of the largest
/// logical block this crate serves (64 KiB) would not fit, so report 2^32 - 1.
pub(crate) fn max_segment_length() -> u32 {
    u32::MAX
}
