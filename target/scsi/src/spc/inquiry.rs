//! INQUIRY (SPC-4 6.6): standard data and the VPD pages every device type shares —
//! 00h supported pages, 80h unit serial number, 83h device identification, 86h extended
//! INQUIRY data. Device-specific pages come from [`Device::vpd_page`].

use crate::{Device, Identity, Nexus, Response, Sense};

use crate::cdb::{ascii_field, be16, byte, data_in};

/// Version descriptors this layer claims (SPC-4 table 33): SAM-5, SPC-4, iSCSI.
const SAM_5: u16 = 0x00A0;
const SPC_4: u16 = 0x0460;
const ISCSI: u16 = 0x0960;

/// Standard INQUIRY data length: 36 bytes, 20 vendor-specific, 2 bytes of flags, eight
/// version descriptors and 22 reserved bytes.
const STANDARD_LEN: usize = 96;

/// The VPD pages this layer answers itself.
const SPC_PAGES: [u8; 4] = [0x00, 0x80, 0x83, 0x86];

/// Executes INQUIRY.
pub(crate) fn inquiry<D: Device>(
    dev: &D,
    id: &Identity,
    nexus: &Nexus,
    cdb: &[u8],
) -> Result<Response, Sense> {
    let evpd = byte(cdb, 1) & 0x01 != 0;
    let page = byte(cdb, 2);
    let alloc = usize::from(be16(cdb, 3));
    if byte(cdb, 1) & 0x02 != 0 {
        // CMDDT (obsolete) is not supported.
        return Err(Sense::invalid_field_in_cdb(1, Some(1)));
    }
    if !evpd {
        if page != 0 {
            return Err(Sense::invalid_field_in_cdb(2, None));
        }
        return Ok(data_in(standard(dev, id), alloc));
    }
    let data = vpd(dev, id, nexus, page).ok_or_else(|| Sense::invalid_field_in_cdb(2, None))?;
    Ok(data_in(data, alloc))
}

fn standard<D: Device>(dev: &D, id: &Identity) -> Vec<u8> {
    let mut d = vec![0u8; STANDARD_LEN];
    d[0] = dev.peripheral_type() & 0x1F;
    d[1] = if dev.removable() { 0x80 } else { 0 };
    d[2] = 0x06; // SPC-4
    d[3] = 0x10 | 0x02; // HISUP, RESPONSE DATA FORMAT 2
    d[4] = (STANDARD_LEN - 5) as u8;
    d[7] = 0x02; // CMDQUE
    d[8..16].copy_from_slice(&ascii_field(&id.vendor, 8));
    d[16..32].copy_from_slice(&ascii_field(&id.product, 16));
    d[32..36].copy_from_slice(&ascii_field(&id.revision, 4));
    let mut versions = vec![SAM_5, SPC_4];
    versions.extend(dev.version_descriptors().iter().copied());
    versions.push(ISCSI);
    versions.dedup();
    for (i, v) in versions.iter().take(8).enumerate() {
        let at = 58 + 2 * i;
        d[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    d
}

/// The supported VPD page codes, ascending, without duplicates.
pub(crate) fn supported_pages<D: Device>(dev: &D) -> Vec<u8> {
    let mut pages: Vec<u8> = SPC_PAGES.to_vec();
    pages.extend_from_slice(dev.vpd_pages());
    pages.sort_unstable();
    pages.dedup();
    pages
}

fn vpd<D: Device>(dev: &D, id: &Identity, nexus: &Nexus, page: u8) -> Option<Vec<u8>> {
    // A device that serves one of the shared pages itself (say 86h) takes precedence.
    if dev.vpd_pages().contains(&page) && page != 0x00 {
        return dev.vpd_page(page);
    }
    let pt = dev.peripheral_type() & 0x1F;
    match page {
        0x00 => Some(page_with_header(pt, 0x00, &supported_pages(dev))),
        0x80 => Some(page_with_header(pt, 0x80, &ascii_serial(&id.serial))),
        0x83 => Some(page_with_header(pt, 0x83, &designators(id, nexus))),
        0x86 => Some(page_with_header(pt, 0x86, &extended_inquiry())),
        _ => None,
    }
}

/// A VPD page: peripheral byte, page code, 16-bit page length, payload.
fn page_with_header(pt: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut d = vec![pt, code];
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(payload.get(..usize::from(len)).unwrap_or(payload));
    d
}

fn ascii_serial(serial: &str) -> Vec<u8> {
    let n = serial.len().min(250);
    ascii_field(serial, n)
}

/// Device identification designators: the logical unit's NAA and T10 vendor ID first
/// (multipath software picks the first logical-unit designator), then the target port it
/// was reached through (relative port, SCSI name string) and the target device's name.
fn designators(id: &Identity, nexus: &Nexus) -> Vec<u8> {
    let mut d = Vec::with_capacity(128);
    // NAA, binary, association logical unit.
    designator(&mut d, 0x01, 0x03, &id.naa);
    // T10 vendor ID, ASCII: vendor (8 bytes) then the serial number.
    let mut t10 = ascii_field(&id.vendor, 8);
    t10.extend_from_slice(&ascii_serial(&id.serial));
    designator(&mut d, 0x02, 0x01, &t10);
    // Relative target port (iSCSI, PIV, association target port); 0 is reserved.
    if nexus.tpgt != 0 {
        let rel = u32::from(nexus.tpgt).to_be_bytes();
        designator(&mut d, 0x51, 0x94, &rel);
    }
    // SCSI name strings (UTF-8): the target port, then the target device.
    designator(&mut d, 0x53, 0x98, &name_string(&nexus.target_port()));
    designator(&mut d, 0x53, 0xA8, &name_string(&nexus.target));
    d
}

/// One designation descriptor (SPC-4 7.8.6.1).
fn designator(out: &mut Vec<u8>, proto_codeset: u8, piv_assoc_type: u8, value: &[u8]) {
    let value = value.get(..255).unwrap_or(value);
    out.push(proto_codeset);
    out.push(piv_assoc_type);
    out.push(0);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

/// A SCSI name string: UTF-8, null terminated, padded with nulls to a multiple of 4 bytes
/// (SPC-4 7.8.6.11), at most 256 bytes.
pub(crate) fn name_string(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.bytes().take(251).collect();
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// Extended INQUIRY data (SPC-4 7.8.7): simple task attribute support only, no
/// protection information, no grouping or priority.
fn extended_inquiry() -> Vec<u8> {
    let mut d = vec![0u8; 60];
    d[1] = 0x01; // SIMPSUP
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_strings_are_terminated_and_padded() {
        assert_eq!(name_string("abc"), b"abc\0".to_vec());
        assert_eq!(name_string("abcd"), b"abcd\0\0\0\0".to_vec());
    }

    #[test]
    fn page_header_carries_length() {
        assert_eq!(
            page_with_header(0, 0x80, b"SN"),
            vec![0, 0x80, 0, 2, b'S', b'N']
        );
    }
}
