//! What the API shows of libraries and cartridges, and element names (`slot:3`, `drive 1`).

use super::error::LibraryError;
use super::live::LiveLibrary;
use super::types::*;
use vsa_vtl::inventory::ElementType;
use vsa_vtl::media::{Barcode, MediaKind};
use vsa_vtl::store::Tape;

type Result<T> = std::result::Result<T, LibraryError>;

/// An element named `slot:N`, `drive:N`, `mail:N` (1-based), `transport` or by address.
pub fn element(layout: &vsa_vtl::inventory::Layout, spec: &str) -> Result<u16> {
    let bad = || {
        LibraryError::NoSuchElement(format!(
            "no element '{spec}': name one as slot:N, drive:N, mail:N (from 1), transport, or \
             by its address (`vsa vtl show` lists them)"
        ))
    };
    let t = spec.trim().to_ascii_lowercase();
    if t == "transport" {
        return Ok(layout.transport.first);
    }
    if let Some((kind, n)) = t.split_once(':') {
        let range = match kind {
            "slot" => layout.storage,
            "drive" => layout.drives,
            "mail" => layout.import_export,
            _ => return Err(bad()),
        };
        let n: u16 = n.parse().map_err(|_| bad())?;
        return (n >= 1 && n <= range.count)
            .then(|| range.first + n - 1)
            .ok_or_else(bad);
    }
    let addr = match t.strip_prefix("0x") {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    };
    addr.filter(|a| layout.kind(*a).is_some()).ok_or_else(bad)
}

/// `slot 3`, `drive 1`, ... for an element address.
pub fn element_name(layout: &vsa_vtl::inventory::Layout, addr: u16) -> String {
    let (word, range) = match layout.kind(addr) {
        Some(ElementType::Storage) => ("slot", layout.storage),
        Some(ElementType::DataTransfer) => ("drive", layout.drives),
        Some(ElementType::ImportExport) => ("mail", layout.import_export),
        Some(ElementType::Transport) => return "transport".into(),
        None => return format!("element {addr}"),
    };
    format!("{word} {}", addr - range.first + 1)
}

pub fn tape_view(l: &LiveLibrary, bc: &Barcode) -> Result<TapeView> {
    let p = l
        .inventory
        .find(bc)
        .ok_or_else(|| LibraryError::NoSuchTape {
            library: l.record.name.clone(),
            barcode: bc.to_string(),
        })?;
    let layout = l.inventory.layout();
    let c = &p.cartridge;
    // A cartridge in a drive: the drive's view is ahead of the catalog.
    let in_drive = p.element.and_then(|(a, k)| {
        (k == ElementType::DataTransfer)
            .then(|| layout.drive_index(a))
            .flatten()
            .and_then(|i| l.drives.get(i))
            .and_then(|d| d.status().tape)
    });
    let stats = match (in_drive, c.kind) {
        (Some(s), _) => s,
        (None, MediaKind::Cleaning) => Default::default(),
        (None, _) => Tape::open(l.store.clone(), bc.as_str())?.stats(),
    };
    Ok(TapeView {
        barcode: bc.to_string(),
        generation: c.generation.to_string(),
        kind: match c.kind {
            MediaKind::Data => "data",
            MediaKind::Worm => "worm",
            MediaKind::Cleaning => "cleaning",
        }
        .into(),
        capacity: c.capacity,
        write_protected: c.write_protected,
        location: p
            .element
            .map_or_else(|| "shelf".into(), |(a, _)| element_name(&layout, a)),
        address: p.element.map(|e| e.0),
        objects: stats.objects,
        filemarks: stats.filemarks,
        logical_bytes: stats.logical_bytes,
        stored_bytes: stats.stored_bytes,
        used: stats.used,
        dedup_saved: stats.dedup_saved,
    })
}

pub fn view(l: &LiveLibrary, detail: bool) -> LibraryView {
    let r = &l.record;
    let layout = l.inventory.layout();
    let elements = l.inventory.elements();
    let free_slots = elements
        .iter()
        .filter(|e| e.kind == ElementType::Storage && e.occupant.is_none())
        .count();
    let element_views = if detail {
        elements
            .iter()
            .map(|e| ElementView {
                address: e.address,
                name: element_name(&layout, e.address),
                barcode: e.occupant.as_ref().map(|o| o.barcode.to_string()),
                source: e.occupant.as_ref().and_then(|o| o.source),
            })
            .collect()
    } else {
        Vec::new()
    };
    let drive_status = if detail {
        l.drives
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let s = d.status();
                DriveView {
                    number: i as u16 + 1,
                    address: layout.drives.first + i as u16,
                    model: s.model.to_string(),
                    serial: s.serial,
                    barcode: s.cartridge.as_ref().map(|c| c.0.clone()),
                    loaded: s.cartridge.as_ref().is_some_and(|c| c.1),
                    position: s.position,
                    file: s.file,
                    block_len: s.block_len,
                    compression: s.compression,
                    bytes_written: s.counters.bytes_written,
                    bytes_read: s.counters.bytes_read,
                    mounts: s.counters.mounts,
                    cleaning_due: s.cleaning_due,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let dd = l.store.dedup_stats();
    LibraryView {
        name: r.name.clone(),
        target: r.target.clone(),
        devices: r.device_targets(),
        volume: r.volume.clone(),
        library_model: r.library_model.clone(),
        drive_model: r.drive_model.clone(),
        slots: r.slots,
        drives: r.drives,
        mailslots: r.mailslots,
        cartridges: l.inventory.cartridges().len(),
        free_slots,
        scratch_min: r.scratch_min,
        segments_used: l.store.segments().0,
        dedup: r.dedup,
        dedup_chunks: dd.chunks,
        dedup_unique_bytes: dd.unique_bytes,
        dedup_saved_bytes: dd.referenced_bytes.saturating_sub(dd.unique_bytes),
        dedup_ratio: ratio(dd.referenced_bytes, dd.unique_bytes),
        elements: element_views,
        drive_status,
    }
}

/// `a / b`, 1 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}
