//! MODE SENSE/SELECT and REPORT SUPPORTED OPERATION CODES.

use crate::{LogicalUnit, Nexus, Reset, Response, Status};

use super::{clear_ua, nexus, run, sense_of, unit, TinyDisk};
use crate::spc::Unit;

fn mode_sense6(u: &Unit<TinyDisk>, n: &Nexus, pc: u8, page: u8, alloc: u8) -> Response {
    run(u, n, &[0x1A, 0, pc << 6 | page, 0, alloc, 0], &[])
}

#[test]
fn mode_sense_all_pages_and_control() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    clear_ua(&u, &a);
    let d = mode_sense6(&u, &a, 0, 0x3F, 255).data;
    // Header, 8-byte block descriptor, caching (20), control (12), IE (12).
    assert_eq!(d.len(), 4 + 8 + 20 + 12 + 12);
    assert_eq!(usize::from(d[0]), d.len() - 1);
    assert_eq!((d[2], d[3]), (0x10, 8));
    assert_eq!(&d[4..12], &[0, 0, 0x03, 0xE8, 0, 0, 0x02, 0x00]);
    assert_eq!(d[12], 0x08);
    assert_eq!(
        &d[32..44],
        &[0x0A, 0x0A, 0, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0]
    );
    assert_eq!(d[44], 0x1C);
    let r = mode_sense6(&u, &a, 0, 0x3F, 4);
    assert_eq!(r.data.len(), 4);
    let d = mode_sense6(&u, &a, 1, 0x0A, 255).data;
    assert_eq!(&d[12..16], &[0x0A, 0x0A, 0x04, 0x00]);
    assert_eq!(d[16], 0x08);
    let r = mode_sense6(&u, &a, 3, 0x0A, 255);
    assert_eq!(sense_of(&r), (0x5, 0x39, 0x00));
    let r = mode_sense6(&u, &a, 0, 0x01, 255);
    assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
    // DBD, MODE SENSE(10) with LLBAA.
    let d = run(&u, &a, &[0x1A, 0x08, 0x0A, 0, 255, 0], &[]).data;
    assert_eq!(d.len(), 4 + 12);
    let d = run(&u, &a, &[0x5A, 0x10, 0x0A, 0, 0, 0, 0, 1, 0, 0], &[]).data;
    assert_eq!(d.len(), 8 + 16 + 12);
    assert_eq!((d[4], d[7]), (0x01, 16));
}

/// Reads the control page and writes it back with `edit` applied, as libiscsi does.
fn select_control(u: &Unit<TinyDisk>, n: &Nexus, edit: impl Fn(&mut [u8])) -> Response {
    let d = run(u, n, &[0x1A, 0x08, 0x0A, 0, 255, 0], &[]).data;
    let mut p = vec![0u8; 4];
    p.extend_from_slice(&d[4..16]);
    edit(&mut p[4..]);
    run(u, n, &[0x15, 0x10, 0, 0, p.len() as u8, 0], &p)
}

#[test]
fn swp_write_protects_and_d_sense_switches_format() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    let r = select_control(&u, &a, |p| p[4] |= 0x08);
    assert_eq!(r.status, Status::Good);
    assert_eq!(r.data_out_len, Some(16));
    assert_eq!(mode_sense6(&u, &a, 0, 0x0A, 255).data[2] & 0x80, 0x80);
    let r = run(&u, &a, &[0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[0; 512]);
    assert_eq!(sense_of(&r), (0x7, 0x27, 0x00));
    // The other nexus hears MODE PARAMETERS CHANGED once.
    let r = run(&u, &b, &[0; 6], &[]);
    assert_eq!(sense_of(&r), (0x6, 0x2A, 0x01));
    assert_eq!(
        select_control(&u, &a, |p| p[4] &= !0x08).status,
        Status::Good
    );
    assert_eq!(
        select_control(&u, &a, |p| p[2] |= 0x04).status,
        Status::Good
    );
    let r = run(
        &u,
        &a,
        &[0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
        &[],
    );
    assert_eq!(r.sense.as_deref().map(|s| s[0]), Some(0x72));
    // Changing a field that is not changeable fails.
    let r = select_control(&u, &a, |p| p[3] = 0);
    assert_eq!(sense_of(&r), (0x5, 0x26, 0x00));
    // LU reset restores defaults and raises a unit attention for everyone.
    u.reset(Reset::LogicalUnit, &a);
    let r = run(&u, &a, &[0; 6], &[]);
    assert_eq!(r.sense.as_deref().map(|s| s[0]), Some(0x70));
    assert_eq!(sense_of(&r), (0x6, 0x29, 0x03));
}

#[test]
fn mode_select_errors_and_device_pages() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    clear_ua(&u, &a);
    let sel = |cdb1: u8, p: &[u8]| run(&u, &a, &[0x15, cdb1, 0, 0, p.len() as u8, 0], p);
    let mut caching = vec![0u8, 0, 0, 0, 0x08, 0x12, 0x04];
    caching.resize(24, 0);
    assert_eq!(sel(0x10, &caching).status, Status::Good);
    assert!(*u.device().wce.lock());
    assert_eq!(sense_of(&sel(0x11, &caching)), (0x5, 0x24, 0x00));
    assert_eq!(sense_of(&sel(0x00, &caching)), (0x5, 0x24, 0x00));
    assert_eq!(sense_of(&sel(0x10, &caching[..10])), (0x5, 0x1A, 0x00));
    assert_eq!(sense_of(&sel(0x10, &[0, 0])), (0x5, 0x1A, 0x00));
    let mut bad = caching.clone();
    bad[4] = 0x09;
    assert_eq!(sense_of(&sel(0x10, &bad)), (0x5, 0x26, 0x00));
    // Block descriptor restating the block length is fine; another length is not.
    let mut bd = vec![0u8, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x02, 0];
    assert_eq!(sel(0x10, &bd).status, Status::Good);
    bd[10] = 0x10;
    assert_eq!(sense_of(&sel(0x10, &bd)), (0x5, 0x26, 0x00));
}

#[test]
fn report_supported_opcodes() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    clear_ua(&u, &a);
    let rsoc = |opt: u8, op: u8, sa: u16| {
        let [s0, s1] = sa.to_be_bytes();
        run(
            &u,
            &a,
            &[0xA3, 0x0C, opt, op, s0, s1, 0, 0, 0xFF, 0xFF, 0, 0],
            &[],
        )
    };
    let d = rsoc(0, 0, 0).data;
    let len = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
    assert_eq!(len, d.len() - 4);
    assert_eq!(len % 8, 0);
    let descs: Vec<&[u8]> = d[4..].chunks(8).collect();
    assert!(descs
        .iter()
        .any(|c| c[0] == 0x28 && c[5] == 0 && c[7] == 10));
    assert!(descs
        .iter()
        .any(|c| c[0] == 0x9E && c[3] == 0x10 && c[5] == 1));
    assert!(descs
        .iter()
        .any(|c| c[0] == 0x5F && c[3] == 0x07 && c[5] == 1));
    let d = rsoc(0x80, 0, 0).data;
    assert_eq!(d[4 + 5], 0x02);
    assert_eq!(&d[12..14], &[0, 0x0A]);
    let d = rsoc(1, 0x12, 0).data;
    assert_eq!(&d[..5], &[0, 0x03, 0, 6, 0x12]);
    assert_eq!(sense_of(&rsoc(1, 0x9E, 0)), (0x5, 0x24, 0x00));
    assert_eq!(sense_of(&rsoc(2, 0x12, 0)), (0x5, 0x24, 0x00));
    let d = rsoc(2, 0x9E, 0x10).data;
    assert_eq!(&d[..5], &[0, 0x03, 0, 16, 0x9E]);
    assert_eq!(rsoc(1, 0xEE, 0).data, vec![0, 0x01, 0, 0]);
}
