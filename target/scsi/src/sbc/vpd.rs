//! The disk's VPD pages: Block Limits (B0h), Block Device Characteristics (B1h), Logical
//! Block Provisioning (B2h) (SBC-4 6.6) and Third-party Copy (8Fh) (SPC-4 7.8.17). The
//! limits in B0h are the ones the command handlers enforce.

use super::disk::{Disk, DiskOptions, DiskTuning};
use super::{copy_list, xcopy};
use crate::cdb::put;

/// Limits a disk reports in the Block Limits page and enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// MAXIMUM TRANSFER LENGTH in blocks.
    pub(crate) max_transfer: u32,
    /// MAXIMUM COMPARE AND WRITE LENGTH in blocks.
    pub(crate) max_compare: u8,
    /// MAXIMUM UNMAP LBA COUNT.
    pub(crate) max_unmap_blocks: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    pub(crate) max_unmap_descriptors: u32,
    /// MAXIMUM WRITE SAME LENGTH in blocks: what WRITE SAME (10) can express, so both
    /// CDB sizes behave alike.
    pub(crate) max_write_same: u64,
    /// MAXIMUM ATOMIC TRANSFER LENGTH in blocks.
    pub(crate) max_atomic: u32,
}

impl Limits {
    pub(crate) fn new(opts: &DiskOptions, tuning: &DiskTuning, bs: u32) -> Self {
        let max_transfer = (tuning.max_transfer_bytes / bs.max(1)).max(1);
        Self {
            max_transfer,
            max_compare: u8::try_from(max_transfer).unwrap_or(u8::MAX),
            max_unmap_blocks: if opts.thin { 1 << 20 } else { 0 },
            max_unmap_descriptors: if opts.thin { 256 } else { 0 },
            max_write_same: u64::from(u16::MAX),
            max_atomic: max_transfer.min(u32::from(u16::MAX)),
        }
    }
}

impl Disk {
    /// A device-specific VPD page, header included.
    pub(crate) fn vpd(&self, page: u8) -> Option<Vec<u8>> {
        match page {
            0x8F => Some(third_party_copy()),
            0xB0 => Some(self.block_limits()),
            0xB1 => Some(block_device_characteristics()),
            0xB2 => Some(self.logical_block_provisioning()),
            _ => None,
        }
    }

    fn block_limits(&self) -> Vec<u8> {
        let l = &self.limits;
        let lbppb = self.lbppb() as u32;
        let mut d = page(0xB0, 0x3C);
        put(&mut d, 5, [l.max_compare]);
        put(&mut d, 6, (lbppb as u16).to_be_bytes());
        put(&mut d, 8, l.max_transfer.to_be_bytes());
        put(
            &mut d,
            12,
            (l.max_transfer.min((1 << 20) / self.bs))
                .max(1)
                .to_be_bytes(),
        );
        put(&mut d, 20, l.max_unmap_blocks.to_be_bytes());
        put(&mut d, 24, l.max_unmap_descriptors.to_be_bytes());
        if self.opts.thin {
            put(&mut d, 28, lbppb.to_be_bytes());
            put(&mut d, 32, 0x8000_0000u32.to_be_bytes()); // UGAVALID, alignment 0
        }
        put(&mut d, 36, l.max_write_same.to_be_bytes());
        put(&mut d, 44, l.max_atomic.to_be_bytes());
        d
    }

    fn logical_block_provisioning(&self) -> Vec<u8> {
        let mut d = page(0xB2, 4);
        if self.opts.thin {
            // LBPU, LBPWS, LBPWS10, LBPRZ = 001b; provisioning type 010b (thin).
            put(&mut d, 5, [0x80 | 0x40 | 0x20 | 0x04]);
            put(&mut d, 6, [0x02]);
        }
        d
    }
}

/// A VPD page header for a disk (peripheral device type 00h) with `len` bytes after it.
fn page(code: u8, len: u16) -> Vec<u8> {
    let mut d = vec![0u8; 4 + usize::from(len)];
    put(&mut d, 1, [code]);
    put(&mut d, 2, len.to_be_bytes());
    d
}

/// Block Device Characteristics: non-rotating; reads after BLOCK ERASE and
/// CRYPTOGRAPHIC ERASE complete with GOOD (WABEREQ = WACEREQ = 01b).
fn block_device_characteristics() -> Vec<u8> {
    let mut d = page(0xB1, 0x3C);
    put(&mut d, 4, 1u16.to_be_bytes());
    put(&mut d, 7, [0x50]);
    d
}

/// Third-party Copy: supported commands, parameter data, supported descriptors and
/// general copy operations descriptors for EXTENDED COPY (LID1).
fn third_party_copy() -> Vec<u8> {
    let mut body = Vec::new();
    // Supported Commands: EXTENDED COPY (LID1); RECEIVE COPY RESULTS COPY STATUS and
    // OPERATING PARAMETERS.
    descriptor(&mut body, 0x0001, &[7, 0x83, 1, 0x00, 0x84, 2, 0x00, 0x03]);
    let mut params = [0u8; 28];
    put(
        &mut params,
        4,
        copy_list::MAX_CSCD_DESCRIPTORS.to_be_bytes(),
    );
    put(
        &mut params,
        6,
        copy_list::MAX_SEGMENT_DESCRIPTORS.to_be_bytes(),
    );
    put(&mut params, 8, copy_list::MAX_DESCRIPTOR_LIST.to_be_bytes());
    descriptor(&mut body, 0x0004, &params);
    let mut supported = vec![copy_list::IMPLEMENTED_DESCRIPTORS.len() as u8];
    supported.extend_from_slice(&copy_list::IMPLEMENTED_DESCRIPTORS);
    descriptor(&mut body, 0x0008, &supported);
    let mut general = [0u8; 32];
    put(&mut general, 0, 1u32.to_be_bytes()); // TOTAL CONCURRENT COPIES
    put(&mut general, 4, 1u32.to_be_bytes()); // MAXIMUM IDENTIFIED CONCURRENT COPIES
    put(&mut general, 8, xcopy::max_segment_length().to_be_bytes());
    descriptor(&mut body, 0x8001, &general);
    let mut d = page(0x8F, body.len() as u16);
    d.truncate(4);
    d.extend_from_slice(&body);
    d
}

/// Appends one third-party copy descriptor, padded to a multiple of four bytes.
fn descriptor(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let padded = data.len().div_ceil(4) * 4;
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(padded as u16).to_be_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + padded - data.len(), 0);
}
