//! RESERVE(6)/RELEASE(6) and persistent reservations.

use std::sync::Arc;

use crate::{LogicalUnit, Nexus, Reset, Response, Status};

use super::{clear_ua, nexus, run, sense_of, unit, unit_with, TinyDisk};
use crate::spc::{MemPrStore, Unit, UnitOptions};

#[test]
fn reserve6_between_two_nexuses() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    let res = [0x16, 0, 0, 0, 0, 0];
    let rel = [0x17, 0, 0, 0, 0, 0];
    assert_eq!(run(&u, &a, &res, &[]).status, Status::Good);
    assert_eq!(run(&u, &a, &res, &[]).status, Status::Good);
    assert_eq!(run(&u, &b, &res, &[]).status, Status::ReservationConflict);
    assert_eq!(run(&u, &b, &rel, &[]).status, Status::Good);
    let ms = [0x1A, 0, 0x3F, 0, 255, 0];
    assert_eq!(run(&u, &a, &ms, &[]).status, Status::Good);
    assert_eq!(run(&u, &b, &ms, &[]).status, Status::ReservationConflict);
    assert_eq!(
        run(&u, &b, &[0x12, 0, 0, 0, 36, 0], &[]).status,
        Status::Good
    );
    assert_eq!(run(&u, &a, &rel, &[]).status, Status::Good);
    assert_eq!(run(&u, &b, &res, &[]).status, Status::Good);
    // Losing the nexus releases its reservation.
    u.nexus_lost(&b);
    assert_eq!(run(&u, &a, &res, &[]).status, Status::Good);
    // So does a LU reset.
    u.reset(Reset::LogicalUnit, &a);
    clear_ua(&u, &b);
    assert_eq!(run(&u, &b, &res, &[]).status, Status::Good);
}

fn prout(u: &Unit<TinyDisk>, n: &Nexus, sa: u8, ty: u8, key: u64, sark: u64) -> Response {
    prout_flags(u, n, sa, ty, key, sark, 0)
}

fn prout_flags(
    u: &Unit<TinyDisk>,
    n: &Nexus,
    sa: u8,
    ty: u8,
    key: u64,
    sark: u64,
    flags: u8,
) -> Response {
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sark.to_be_bytes());
    p[20] = flags;
    run(u, n, &[0x5F, sa, ty, 0, 0, 0, 0, 0, 24, 0], &p)
}

fn prin(u: &Unit<TinyDisk>, n: &Nexus, sa: u8, alloc: u16) -> Response {
    let [hi, lo] = alloc.to_be_bytes();
    run(u, n, &[0x5E, sa, 0, 0, 0, 0, 0, hi, lo, 0], &[])
}

fn keys(u: &Unit<TinyDisk>, n: &Nexus) -> (u32, Vec<u64>) {
    let d = prin(u, n, 0, 4096).data;
    let gen = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let k = d[8..]
        .chunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    (gen, k)
}

#[test]
fn register_reserve_release_clear() {
    let store = Arc::new(MemPrStore::new());
    let u = unit_with(store.clone(), UnitOptions::default());
    let a = nexus("iqn.a", 1);
    clear_ua(&u, &a);
    assert_eq!(prout(&u, &a, 6, 0, 0, 0xABC).status, Status::Good);
    assert_eq!(keys(&u, &a).1, vec![0xABC]);
    assert!(store.saved().is_some());
    // Re-register with the wrong key conflicts.
    assert_eq!(
        prout(&u, &a, 0, 0, 0, 0xABD).status,
        Status::ReservationConflict
    );
    for ty in [1u8, 3, 5, 6, 7, 8] {
        assert_eq!(prout(&u, &a, 1, ty, 0xABC, 0).status, Status::Good);
        let d = prin(&u, &a, 1, 4096).data;
        assert_eq!(&d[4..8], &[0, 0, 0, 16]);
        let key = if ty >= 7 { 0 } else { 0xABC };
        assert_eq!(u64::from_be_bytes(d[8..16].try_into().unwrap()), key);
        assert_eq!(d[21], ty);
        // A different type from the holder conflicts; release needs the right type.
        let other = if ty == 1 { 3 } else { 1 };
        assert_eq!(
            prout(&u, &a, 1, other, 0xABC, 0).status,
            Status::ReservationConflict
        );
        assert_eq!(
            sense_of(&prout(&u, &a, 2, other, 0xABC, 0)),
            (0x5, 0x26, 0x04)
        );
        assert_eq!(prout(&u, &a, 2, ty, 0xABC, 0).status, Status::Good);
    }
    let (gen, _) = keys(&u, &a);
    assert_eq!(prout(&u, &a, 1, 3, 0xABC, 0).status, Status::Good);
    assert_eq!(prout(&u, &a, 3, 0, 0xABC, 0).status, Status::Good);
    assert_eq!(keys(&u, &a), (gen + 1, vec![]));
    assert_eq!(&prin(&u, &a, 1, 4096).data[4..8], &[0, 0, 0, 0]);
    // Truncated READ KEYS keeps the full ADDITIONAL LENGTH.
    assert_eq!(prout(&u, &a, 6, 0, 0, 7).status, Status::Good);
    assert_eq!(prin(&u, &a, 0, 8).data[4..8], [0, 0, 0, 8]);
    // Service actions 4.. of PR IN are invalid; 0..3 work.
    for sa in 0..4 {
        assert_eq!(prin(&u, &a, sa, 4096).status, Status::Good);
    }
    assert_eq!(sense_of(&prin(&u, &a, 4, 4096)), (0x5, 0x24, 0x00));
}

#[test]
fn report_capabilities_and_full_status() {
    let u = unit();
    let a = nexus("iqn.a", 0x23D000001);
    clear_ua(&u, &a);
    let d = prin(&u, &a, 2, 4096).data;
    assert_eq!(d, vec![0, 8, 0x05, 0xB0, 0xEA, 0x01, 0, 0]);
    assert_eq!(prout_flags(&u, &a, 6, 0, 0, 5, 0x05).status, Status::Good);
    assert_eq!(prin(&u, &a, 2, 4096).data[3], 0xB1);
    assert_eq!(prout(&u, &a, 1, 6, 5, 0).status, Status::Good);
    let d = prin(&u, &a, 3, 4096).data;
    assert_eq!(
        u32::from_be_bytes([d[4], d[5], d[6], d[7]]) as usize,
        d.len() - 8
    );
    assert_eq!(u64::from_be_bytes(d[8..16].try_into().unwrap()), 5);
    assert_eq!((d[20], d[21]), (0x03, 0x06)); // ALL_TG_PT, R_HOLDER; type
    assert_eq!(d[32], 0x45);
    assert!(d[36..].starts_with(b"iqn.a,i,0x00023d000001\0"));
    // SPEC_I_PT is not supported.
    let r = prout_flags(&u, &a, 0, 0, 5, 6, 0x08);
    assert_eq!(sense_of(&r), (0x5, 0x26, 0x00));
    // Wrong parameter list length.
    let r = run(&u, &a, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 20, 0], &[0; 20]);
    assert_eq!(sense_of(&r), (0x5, 0x1A, 0x00));
}

/// The access matrix of libiscsi's ProutReserve Access tests.
#[test]
fn reservation_access_by_type() {
    let read = [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0];
    let write = [0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0];
    let ok = |r: Response| r.status == Status::Good;
    for (ty, rr, rw, ur, uw) in [
        (3u8, false, false, false, false),
        (1, true, false, true, false),
        (6, true, true, false, false),
        (5, true, true, true, false),
        (8, true, true, false, false),
        (7, true, true, true, false),
    ] {
        let u = unit();
        let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
        clear_ua(&u, &a);
        clear_ua(&u, &b);
        assert!(ok(prout(&u, &a, 6, 0, 0, 1)));
        assert!(ok(prout(&u, &b, 6, 0, 0, 2)));
        assert!(ok(prout(&u, &a, 1, ty, 1, 0)));
        assert!(ok(run(&u, &a, &read, &[])));
        assert!(ok(run(&u, &a, &write, &[0; 512])));
        assert_eq!(ok(run(&u, &b, &read, &[])), rr, "type {ty}");
        assert_eq!(ok(run(&u, &b, &write, &[0; 512])), rw, "type {ty}");
        assert!(ok(prout(&u, &b, 0, 0, 2, 0)));
        assert_eq!(ok(run(&u, &b, &read, &[])), ur, "type {ty}");
        assert_eq!(ok(run(&u, &b, &write, &[0; 512])), uw, "type {ty}");
        assert!(
            ok(run(&u, &b, &[0; 6], &[])),
            "TEST UNIT READY is always allowed"
        );
        assert!(ok(prout(&u, &a, 2, ty, 1, 0)));
        assert!(ok(prout(&u, &a, 0, 0, 1, 0)));
    }
}

/// libiscsi's ProutReserve Ownership tests: unregistering the holder releases a
/// reservation unless it is of an all-registrants type.
#[test]
fn reservation_ownership_by_type() {
    for ty in [1u8, 3, 5, 6, 7, 8] {
        let u = unit();
        let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
        clear_ua(&u, &a);
        clear_ua(&u, &b);
        assert_eq!(prout(&u, &a, 6, 0, 0, 1).status, Status::Good);
        assert_eq!(prout(&u, &b, 6, 0, 0, 2).status, Status::Good);
        assert_eq!(prout(&u, &a, 1, ty, 1, 0).status, Status::Good);
        assert_eq!(prout(&u, &a, 0, 0, 1, 0).status, Status::Good);
        let reserved = prin(&u, &a, 1, 4096).data[7] != 0;
        assert_eq!(reserved, ty >= 7, "type {ty}");
        if reserved {
            assert_eq!(prout(&u, &b, 2, ty, 2, 0).status, Status::Good);
        } else {
            let r = run(&u, &b, &[0; 6], &[]);
            if ty == 5 || ty == 6 {
                assert_eq!(sense_of(&r), (0x6, 0x2A, 0x04));
            } else {
                assert_eq!(r.status, Status::Good);
            }
        }
        assert_eq!(prout(&u, &b, 0, 0, 2, 0).status, Status::Good, "type {ty}");
    }
}

#[test]
fn preempt_removes_registration_and_raises_attention() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    assert_eq!(prout(&u, &a, 6, 0, 0, 1).status, Status::Good);
    assert_eq!(prout(&u, &b, 6, 0, 0, 2).status, Status::Good);
    let (gen, _) = keys(&u, &a);
    assert_eq!(prout(&u, &b, 4, 3, 2, 1).status, Status::Good);
    assert_eq!(sense_of(&run(&u, &a, &[0; 6], &[])), (0x6, 0x2A, 0x05));
    assert_eq!(run(&u, &b, &[0; 6], &[]).status, Status::Good);
    assert_eq!(keys(&u, &a), (gen + 1, vec![2]));
    // Preempting the holder takes over its reservation.
    assert_eq!(prout(&u, &a, 6, 0, 0, 1).status, Status::Good);
    assert_eq!(prout(&u, &a, 1, 3, 1, 0).status, Status::Good);
    assert_eq!(prout(&u, &b, 4, 1, 2, 1).status, Status::Good);
    let d = prin(&u, &b, 1, 4096).data;
    assert_eq!(
        (u64::from_be_bytes(d[8..16].try_into().unwrap()), d[21]),
        (2, 1)
    );
    assert_eq!(prout(&u, &b, 4, 1, 2, 0).status, Status::CheckCondition);
}

#[test]
fn register_and_move_hands_over_the_reservation() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 7));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    assert_eq!(prout(&u, &a, 6, 0, 0, 1).status, Status::Good);
    assert_eq!(prout(&u, &a, 1, 3, 1, 0).status, Status::Good);
    let tid = crate::spc::transport_id::encode("iqn.b", Some(7));
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&1u64.to_be_bytes());
    p[8..16].copy_from_slice(&9u64.to_be_bytes());
    p[17] = 0x02; // UNREG
    p[19] = 1; // relative target port 1
    p[20..24].copy_from_slice(&(tid.len() as u32).to_be_bytes());
    p.extend_from_slice(&tid);
    let len = p.len() as u8;
    let r = run(&u, &a, &[0x5F, 7, 3, 0, 0, 0, 0, 0, len, 0], &p);
    assert_eq!(r.status, Status::Good);
    assert_eq!(keys(&u, &b).1, vec![9]);
    assert_eq!(
        run(&u, &b, &[0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0], &[0; 512]).status,
        Status::Good
    );
    assert_eq!(
        run(&u, &a, &[0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], &[]).status,
        Status::ReservationConflict
    );
}

#[test]
fn reserve6_and_persistent_reservations_exclude_each_other() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    assert_eq!(
        run(&u, &a, &[0x16, 0, 0, 0, 0, 0], &[]).status,
        Status::Good
    );
    assert_eq!(prin(&u, &a, 0, 4096).status, Status::ReservationConflict);
    assert_eq!(
        run(&u, &a, &[0x17, 0, 0, 0, 0, 0], &[]).status,
        Status::Good
    );
    assert_eq!(prout(&u, &b, 6, 0, 0, 1).status, Status::Good);
    let r = run(&u, &a, &[0x16, 0, 0, 0, 0, 0], &[]);
    assert_eq!(r.status, Status::ReservationConflict);
}

#[test]
fn persistence_honours_aptpl() {
    let store = Arc::new(MemPrStore::new());
    let a = nexus("iqn.a", 1);
    {
        let u = unit_with(store.clone(), UnitOptions::default());
        clear_ua(&u, &a);
        assert_eq!(prout(&u, &a, 6, 0, 0, 1).status, Status::Good);
        assert_eq!(prout(&u, &a, 1, 3, 1, 0).status, Status::Good);
    }
    let u = unit_with(store.clone(), UnitOptions::default());
    clear_ua(&u, &a);
    assert_eq!(keys(&u, &a), (0, vec![]));
    assert_eq!(prout_flags(&u, &a, 6, 0, 0, 1, 0x01).status, Status::Good);
    assert_eq!(prout(&u, &a, 1, 3, 1, 0).status, Status::Good);
    let u = unit_with(store.clone(), UnitOptions::default());
    let b = nexus("iqn.b", 1);
    clear_ua(&u, &b);
    assert_eq!(keys(&u, &b), (0, vec![1]));
    assert_eq!(
        run(&u, &b, &[0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], &[]).status,
        Status::ReservationConflict
    );
    // A failed save leaves the state as it was.
    store.fail_saves(true);
    let r = prout(&u, &b, 6, 0, 0, 2);
    assert_eq!(sense_of(&r), (0x4, 0x44, 0x00));
    assert_eq!(keys(&u, &b).1, vec![1]);
}
