//! Automatic scratch cartridges (as a cloud tape gateway makes them): a library keeps at
//! least `scratch_min` blank cartridges in its storage slots.

use super::error::LibraryError;
use super::live::LiveLibrary;
use super::model::{self, LibraryRecord};
use super::types::ScratchBody;
use vsa_vtl::inventory::ElementType;
use vsa_vtl::media::{Barcode, CartridgeInfo, Generation, MediaKind};

type Result<T> = std::result::Result<T, LibraryError>;

/// Applies scratch settings to a record, checked.
pub fn apply_scratch(r: &mut LibraryRecord, b: &ScratchBody) -> Result<()> {
    if let Some(n) = b.scratch {
        if usize::from(n) > usize::from(r.slots) {
            return Err(LibraryError::InvalidLibrary(format!(
                "--scratch {n} is more than the library's {} slots",
                r.slots
            )));
        }
        r.scratch_min = n;
    }
    if let Some(p) = &b.scratch_prefix {
        model::check_scratch_prefix(p).map_err(LibraryError::InvalidLibrary)?;
        r.scratch_prefix = p.clone();
    }
    if let Some(c) = &b.scratch_capacity {
        let bytes = c
            .bytes()
            .map_err(|e| LibraryError::InvalidLibrary(e.to_string()))?;
        if bytes < 1 << 20 {
            return Err(LibraryError::InvalidLibrary(
                "--scratch-capacity must be at least 1 MiB".into(),
            ));
        }
        r.scratch_capacity = Some(bytes);
    }
    if let Some(n) = b.clean_every {
        r.clean_every = n;
    }
    if let Some(d) = b.dedup {
        r.dedup = d;
    }
    Ok(())
}

/// Creates blank cartridges until the library has `scratch_min` of them in its storage
/// slots (or no slot is free). Labels: the prefix, the next free number, the media
/// identifier of the drives' generation.
pub fn keep_scratch(l: &LiveLibrary) {
    let r = &l.record;
    if r.scratch_min == 0 {
        return;
    }
    let elements = l.inventory.elements();
    let mut blank = 0usize;
    let mut free = 0usize;
    for e in elements.iter().filter(|e| e.kind == ElementType::Storage) {
        match &e.cartridge {
            None => free += 1,
            Some(c) if c.kind != MediaKind::Cleaning => {
                if l.store.is_blank(c.barcode.as_str()).unwrap_or(false) {
                    blank += 1;
                }
            }
            Some(_) => {}
        }
    }
    let want = usize::from(r.scratch_min).saturating_sub(blank).min(free);
    if want == 0 {
        return;
    }
    let gen = r
        .drive_model
        .parse::<vsa_vtl::drive::model::DriveModel>()
        .map_or(Generation::Lto8, |m| m.generation);
    let suffix = gen.label_suffix(false);
    let width = 6 - r.scratch_prefix.len();
    let next = l
        .inventory
        .cartridges()
        .iter()
        .filter_map(|p| {
            let b = p.cartridge.barcode.as_str();
            let digits = b
                .strip_prefix(r.scratch_prefix.as_str())?
                .strip_suffix(suffix)?;
            digits.parse::<u64>().ok()
        })
        .max()
        .map_or(1, |n| n + 1);
    let mut carts = Vec::new();
    for n in next..next + want as u64 {
        let label = format!("{}{n:0width$}{suffix}", r.scratch_prefix);
        match Barcode::parse(&label) {
            Ok(bc) if label.len() <= Barcode::MAX_LEN => {
                carts.push(CartridgeInfo::for_barcode(bc, gen, r.scratch_capacity))
            }
            _ => {
                tracing::error!(
                    library = r.name,
                    "no scratch labels left after {label}: choose another prefix"
                );
                break;
            }
        }
    }
    let labels: Vec<String> = carts.iter().map(|c| c.barcode.to_string()).collect();
    match l.inventory.add(carts) {
        Ok(_) => tracing::info!(
            library = r.name,
            cartridges = labels.join(" "),
            "created scratch cartridges"
        ),
        Err(e) => tracing::error!(library = r.name, "cannot create scratch cartridges: {e}"),
    }
}
