//! Frames between a virtio-net driver's queues and the host (virtio 1.2, 5.1.6): every
//! buffer starts with the 12-byte `virtio_net_hdr`; this device offers no checksum or
//! segmentation offload, so a transmitted header is skipped and a received one says
//! "nothing to do, one buffer". Guest memory is reached through `virtio-queue`'s checked
//! readers and writers: a chain pointing outside guest memory is refused, never followed.

use std::io::{Read, Write};
use std::ops::Deref;
use virtio_queue::{DescriptorChain, Reader, Writer};
use vm_memory::bitmap::WithBitmapSlice;
use vm_memory::GuestMemory;

/// The virtio-net header of a VERSION_1 device (with `num_buffers`).
pub const HDR_LEN: usize = 12;
/// The largest frame moved either way: the TAP device's largest (64 KiB).
pub const MAX_FRAME: usize = 65_536;

/// Why a chain was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A descriptor points outside guest memory (or the chain is malformed).
    #[error("a malformed descriptor chain: {0}")]
    Chain(String),
    /// A transmitted chain too short to hold the header.
    #[error("a transmitted chain of {0} bytes, shorter than the {HDR_LEN}-byte virtio-net header")]
    Short(usize),
    /// A transmitted frame larger than any the host takes.
    #[error("a transmitted frame of {0} bytes, over the {MAX_FRAME}-byte limit")]
    TooLong(usize),
    /// Receive buffers too small for the frame.
    #[error("receive buffers of {have} bytes for a frame needing {need}")]
    NoRoom {
        /// The chain's writable bytes.
        have: usize,
        /// The header and the frame.
        need: usize,
    },
}

/// The header of a received frame: no offload flags, no GSO, one buffer.
pub fn rx_header() -> [u8; HDR_LEN] {
    let mut h = [0u8; HDR_LEN];
    h[10] = 1; // num_buffers, little-endian
    h
}

/// The frame a transmit chain carries (without its header).
pub fn transmitted<'a, M, T>(mem: &'a M, chain: DescriptorChain<T>) -> Result<Vec<u8>, FrameError>
where
    M: GuestMemory,
    <M as GuestMemory>::Bitmap: WithBitmapSlice<'a>,
    T: Deref + Clone,
    T::Target: GuestMemory + Sized,
{
    let mut reader = Reader::<<M::Bitmap as WithBitmapSlice<'a>>::S>::new(mem, chain)
        .map_err(|e| FrameError::Chain(e.to_string()))?;
    let total = reader.available_bytes();
    if total < HDR_LEN {
        return Err(FrameError::Short(total));
    }
    let len = total - HDR_LEN;
    if len > MAX_FRAME {
        return Err(FrameError::TooLong(len));
    }
    let mut header = [0u8; HDR_LEN];
    let mut frame = vec![0u8; len];
    reader
        .read_exact(&mut header)
        .and_then(|()| reader.read_exact(&mut frame))
        .map_err(|e| FrameError::Chain(e.to_string()))?;
    Ok(frame)
}

/// Writes `packet` (header and frame) into a receive chain; returns the bytes used.
pub fn received<'a, M, T>(
    mem: &'a M,
    chain: DescriptorChain<T>,
    packet: &[u8],
) -> Result<u32, FrameError>
where
    M: GuestMemory,
    <M as GuestMemory>::Bitmap: WithBitmapSlice<'a>,
    T: Deref + Clone,
    T::Target: GuestMemory + Sized,
{
    let mut writer = Writer::<<M::Bitmap as WithBitmapSlice<'a>>::S>::new(mem, chain)
        .map_err(|e| FrameError::Chain(e.to_string()))?;
    let have = writer.available_bytes();
    if have < packet.len() {
        return Err(FrameError::NoRoom {
            have,
            need: packet.len(),
        });
    }
    writer
        .write_all(packet)
        .map_err(|e| FrameError::Chain(e.to_string()))?;
    // `packet` is at most a header and MAX_FRAME bytes.
    Ok(u32::try_from(packet.len()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests;
