//! READ ELEMENT STATUS (SMC-3 6.11): the element status data of the elements the CDB
//! selects, one element status page per run of elements of one type.
//!
//! ```text
//!  header (8)      FIRST ELEMENT ADDRESS REPORTED, NUMBER OF ELEMENTS AVAILABLE,
//!                  BYTE COUNT OF REPORT AVAILABLE (all pages, whatever the allocation length)
//!  page header (8) ELEMENT TYPE CODE, PVOLTAG, ELEMENT DESCRIPTOR LENGTH,
//!                  BYTE COUNT OF DESCRIPTOR DATA AVAILABLE
//!  descriptor      address, flags (FULL, IMPEXP, EXCEPT, ACCESS, EXENAB, INENAB), ASC/ASCQ,
//!                  SVALID, MEDIUM TYPE, SOURCE STORAGE ELEMENT ADDRESS (12 bytes)
//!                  + PRIMARY VOLUME TAG (36: barcode space padded to 32, 2 reserved,
//!                    VOLUME SEQUENCE NUMBER 0) with VOLTAG
//!                  + identification descriptor of a drive (4 + identifier) with DVCID
//! ```
//!
//! Elements are reported ascending by address from STARTING ELEMENT ADDRESS (which need
//! not be an element's, SMC-3 6.11.1), at most NUMBER OF ELEMENTS of them. CURDATA is
//! accepted: the inventory never needs a scan.

use super::Changer;
use crate::inventory::{Element, ElementType};
use crate::media::MediaKind;
use vsa_scsi::cdb::{be16, be24, byte, data_in, put};
use vsa_scsi::{Response, Sense};

/// Length of a descriptor without volume tags or identifier.
const BASE: usize = 12;
/// Length of a primary volume tag.
const VOLUME_TAG: usize = 36;
/// Code set 2 (ASCII), identifier type 1 (T10 vendor ID based: vendor, product, serial).
const DVCID_CODE_SET: u8 = 0x02;
const DVCID_TYPE: u8 = 0x01;

/// What the CDB asks for.
#[derive(Debug, Clone, Copy)]
struct Request {
    voltag: bool,
    kind: Option<ElementType>,
    start: u16,
    count: usize,
    dvcid: bool,
    alloc: usize,
}

fn parse(cdb: &[u8]) -> Result<Request, Sense> {
    let code = byte(cdb, 1) & 0x0F;
    let kind = match code {
        0 => None,
        c => Some(ElementType::from_code(c).ok_or(Sense::invalid_field_in_cdb(1, Some(3)))?),
    };
    Ok(Request {
        voltag: byte(cdb, 1) & 0x10 != 0,
        kind,
        start: be16(cdb, 2),
        count: usize::from(be16(cdb, 4)),
        dvcid: byte(cdb, 6) & 0x01 != 0,
        alloc: be24(cdb, 7) as usize,
    })
}

/// READ ELEMENT STATUS.
pub(super) fn read(changer: &Changer, cdb: &[u8]) -> Result<Response, Sense> {
    let req = parse(cdb)?;
    let chosen: Vec<Element> = changer
        .inventory
        .elements()
        .into_iter()
        .filter(|e| e.address >= req.start && req.kind.is_none_or(|k| k == e.kind))
        .take(req.count)
        .collect();
    let mut data = vec![0u8; 8];
    if let Some(first) = chosen.first() {
        put(&mut data, 0, first.address.to_be_bytes());
    }
    put(&mut data, 2, (chosen.len() as u16).to_be_bytes());
    for run in chosen.chunk_by(|a, b| a.kind == b.kind) {
        data.extend(page(changer, &req, run));
    }
    let count = (data.len() - 8) as u32;
    put(&mut data, 5, u32_be24(count));
    Ok(data_in(data, req.alloc))
}

fn u32_be24(v: u32) -> [u8; 3] {
    let [_, a, b, c] = v.min(0x00FF_FFFF).to_be_bytes();
    [a, b, c]
}

/// The identifiers of the drives in `run` (DVCID), padded with spaces to one length.
fn identifiers(changer: &Changer, run: &[Element]) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = run
        .iter()
        .map(|e| {
            changer
                .drive(e.address)
                .map(|d| d.device_identifier())
                .unwrap_or_default()
        })
        .collect();
    let width = ids.iter().map(Vec::len).max().unwrap_or(0).min(255);
    for id in &mut ids {
        id.resize(width, b' ');
    }
    ids
}

/// One element status page: the run's elements are all of one type.
fn page(changer: &Changer, req: &Request, run: &[Element]) -> Vec<u8> {
    let Some(kind) = run.first().map(|e| e.kind) else {
        return Vec::new();
    };
    let ids = (req.dvcid && kind == ElementType::DataTransfer).then(|| identifiers(changer, run));
    let id_len = ids.as_ref().and_then(|v| v.first()).map(Vec::len);
    let len = BASE + if req.voltag { VOLUME_TAG } else { 0 } + id_len.map_or(0, |n| 4 + n);
    let mut p = vec![0u8; 8];
    p[0] = kind.code();
    p[1] = if req.voltag { 0x80 } else { 0 };
    put(&mut p, 2, (len as u16).to_be_bytes());
    put(&mut p, 5, u32_be24((len * run.len()) as u32));
    for (i, e) in run.iter().enumerate() {
        let mut d = descriptor(changer, e, req.voltag);
        if let Some(id) = ids.as_ref().and_then(|v| v.get(i)) {
            d.extend([DVCID_CODE_SET, DVCID_TYPE, 0, id.len() as u8]);
            d.extend_from_slice(id);
        }
        p.extend(d);
    }
    p
}

/// MEDIUM TYPE (SMC-3): 1 data, 2 cleaning, 4 WORM.
fn medium_type(kind: MediaKind) -> u8 {
    match kind {
        MediaKind::Data => 1,
        MediaKind::Cleaning => 2,
        MediaKind::Worm => 4,
    }
}

/// The flags byte (byte 2) of an element's descriptor.
fn flags(changer: &Changer, e: &Element) -> u8 {
    let full = e.occupant.is_some();
    let mut f = u8::from(full);
    match e.kind {
        ElementType::Transport => {}
        ElementType::Storage => f |= 0x08,
        ElementType::ImportExport => {
            // INENAB, EXENAB, ACCESS; IMPEXP when the operator put it there.
            f |= 0x20 | 0x10 | 0x08;
            if e.occupant.as_ref().is_some_and(|o| o.by_operator) {
                f |= 0x02;
            }
        }
        ElementType::DataTransfer => {
            let unloaded = changer.drive(e.address).is_some_and(|d| d.unloaded());
            if !full || unloaded {
                f |= 0x08;
            }
        }
    }
    f
}

/// An element descriptor without identifier.
fn descriptor(changer: &Changer, e: &Element, voltag: bool) -> Vec<u8> {
    let mut d = vec![0u8; BASE];
    put(&mut d, 0, e.address.to_be_bytes());
    d[2] = flags(changer, e);
    if let Some(c) = &e.cartridge {
        d[9] = medium_type(c.kind);
    }
    if let Some(src) = e.occupant.as_ref().and_then(|o| o.source) {
        d[9] |= 0x80; // SVALID
        put(&mut d, 10, src.to_be_bytes());
    }
    if voltag {
        let mut tag = vec![0u8; VOLUME_TAG];
        if let Some(o) = &e.occupant {
            tag[..32].copy_from_slice(&vsa_scsi::cdb::ascii_field(o.barcode.as_str(), 32));
        }
        d.extend(tag);
    }
    d
}
