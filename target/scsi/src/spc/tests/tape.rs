//! The shared SPC layer in front of a device that is not a disk: a tape-like device whose
//! mode parameter block descriptor is the general one with a density code (SPC-4 7.5.5,
//! SSC-4 8.3.3) and whose medium type shows in the mode parameter header.

use std::sync::Arc;

use crate::spc::{MemPrStore, Unit, UnitOptions};
use crate::{
    Access, Command, Device, LogicalUnit, Nexus, OpcodeInfo, PageControl, Response, Sense, Status,
    UnitCtx,
};

use super::{identity, nexus, sense_of};

/// LTO-5's density code.
const DENSITY: u8 = 0x58;
/// Any non-zero medium type, to see it in the header.
const MEDIUM_TYPE: u8 = 0x18;
/// More blocks than the general descriptor's 24-bit field holds.
const BLOCKS: u64 = 0x0100_0005;
const BLOCK_LEN: u32 = 0x01_0000;

/// A sequential-access device with a loaded cartridge and nothing else.
#[derive(Debug, Default)]
struct TinyTape;

impl Device for TinyTape {
    fn peripheral_type(&self) -> u8 {
        0x01
    }
    fn removable(&self) -> bool {
        true
    }
    fn sequential(&self) -> bool {
        true
    }
    fn vpd_pages(&self) -> &[u8] {
        &[]
    }
    fn vpd_page(&self, _page: u8) -> Option<Vec<u8>> {
        None
    }
    fn version_descriptors(&self) -> &[u16] {
        &[]
    }
    fn mode_pages(&self) -> &[u8] {
        &[]
    }
    fn mode_page(&self, _page: u8, _pc: PageControl) -> Option<Vec<u8>> {
        None
    }
    fn mode_select(&self, _page: u8, _data: &[u8]) -> Result<(), Sense> {
        Err(Sense::invalid_field_in_param(0, None))
    }
    fn mode_device_specific(&self, write_protected: bool) -> u8 {
        // BUFFERED MODE 1, and WP.
        0x10 | if write_protected { 0x80 } else { 0 }
    }
    fn block_descriptor(&self) -> Option<(u64, u32)> {
        Some((BLOCKS, BLOCK_LEN))
    }
    fn density_code(&self) -> u8 {
        DENSITY
    }
    fn medium_type(&self) -> u8 {
        MEDIUM_TYPE
    }
    fn opcodes(&self) -> &[OpcodeInfo] {
        &[]
    }
    fn access(&self, _cdb: &[u8]) -> Access {
        Access::Write
    }
    fn execute(&self, _cmd: &Command<'_>, _ctx: &UnitCtx) -> Option<Response> {
        None
    }
}

fn tape() -> Unit<TinyTape> {
    let u = Unit::new(
        TinyTape,
        identity(),
        UnitOptions::default(),
        Arc::new(MemPrStore::new()),
    )
    .unwrap();
    let n = nexus("iqn.a", 1);
    // The POWER ON unit attention.
    assert_eq!(sense_of(&run(&u, &n, &[0; 6], &[])), (0x6, 0x29, 0x00));
    u
}

fn run(u: &Unit<TinyTape>, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
    u.execute(&Command {
        cdb,
        data_out: &crate::Bytes::copy_from_slice(data),
        expected_len: 65536,
        nexus: n,
        attr: Default::default(),
    })
}

/// The general block descriptor this tape reports: density, 24-bit saturated count,
/// block length.
const DESCRIPTOR: [u8; 8] = [DENSITY, 0xFF, 0xFF, 0xFF, 0, 0x01, 0x00, 0x00];

#[test]
fn density_code_and_medium_type_reach_mode_sense_6() {
    let u = tape();
    let a = nexus("iqn.a", 1);
    let d = run(&u, &a, &[0x1A, 0, 0x3F, 0, 255, 0], &[]).data;
    // Header, block descriptor, control (12) and informational exceptions (12).
    assert_eq!(d.len(), 4 + 8 + 12 + 12);
    assert_eq!(&d[..4], &[(d.len() - 1) as u8, MEDIUM_TYPE, 0x10, 8]);
    assert_eq!(d[4..12], DESCRIPTOR);
    // Nothing in the descriptor is changeable.
    let d = run(&u, &a, &[0x1A, 0, 0x40 | 0x0A, 0, 255, 0], &[]).data;
    assert_eq!(&d[4..12], &[0u8; 8]);
}

#[test]
fn density_code_and_medium_type_reach_mode_sense_10_without_a_long_form() {
    let u = tape();
    let a = nexus("iqn.a", 1);
    for llbaa in [0u8, 0x10] {
        let d = run(&u, &a, &[0x5A, llbaa, 0x0A, 0, 0, 0, 0, 1, 0, 0], &[]).data;
        assert_eq!(d.len(), 8 + 8 + 12);
        // MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER, LONGLBA 0, BLOCK DESCRIPTOR LENGTH 8.
        assert_eq!(
            &d[2..8],
            &[MEDIUM_TYPE, 0x10, 0, 0, 0, 8],
            "LLBAA {llbaa:#x}"
        );
        assert_eq!(d[8..16], DESCRIPTOR);
    }
}

#[test]
fn mode_select_takes_a_general_descriptor_that_restates_the_current_one() {
    let u = tape();
    let a = nexus("iqn.a", 1);
    let select6 = |bd: [u8; 8]| {
        let mut p = vec![0u8, 0, 0, 8];
        p.extend_from_slice(&bd);
        run(&u, &a, &[0x15, 0x10, 0, 0, p.len() as u8, 0], &p)
    };
    assert_eq!(select6(DESCRIPTOR).status, Status::Good);
    // Density code 0 (default) and NUMBER OF BLOCKS 0 mean "no change".
    assert_eq!(select6([0, 0, 0, 0, 0, 0x01, 0, 0]).status, Status::Good);
    let other_density = select6([0x5A, 0, 0, 0, 0, 0x01, 0, 0]);
    assert_eq!(sense_of(&other_density), (0x5, 0x26, 0x00));
    let other_length = select6([DENSITY, 0, 0, 0, 0, 0x00, 0x02, 0]);
    assert_eq!(sense_of(&other_length), (0x5, 0x26, 0x00));
    // No long LBA descriptor for a tape.
    let mut p = vec![0u8, 0, 0, 0, 0x01, 0, 0, 16];
    p.extend_from_slice(&[0u8; 16]);
    let r = run(
        &u,
        &a,
        &[0x55, 0x10, 0, 0, 0, 0, 0, 0, p.len() as u8, 0],
        &p,
    );
    assert_eq!(sense_of(&r), (0x5, 0x26, 0x00));
}

#[test]
fn a_sequential_device_makes_a_sequential_logical_unit() {
    let target = crate::Target::new();
    target.insert(0, Arc::new(super::unit()));
    target.insert(2, Arc::new(tape()));
    assert!(tape().sequential());
    assert!(
        !super::unit().sequential(),
        "a disk's commands may run concurrently"
    );
    let seq: Vec<bool> = [Some(0), Some(1), Some(2), None]
        .into_iter()
        .map(|l| target.sequential(l))
        .collect();
    assert_eq!(seq, [false, false, true, false]);
}
