//! Frames in and out of chains laid out the way a driver lays them.

use super::*;
use proptest::prelude::*;
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use vm_memory::{Bytes as _, GuestAddress, GuestMemoryMmap};

const MEM: u64 = 1 << 20;
const WRITE: u16 = 2; // VRING_DESC_F_WRITE

fn memory() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap()
}

fn raw(descs: &[(u64, u32, bool)]) -> Vec<RawDescriptor> {
    descs
        .iter()
        .map(|&(a, l, w)| {
            RawDescriptor::from(SplitDescriptor::new(a, l, if w { WRITE } else { 0 }, 0))
        })
        .collect()
}

#[test]
fn a_transmitted_frame_loses_its_header_across_descriptors() {
    let mem = memory();
    let queue = MockSplitQueue::new(&mem, 16);
    let frame: Vec<u8> = (0..100u8).collect();
    mem.write_slice(&[0xee; HDR_LEN], GuestAddress(0x4_0000))
        .unwrap();
    mem.write_slice(&frame[..40], GuestAddress(0x5_0000))
        .unwrap();
    mem.write_slice(&frame[40..], GuestAddress(0x6_0000))
        .unwrap();
    let chain = queue
        .build_desc_chain(&raw(&[
            (0x4_0000, 12, false),
            (0x5_0000, 40, false),
            (0x6_0000, 60, false),
        ]))
        .unwrap();
    assert_eq!(transmitted(&mem, chain).unwrap(), frame);
}

#[test]
fn a_transmit_chain_shorter_than_the_header_or_outside_memory_is_refused() {
    let mem = memory();
    let queue = MockSplitQueue::new(&mem, 16);
    let chain = queue
        .build_desc_chain(&raw(&[(0x4_0000, 8, false)]))
        .unwrap();
    assert_eq!(transmitted(&mem, chain), Err(FrameError::Short(8)));
    let chain = queue
        .build_desc_chain(&raw(&[(MEM - 4, 64, false)]))
        .unwrap();
    assert!(matches!(
        transmitted(&mem, chain),
        Err(FrameError::Chain(_))
    ));
}

#[test]
fn a_received_frame_fills_the_buffers_after_its_header() {
    let mem = memory();
    let queue = MockSplitQueue::new(&mem, 16);
    let mut packet = rx_header().to_vec();
    packet.extend((0..1500u32).map(|i| i as u8));
    let chain = queue
        .build_desc_chain(&raw(&[(0x4_0000, 1000, true), (0x5_0000, 1000, true)]))
        .unwrap();
    assert_eq!(received(&mem, chain, &packet).unwrap(), 1512);
    let mut got = vec![0u8; 1512];
    mem.read_slice(&mut got[..1000], GuestAddress(0x4_0000))
        .unwrap();
    mem.read_slice(&mut got[1000..], GuestAddress(0x5_0000))
        .unwrap();
    assert_eq!(got, packet);
    assert_eq!(&got[..HDR_LEN], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
}

#[test]
fn receive_buffers_too_small_are_left_untouched() {
    let mem = memory();
    let queue = MockSplitQueue::new(&mem, 16);
    mem.write_slice(&[0x55; 64], GuestAddress(0x4_0000))
        .unwrap();
    let chain = queue
        .build_desc_chain(&raw(&[(0x4_0000, 64, true)]))
        .unwrap();
    let packet = vec![1u8; 100];
    assert_eq!(
        received(&mem, chain, &packet),
        Err(FrameError::NoRoom {
            have: 64,
            need: 100
        })
    );
    let mut got = [0u8; 64];
    mem.read_slice(&mut got, GuestAddress(0x4_0000)).unwrap();
    assert_eq!(got, [0x55; 64]);
}

proptest! {
    /// Whatever chain a driver builds, frames in and out end in a frame or an error.
    #[test]
    fn arbitrary_chains_never_panic(
        descs in prop::collection::vec((0u64..MEM + 8192, 0u32..70_000, any::<bool>()), 1..6),
        len in 0usize..2000,
    ) {
        let mem = memory();
        let queue = MockSplitQueue::new(&mem, 16);
        if let Ok(chain) = queue.build_desc_chain(&raw(&descs)) {
            let _ = transmitted(&mem, chain);
        }
        if let Ok(chain) = queue.build_desc_chain(&raw(&descs)) {
            let _ = received(&mem, chain, &vec![7u8; len]);
        }
    }
}
