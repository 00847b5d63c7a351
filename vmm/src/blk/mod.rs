//! The virtio-blk device (virtio 1.2, section 5.2) over a [`BlockDevice`]: the features it
//! offers, its configuration space, and the execution of one request.
//!
//! Sectors on the wire are always 512 bytes; the device's own block size is announced
//! with `VIRTIO_BLK_F_BLK_SIZE`, and a request that is not aligned to it fails with
//! `VIRTIO_BLK_S_IOERR` (Linux never sends one once it knows the block size).

mod config;
mod request;
#[cfg(test)]
mod tests;

pub use config::{config_space, CONFIG_LEN};
pub use request::{execute, Outcome};

use std::sync::Arc;
use vsa_blockdev::BlockDevice;

/// The virtio sector: offsets in requests count these.
pub const SECTOR: u64 = 512;

/// Feature bits (virtio 1.2, 5.2.3 and 6).
pub mod feature {
    /// Maximum number of segments in a request is in `seg_max`.
    pub const SEG_MAX: u64 = 1 << 2;
    /// The device is read-only.
    pub const RO: u64 = 1 << 5;
    /// Block size of the disk is in `blk_size`.
    pub const BLK_SIZE: u64 = 1 << 6;
    /// Cache flush command support.
    pub const FLUSH: u64 = 1 << 9;
    /// Topology information is available.
    pub const TOPOLOGY: u64 = 1 << 10;
    /// The device can support more than one virtqueue.
    pub const MQ: u64 = 1 << 12;
    /// The device can support discard.
    pub const DISCARD: u64 = 1 << 13;
    /// The device can support write zeroes.
    pub const WRITE_ZEROES: u64 = 1 << 14;
    /// Indirect descriptors.
    pub const RING_INDIRECT_DESC: u64 = 1 << 28;
    /// `used_event` / `avail_event` notification suppression.
    pub const RING_EVENT_IDX: u64 = 1 << 29;
    /// Virtio 1.0 or later (no legacy interface).
    pub const VERSION_1: u64 = 1 << 32;
}

/// Request types (5.2.6).
pub mod req {
    /// Read.
    pub const IN: u32 = 0;
    /// Write.
    pub const OUT: u32 = 1;
    /// Flush the write cache.
    pub const FLUSH: u32 = 4;
    /// Device id string (20 bytes).
    pub const GET_ID: u32 = 8;
    /// Discard ranges.
    pub const DISCARD: u32 = 11;
    /// Write zeroes over ranges.
    pub const WRITE_ZEROES: u32 = 13;
}

/// Request status bytes (5.2.6).
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// Device or driver error.
    pub const IOERR: u8 = 1;
    /// Request unsupported by the device.
    pub const UNSUPP: u8 = 2;
}

/// The most segments (descriptors of data) one request may have.
pub const SEG_MAX: u32 = 128;
/// The most ranges in one DISCARD or WRITE ZEROES request.
pub const MAX_RANGES: u32 = 64;
/// The most sectors one range of DISCARD or WRITE ZEROES may cover (1 GiB).
pub const MAX_RANGE_SECTORS: u32 = 1 << 21;
/// The most bytes one read or write may move (bounds the buffer a request allocates).
pub const MAX_TRANSFER: usize = 16 << 20;
/// The length of the id GET_ID returns.
pub const ID_LEN: usize = 20;

/// A disk as a guest sees it: a device, whether it is read-only, and its id.
#[derive(Debug, Clone)]
pub struct Disk {
    /// The device requests go to.
    pub device: Arc<dyn BlockDevice>,
    /// Refuse writes, discards and write-zeroes (and announce `VIRTIO_BLK_F_RO`).
    pub read_only: bool,
    /// What GET_ID returns (the guest's `/sys/block/vdX/serial`), cut to 20 bytes.
    pub id: String,
}

impl Disk {
    /// The virtio-blk feature bits this disk offers (transport bits included).
    pub fn features(&self) -> u64 {
        let mut f = feature::VERSION_1
            | feature::RING_INDIRECT_DESC
            | feature::RING_EVENT_IDX
            | feature::SEG_MAX
            | feature::BLK_SIZE
            | feature::FLUSH
            | feature::TOPOLOGY
            | feature::MQ;
        if self.read_only {
            f |= feature::RO;
        } else {
            f |= feature::DISCARD | feature::WRITE_ZEROES;
        }
        f
    }
}
