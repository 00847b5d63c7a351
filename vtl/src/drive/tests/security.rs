//! SECURITY PROTOCOL IN/OUT and encrypted records: every page, every mode, the wrong key,
//! no key, CKOD, scopes and locks, and parameter lists refused by field.

use super::*;
use crate::store::crypt::{Cipher, Key};
use crate::store::Tape;
use proptest::prelude::*;
use vsa_blockdev::BlockDevice;
use vsa_scsi::Reset;

const KEY_A: [u8; 32] = [0xA1; 32];
const KEY_B: [u8; 32] = [0xB2; 32];

/// Lets nexus `n` see its pending unit attentions.
fn quiet(r: &Rig, n: &Nexus) {
    for _ in 0..4 {
        if sense_of(&r.run_as(n, &[0; 6], &[])).0 != 0x6 {
            return;
        }
    }
    panic!("unit attentions do not end");
}

/// SECURITY PROTOCOL IN of `protocol`/`page` with allocation length `alloc`.
fn spin(r: &Rig, protocol: u8, page: u16, alloc: u32) -> Response {
    let p = page.to_be_bytes();
    let a = alloc.to_be_bytes();
    r.run(
        &[
            0xA2, protocol, p[0], p[1], 0, 0, a[0], a[1], a[2], a[3], 0, 0,
        ],
        &[],
    )
}

fn spin_as(r: &Rig, n: &Nexus, page: u16) -> Vec<u8> {
    let p = page.to_be_bytes();
    let resp = r.run_as(n, &[0xA2, 0x20, p[0], p[1], 0, 0, 0, 0, 0x20, 0, 0, 0], &[]);
    assert_eq!(resp.status, Status::Good, "{:?}", sense_of(&resp));
    resp.data
}

/// A Set Data Encryption page.
fn set_page(scope: u8, lock: bool, flags: u8, enc: u8, dec: u8, key: Option<&[u8]>) -> Vec<u8> {
    let mut b = vec![0u8; 20];
    b[0..2].copy_from_slice(&[0x00, 0x10]);
    b[4] = (scope << 5) | u8::from(lock);
    b[5] = flags;
    b[6] = enc;
    b[7] = dec;
    b[8] = 1;
    if let Some(k) = key {
        b[18..20].copy_from_slice(&(k.len() as u16).to_be_bytes());
        b.extend_from_slice(k);
    }
    let n = (b.len() - 4) as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    b
}

/// SECURITY PROTOCOL OUT of a parameter list, as nexus `n`.
fn spout_as(r: &Rig, n: &Nexus, list: &[u8]) -> Response {
    let l = (list.len() as u32).to_be_bytes();
    r.run_as(
        n,
        &[0xB5, 0x20, 0x00, 0x10, 0, 0, l[0], l[1], l[2], l[3], 0, 0],
        list,
    )
}

fn spout(r: &Rig, list: &[u8]) -> Response {
    spout_as(r, &r.nexus, list)
}

/// Encrypt and decrypt (`dec`) with `key` for every nexus, as stenc does (scope ALL I_T
/// NEXUS).
fn set_key(r: &Rig, key: &[u8], dec: u8, ckod: bool) {
    let flags = u8::from(ckod) << 2;
    let resp = spout(r, &set_page(2, false, flags, 2, dec, Some(key)));
    assert_eq!(resp.status, Status::Good, "{:?}", sense_of(&resp));
}

fn encryption_off(r: &Rig) {
    let resp = spout(r, &set_page(2, false, 0, 0, 0, Some(&[0; 32])));
    assert_eq!(resp.status, Status::Good, "{:?}", sense_of(&resp));
}

/// (encryption mode, decryption mode, algorithm index, key instance) of the status page.
fn modes(r: &Rig) -> (u8, u8, u8, u32) {
    let d = spin_as(r, &r.nexus, 0x0020);
    (
        d[5],
        d[6],
        d[7],
        u32::from_be_bytes(d[8..12].try_into().unwrap()),
    )
}

/// (ENCRYPTION STATUS, ALGORITHM INDEX) of the next block encryption status page.
fn next_block(r: &Rig) -> (u8, u8) {
    let d = spin_as(r, &r.nexus, 0x0021);
    assert_eq!(&d[4..12], &r.pos().to_be_bytes());
    (d[12] & 0x0F, d[13])
}

/// The sense-key specific field pointer: (in the CDB, byte, bit if given).
fn field(r: &Response) -> (bool, u16, Option<u8>) {
    let s = r.sense.as_deref().unwrap();
    assert_eq!(s[15] & 0x80, 0x80, "SKSV");
    let bit = (s[15] & 0x08 != 0).then_some(s[15] & 0x07);
    (s[15] & 0x40 != 0, u16::from_be_bytes([s[16], s[17]]), bit)
}

#[test]
fn security_protocol_in_lists_protocols_and_pages() {
    let r = rig_with(DriveModel::DEFAULT);
    let d = spin(&r, 0x00, 0x0000, 64).data;
    assert_eq!(d, [0, 0, 0, 0, 0, 0, 0, 2, 0x00, 0x20]);
    // No certificate.
    assert_eq!(spin(&r, 0x00, 0x0001, 64).data, [0, 0, 0, 0]);
    let d = spin(&r, 0x20, 0x0000, 64).data;
    assert_eq!(
        d,
        [0, 0, 0, 14, 0, 0, 0, 1, 0, 0x10, 0, 0x11, 0, 0x12, 0, 0x20, 0, 0x21]
    );
    assert_eq!(spin(&r, 0x20, 0x0001, 64).data, [0, 1, 0, 2, 0, 0x10]);
    assert_eq!(spin(&r, 0x20, 0x0011, 64).data, [0, 0x11, 0, 1, 0]);
    let d = spin(&r, 0x20, 0x0012, 64).data;
    assert_eq!(
        (&d[..4], d[4], d[5], d[7]),
        (&[0, 0x12, 0, 12][..], 1, 4, 7)
    );
    // ALLOCATION LENGTH cuts; INC_512 counts 512-byte units.
    assert_eq!(spin(&r, 0x20, 0x0000, 6).data, [0, 0, 0, 14, 0, 0]);
    let inc = r.run(&[0xA2, 0x20, 0, 0, 0x80, 0, 0, 0, 0, 1, 0, 0], &[]);
    assert_eq!(inc.data.len(), 18);
    // Unknown protocols and pages: INVALID FIELD IN CDB, pointing at the field.
    for (proto, page, at) in [(0x01, 0, 1), (0xEF, 0, 1), (0x20, 0x0030, 2), (0, 2, 2)] {
        let bad = spin(&r, proto, page, 64);
        assert_eq!(sense_of(&bad), (0x5, 0x24, 0x00));
        assert_eq!(field(&bad), (true, at, None));
    }
}

#[test]
fn capabilities_describe_aes_256_gcm_and_the_mounted_cartridge() {
    let r = rig_with(DriveModel::DEFAULT);
    let d = spin(&r, 0x20, 0x0010, 1024).data;
    assert_eq!(&d[..4], &[0, 0x10, 0, 40]);
    let a = &d[20..44];
    assert_eq!(&a[..4], &[1, 0, 0, 20], "algorithm 1, descriptor length 20");
    // No cartridge: AVFMV clear; MAC_C, DELB_C, DECRYPT_C 2, ENCRYPT_C 2.
    assert_eq!(a[4], 0x3A);
    assert_eq!(u16::from_be_bytes([a[10], a[11]]), 32, "key size");
    assert_eq!(u16::from_be_bytes([a[6], a[7]]), 32, "U-KAD length");
    assert_eq!(
        (a[12] >> 1) & 0x07,
        1,
        "RDMC_C: raw decryption not supported"
    );
    assert_eq!(
        &a[20..24],
        &[0x00, 0x01, 0x00, 0x14],
        "AES-GCM, 256-bit key"
    );
    r.insert("VSA001L8", None);
    let d = spin(&r, 0x20, 0x0010, 1024).data;
    assert_eq!(d[24] & 0x80, 0x80, "AVFMV");
    // Data encryption status, before any key: everything off, public scope.
    assert_eq!(modes(&r), (0, 0, 0, 0));
}

#[test]
fn encrypted_records_read_back_with_the_key_and_are_sealed_on_the_store() {
    let r = loaded("VSA001L8", None);
    set_key(&r, &KEY_A, 2, false);
    assert_eq!(modes(&r), (2, 2, 1, 1));
    let d = spin_as(&r, &r.nexus, 0x0020);
    assert_eq!(
        d[4], 0x02,
        "I_T nexus scope public, key scope all I_T nexus"
    );
    let secret = vec![0x5Cu8; 3000];
    assert_eq!(r.write(&secret).status, Status::Good);
    r.filemarks(1, false);
    // The store holds no plaintext.
    let mut raw = vec![0u8; 1 << 20];
    r.dev.read_at(&mut raw, 0).unwrap();
    assert!(!raw.windows(64).any(|w| w == &secret[..64]));
    r.rewind();
    assert_eq!(next_block(&r), (5, 1), "encrypted, able to decrypt");
    let got = r.read(4096, true);
    assert_eq!((got.status, got.data), (Status::Good, secret));
    assert_eq!(next_block(&r), (2, 0), "a filemark");
    r.space(1, 1);
    assert_eq!(next_block(&r), (1, 0), "end of data");
}

#[test]
fn the_wrong_key_or_no_key_is_a_data_protect_error_past_the_record() {
    let r = loaded("VSA001L8", None);
    set_key(&r, &KEY_A, 2, false);
    r.write(&block(1, 100));
    r.write(&block(2, 100));
    r.rewind();
    set_key(&r, &KEY_B, 2, false);
    assert_eq!(next_block(&r), (6, 1), "encrypted, cannot decrypt");
    let wrong = r.read(100, false);
    assert_eq!(sense_of(&wrong), (0x7, 0x74, 0x03));
    assert_eq!((wrong.data.len(), residual(&wrong)), (0, Some(100)));
    assert_eq!(r.pos(), 1, "the position is after the record");
    // Encryption off (stenc -e off): no key at all.
    encryption_off(&r);
    assert_eq!(modes(&r), (0, 0, 0, 3));
    let none = r.read(100, false);
    assert_eq!(sense_of(&none), (0x7, 0x74, 0x01));
    assert!(none.data.is_empty());
    assert_eq!(r.pos(), 2);
    // Fixed-block mode: the residual counts blocks.
    r.rewind();
    let list = [0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0, 100];
    r.good(&[0x15, 0x10, 0, 0, 12, 0], &list);
    let fixed = r.run(&[0x08, 0x01, 0, 0, 2, 0], &[]);
    assert_eq!(
        (sense_of(&fixed), residual(&fixed)),
        ((0x7, 0x74, 0x01), Some(2))
    );
    // The right key again reads them.
    set_key(&r, &KEY_A, 2, false);
    r.rewind();
    assert_eq!(r.run(&[0x08, 0x01, 0, 0, 2, 0], &[]).data, {
        let mut v = block(1, 100);
        v.extend(block(2, 100));
        v
    });
}

#[test]
fn decrypt_mode_refuses_plain_records_and_mixed_mode_reads_both() {
    let r = loaded("VSA001L8", None);
    r.write(&block(1, 50));
    set_key(&r, &KEY_A, 2, false);
    r.write(&block(2, 50));
    r.rewind();
    assert_eq!(next_block(&r), (3, 0), "not encrypted");
    let plain = r.read(50, false);
    assert_eq!(sense_of(&plain), (0x7, 0x74, 0x02));
    assert!(plain.data.is_empty());
    assert_eq!(r.pos(), 1);
    assert_eq!(r.read(50, false).data, block(2, 50));
    // Mixed (stenc -e mixed).
    set_key(&r, &KEY_A, 3, false);
    assert_eq!(modes(&r).1, 3);
    r.rewind();
    assert_eq!(r.read(50, false).data, block(1, 50));
    assert_eq!(r.read(50, false).data, block(2, 50));
    // Encrypting without decrypting: writes are sealed, reads of them refused.
    let resp = spout(&r, &set_page(2, false, 0, 2, 0, Some(&KEY_A)));
    assert_eq!(resp.status, Status::Good);
    r.write(&block(3, 50));
    r.space(0, -1);
    assert_eq!(sense_of(&r.read(50, false)), (0x7, 0x74, 0x01));
}

#[test]
fn compression_comes_before_encryption() {
    let r = loaded("VSA001L8", None);
    let store = Store::open(r.dev.clone(), r.kv.clone()).unwrap();
    let mut t = Tape::open(store, "VSA009L8").unwrap();
    let mut c = Cipher::new(&Key::from_slice(&KEY_A).unwrap()).unwrap();
    let text = vec![b'a'; 10_000];
    t.append_sealed(&[&text], true, Some(&mut c)).unwrap();
    let obj = t.index().get(0).unwrap();
    let stored = obj.data.unwrap().1 as usize;
    assert!(stored < 1000, "compressed before sealing: {stored}");
    let rec = t.read_record(&obj, Some(&c)).unwrap();
    assert_eq!((rec.data.to_vec(), rec.encrypted), (text, true));
    assert!(matches!(
        t.read(&obj),
        Err(crate::store::ReadError::Sealed { object: 0 })
    ));
}

#[test]
fn clear_key_on_demount_and_on_reset() {
    let r = loaded("VSA001L8", None);
    // Without CKOD the key stays across an unload.
    set_key(&r, &KEY_A, 2, false);
    r.good(&[0x1B, 0, 0, 0, 0, 0], &[]);
    assert_eq!(modes(&r).0, 2);
    r.good(&[0x1B, 0, 0, 0, 1, 0], &[]);
    // With CKOD, LOAD UNLOAD (unload) clears it.
    set_key(&r, &KEY_A, 2, true);
    r.good(&[0x1B, 0, 0, 0, 0, 0], &[]);
    assert_eq!(modes(&r), (0, 0, 0, 2));
    // So does the robot taking the cartridge out.
    r.good(&[0x1B, 0, 0, 0, 1, 0], &[]);
    set_key(&r, &KEY_A, 2, true);
    r.drive.remove().unwrap();
    assert_eq!(modes(&r).0, 0);
    // And a reset, with or without CKOD.
    set_key(&r, &KEY_A, 3, false);
    r.unit.reset(Reset::LogicalUnit, &r.nexus);
    assert_eq!(sense_of(&r.run(&[0; 6], &[])), (0x6, 0x29, 0x03));
    assert_eq!(modes(&r).0, 0);
    set_key(&r, &KEY_A, 3, false);
    r.unit.reset(Reset::TargetCold, &r.nexus);
    quiet(&r, &r.nexus);
    assert_eq!(modes(&r).0, 0);
}

#[test]
fn local_scope_is_per_nexus_and_goes_with_it() {
    let r = loaded("VSA001L8", None);
    let other = nexus("iqn.b");
    quiet(&r, &other);
    // LOCAL for this nexus: the other keeps the (default) public parameters.
    let resp = spout(&r, &set_page(1, false, 0, 2, 2, Some(&KEY_A)));
    assert_eq!(resp.status, Status::Good);
    assert_eq!(
        spin_as(&r, &r.nexus, 0x0020)[4],
        0x21,
        "local nexus, local key"
    );
    assert_eq!(spin_as(&r, &other, 0x0020)[5], 0);
    r.write(&block(1, 10));
    r.rewind();
    let read = r.run_as(&other, &[0x08, 0, 0, 0, 10, 0], &[]);
    assert_eq!(sense_of(&read), (0x7, 0x74, 0x01));
    // PUBLIC: this nexus gives its local parameters up.
    assert_eq!(
        spout(&r, &set_page(0, false, 0, 0, 0, None)).status,
        Status::Good
    );
    assert_eq!(modes(&r).0, 0);
    // I_T nexus loss forgets local parameters.
    spout(&r, &set_page(1, false, 0, 2, 2, Some(&KEY_A)));
    r.unit.nexus_lost(&r.nexus);
    quiet(&r, &r.nexus);
    assert_eq!(modes(&r).0, 0);
}

#[test]
fn a_locked_nexus_is_told_when_another_changes_its_parameters() {
    let r = loaded("VSA001L8", None);
    let other = nexus("iqn.b");
    quiet(&r, &other);
    let resp = spout(&r, &set_page(2, true, 0, 2, 2, Some(&KEY_A)));
    assert_eq!(resp.status, Status::Good);
    assert_eq!(r.write(&block(1, 10)).status, Status::Good);
    let resp = spout_as(&r, &other, &set_page(2, false, 0, 2, 2, Some(&KEY_B)));
    assert_eq!(resp.status, Status::Good);
    assert_eq!(sense_of(&r.write(&block(2, 10))), (0x7, 0x2A, 0x13));
    assert_eq!(sense_of(&r.read(10, false)), (0x7, 0x2A, 0x13));
    // The other nexus was not locked.
    assert_eq!(
        r.run_as(&other, &[0x0A, 0, 0, 0, 10, 0], &block(3, 10))
            .status,
        Status::Good
    );
    // Setting parameters again (unlocked) lifts the lock.
    set_key(&r, &KEY_B, 2, false);
    assert_eq!(r.write(&block(4, 10)).status, Status::Good);
}

#[test]
fn bad_parameter_lists_are_refused_by_field() {
    let r = loaded("VSA001L8", None);
    let good = set_page(2, false, 0, 2, 2, Some(&KEY_A));
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        b
    };
    let cases: Vec<(Vec<u8>, u16, Option<u8>)> = vec![
        (with(1, 0x11), 0, None),                                // another page
        (with(4, 3 << 5), 4, Some(7)),                           // SCOPE
        (with(5, 0x80), 5, Some(7)),                             // CEEM: external mode check
        (with(5, 0x20), 5, Some(5)),                             // RDMC 10b: raw reads enabled
        (with(5, 0x08), 5, Some(3)),                             // SDK
        (with(5, 0x02), 5, Some(1)),                             // CKORP
        (with(5, 0x01), 5, Some(0)),                             // CKORL
        (with(6, 1), 6, None),                                   // EXTERNAL
        (with(7, 1), 7, None),                                   // RAW
        (with(8, 2), 8, None),                                   // algorithm index
        (with(9, 1), 9, None),                                   // key format
        (set_page(2, false, 0, 2, 2, Some(&[1; 16])), 18, None), // key length
        (set_page(2, false, 0, 0, 2, None), 18, None),           // decrypting needs a key
    ];
    for (list, at, bit) in cases {
        let resp = spout(&r, &list);
        assert_eq!(sense_of(&resp), (0x5, 0x26, 0x00), "{list:02x?}");
        assert_eq!(field(&resp), (false, at, bit), "{list:02x?}");
    }
    // A U-KAD is kept and reported; another descriptor type is refused.
    let mut kad = good.clone();
    kad.extend_from_slice(&[0x00, 0x00, 0x00, 0x04]);
    kad.extend_from_slice(b"tape");
    let n = (kad.len() - 4) as u16;
    kad[2..4].copy_from_slice(&n.to_be_bytes());
    assert_eq!(spout(&r, &kad).status, Status::Good);
    let d = spin_as(&r, &r.nexus, 0x0020);
    assert_eq!(&d[24..], &[0, 0, 0, 4, b't', b'a', b'p', b'e']);
    let mut akad = kad.clone();
    akad[52] = 0x01;
    let resp = spout(&r, &akad);
    assert_eq!(field(&resp), (false, 52, None));
    // A page longer than the list: PARAMETER LIST LENGTH ERROR.
    let resp = spout(&r, &good[..30]);
    assert_eq!(sense_of(&resp), (0x5, 0x1A, 0x00));
    // Another protocol or page in the CDB.
    let bad = r.run(&[0xB5, 0x00, 0, 0x10, 0, 0, 0, 0, 0, 52, 0, 0], &good);
    assert_eq!(field(&bad), (true, 1, None));
    let bad = r.run(&[0xB5, 0x20, 0, 0x11, 0, 0, 0, 0, 0, 52, 0, 0], &good);
    assert_eq!(field(&bad), (true, 2, None));
    // Nothing of the refused lists took effect.
    assert_eq!(modes(&r).3, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_spout_parameter_lists_never_panic(
        mut list in proptest::collection::vec(any::<u8>(), 0..96),
        page in any::<bool>(),
        len_ok in any::<bool>(),
    ) {
        let r = rig_with(DriveModel::DEFAULT);
        if page && list.len() >= 4 {
            list[0] = 0;
            list[1] = 0x10;
        }
        if len_ok && list.len() >= 4 {
            let n = (list.len() - 4) as u16;
            list[2..4].copy_from_slice(&n.to_be_bytes());
        }
        let resp = spout(&r, &list);
        prop_assert!(matches!(resp.status, Status::Good | Status::CheckCondition));
        // The drive still answers.
        prop_assert_eq!(spin(&r, 0x20, 0x0020, 64).status, Status::Good);
    }
}
