//! The device configuration space (`struct virtio_blk_config`, virtio 1.2, 5.2.4),
//! little-endian, up to and including the write-zeroes fields.

use super::{Disk, MAX_RANGES, MAX_RANGE_SECTORS, SECTOR, SEG_MAX};

/// The length of the configuration space we fill.
pub const CONFIG_LEN: usize = 60;

/// The configuration space of `disk` served with `num_queues` request queues.
pub fn config_space(disk: &Disk, num_queues: u16) -> Vec<u8> {
    let bs = disk.device.block_size().max(SECTOR as u32);
    let mut c = vec![0u8; CONFIG_LEN];
    put(&mut c, 0, &(disk.device.size() / SECTOR).to_le_bytes()); // capacity
    put(&mut c, 8, &0u32.to_le_bytes()); // size_max: no limit per segment
    put(&mut c, 12, &SEG_MAX.to_le_bytes());
    // geometry (16..20) stays zero: no CHS for a virtual disk.
    put(&mut c, 20, &bs.to_le_bytes()); // blk_size
    c[24] = 0; // physical_block_exp: physical blocks are logical blocks
    c[25] = 0; // alignment_offset
    put(&mut c, 26, &1u16.to_le_bytes()); // min_io_size: one block (in blocks)
    put(&mut c, 28, &0u32.to_le_bytes()); // opt_io_size: none preferred
    c[32] = 0; // writeback (only meaningful with CONFIG_WCE, not offered)
    put(&mut c, 34, &num_queues.to_le_bytes());
    let bs_sectors = bs / SECTOR as u32;
    put(&mut c, 36, &MAX_RANGE_SECTORS.to_le_bytes()); // max_discard_sectors
    put(&mut c, 40, &MAX_RANGES.to_le_bytes()); // max_discard_seg
    put(&mut c, 44, &bs_sectors.to_le_bytes()); // discard_sector_alignment
    put(&mut c, 48, &MAX_RANGE_SECTORS.to_le_bytes()); // max_write_zeroes_sectors
    put(&mut c, 52, &MAX_RANGES.to_le_bytes()); // max_write_zeroes_seg
    c[56] = 1; // write_zeroes_may_unmap: a thin volume releases zeroed space
    c
}

fn put(c: &mut [u8], at: usize, bytes: &[u8]) {
    c[at..at + bytes.len()].copy_from_slice(bytes);
}
