//! The opcode table, walked: usage maps that match their CDBs, and every write-class
//! command refused under a WRITE EXCLUSIVE persistent reservation held by another nexus.

use super::super::opcodes::{self, Rule, ROWS};
use super::*;
use crate::spc::{MemPrStore, Unit, UnitOptions};
use crate::{cdb, Access, Identity, LogicalUnit};

fn unit() -> Unit<Disk> {
    let (_, d) = disk();
    let id = Identity {
        vendor: "VSA".into(),
        product: "disk".into(),
        revision: "0001".into(),
        serial: "SN1".into(),
        naa: NAA,
    };
    Unit::new(d, id, UnitOptions::default(), Arc::new(MemPrStore::new())).unwrap()
}

fn run(u: &Unit<Disk>, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
    u.execute(&Command {
        cdb,
        data_out: &crate::Bytes::copy_from_slice(data),
        expected_len: data.len() as u32,
        nexus: n,
        attr: Default::default(),
    })
}

/// TEST UNIT READY until the nexus's unit attentions are gone.
fn clear_ua(u: &Unit<Disk>, n: &Nexus) {
    let clear = (0..5).any(|_| run(u, n, &[0; 6], &[]).status == GOOD);
    assert!(clear, "unit attentions do not clear");
}

/// PERSISTENT RESERVE OUT with a 24-byte parameter list.
fn prout(u: &Unit<Disk>, n: &Nexus, sa: u8, kind: u8, key: u64, sark: u64) -> Status {
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sark.to_be_bytes());
    run(u, n, &[0x5F, sa, kind, 0, 0, 0, 0, 0, 24, 0], &p).status
}

/// The CDBs a row is tried with: its opcode and service action with every other byte
/// zero, the same with every bit its usage map names set, and for rows whose class
/// depends on the CDB each value of byte 4's low bits.
fn cdbs(row: &opcodes::Row, map: &[u8]) -> Vec<Vec<u8>> {
    let mut zero = vec![0u8; map.len()];
    zero[0] = row.opcode;
    if let Some(sa) = row.service_action() {
        zero[1] = sa;
    }
    let mut out = vec![zero.clone(), map.to_vec()];
    if let Rule::Cdb(_) = row.access {
        for b4 in 0..4u8 {
            let mut c = zero.clone();
            c[4] = b4;
            out.push(c);
        }
    }
    out
}

#[test]
fn usage_maps_are_as_long_as_their_cdbs_and_start_with_the_opcode() {
    for row in ROWS {
        for thin in [false, true] {
            let Some(map) = row.usage_map(thin) else {
                continue;
            };
            assert_eq!(Some(map.len()), cdb::cdb_len(map), "{}", row.name);
            assert_eq!(map.first(), Some(&row.opcode), "{}", row.name);
            if let Some(sa) = row.service_action() {
                assert_eq!(map[1] & 0x1F, sa, "{}: the service action", row.name);
            }
        }
    }
}

#[test]
fn every_write_class_command_conflicts_with_write_exclusive() {
    let u = unit();
    let (holder, other) = (nexus(1), nexus(2));
    clear_ua(&u, &holder);
    clear_ua(&u, &other);
    assert_eq!(prout(&u, &holder, 0, 0, 0, 0xAB), GOOD, "REGISTER");
    assert_eq!(
        prout(&u, &holder, 1, 0x1, 0xAB, 0),
        GOOD,
        "RESERVE, WRITE EXCLUSIVE"
    );
    let mut writes = 0;
    for row in ROWS {
        let Some(map) = row.usage_map(true) else {
            continue;
        };
        for c in cdbs(row, map) {
            let status = run(&u, &other, &c, &[]).status;
            let conflict = status == Status::ReservationConflict;
            match row.access(&c) {
                Access::Write => {
                    writes += 1;
                    assert!(conflict, "{} {c:02x?} got {status:?}", row.name);
                }
                Access::Read | Access::None => {
                    assert!(!conflict, "{} {c:02x?} conflicts", row.name);
                }
            }
        }
    }
    assert!(writes > 20, "the walk reached the write commands");
}

/// A command is served exactly when it has a row, and then it is classed by the row.
#[test]
fn every_served_command_has_a_row() {
    let (_, d) = disk();
    let n = nexus(1);
    for op in 0..=255u8 {
        for sa in 0..32u8 {
            let mut c = vec![0u8; 16];
            c[0] = op;
            c[1] = sa;
            let cmd = Command {
                cdb: &c,
                data_out: &crate::Bytes::new(),
                expected_len: 0,
                nexus: &n,
                attr: Default::default(),
            };
            let served = d.execute(&cmd, &CTX).is_some();
            let row = opcodes::find(&c);
            assert_eq!(served, row.is_some(), "{op:#04x}/{sa:#04x}");
            if let Some(row) = row {
                assert_eq!(d.access(&c), row.access(&c), "{}", row.name);
            }
        }
    }
}
