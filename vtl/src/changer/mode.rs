//! The medium changer's mode pages (SMC-3 7.3): element address assignment (1Dh),
//! transport geometry parameters (1Eh) and device capabilities (1Fh). None has a
//! changeable field: MODE SELECT takes them only as they are (SMC-3 allows the element
//! address assignment to be fixed; the other two report what the robot can do).

use crate::inventory::{ElementType, Layout};
use vsa_scsi::cdb::put;
use vsa_scsi::{PageControl, Sense};

/// ELEMENT ADDRESS ASSIGNMENT mode page.
pub(crate) const ELEMENT_ADDRESS: u8 = 0x1D;
/// TRANSPORT GEOMETRY PARAMETERS mode page.
pub(crate) const TRANSPORT_GEOMETRY: u8 = 0x1E;
/// DEVICE CAPABILITIES mode page.
pub(crate) const CAPABILITIES: u8 = 0x1F;

/// The page codes, ascending.
pub(crate) const PAGES: &[u8] = &[ELEMENT_ADDRESS, TRANSPORT_GEOMETRY, CAPABILITIES];

/// Every element type can store media and be the source or destination of a move and an
/// exchange (bits StorDT, StorI/E, StorST, StorMT and their move/exchange counterparts).
const ALL_TYPES: u8 = 0x0F;

fn element_address(layout: &Layout) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = ELEMENT_ADDRESS;
    p[1] = 0x12;
    let order = [
        ElementType::Transport,
        ElementType::Storage,
        ElementType::ImportExport,
        ElementType::DataTransfer,
    ];
    for (i, t) in order.into_iter().enumerate() {
        let r = layout.range(t);
        put(&mut p, 2 + 4 * i, r.first.to_be_bytes());
        put(&mut p, 4 + 4 * i, r.count.to_be_bytes());
    }
    p
}

fn transport_geometry() -> Vec<u8> {
    // One transport: ROTATE 0 (the robot does not turn media over), member number 0.
    vec![TRANSPORT_GEOMETRY, 0x02, 0x00, 0x00]
}

fn capabilities() -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = CAPABILITIES;
    p[1] = 0x12;
    p[2] = ALL_TYPES;
    // Moves (bytes 4-7) and exchanges (bytes 12-15) from MT, ST, I/E and DT.
    for i in (4..8).chain(12..16) {
        p[i] = ALL_TYPES;
    }
    p
}

/// The current (and default) value of `page`.
fn current(layout: &Layout, page: u8) -> Option<Vec<u8>> {
    match page {
        ELEMENT_ADDRESS => Some(element_address(layout)),
        TRANSPORT_GEOMETRY => Some(transport_geometry()),
        CAPABILITIES => Some(capabilities()),
        _ => None,
    }
}

/// MODE SENSE of one page: nothing is changeable, defaults are the current values.
pub(crate) fn page(layout: &Layout, page: u8, pc: PageControl) -> Option<Vec<u8>> {
    let mut p = current(layout, page)?;
    if pc == PageControl::Changeable {
        p[2..].fill(0);
    }
    Some(p)
}

/// MODE SELECT of one page: accepted only as the current value (the PS bit aside).
pub(crate) fn select(layout: &Layout, page: u8, data: &[u8]) -> Result<(), Sense> {
    let cur = current(layout, page).ok_or_else(|| Sense::invalid_field_in_param(0, None))?;
    if data.len() != cur.len() {
        return Err(Sense::invalid_field_in_param(1, None));
    }
    match data.iter().zip(&cur).skip(2).position(|(a, b)| a != b) {
        Some(i) => Err(Sense::invalid_field_in_param((i + 2) as u16, None)),
        None => Ok(()),
    }
}
