//! READ ELEMENT STATUS, mode pages, INQUIRY and REPORT SUPPORTED OPERATION CODES.

use super::*;

/// The 12-byte descriptor of an element without volume tag or identifier.
fn desc(addr: u16, flags: u8, byte9: u8, source: u16) -> Vec<u8> {
    let [a0, a1] = addr.to_be_bytes();
    let [s0, s1] = source.to_be_bytes();
    vec![a0, a1, flags, 0, 0, 0, 0, 0, 0, byte9, s0, s1]
}

fn page_header(code: u8, voltag: bool, len: u16, n: u32) -> Vec<u8> {
    let [l0, l1] = len.to_be_bytes();
    let [_, c0, c1, c2] = (u32::from(len) * n).to_be_bytes();
    vec![code, if voltag { 0x80 } else { 0 }, l0, l1, 0, c0, c1, c2]
}

#[test]
fn all_elements_without_volume_tags() {
    let l = lib();
    let d = l.good(&res_cdb(0, 0, 0xFFFF, false, 0xFFFF));
    let mut want = vec![0, 1, 0, 11, 0, 0, 0, 164];
    want.extend(page_header(1, false, 12, 1));
    want.extend(desc(1, 0x00, 0, 0));
    want.extend(page_header(3, false, 12, 2));
    want.extend(desc(10, 0x38, 0, 0));
    want.extend(desc(11, 0x38, 0, 0));
    want.extend(page_header(4, false, 12, 2));
    want.extend(desc(500, 0x08, 0, 0));
    want.extend(desc(501, 0x08, 0, 0));
    want.extend(page_header(2, false, 12, 6));
    want.extend(desc(1000, 0x09, 1, 0));
    want.extend(desc(1001, 0x09, 1, 0));
    want.extend(desc(1002, 0x09, 2, 0));
    for a in 1003..1006 {
        want.extend(desc(a, 0x08, 0, 0));
    }
    assert_eq!(d, want);
}

#[test]
fn storage_elements_with_volume_tags_from_a_starting_address() {
    let l = lib();
    l.good(&move_cdb(1000, 1004));
    let d = l.good(&res_cdb(0x12, 1001, 4, false, 0xFFFF));
    assert_eq!(&d[..8], &[0x03, 0xE9, 0, 4, 0, 0, 0, 8 + 4 * 48]);
    assert_eq!(d[8..16], page_header(2, true, 48, 4)[..]);
    let tag = |label: &str| {
        let mut t = format!("{label:<32}").into_bytes();
        t.extend([0, 0, 0, 0]);
        t
    };
    let mut want = desc(1001, 0x09, 1, 0);
    want.extend(tag("A00002L8"));
    assert_eq!(d[16..64], want[..]);
    let mut want = desc(1003, 0x08, 0, 0);
    want.extend([0u8; 36]);
    assert_eq!(d[112..160], want[..]);
    // The moved cartridge names the slot it left.
    let mut want = desc(1004, 0x09, 0x81, 1000);
    want.extend(tag("A00001L8"));
    assert_eq!(d[160..208], want[..]);
}

#[test]
fn drives_report_their_identifier_with_dvcid() {
    let l = lib();
    l.good(&move_cdb(1000, 500));
    let d = l.good(&res_cdb(0x14, 0, 2, true, 0xFFFF));
    let len = 12 + 36 + 4 + 34;
    assert_eq!(&d[..8], &[0x01, 0xF4, 0, 2, 0, 0, 0, 8 + 2 * len as u8]);
    assert_eq!(d[8..16], page_header(4, true, len, 2)[..]);
    let first = &d[16..16 + usize::from(len)];
    // FULL, not ACCESS: the drive has not unloaded it.
    assert_eq!(first[..12], desc(500, 0x01, 0x81, 1000)[..]);
    assert_eq!(&first[12..20], b"A00001L8");
    assert_eq!(&first[48..52], &[0x02, 0x01, 0, 34]);
    assert_eq!(&first[52..], b"IBM     ULT3580-TD8     1000000001");
    *l.drives[0].unloaded.lock() = true;
    let d = l.good(&res_cdb(0x04, 500, 1, false, 0xFFFF));
    assert_eq!(d[16..28], desc(500, 0x09, 0x81, 1000)[..]);
    assert_eq!(d.len(), 28, "no identifier without DVCID");
}

#[test]
fn a_short_allocation_length_truncates_but_counts_everything() {
    let l = lib();
    let d = l.good(&res_cdb(0, 0, 0xFFFF, false, 20));
    assert_eq!(d.len(), 20);
    assert_eq!(&d[..8], &[0, 1, 0, 11, 0, 0, 0, 164]);
    assert!(l.good(&res_cdb(0, 0, 0xFFFF, false, 0)).is_empty());
    // NUMBER OF ELEMENTS limits the report: the transport and the two mail slots.
    let d = l.good(&res_cdb(0, 0, 3, false, 0xFFFF));
    assert_eq!(&d[..8], &[0, 1, 0, 3, 0, 0, 0, 20 + 32]);
    // Past the last element: an empty report.
    assert_eq!(l.good(&res_cdb(0, 2000, 10, false, 100)), [0u8; 8]);
}

#[test]
fn a_mail_slot_tells_what_the_operator_put_there() {
    let l = lib();
    l.inv.import_new(cart("B00001L8")).unwrap();
    assert_eq!(sense_of(&l.run(&a(), &[0; 6])), (0x6, 0x28, 0x01));
    let d = l.good(&res_cdb(0x13, 0, 2, false, 0xFFFF));
    assert_eq!(d[16..28], desc(10, 0x3B, 1, 0)[..]);
    assert_eq!(&d[28..36], b"B00001L8");
    // Once the robot moved it, IMPEXP is clear.
    l.good(&move_cdb(10, 11));
    let d = l.good(&res_cdb(0x03, 11, 1, false, 0xFFFF));
    assert_eq!(d[16..28], desc(11, 0x39, 0x81, 10)[..]);
}

#[test]
fn bad_element_type_codes_are_invalid_fields() {
    let l = lib();
    for code in 5..16u8 {
        let r = l.run(&a(), &res_cdb(code, 0, 1, false, 100));
        assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
        assert_eq!(sks_of(&r), [0xCB, 0, 1]);
    }
}

#[test]
fn mode_pages_describe_the_layout_and_refuse_changes() {
    let l = lib();
    let d = l.good(&[0x1A, 0x08, 0x1D, 0, 255, 0]);
    let page = [
        0x1D, 0x12, 0, 1, 0, 1, 0x03, 0xE8, 0, 6, 0, 0x0A, 0, 2, 0x01, 0xF4, 0, 2, 0, 0,
    ];
    assert_eq!(&d[..4], &[23, 0, 0, 0]);
    assert_eq!(&d[4..], &page);
    let d = l.good(&[0x1A, 0x08, 0x1E, 0, 255, 0]);
    assert_eq!(&d[4..], &[0x1E, 0x02, 0, 0]);
    let d = l.good(&[0x1A, 0x08, 0x1F, 0, 255, 0]);
    let mut caps = vec![0x1F, 0x12, 0x0F, 0, 0x0F, 0x0F, 0x0F, 0x0F, 0, 0, 0, 0];
    caps.extend([0x0F, 0x0F, 0x0F, 0x0F, 0, 0, 0, 0]);
    assert_eq!(&d[4..], &caps[..]);
    let d = l.good(&[0x1A, 0x08, 0x40 | 0x1D, 0, 255, 0]);
    assert_eq!(&d[4..], &[&[0x1D, 0x12][..], &[0u8; 18]].concat()[..]);
    // All pages: control, informational exceptions and the three of the changer.
    let d = l.good(&[0x1A, 0x08, 0x3F, 0, 255, 0]);
    assert_eq!(d.len(), 4 + 12 + 12 + 20 + 4 + 20);
    let select = |p: &[u8]| {
        let mut list = vec![0u8; 4];
        list.extend_from_slice(p);
        l.run_out(&a(), &[0x15, 0x10, 0, 0, list.len() as u8, 0], &list)
    };
    assert_eq!(select(&page).status, Status::Good);
    // The other nexus hears of the MODE SELECT.
    assert_eq!(sense_of(&l.run(&b(), &[0; 6])), (0x6, 0x2A, 0x01));
    let mut other = page;
    other[9] = 7;
    let r = select(&other);
    assert_eq!(sense_of(&r), (0x5, 0x26, 0x00));
    assert_eq!(sks_of(&r), [0x80, 0, 4 + 9]);
}

#[test]
fn inquiry_and_supported_opcodes() {
    let l = lib();
    let d = l.good(&[0x12, 0, 0, 0, 96, 0]);
    assert_eq!((d[0], d[1]), (0x08, 0x80));
    assert_eq!(&d[8..36], b"STK     L700            0311");
    // MOVE MEDIUM's usage map.
    let d = l.good(&[0xA3, 0x0C, 0x01, 0xA5, 0, 0, 0, 0, 0, 64, 0, 0]);
    assert_eq!(d[1] & 0x07, 0x03, "supported");
    assert_eq!(&d[2..4], &[0, 12]);
    assert_eq!(d[4..16], super::super::opcodes::OPCODES[4].usage[..]);
    for op in super::super::opcodes::ALL {
        let d = l.good(&[0xA3, 0x0C, 0x01, op, 0, 0, 0, 0, 0, 64, 0, 0]);
        assert_eq!(d[1] & 0x07, 0x03, "{op:#04x} supported");
    }
    assert!(l.good(&[0; 6]).is_empty(), "TEST UNIT READY");
}

#[test]
fn models_have_their_strings_and_addresses() {
    for m in Model::ALL {
        assert_eq!(m.to_string().parse::<Model>().unwrap(), m);
        assert!(m.layout(4, 40, 4).is_ok(), "{m}");
    }
    assert_eq!("TS3500".parse::<Model>().unwrap(), Model::Ibm3584);
    assert!("dlt".parse::<Model>().is_err());
    let ibm = Model::Ibm3584.layout(2, 10, 3).unwrap();
    assert_eq!(
        (ibm.drives.first, ibm.import_export.first, ibm.storage.first),
        (0x0101, 0x0301, 0x0401)
    );
    assert!(
        Model::HpMslG3.layout(2, 500, 4).is_err(),
        "slots run into the mail slots"
    );
    let id = Model::HpMslG3.identity("SER1", [0; 16]);
    assert_eq!(
        (id.vendor.as_str(), id.product.as_str()),
        ("HP", "MSL G3 Series")
    );
}
