//! Byte-level tests of the disk over an in-memory device.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use vsa_blockdev::testing::MemDevice;
use vsa_blockdev::{Allocation, BlockDevice};

use super::sanitizer::SanitizeState;
use super::*;
use crate::{Command, Device, Nexus, PageControl, Response, Status, UnitCtx};

const BS: usize = 512;
const BLOCKS: u64 = 8192; // 4 MiB: 64 pages of the MemDevice
const NAA: [u8; 16] = [0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn nexus(isid: u64) -> Nexus {
    Nexus {
        initiator: "iqn.2026-01.test:init".into(),
        isid,
        target: "iqn.2026-01.test:target".into(),
        tpgt: 1,
    }
}

fn options() -> DiskOptions {
    DiskOptions {
        naa: NAA,
        ..DiskOptions::default()
    }
}

fn tuning() -> DiskTuning {
    DiskTuning {
        sanitize_bytes_per_sec: 0,
        ..DiskTuning::default()
    }
}

fn disk_tuned(opts: DiskOptions, tuning: DiskTuning) -> (Arc<MemDevice>, Disk) {
    let dev = Arc::new(MemDevice::new(BLOCKS * BS as u64, BS as u32));
    let disk = Disk::with_tuning(dev.clone(), opts, tuning, Arc::new(NoCopyTargets));
    (dev, disk)
}

fn disk_with(opts: DiskOptions) -> (Arc<MemDevice>, Disk) {
    disk_tuned(opts, tuning())
}

fn disk() -> (Arc<MemDevice>, Disk) {
    disk_with(options())
}

const CTX: UnitCtx = UnitCtx {
    write_protected: false,
    descriptor_sense: false,
};

fn exec_as(d: &Disk, cdb: &[u8], data: &[u8], ctx: UnitCtx, isid: u64) -> Response {
    let n = nexus(isid);
    let cmd = Command {
        cdb,
        data_out: &crate::Bytes::copy_from_slice(data),
        expected_len: data.len() as u32,
        nexus: &n,
        attr: Default::default(),
    };
    d.execute(&cmd, &ctx).expect("opcode served")
}

fn exec(d: &Disk, cdb: &[u8], data: &[u8]) -> Response {
    exec_as(d, cdb, data, CTX, 1)
}

/// (sense key, ASC, ASCQ) of a fixed-format CHECK CONDITION.
fn sense(r: &Response) -> (u8, u8, u8) {
    assert_eq!(r.status, Status::CheckCondition, "{r:?}");
    let s = r.sense.as_deref().expect("sense");
    (s[2] & 0x0F, s[12], s[13])
}

fn field_pointer(r: &Response) -> u16 {
    let s = r.sense.as_deref().expect("sense");
    assert!(s[15] & 0x80 != 0, "SKSV");
    u16::from_be_bytes([s[16], s[17]])
}

fn information(r: &Response) -> u32 {
    let s = r.sense.as_deref().expect("sense");
    assert!(s[0] & 0x80 != 0, "VALID");
    u32::from_be_bytes([s[3], s[4], s[5], s[6]])
}

fn cdb10(op: u8, flags: u8, lba: u32, n: u16) -> Vec<u8> {
    let mut c = vec![0u8; 10];
    c[0] = op;
    c[1] = flags;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&n.to_be_bytes());
    c
}

fn cdb16(op: u8, flags: u8, lba: u64, n: u32) -> Vec<u8> {
    let mut c = vec![0u8; 16];
    c[0] = op;
    c[1] = flags;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&n.to_be_bytes());
    c
}

fn read(d: &Disk, lba: u64, n: u32) -> Vec<u8> {
    let r = exec(d, &cdb16(0x88, 0, lba, n), &[]);
    assert_eq!(r.status, Status::Good, "{r:?}");
    r.data
}

const GOOD: Status = Status::Good;
const ILLEGAL: u8 = 0x05;

#[test]
fn write_then_read_round_trips_and_reports_data_out_length() {
    let (_, d) = disk();
    let data: Vec<u8> = (0..2 * BS).map(|i| (i % 251) as u8).collect();
    let r = exec(&d, &cdb10(0x2A, 0, 7, 2), &data);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(2 * BS as u32)));
    assert_eq!(read(&d, 7, 2), data);
    let r6 = exec(&d, &[0x08, 0, 0, 7, 2, 0], &[]);
    assert_eq!(r6.data, data);
    let r12 = exec(&d, &[0xA8, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0], &[]);
    assert_eq!(r12.data, &data[BS..]);
}

#[test]
fn out_of_range_protect_and_length_limits_are_refused() {
    let (_, d) = disk();
    for (lba, n) in [(BLOCKS, 1), (BLOCKS - 1, 2), (u64::MAX, 1), (BLOCKS + 1, 0)] {
        let r = exec(&d, &cdb16(0x88, 0, lba, n), &[]);
        assert_eq!(sense(&r), (ILLEGAL, 0x21, 0x00), "lba {lba} n {n}");
    }
    let r = exec(&d, &cdb10(0x28, 0x20, 0, 1), &[]);
    assert_eq!(sense(&r), (ILLEGAL, 0x24, 0x00));
    assert_eq!(field_pointer(&r), 1);
    let (_, d) = disk_tuned(
        options(),
        DiskTuning {
            max_transfer_bytes: 8 * BS as u32,
            ..tuning()
        },
    );
    let r = exec(&d, &cdb16(0x88, 0, 0, 9), &[]);
    assert_eq!(sense(&r), (ILLEGAL, 0x24, 0x00));
    assert_eq!(field_pointer(&r), 10);
    assert_eq!(
        exec(&d, &cdb10(0x28, 0, BLOCKS as u32, 0), &[]).status,
        GOOD
    );
}

#[test]
fn short_data_out_writes_the_whole_blocks_that_arrived() {
    let (_, d) = disk();
    exec(&d, &cdb10(0x2A, 0, 0, 2), &[b'a'; 2 * BS]);
    let r = exec(&d, &cdb10(0x2A, 0, 0, 2), &[b'b'; BS]);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(2 * BS as u32)));
    let back = read(&d, 0, 2);
    assert!(back[..BS].iter().all(|&b| b == b'b'));
    assert!(back[BS..].iter().all(|&b| b == b'a'));
    assert_eq!(exec(&d, &cdb10(0x2A, 0, 0, 1), &[]).status, GOOD);
    let r = exec(&d, &cdb10(0x2A, 0, 0, 1), &[0u8; 200]);
    assert_eq!(sense(&r), (ILLEGAL, 0x0E, 0x03));
    // More data than the CDB asks for: only the CDB's blocks are written.
    exec(&d, &cdb10(0x2A, 0, 0, 1), &[b'c'; 2 * BS]);
    assert!(read(&d, 1, 1).iter().all(|&b| b == b'a'));
}

#[test]
fn write_protection_and_fua() {
    let (dev, d) = disk();
    let wp = UnitCtx {
        write_protected: true,
        ..CTX
    };
    for cdb in [
        cdb10(0x2A, 0, 0, 1),
        cdb16(0x8A, 0, 0, 1),
        cdb10(0x2E, 0x02, 0, 1),
        cdb16(0x8B, 0, 0, 1),
        cdb10(0x41, 0x08, 0, 1),
        cdb10(0x42, 0, 0, 24),
    ] {
        let r = exec_as(&d, &cdb, &[0u8; BS], wp, 1);
        assert_eq!(sense(&r), (0x07, 0x27, 0x00), "{cdb:02x?}");
    }
    let before = dev.flushes();
    exec(&d, &cdb10(0x2A, 0x08, 0, 1), &[1u8; BS]);
    assert_eq!(dev.flushes(), before + 1);
}

#[test]
fn write_cache_off_flushes_every_write() {
    let (dev, d) = disk();
    let mut page = d.caching_page(0x08, PageControl::Current).unwrap();
    assert_eq!(page[2] & 0x04, 0x04);
    page[2] = 0;
    d.mode_select(0x08, &page).unwrap();
    let before = dev.flushes();
    exec(&d, &cdb10(0x2A, 0, 0, 1), &[1u8; BS]);
    assert_eq!(dev.flushes(), before + 1);
    page[3] = 1;
    assert!(d.mode_select(0x08, &page).is_err());
    let mask = d.caching_page(0x08, PageControl::Changeable).unwrap();
    assert_eq!(mask[2], 0x04);
}

#[test]
fn verify_compares_and_reports_the_miscompare_offset() {
    let (_, d) = disk();
    let data = vec![7u8; 4 * BS];
    exec(&d, &cdb10(0x2A, 0, 10, 4), &data);
    assert_eq!(exec(&d, &cdb10(0x2F, 0x02, 10, 4), &data).status, GOOD);
    let mut bad = data.clone();
    bad[3 * BS + 5] = 0;
    let r = exec(&d, &cdb10(0x2F, 0x02, 10, 4), &bad);
    assert_eq!(sense(&r), (0x0E, 0x1D, 0x00));
    assert_eq!(information(&r), (3 * BS + 5) as u32);
    assert_eq!(exec(&d, &cdb10(0x2F, 0x00, 10, 4), &bad).status, GOOD);
    assert_eq!(
        exec(&d, &cdb10(0x2F, 0x06, 10, 4), &data[..BS]).status,
        GOOD
    );
    let r = exec(&d, &cdb10(0x2F, 0x04, 10, 4), &data);
    assert_eq!(field_pointer(&r), 1);
    let r = exec(&d, &cdb10(0x2F, 0x22, 10, 4), &data);
    assert_eq!(sense(&r), (ILLEGAL, 0x24, 0x00));
}

#[test]
fn write_and_verify_and_orwrite() {
    let (_, d) = disk();
    assert_eq!(
        exec(&d, &cdb10(0x2E, 0x02, 3, 1), &[0x0Fu8; BS]).status,
        GOOD
    );
    assert_eq!(exec(&d, &cdb16(0x8B, 0, 3, 1), &[0xF0u8; BS]).status, GOOD);
    assert!(read(&d, 3, 1).iter().all(|&b| b == 0xFF));
    let r = exec(&d, &cdb16(0x8B, 0x40, 3, 1), &[0u8; BS]);
    assert_eq!(field_pointer(&r), 1);
}

#[test]
fn compare_and_write_writes_only_on_match() {
    let (_, d) = disk();
    exec(&d, &cdb10(0x2A, 0, 5, 2), &[b'A'; 2 * BS]);
    let mut caw = cdb16(0x89, 0, 5, 0);
    caw[13] = 2;
    let mut data = vec![b'A'; 2 * BS];
    data.extend_from_slice(&[b'B'; 2 * BS]);
    data[BS + 9] = b'C';
    let r = exec(&d, &caw, &data);
    assert_eq!(sense(&r), (0x0E, 0x1D, 0x00));
    assert_eq!(information(&r), (BS + 9) as u32);
    assert!(read(&d, 5, 2).iter().all(|&b| b == b'A'));
    data[BS + 9] = b'A';
    let r = exec(&d, &caw, &data);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(4 * BS as u32)));
    assert!(read(&d, 5, 2).iter().all(|&b| b == b'B'));
    // Data-out that does not match NUMBER OF LOGICAL BLOCKS.
    assert_eq!(sense(&exec(&d, &caw, &data[..3 * BS])).0, ILLEGAL);
    caw[13] = 0;
    assert_eq!(exec(&d, &caw, &[]).status, GOOD);
}

#[test]
fn write_same_writes_the_block_or_unmaps() {
    let (dev, d) = disk();
    let block: Vec<u8> = (0..BS).map(|i| i as u8).collect();
    assert_eq!(exec(&d, &cdb10(0x41, 0, 100, 3), &block).status, GOOD);
    assert_eq!(read(&d, 100, 3), block.repeat(3));
    // UNMAP releases the blocks whatever the block holds (whole pages of 128 blocks
    // here); they read back as zeros (LBPRZ).
    exec(&d, &cdb10(0x2A, 0, 256, 256), &vec![9u8; 256 * BS]);
    assert_eq!(
        exec(&d, &cdb10(0x41, 0x08, 256, 256), &[0xFFu8; BS]).status,
        GOOD
    );
    assert!(read(&d, 256, 256).iter().all(|&b| b == 0));
    let ext = dev.allocation(256 * BS as u64, 256 * BS as u64).unwrap();
    assert!(ext.iter().all(|e| e.status == Allocation::Deallocated));
    // NDOB writes zeros without data-out.
    let r = exec(&d, &cdb16(0x93, 0x01, 100, 1), &[]);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(0)));
    assert!(read(&d, 100, 1).iter().all(|&b| b == 0));
    for (flags, data) in [
        (0x10, &block[..]),
        (0x18, &block[..]),
        (0x00, &block[..BS / 2]),
    ] {
        let r = exec(&d, &cdb10(0x41, flags, 0, 1), data);
        assert_eq!(sense(&r).0, ILLEGAL, "flags {flags:#x}");
    }
    let r = exec(&d, &cdb16(0x93, 0, 0, 65536), &block);
    assert_eq!(
        sense(&r),
        (ILLEGAL, 0x24, 0x00),
        "beyond MAXIMUM WRITE SAME LENGTH"
    );
    assert_eq!(field_pointer(&r), 10);
    assert_eq!(
        exec(&d, &cdb10(0x41, 0, (BLOCKS - 5) as u32, 0), &block).status,
        GOOD
    );
    assert_eq!(read(&d, BLOCKS - 5, 5), block.repeat(5));
}

#[test]
fn thick_disks_refuse_unmap() {
    let (_, d) = disk_with(DiskOptions {
        thin: false,
        ..options()
    });
    let n = nexus(1);
    let cmd = Command {
        cdb: &cdb10(0x42, 0, 0, 24),
        data_out: &crate::Bytes::from_static(&[0u8; 24]),
        expected_len: 24,
        nexus: &n,
        attr: Default::default(),
    };
    assert!(d.execute(&cmd, &CTX).is_none());
    let r = exec(&d, &cdb10(0x41, 0x08, 0, 1), &[0u8; BS]);
    assert_eq!(field_pointer(&r), 1);
    assert!(d.opcodes().iter().all(|o| o.opcode != 0x42));
    assert_eq!(d.vpd_page(0xB2).unwrap()[5], 0);
}

fn unmap_list(extents: &[(u64, u32)]) -> Vec<u8> {
    let mut l = vec![0u8; 8];
    l[0..2].copy_from_slice(&((6 + 16 * extents.len()) as u16).to_be_bytes());
    l[2..4].copy_from_slice(&((16 * extents.len()) as u16).to_be_bytes());
    for &(lba, n) in extents {
        l.extend_from_slice(&lba.to_be_bytes());
        l.extend_from_slice(&n.to_be_bytes());
        l.extend_from_slice(&[0; 4]);
    }
    l
}

#[test]
fn unmap_checks_every_descriptor_before_releasing() {
    let (dev, d) = disk();
    exec(&d, &cdb10(0x2A, 0, 0, 256), &vec![1u8; 256 * BS]);
    let list = unmap_list(&[(0, 128), (BLOCKS, 1)]);
    let r = exec(&d, &cdb10(0x42, 0, 0, list.len() as u16), &list);
    assert_eq!(sense(&r), (ILLEGAL, 0x21, 0x00));
    assert!(read(&d, 0, 1).iter().all(|&b| b == 1));
    let list = unmap_list(&[(0, 128), (BLOCKS, 0)]);
    let r = exec(&d, &cdb10(0x42, 0, 0, list.len() as u16), &list);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(list.len() as u32)));
    assert_eq!(
        dev.allocation(0, 128 * BS as u64).unwrap()[0].status,
        Allocation::Deallocated
    );
    let r = exec(&d, &cdb10(0x42, 0, 0, 4), &list[..4]);
    assert_eq!(sense(&r), (ILLEGAL, 0x1A, 0x00));
    let many: Vec<(u64, u32)> = (0..257).map(|i| (i, 1)).collect();
    let list = unmap_list(&many);
    let r = exec(&d, &cdb10(0x42, 0, 0, list.len() as u16), &list);
    assert_eq!(sense(&r), (ILLEGAL, 0x26, 0x00));
    assert_eq!(exec(&d, &cdb10(0x42, 0, 0, 0), &[]).status, GOOD);
}

fn lba_status(d: &Disk, lba: u64, alloc: u32) -> Response {
    let mut c = cdb16(0x9E, 0x12, lba, alloc);
    c[14] = 0;
    exec(d, &c, &[])
}

fn descriptors(data: &[u8]) -> Vec<(u64, u32, u8)> {
    data[8..]
        .chunks(16)
        .map(|c| {
            (
                u64::from_be_bytes(c[0..8].try_into().unwrap()),
                u32::from_be_bytes(c[8..12].try_into().unwrap()),
                c[12],
            )
        })
        .collect()
}

#[test]
fn get_lba_status_reports_mapped_and_deallocated_runs() {
    let (_, d) = disk();
    exec(&d, &cdb10(0x2A, 0, 128, 128), &vec![1u8; 128 * BS]);
    let r = lba_status(&d, 0, 64);
    assert_eq!(r.status, GOOD);
    assert_eq!(
        u32::from_be_bytes(r.data[0..4].try_into().unwrap()) as usize,
        r.data.len() - 4
    );
    assert_eq!(
        descriptors(&r.data),
        vec![(0, 128, 1), (128, 128, 0), (256, (BLOCKS - 256) as u32, 1)]
    );
    let r = lba_status(&d, 0, 24);
    assert_eq!(descriptors(&r.data), vec![(0, 128, 1)]);
    // Inside a physical block (8 blocks): from the next boundary.
    let r = lba_status(&d, 129, 24);
    assert_eq!(descriptors(&r.data), vec![(136, 120, 0)]);
    assert_eq!(sense(&lba_status(&d, BLOCKS, 24)), (ILLEGAL, 0x21, 0x00));
    assert_eq!(sense(&lba_status(&d, u64::MAX, 24)), (ILLEGAL, 0x21, 0x00));
}

#[test]
fn read_capacity_reports_geometry_and_provisioning() {
    let (_, d) = disk();
    let r = exec(&d, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.data, [0, 0, 0x1F, 0xFF, 0, 0, 2, 0]);
    let r = exec(&d, &cdb16(0x9E, 0x10, 0, 32), &[]);
    assert_eq!(&r.data[0..12], &[0, 0, 0, 0, 0, 0, 0x1F, 0xFF, 0, 0, 2, 0]);
    assert_eq!((r.data[12], r.data[13], r.data[14]), (0, 3, 0xC0));
    for alloc in 0..16 {
        assert_eq!(
            exec(&d, &cdb16(0x9E, 0x10, 0, alloc), &[]).data.len(),
            alloc as usize
        );
    }
    let (_, thick) = disk_with(DiskOptions {
        thin: false,
        ..options()
    });
    assert_eq!(exec(&thick, &cdb16(0x9E, 0x10, 0, 32), &[]).data[14], 0);
}

#[test]
fn vpd_pages_carry_the_limits_the_handlers_enforce() {
    let (_, d) = disk();
    assert_eq!(d.vpd_pages(), &[0x8F, 0xB0, 0xB1, 0xB2]);
    let b0 = d.vpd_page(0xB0).unwrap();
    assert_eq!((b0.len(), b0[1], b0[3]), (64, 0xB0, 0x3C));
    assert_eq!(b0[5], 255);
    assert_eq!(
        u32::from_be_bytes(b0[8..12].try_into().unwrap()),
        d.limits.max_transfer
    );
    assert_eq!(u32::from_be_bytes(b0[24..28].try_into().unwrap()), 256);
    assert_eq!(u64::from_be_bytes(b0[36..44].try_into().unwrap()), 65535);
    assert!(u32::from_be_bytes(b0[44..48].try_into().unwrap()) >= 256);
    let b1 = d.vpd_page(0xB1).unwrap();
    assert_eq!((b1[4], b1[5], b1[7]), (0, 1, 0x50));
    let b2 = d.vpd_page(0xB2).unwrap();
    assert_eq!((b2[3], b2[5], b2[6]), (4, 0xE4, 0x02));
    let tpc = d.vpd_page(0x8F).unwrap();
    assert_eq!(
        usize::from(u16::from_be_bytes([tpc[2], tpc[3]])),
        tpc.len() - 4
    );
    assert_eq!(&tpc[4..8], &[0, 1, 0, 8]);
    assert!(d.vpd_page(0x80).is_none());
}

#[test]
fn removable_medium_ejects_loads_and_honours_prevent() {
    let (_, d) = disk_with(DiskOptions {
        removable: true,
        ..options()
    });
    let eject = [0x1B, 0, 0, 0, 0x02, 0];
    let load = [0x1B, 0, 0, 0, 0x03, 0];
    let prevent = [0x1E, 0, 0, 0, 0x01, 0];
    let allow = [0x1E, 0, 0, 0, 0x00, 0];
    assert_eq!(exec(&d, &prevent, &[]).status, GOOD);
    assert_eq!(
        sense(&exec_as(&d, &eject, &[], CTX, 2)),
        (ILLEGAL, 0x53, 0x02)
    );
    assert_eq!(sense(&exec(&d, &load, &[])), (ILLEGAL, 0x53, 0x02));
    assert!(d.ready().is_ok());
    d.nexus_lost(&nexus(1));
    assert_eq!(exec(&d, &eject, &[]).status, GOOD);
    assert_eq!(d.ready().unwrap_err(), crate::Sense::medium_not_present());
    assert_eq!(
        sense(&exec(&d, &cdb10(0x28, 0, 0, 1), &[])),
        (0x02, 0x3A, 0x00)
    );
    assert_eq!(
        sense(&exec(&d, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[])).0,
        0x02
    );
    assert_eq!(exec(&d, &prevent, &[]).status, GOOD);
    d.reset();
    assert_eq!(exec(&d, &load, &[]).status, GOOD);
    assert!(d.ready().is_ok());
    assert_eq!(exec(&d, &allow, &[]).status, GOOD);
    // Power conditions and a plain stop leave the medium alone.
    assert_eq!(exec(&d, &[0x1B, 1, 0, 0, 0x12, 0], &[]).status, GOOD);
    assert_eq!(exec(&d, &[0x1B, 0, 0, 0, 0x00, 0], &[]).status, GOOD);
    assert!(d.ready().is_ok());
    let (_, fixed) = disk();
    assert_eq!(field_pointer(&exec(&fixed, &eject, &[])), 4);
}

#[test]
fn compare_and_write_of_zero_blocks_with_data_out_is_refused() {
    let (_, d) = disk();
    // 256 blocks do not fit NUMBER OF LOGICAL BLOCKS: it reads 0 with 256 blocks of data.
    let caw = cdb16(0x89, 0, 0, 0);
    let r = exec(&d, &caw, &vec![b'A'; 2 * 256 * BS]);
    assert_eq!(sense(&r), (ILLEGAL, 0x24, 0x00));
    assert_eq!(field_pointer(&r), 13);
    assert_eq!(exec(&d, &caw, &[]).status, GOOD);
}

#[test]
fn write_atomic_and_prefetch_and_sync() {
    let (dev, d) = disk();
    let mut c = cdb16(0x9C, 0, 4, 0);
    c[12..14].copy_from_slice(&2u16.to_be_bytes());
    assert_eq!(exec(&d, &c, &[3u8; 2 * BS]).status, GOOD);
    assert!(read(&d, 4, 2).iter().all(|&b| b == 3));
    c[10] = 1;
    assert_eq!(field_pointer(&exec(&d, &c, &[3u8; 2 * BS])), 10);
    assert_eq!(exec(&d, &cdb10(0x34, 0x02, 0, 16), &[]).status, GOOD);
    assert_eq!(
        sense(&exec(&d, &cdb16(0x90, 0, BLOCKS, 1), &[])),
        (ILLEGAL, 0x21, 0x00)
    );
    let before = dev.flushes();
    assert_eq!(exec(&d, &cdb10(0x35, 0, 0, 0), &[]).status, GOOD);
    assert_eq!(dev.flushes(), before + 1);
}

#[test]
fn read_defect_data_is_empty_in_the_format_asked_for() {
    let (_, d) = disk();
    let r = exec(&d, &[0x37, 0, 0x1D, 0, 0, 0, 0, 0, 32, 0], &[]);
    assert_eq!(r.data, [0, 0x1D, 0, 0]);
    let r = exec(&d, &[0xB7, 0x0B, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], &[]);
    assert_eq!(r.data, [0, 0x0B, 0, 0, 0, 0, 0, 0]);
}

#[derive(Debug)]
struct Growing {
    inner: MemDevice,
    size: AtomicU64,
}

impl BlockDevice for Growing {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn size(&self) -> u64 {
        self.size.load(Ordering::SeqCst)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn flush(&self) -> vsa_blockdev::Result<()> {
        Ok(())
    }
}

#[test]
fn capacity_change_raises_one_unit_attention() {
    let dev = Arc::new(Growing {
        inner: MemDevice::new(2 * BLOCKS * BS as u64, BS as u32),
        size: AtomicU64::new(BLOCKS * BS as u64),
    });
    let d = Disk::new(dev.clone(), options(), Arc::new(NoCopyTargets));
    assert_eq!(d.pending_attention(), None);
    dev.size.store(2 * BLOCKS * BS as u64, Ordering::SeqCst);
    assert_eq!(
        d.pending_attention(),
        Some(crate::Sense::capacity_changed())
    );
    assert_eq!(d.pending_attention(), None);
    assert_eq!(d.block_descriptor(), Some((2 * BLOCKS, BS as u32)));
}

#[test]
fn opcode_table_matches_what_execute_serves() {
    let (_, d) = disk();
    for info in d.opcodes() {
        assert_eq!(info.usage[0], info.opcode);
        let mut cdb = info.usage.to_vec();
        cdb.iter_mut().skip(1).for_each(|b| *b = 0);
        if let Some(sa) = info.service_action {
            cdb[1] = sa as u8;
        }
        let n = nexus(1);
        let cmd = Command {
            cdb: &cdb,
            data_out: &crate::Bytes::new(),
            expected_len: 0,
            nexus: &n,
            attr: Default::default(),
        };
        assert!(d.execute(&cmd, &CTX).is_some(), "{:#x}", info.opcode);
    }
    assert_eq!(d.access(&cdb10(0x28, 0, 0, 1)), crate::Access::Read);
    assert_eq!(d.access(&cdb10(0x2A, 0, 0, 1)), crate::Access::Write);
    assert_eq!(d.access(&cdb10(0x25, 0, 0, 0)), crate::Access::None);
    assert_eq!(d.mode_device_specific(true), 0x90);
}

#[test]
fn concurrent_compare_and_writes_are_atomic() {
    let (_, d) = disk();
    let d = Arc::new(d);
    exec(&d, &cdb10(0x2A, 0, 0, 1), &[0u8; BS]);
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut caw = cdb16(0x89, 0, 0, 0);
                caw[13] = 1;
                let mut ok = 0;
                for _ in 0..200 {
                    let mut data = vec![t; BS];
                    data.extend_from_slice(&[(t + 1) % 4; BS]);
                    if exec_as(&d, &caw, &data, CTX, u64::from(t)).status == GOOD {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let total: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    // Every success moved the value by one step of the 0→1→2→3→0 ring.
    let v = read(&d, 0, 1)[0];
    assert_eq!(u32::from(v), total % 4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_cdbs_and_data_never_panic(
        op in prop::sample::select(vec![
            0x08u8, 0x0A, 0x28, 0x2A, 0xA8, 0xAA, 0x88, 0x8A, 0x2F, 0xAF, 0x8F, 0x2E, 0xAE,
            0x8E, 0x8B, 0x9C, 0x89, 0x41, 0x93, 0x42, 0x35, 0x91, 0x34, 0x90, 0x25, 0x9E,
            0x37, 0xB7, 0x1B, 0x1E, 0x48, 0x83, 0x84, 0x00, 0xFF,
        ]),
        rest in prop::collection::vec(any::<u8>(), 0..20),
        small in any::<bool>(),
        data in prop::collection::vec(any::<u8>(), 0..1200),
        wp in any::<bool>(),
    ) {
        let (_, d) = disk_with(DiskOptions { removable: true, ..options() });
        let mut cdb = vec![op];
        cdb.extend(rest);
        if small {
            // Keep lengths and LBAs small so the I/O paths run, not only the checks.
            for b in cdb.iter_mut().skip(2).take(6) {
                *b &= 0x01;
            }
        }
        let ctx = UnitCtx { write_protected: wp, descriptor_sense: false };
        let n = nexus(1);
        let cmd = Command {
            cdb: &cdb,
            data_out: &crate::Bytes::from(data.clone()),
            expected_len: data.len() as u32,
            nexus: &n,
            attr: Default::default(),
        };
        let _ = d.execute(&cmd, &ctx);
        let _ = d.mode_select(0x08, &data);
        let _ = d.vpd_page(op);
    }
}

/// A device whose pool runs low when told to.
#[derive(Debug)]
struct LowSpaceDevice {
    inner: MemDevice,
    low: std::sync::atomic::AtomicBool,
}

impl BlockDevice for LowSpaceDevice {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn flush(&self) -> vsa_blockdev::Result<()> {
        self.inner.flush()
    }
    fn space_low(&self) -> bool {
        self.low.load(Ordering::SeqCst)
    }
}

#[test]
fn low_pool_space_raises_the_soft_threshold_attention_once_per_episode() {
    let dev = Arc::new(LowSpaceDevice {
        inner: MemDevice::new(BLOCKS * BS as u64, BS as u32),
        low: false.into(),
    });
    let disk = Disk::with_tuning(dev.clone(), options(), tuning(), Arc::new(NoCopyTargets));
    assert_eq!(disk.pending_attention(), None);
    dev.low.store(true, Ordering::SeqCst);
    let ua = disk.pending_attention().expect("a unit attention");
    assert_eq!(
        (ua.key, ua.asc, ua.ascq),
        (crate::SenseKey::UnitAttention, 0x38, 0x07)
    );
    assert_eq!(disk.pending_attention(), None, "reported once");
    dev.low.store(false, Ordering::SeqCst);
    assert_eq!(disk.pending_attention(), None);
    dev.low.store(true, Ordering::SeqCst);
    assert!(
        disk.pending_attention().is_some(),
        "a new episode is reported again"
    );
}

mod nowait;
mod opcodes;
mod sanitize;
mod xcopy;
