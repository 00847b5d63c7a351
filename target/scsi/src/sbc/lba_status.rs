//! GET LBA STATUS (SBC-4 5.8): the provisioning status of the blocks from a starting
//! LBA on, from [`vsa_blockdev::BlockDevice::allocation`].
//!
//! Provisioning is reported per physical block (LBPPBE): a starting LBA inside a
//! physical block is answered from the next physical block boundary. This departs from
//! SBC-4, whose first descriptor starts at the STARTING LOGICAL BLOCK ADDRESS; libiscsi's
//! GetLBAStatus.UnmapSingle test expects it whenever LBPPBE > 0. With
//! [`super::DiskTuning::physical_block_exponent`] 0 there is nothing to round and the
//! answer is exactly SBC-4's.

use vsa_blockdev::Allocation;

use super::disk::Disk;
use crate::cdb::{be32, be64, need, put, truncate};
use crate::{Response, Sense};

/// The most blocks one descriptor can describe.
const MAX_RUN: u64 = u32::MAX as u64;

/// One LBA status descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    lba: u64,
    blocks: u64,
    deallocated: bool,
}

impl Disk {
    /// GET LBA STATUS.
    pub(crate) fn get_lba_status(&self, cdb: &[u8]) -> Result<Response, Sense> {
        need(cdb, 16)?;
        let start = be64(cdb, 2);
        let alloc = be32(cdb, 10) as usize;
        let total = self.blocks();
        if start >= total {
            return Err(Sense::lba_out_of_range());
        }
        let max_descriptors = (alloc.saturating_sub(8) / 16).max(1);
        let runs = self.runs(self.report_start(start), max_descriptors)?;
        let mut d = vec![0u8; 8 + 16 * runs.len()];
        let len = (d.len() - 4) as u32;
        put(&mut d, 0, len.to_be_bytes());
        for (i, r) in runs.iter().enumerate() {
            let at = 8 + 16 * i;
            put(&mut d, at, r.lba.to_be_bytes());
            put(&mut d, at + 8, (r.blocks as u32).to_be_bytes());
            put(&mut d, at + 12, [u8::from(r.deallocated)]);
        }
        Ok(Response::with_data(truncate(d, alloc)))
    }

    /// Where the report begins: `start`, or the next physical block boundary if `start`
    /// lies inside a physical block and that boundary is on the medium.
    fn report_start(&self, start: u64) -> u64 {
        let per = self.lbppb();
        let up = start.div_ceil(per).saturating_mul(per);
        if up < self.blocks() {
            up
        } else {
            start
        }
    }

    /// Up to `max` runs of equal status from `start`, merged.
    fn runs(&self, start: u64, max: usize) -> Result<Vec<Run>, Sense> {
        let blocks = (self.blocks() - start).min(MAX_RUN);
        if !self.opts.thin {
            return Ok(vec![Run {
                lba: start,
                blocks,
                deallocated: false,
            }]);
        }
        let bs = u64::from(self.bs);
        let extents = self
            .dev
            .allocation(self.offset(start), self.offset(blocks))
            .map_err(|e| Sense::from_block_error(&e, start, false))?;
        let mut runs: Vec<Run> = Vec::new();
        for e in extents {
            let lba = e.offset / bs;
            let end = (e.offset + e.len).div_ceil(bs);
            let deallocated = e.status == Allocation::Deallocated;
            let full = runs.len() == max;
            match runs.last_mut() {
                Some(last) if last.deallocated == deallocated => {
                    last.blocks = end.saturating_sub(last.lba).min(MAX_RUN);
                }
                _ if full => break,
                _ => runs.push(Run {
                    lba: lba.max(start),
                    blocks: end.saturating_sub(lba.max(start)),
                    deallocated,
                }),
            }
        }
        if runs.is_empty() {
            runs.push(Run {
                lba: start,
                blocks,
                deallocated: false,
            });
        }
        Ok(runs)
    }
}
