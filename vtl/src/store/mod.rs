//! The cartridge store: every cartridge of a library kept on one pool volume (a
//! [`BlockDevice`]), in segments of [`SEGMENT`] bytes handed out as cartridges grow and
//! returned (unmapped, so the pool gets the space back) when they shrink. Each cartridge's
//! stream of records ([`record`]) is indexed ([`index`]) in the catalog ([`Kv`]); `vtl/FORMAT.md`
//! gives the layout.
//!
//! ```text
//!  catalog keys                         value
//!  s/<barcode>/<ordinal: u64 BE>        segment number (u64 BE): the ordinal-th 32 MiB of the stream
//!  x/<barcode>/<first object: u64 BE>   an extent of the index (index::Extent::encode)
//!  u/<barcode>                          the cartridge's usage (tape::Usage::encode)
//!  c/<SHA-256>, k/<segment: u64 BE>     deduplicated chunks and their segments (dedup)
//! ```

mod ahead;
mod aligned;
mod behind;
mod chunked;
pub mod crypt;
pub mod dedup;
pub mod index;
mod par;
pub mod record;
mod stream;
pub mod tape;

use crate::error::{Result, VtlError};
use crate::kv::{Batch, Kv};
use dedup::{Chunks, DedupStats};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vsa_blockdev::BlockDevice;

pub use tape::{ReadError, Record, Tape, TapeStats};

/// Bytes of a segment.
pub const SEGMENT: u64 = 32 << 20;

/// The catalog key prefix of a cartridge's segments.
fn seg_prefix(barcode: &str) -> Vec<u8> {
    format!("s/{barcode}/").into_bytes()
}

/// The catalog key of a cartridge's usage.
fn usage_key(barcode: &str) -> Vec<u8> {
    format!("u/{barcode}/").into_bytes()
}

/// The catalog key prefix of a cartridge's extents.
fn ext_prefix(barcode: &str) -> Vec<u8> {
    format!("x/{barcode}/").into_bytes()
}

fn key(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The end of a key range under `prefix` (prefix followed by 0xFF bytes).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    key(prefix, u64::MAX).into_iter().chain([0xFF]).collect()
}

fn be64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Which segments are free.
#[derive(Debug)]
struct Alloc {
    /// Segments the device holds.
    total: u64,
    /// Segments at or above this were never handed out.
    high: u64,
    /// Free segments below `high`.
    free: BTreeSet<u64>,
}

/// A library's cartridge store.
#[derive(Debug)]
pub struct Store {
    dev: Arc<dyn BlockDevice>,
    kv: Arc<dyn Kv>,
    alloc: Mutex<Alloc>,
    /// Deduplicated chunks (lock order: `chunks` before `alloc`).
    chunks: Mutex<Chunks>,
    /// New data records are deduplicated (the library's setting; on by default).
    dedup: AtomicBool,
}

impl Store {
    /// Opens the store on `dev` with its catalog in `kv`: every cartridge's segments are
    /// read to know which are free. A segment claimed twice is refused as damage.
    pub fn open(dev: Arc<dyn BlockDevice>, kv: Arc<dyn Kv>) -> Result<Arc<Store>> {
        let bs = u64::from(dev.block_size());
        if bs == 0 || SEGMENT % bs != 0 || dev.size() < SEGMENT {
            return Err(VtlError::Invalid(format!(
                "a cartridge store needs a volume of at least {} MiB with a block size \
                 dividing {} MiB; this one has {} bytes in blocks of {bs}",
                SEGMENT >> 20,
                SEGMENT >> 20,
                dev.size()
            )));
        }
        let mut used = BTreeSet::new();
        for (k, v) in kv.scan(b"s/")? {
            let seg = be64(&v).ok_or_else(|| corrupt(&k, "not a segment number"))?;
            if !used.insert(seg) {
                return Err(corrupt(&k, &format!("segment {seg} is claimed twice")));
            }
        }
        let (chunks, sweep, freed) = Chunks::load(kv.as_ref())?;
        for seg in chunks.segments() {
            if !used.insert(seg) {
                let k = dedup::seg_key(seg);
                return Err(corrupt(&k, &format!("segment {seg} is claimed twice")));
            }
        }
        let total = dev.size() / SEGMENT;
        let high = used.iter().next_back().map_or(0, |s| s + 1);
        if high > total {
            return Err(VtlError::Invalid(format!(
                "the cartridge store's volume holds {total} segments but cartridges use \
                 segment {}; was the volume shrunk? grow it back to at least {} bytes",
                high - 1,
                high * SEGMENT
            )));
        }
        let free = (0..high).filter(|s| !used.contains(s)).collect();
        if !sweep.is_empty() {
            kv.commit(sweep, true)?;
        }
        let store = Arc::new(Store {
            dev,
            kv,
            alloc: Mutex::new(Alloc { total, high, free }),
            chunks: Mutex::new(chunks),
            dedup: AtomicBool::new(true),
        });
        store.unmap_regions(&freed.regions);
        unmap_units(store.dev.as_ref(), freed.segments, SEGMENT, "segment");
        Ok(store)
    }

    /// Whether new data records are deduplicated.
    pub fn dedup(&self) -> bool {
        self.dedup.load(Ordering::Relaxed)
    }

    /// Turns deduplication of new data records on or off (records already written stay
    /// as they are).
    pub fn set_dedup(&self, on: bool) {
        self.dedup.store(on, Ordering::Relaxed);
    }

    /// The library's deduplication saving.
    pub fn dedup_stats(&self) -> DedupStats {
        self.chunks.lock().stats()
    }

    /// Unmaps 1 MiB regions of the volume (their chunks are gone).
    fn unmap_regions(&self, regions: &[u64]) {
        unmap_units(
            self.dev.as_ref(),
            regions.iter().copied(),
            1 << 20,
            "chunk region",
        );
    }

    /// The volume.
    pub fn device(&self) -> &Arc<dyn BlockDevice> {
        &self.dev
    }

    /// The catalog.
    pub fn kv(&self) -> &Arc<dyn Kv> {
        &self.kv
    }

    /// Segments in use and in all.
    pub fn segments(&self) -> (u64, u64) {
        let a = self.alloc.lock();
        (a.high - a.free.len() as u64, a.total)
    }

    fn allocate(&self) -> Result<u64> {
        let mut a = self.alloc.lock();
        if let Some(s) = a.free.pop_first() {
            return Ok(s);
        }
        if a.high < a.total {
            a.high += 1;
            return Ok(a.high - 1);
        }
        Err(VtlError::Full(format!(
            "all {} segments of {} MiB are in use; grow the store volume or erase cartridges",
            a.total,
            SEGMENT >> 20
        )))
    }

    /// Returns segments (their catalog keys already deleted) after unmapping them.
    fn release(&self, segs: &[u64]) {
        unmap_units(self.dev.as_ref(), segs.iter().copied(), SEGMENT, "segment");
        let mut a = self.alloc.lock();
        a.free.extend(segs.iter().copied());
    }

    /// Whether cartridge `barcode` has never been written, or was erased from the
    /// beginning (it holds no segment): a scratch cartridge. A cartridge in a drive may be
    /// ahead of its catalog; ask the drive for those.
    pub fn is_blank(&self, barcode: &str) -> Result<bool> {
        Ok(self.kv.scan(&seg_prefix(barcode))?.is_empty())
    }

    /// Deletes cartridge `barcode`'s records and returns its space (it must not be open):
    /// the references of its deduplicated records are dropped, and chunks no cartridge
    /// refers to any more are freed.
    pub fn delete(self: &Arc<Self>, barcode: &str) -> Result<()> {
        if !self.chunks.lock().is_empty() {
            tape::Tape::open(self.clone(), barcode)?.truncate(0)?;
        }
        let sp = seg_prefix(barcode);
        let segs = self
            .kv
            .scan(&sp)?
            .into_iter()
            .filter_map(|(_, v)| be64(&v))
            .collect::<Vec<_>>();
        let xp = ext_prefix(barcode);
        let mut b = Batch::default();
        b.delete_range(sp.clone(), prefix_end(&sp));
        b.delete_range(xp.clone(), prefix_end(&xp));
        b.delete(usage_key(barcode));
        self.kv.commit(b, true)?;
        self.release(&segs);
        Ok(())
    }
}

/// Unmaps `units` of `size` bytes each (unit `u` is bytes `u * size..`), side by side
/// ones in one request: the pool saves its map once per request (a synced write of its
/// catalog), so a truncate that frees a gibibyte of chunks costs a few of those, not a
/// thousand. A failure is logged: the space stays allocated, nothing is lost.
pub(crate) fn unmap_units(
    dev: &dyn BlockDevice,
    units: impl IntoIterator<Item = u64>,
    size: u64,
    what: &str,
) {
    for (first, n) in runs(units) {
        if let Err(e) = dev.unmap(first * size, n * size) {
            tracing::warn!(first, count = n, "could not unmap a freed {what}: {e}");
        }
    }
}

/// `(first, count)` of each run of consecutive numbers in `units` (in any order,
/// repeats allowed), in increasing order.
fn runs(units: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut sorted: Vec<u64> = units.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for u in sorted {
        match out.last_mut() {
            Some((first, n)) if *first + *n == u => *n += 1,
            _ => out.push((u, 1)),
        }
    }
    out
}

fn corrupt(key: &[u8], why: &str) -> VtlError {
    VtlError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests;
