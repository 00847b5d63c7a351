//! The tape library over iSCSI from the host, with the project's own initiator: the
//! changer moves a cartridge into the drive, the drive writes, and after `kill -9` the
//! inventory and every record up to the last flush point are there; erasing gives the
//! pool its space back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vsa_e2e::initiator::{Initiator, Reply};
use vsa_e2e::Daemon;

const TARGET: &str = "iqn.2026-12.io.vsa:vtl.lib1";
const CHANGER: u64 = 0;
const DRIVE: u64 = 1;

fn login(d: &Daemon) -> Initiator {
    let mut i = Initiator::login(&d.iscsi_addr(), TARGET, "iqn.2026-01.test:host", 1).unwrap();
    i.clear_unit_attentions(CHANGER).unwrap();
    i
}

fn good(r: Reply) -> Reply {
    assert_eq!(r.status, 0, "sense {:02x?}", r.sense);
    r
}

/// (key, ASC, ASCQ) of fixed-format sense.
fn sense(r: &Reply) -> (u8, u8, u8) {
    (r.sense[2] & 0x0F, r.sense[12], r.sense[13])
}

fn record(n: u8) -> Vec<u8> {
    (0..8192u32).map(|i| (i as u8).wrapping_mul(n)).collect()
}

fn write(i: &mut Initiator, data: &[u8]) -> Reply {
    let n = (data.len() as u32).to_be_bytes();
    i.command(DRIVE, &[0x0A, 0, n[1], n[2], n[3], 0], data, 0)
        .unwrap()
}

fn read(i: &mut Initiator, len: u32) -> Reply {
    let n = len.to_be_bytes();
    i.command(DRIVE, &[0x08, 0x02, n[1], n[2], n[3], 0], &[], len)
        .unwrap()
}

/// MOVE MEDIUM with the library's transport (STK L700 addresses: slots from 1000, the
/// drive at 500).
fn move_medium(i: &mut Initiator, from: u16, to: u16) -> Reply {
    let (f, t) = (from.to_be_bytes(), to.to_be_bytes());
    i.command(
        CHANGER,
        &[0xA5, 0, 0, 1, f[0], f[1], t[0], t[1], 0, 0, 0, 0],
        &[],
        0,
    )
    .unwrap()
}

#[test]
fn the_inventory_and_records_up_to_the_last_flush_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = Daemon::start(&dir, &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "4", "--drives", "1"]);
    d.ok(&[
        "vtl",
        "tape",
        "create",
        "lib1",
        "VSA000L8..VSA001L8",
        "--capacity",
        "1G",
    ]);
    let mut i = login(&d);
    good(move_medium(&mut i, 1000, 500));
    // A moved cartridge comes with MEDIUM MAY HAVE CHANGED on the drive.
    i.clear_unit_attentions(DRIVE).unwrap();
    for n in 1..=3 {
        good(write(&mut i, &record(n)));
    }
    // WRITE FILEMARKS without IMMED: a flush point.
    good(i.command(DRIVE, &[0x10, 0, 0, 0, 1, 0], &[], 0).unwrap());
    good(write(&mut i, &record(4)));
    good(write(&mut i, &record(5)));
    // IMMED: not a flush point.
    good(i.command(DRIVE, &[0x10, 1, 0, 0, 1, 0], &[], 0).unwrap());
    drop(i);
    d.kill9();

    let d = Daemon::start(&dir, &[]);
    let lib = d.json(&["vtl", "show", "lib1"]);
    let drive = &lib["drive_status"][0];
    assert_eq!(
        (drive["barcode"].as_str(), drive["loaded"].as_bool()),
        (Some("VSA000L8"), Some(true)),
        "{lib}"
    );
    let slots: Vec<&str> = lib["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["barcode"].as_str())
        .collect();
    assert_eq!(
        slots,
        ["VSA000L8", "VSA001L8"],
        "each cartridge once: {lib}"
    );
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA000L8"]);
    assert_eq!(
        (tape["objects"].as_u64(), tape["filemarks"].as_u64()),
        (Some(4), Some(1)),
        "{tape}"
    );

    let mut i = login(&d);
    i.clear_unit_attentions(DRIVE).unwrap();
    good(i.command(DRIVE, &[0x01, 0, 0, 0, 0, 0], &[], 0).unwrap());
    for n in 1..=3 {
        assert_eq!(good(read(&mut i, 8192)).data, record(n));
    }
    let fm = read(&mut i, 8192);
    assert_eq!(
        (fm.status, sense(&fm), fm.sense[2] & 0x80),
        (2, (0, 0, 1), 0x80)
    );
    // The end of data is a clean record boundary: BLANK CHECK, never a torn record.
    let eod = read(&mut i, 8192);
    assert_eq!(sense(&eod), (0x8, 0x00, 0x05));

    let m = d.metrics();
    let get = |k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("no {k} in {:?}", m.keys().collect::<Vec<_>>()))
    };
    assert!(get("vsa_vtl_drive_bytes_read_total{drive=\"1\",library=\"lib1\"}") >= 3.0 * 8192.0);
    assert_eq!(
        get("vsa_vtl_drive_errors_total{drive=\"1\",library=\"lib1\",sense_key=\"0x8\"}"),
        1.0
    );
    assert_eq!(get("vsa_vtl_slots{library=\"lib1\",state=\"free\"}"), 3.0);
    assert_eq!(get("vsa_vtl_cartridges{library=\"lib1\"}"), 2.0);

    // Erasing from the beginning gives the pool the space back.
    let allocated = || {
        let v = d.json(&["volume", "list"]);
        v.as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "vtl.lib1")
            .unwrap()["allocated"]
            .as_u64()
            .unwrap()
    };
    let before = allocated();
    assert!(before > 0);
    good(i.command(DRIVE, &[0x01, 0, 0, 0, 0, 0], &[], 0).unwrap());
    good(i.command(DRIVE, &[0x19, 0x01, 0, 0, 0, 0], &[], 0).unwrap());
    assert!(allocated() < before, "{} then {}", before, allocated());
    // Out of the drive through the robot; the API sees it back in its slot.
    good(move_medium(&mut i, 500, 1000));
    let tape = d.json(&["vtl", "tape", "show", "lib1", "VSA000L8"]);
    assert_eq!(
        (tape["location"].as_str(), tape["objects"].as_u64()),
        (Some("slot 1"), Some(0))
    );
}

#[test]
fn bad_requests_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "4", "--drives", "1"]);
    let fail = |args: &[&str], want: &str| {
        let o = d.cli(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
    };
    fail(
        &["vtl", "create", "lib1", "--slots", "4", "--drives", "1"],
        "already exists",
    );
    fail(
        &["vtl", "create", "Lib2", "--slots", "4", "--drives", "1"],
        "not a library name",
    );
    fail(
        &[
            "vtl",
            "create",
            "lib3",
            "--slots",
            "4",
            "--drives",
            "1",
            "--drive-model",
            "ibm-lto4",
        ],
        "unknown drive model",
    );
    fail(
        &[
            "vtl", "create", "lib4", "--slots", "4", "--drives", "1", "--target", TARGET,
        ],
        "is taken by tape library 'lib1'",
    );
    fail(
        &["target", "create", TARGET],
        "is taken by tape library 'lib1'",
    );
    fail(
        &["vtl", "tape", "create", "lib1", "VSA001X8"],
        "media identifier",
    );
    fail(
        &[
            "vtl", "tape", "create", "lib1", "VSA001L7", "--media", "LTO8",
        ],
        "names LTO7 media",
    );
    fail(
        &["vtl", "tape", "create", "lib1", "VSA001L8", "--worm"],
        "WORM",
    );
    d.ok(&["vtl", "tape", "create", "lib1", "VSA000L8..VSA003L8"]);
    fail(
        &["vtl", "tape", "create", "lib1", "VSA003L8"],
        "already has cartridge VSA003L8",
    );
    fail(&["vtl", "tape", "create", "lib1", "VSA004L8"], "free");
    fail(
        &["vtl", "tape", "move", "lib1", "slot:9", "drive:1"],
        "no element 'slot:9'",
    );
    fail(&["vtl", "tape", "move", "lib1", "slot:1", "slot:2"], "full");
    fail(&["volume", "delete", "vtl.lib1"], "tape library 'lib1'");
    fail(&["vtl", "delete", "lib1"], "holds 4 cartridges");
    d.ok(&["vtl", "tape", "move", "lib1", "slot:1", "drive:1"]);
    fail(
        &["vtl", "tape", "delete", "lib1", "VSA000L8"],
        "is in a drive",
    );
    d.ok(&["vtl", "tape", "export", "lib1", "VSA001L8"]);
    let t = d.json(&["vtl", "tape", "show", "lib1", "VSA001L8"]);
    assert_eq!(t["location"], "shelf");
    fail(
        &["vtl", "tape", "move", "lib1", "slot:2", "slot:3"],
        "empty",
    );
    d.ok(&["vtl", "tape", "import", "lib1", "VSA001L8"]);
    let t = d.json(&["vtl", "tape", "show", "lib1", "VSA001L8"]);
    assert_eq!(t["location"], "mail 1");
    let mut session = login(&d);
    d.ok(&["vtl", "delete", "lib1", "--force"]);
    assert!(
        session.command(CHANGER, &[0; 6], &[], 0).is_err(),
        "the library's sessions end with it"
    );
    assert!(d.json(&["volume", "list"]).as_array().unwrap().is_empty());
    assert!(d.json(&["vtl", "list"]).as_array().unwrap().is_empty());
}

#[test]
fn a_library_can_have_a_target_per_device() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&[
        "vtl",
        "create",
        "lib2",
        "--slots",
        "4",
        "--drives",
        "2",
        "--target-per-device",
    ]);
    let base = "iqn.2026-12.io.vsa:vtl.lib2";
    for (suffix, peripheral) in [("changer", 0x08), ("drive1", 0x01), ("drive2", 0x01)] {
        let name = format!("{base}.{suffix}");
        let mut i = Initiator::login(&d.iscsi_addr(), &name, "iqn.2026-01.test:host", 1).unwrap();
        // INQUIRY answers whatever unit attention is pending (an empty drive is not ready).
        let inq = good(i.command(0, &[0x12, 0, 0, 0, 96, 0], &[], 96).unwrap());
        assert_eq!(inq.data[0], peripheral, "{name}");
        // Only LUN 0 on each (REPORT LUNS, after the power-on unit attention).
        let _ = i.command(0, &[0; 6], &[], 0).unwrap();
        let luns = good(
            i.command(0, &[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[], 256)
                .unwrap(),
        );
        assert_eq!(&luns.data[..4], &[0, 0, 0, 8], "{name}");
    }
    assert!(Initiator::login(&d.iscsi_addr(), base, "iqn.2026-01.test:host", 1).is_err());
    let lib = d.json(&["vtl", "show", "lib2"]);
    assert_eq!(lib["devices"][2][0], format!("{base}.drive2"));
    d.ok(&["vtl", "delete", "lib2"]);
    d.ok(&["target", "create", &format!("{base}.drive1")]);
}

#[test]
fn scratch_cartridges_are_created_as_they_are_used() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&[
        "vtl",
        "create",
        "lib1",
        "--slots",
        "6",
        "--drives",
        "1",
        "--scratch",
        "2",
        "--scratch-capacity",
        "1G",
    ]);
    let labels = || -> Vec<String> {
        let v = d.json(&["vtl", "tape", "list", "lib1"]);
        let mut l: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["barcode"].as_str().unwrap().to_owned())
            .collect();
        l.sort();
        l
    };
    assert_eq!(labels(), ["SCR001L8", "SCR002L8"]);
    // Write to SCR001L8: it is no longer blank, and a third one comes.
    let mut i = login(&d);
    good(move_medium(&mut i, 1000, 500));
    i.clear_unit_attentions(DRIVE).unwrap();
    good(write(&mut i, &record(1)));
    good(move_medium(&mut i, 500, 1000));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while labels().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no third scratch cartridge: {:?}",
            labels()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(labels(), ["SCR001L8", "SCR002L8", "SCR003L8"]);
    let t = d.json(&["vtl", "tape", "show", "lib1", "SCR003L8"]);
    assert_eq!(t["capacity"], 1u64 << 30);
    // Raising the setting creates them at once; a bad prefix is refused.
    d.ok(&[
        "vtl",
        "set",
        "lib1",
        "--scratch",
        "3",
        "--scratch-prefix",
        "AB",
    ]);
    assert_eq!(labels().len(), 4);
    assert!(labels().contains(&"AB0001L8".to_owned()));
    let o = d.cli(&["vtl", "set", "lib1", "--scratch-prefix", "abcd"]);
    assert!(!o.status.success());
}

#[test]
fn drives_ask_for_cleaning_and_a_cleaning_cartridge_cleans() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    d.ok(&[
        "vtl",
        "create",
        "lib1",
        "--slots",
        "4",
        "--drives",
        "1",
        "--clean-every",
        "1",
    ]);
    d.ok(&["vtl", "tape", "create", "lib1", "VSA000L8", "CLN001CU"]);
    let due = || {
        d.json(&["vtl", "show", "lib1"])["drive_status"][0]["cleaning_due"]
            .as_bool()
            .unwrap()
    };
    d.ok(&["vtl", "tape", "move", "lib1", "slot:1", "drive:1"]);
    assert!(due());
    // TapeAlert says so to the backup software: flag 20, CLEAN NOW.
    let mut i = login(&d);
    i.clear_unit_attentions(DRIVE).unwrap();
    let page = good(
        i.command(DRIVE, &[0x4D, 0, 0x2E, 0, 0, 0, 0, 2, 0, 0], &[], 512)
            .unwrap(),
    );
    assert_eq!(page.data[4 + 5 * 19 + 4], 1);
    d.ok(&["vtl", "tape", "move", "lib1", "drive:1", "slot:1"]);
    d.ok(&["vtl", "tape", "move", "lib1", "slot:2", "drive:1"]);
    assert!(!due());
    let lib = d.json(&["vtl", "show", "lib1"]);
    assert_eq!(
        lib["drive_status"][0]["loaded"], false,
        "the cleaning cartridge is ejected: {lib}"
    );
    d.ok(&["vtl", "tape", "move", "lib1", "drive:1", "slot:2"]);
}

#[test]
fn a_drive_keeps_aptpl_reservations_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = Daemon::start(&dir, &[]);
    d.ok(&["vtl", "create", "lib1", "--slots", "2", "--drives", "1"]);
    let mut i = login(&d);
    let _ = i.command(DRIVE, &[0; 6], &[], 0).unwrap();
    // PERSISTENT RESERVE OUT, REGISTER key 0x1234 with APTPL.
    let mut params = [0u8; 24];
    params[8..16].copy_from_slice(&0x1234u64.to_be_bytes());
    params[20] = 0x01;
    good(
        i.command(DRIVE, &[0x5F, 0x00, 0, 0, 0, 0, 0, 0, 24, 0], &params, 0)
            .unwrap(),
    );
    drop(i);
    assert!(d.stop().success());
    let d = Daemon::start(&dir, &[]);
    let mut i = login(&d);
    let _ = i.command(DRIVE, &[0; 6], &[], 0).unwrap();
    // PERSISTENT RESERVE IN, READ KEYS.
    let keys = good(
        i.command(DRIVE, &[0x5E, 0x00, 0, 0, 0, 0, 0, 0, 64, 0], &[], 64)
            .unwrap(),
    );
    assert_eq!(&keys.data[4..8], &[0, 0, 0, 8], "one key");
    assert_eq!(&keys.data[8..16], &0x1234u64.to_be_bytes());
}
