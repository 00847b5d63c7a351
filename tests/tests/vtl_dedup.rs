//! Deduplication across a library's cartridges, over iSCSI from the host: the same backup
//! written to two cartridges takes the pool space of one, both read back, the saving shows
//! in the API and the metrics, survives a restart, and erasing gives the space back once
//! no cartridge refers to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vsa_e2e::initiator::{Initiator, Reply};
use vsa_e2e::Daemon;

const TARGET: &str = "iqn.2026-12.io.vsa:vtl.lib1";
const CHANGER: u64 = 0;
const DRIVE: u64 = 1;
const RECORD: usize = 64 << 10;
const RECORDS: u64 = 96;

fn good(r: Reply) -> Reply {
    assert_eq!(r.status, 0, "sense {:02x?}", r.sense);
    r
}

/// Record `n` of the backup: bytes that do not repeat (xorshift).
fn record(n: u64) -> Vec<u8> {
    let mut x = (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..RECORD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn login(d: &Daemon) -> Initiator {
    let mut i = Initiator::login(&d.iscsi_addr(), TARGET, "iqn.2026-01.test:host", 1).unwrap();
    i.clear_unit_attentions(CHANGER).unwrap();
    i
}

/// MOVE MEDIUM (STK L700 addresses: slots from 1000, the drive at 500).
fn move_medium(i: &mut Initiator, from: u16, to: u16) {
    let (f, t) = (from.to_be_bytes(), to.to_be_bytes());
    good(
        i.command(
            CHANGER,
            &[0xA5, 0, 0, 1, f[0], f[1], t[0], t[1], 0, 0, 0, 0],
            &[],
            0,
        )
        .unwrap(),
    );
}

/// Loads the cartridge in `slot`, writes the backup and a filemark, returns it.
fn back_up(i: &mut Initiator, slot: u16) {
    move_medium(i, slot, 500);
    i.clear_unit_attentions(DRIVE).unwrap();
    let n = (RECORD as u32).to_be_bytes();
    for k in 0..RECORDS {
        let w = [0x0A, 0, n[1], n[2], n[3], 0];
        good(i.command(DRIVE, &w, &record(k), 0).unwrap());
    }
    good(i.command(DRIVE, &[0x10, 0, 0, 0, 1, 0], &[], 0).unwrap());
    move_medium(i, 500, slot);
}

/// Loads the cartridge in `slot` and checks every record of the backup.
fn verify(i: &mut Initiator, slot: u16) {
    move_medium(i, slot, 500);
    i.clear_unit_attentions(DRIVE).unwrap();
    let n = (RECORD as u32).to_be_bytes();
    for k in 0..RECORDS {
        let r = good(
            i.command(DRIVE, &[0x08, 0, n[1], n[2], n[3], 0], &[], RECORD as u32)
                .unwrap(),
        );
        assert!(
            r.data == record(k),
            "record {k} of the cartridge in slot {slot}"
        );
    }
    move_medium(i, 500, slot);
}

fn allocated(d: &Daemon) -> u64 {
    d.json(&["volume", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "vtl.lib1")
        .unwrap()["allocated"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_repeated_backup_takes_the_space_of_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = Daemon::start(&dir, &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "4", "--drives", "1"]);
    d.ok(&["vtl", "tape", "create", "lib1", "VSA000L8..VSA001L8"]);
    let mut i = login(&d);
    let empty = allocated(&d);
    back_up(&mut i, 1000);
    let one = allocated(&d) - empty;
    assert!(one >= RECORDS * RECORD as u64, "{one}");
    back_up(&mut i, 1001);
    let two = allocated(&d) - empty;
    assert!(
        two < one + one / 4,
        "the second copy took {} bytes",
        two - one
    );

    let lib = d.json(&["vtl", "show", "lib1"]);
    let backup = RECORDS * RECORD as u64;
    assert_eq!(lib["dedup"], true, "{lib}");
    assert_eq!(lib["dedup_saved_bytes"].as_u64(), Some(backup), "{lib}");
    assert_eq!(lib["dedup_unique_bytes"].as_u64(), Some(backup), "{lib}");
    let second = d.json(&["vtl", "tape", "show", "lib1", "VSA001L8"]);
    assert_eq!(second["dedup_saved"].as_u64(), Some(backup), "{second}");
    let m = d.metrics();
    assert_eq!(m.get("vsa_vtl_dedup_ratio{library=\"lib1\"}"), Some(&2.0));
    drop(i);

    // After a restart both cartridges read back and the saving is the same.
    d.stop();
    let d = Daemon::start(&dir, &[]);
    let mut i = login(&d);
    verify(&mut i, 1000);
    verify(&mut i, 1001);
    let lib = d.json(&["vtl", "show", "lib1"]);
    assert_eq!(lib["dedup_saved_bytes"].as_u64(), Some(backup), "{lib}");

    // Erasing one copy frees nothing the other needs; erasing both frees the backup.
    d.ok(&["vtl", "tape", "erase", "lib1", "VSA000L8"]);
    verify(&mut i, 1001);
    assert!(allocated(&d) - empty > backup - backup / 8);
    d.ok(&["vtl", "tape", "erase", "lib1", "VSA001L8"]);
    let left = allocated(&d) - empty;
    assert!(left < backup / 4, "{left} bytes left after erasing both");
    let lib = d.json(&["vtl", "show", "lib1"]);
    assert_eq!(lib["dedup_chunks"].as_u64(), Some(0), "{lib}");

    // Turned off, new records are stored whole.
    d.ok(&["vtl", "set", "lib1", "--dedup", "off"]);
    back_up(&mut i, 1000);
    back_up(&mut i, 1001);
    let lib = d.json(&["vtl", "show", "lib1"]);
    assert_eq!(
        (lib["dedup"].as_bool(), lib["dedup_chunks"].as_u64()),
        (Some(false), Some(0)),
        "{lib}"
    );
    assert!(allocated(&d) - empty >= 2 * backup);
    verify(&mut i, 1001);
}
