//! The tape library component's series, set from the libraries at scrape time.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_vtl_libraries` | | libraries |
//! | `vsa_vtl_slots` | library, state (`used`, `free`) | storage slots |
//! | `vsa_vtl_cartridges` | library | cartridges the library knows (slots, drives, mail slots, shelf) |
//! | `vsa_vtl_store_bytes` | library | pool space its cartridge store has taken (whole 32 MiB segments) |
//! | `vsa_vtl_drive_bytes_written_total`, `vsa_vtl_drive_bytes_read_total` | library, drive | bytes initiators wrote and read |
//! | `vsa_vtl_drive_mounts_total`, `vsa_vtl_drive_positioning_total` | library, drive | cartridges loaded; SPACE, LOCATE and REWIND commands |
//! | `vsa_vtl_drive_errors_total` | library, drive, sense_key | CHECK CONDITIONs by sense key (`0x8`: BLANK CHECK at end of data is normal) |
//! | `vsa_vtl_dedup_ratio` | library | bytes its deduplicated records refer to / bytes their distinct chunks take (1: nothing repeats) |
//! | `vsa_vtl_dedup_saved_bytes` | library | pool space deduplication saves |
//! | `vsa_vtl_compression_ratio` | library | bytes of deduplicated records as written / as stored |
//! | `vsa_vtl_drive_compression_ratio` | library, drive | bytes written / bytes stored on the loaded cartridge (1 without compression) |

use super::service::Libraries;
use super::views::ratio;
use crate::core::metrics::Metrics;
use prometheus::{GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use vsa_vtl::inventory::ElementType;
use vsa_vtl::store::SEGMENT;

/// The component's series.
#[derive(Debug, Clone)]
pub struct VtlMetrics {
    libraries: IntGauge,
    slots: IntGaugeVec,
    cartridges: IntGaugeVec,
    store_bytes: IntGaugeVec,
    written: IntCounterVec,
    read: IntCounterVec,
    mounts: IntCounterVec,
    positioning: IntCounterVec,
    errors: IntCounterVec,
    ratio: GaugeVec,
    dedup_ratio: GaugeVec,
    dedup_saved: IntGaugeVec,
    lib_compression: GaugeVec,
}

fn catch_up(c: &prometheus::IntCounter, total: u64) {
    c.inc_by(total.saturating_sub(c.get()));
}

impl VtlMetrics {
    /// Registers the series.
    pub fn new(m: &Metrics) -> Result<VtlMetrics, prometheus::Error> {
        let r = &m.registry;
        let lib = &["library"];
        let drive = &["library", "drive"];
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let me = VtlMetrics {
            libraries: IntGauge::new("vsa_vtl_libraries", "Tape libraries")?,
            slots: gauge(
                "vsa_vtl_slots",
                "Storage slots, used or free",
                &["library", "state"],
            )?,
            cartridges: gauge("vsa_vtl_cartridges", "Cartridges a library knows", lib)?,
            store_bytes: gauge(
                "vsa_vtl_store_bytes",
                "Pool space a library's cartridge store has taken",
                lib,
            )?,
            written: counter(
                "vsa_vtl_drive_bytes_written_total",
                "Bytes initiators wrote to a drive",
                drive,
            )?,
            read: counter(
                "vsa_vtl_drive_bytes_read_total",
                "Bytes initiators read from a drive",
                drive,
            )?,
            mounts: counter(
                "vsa_vtl_drive_mounts_total",
                "Cartridges loaded into a drive",
                drive,
            )?,
            positioning: counter(
                "vsa_vtl_drive_positioning_total",
                "SPACE, LOCATE and REWIND commands",
                drive,
            )?,
            errors: counter(
                "vsa_vtl_drive_errors_total",
                "CHECK CONDITIONs a drive returned, by sense key",
                &["library", "drive", "sense_key"],
            )?,
            ratio: GaugeVec::new(
                Opts::new(
                    "vsa_vtl_drive_compression_ratio",
                    "Bytes written / bytes stored on the loaded cartridge",
                ),
                drive,
            )?,
            dedup_ratio: GaugeVec::new(
                Opts::new(
                    "vsa_vtl_dedup_ratio",
                    "Bytes deduplicated records refer to / bytes their distinct chunks take",
                ),
                lib,
            )?,
            dedup_saved: gauge(
                "vsa_vtl_dedup_saved_bytes",
                "Pool space deduplication saves in a library",
                lib,
            )?,
            lib_compression: GaugeVec::new(
                Opts::new(
                    "vsa_vtl_compression_ratio",
                    "Bytes of a library's deduplicated records as written / as stored",
                ),
                lib,
            )?,
        };
        r.register(Box::new(me.libraries.clone()))?;
        r.register(Box::new(me.slots.clone()))?;
        r.register(Box::new(me.cartridges.clone()))?;
        r.register(Box::new(me.store_bytes.clone()))?;
        r.register(Box::new(me.written.clone()))?;
        r.register(Box::new(me.read.clone()))?;
        r.register(Box::new(me.mounts.clone()))?;
        r.register(Box::new(me.positioning.clone()))?;
        r.register(Box::new(me.errors.clone()))?;
        r.register(Box::new(me.ratio.clone()))?;
        r.register(Box::new(me.dedup_ratio.clone()))?;
        r.register(Box::new(me.dedup_saved.clone()))?;
        r.register(Box::new(me.lib_compression.clone()))?;
        Ok(me)
    }

    /// Sets every series from the libraries.
    pub fn update(&self, libs: &Libraries) {
        let all = libs.live();
        self.libraries.set(all.len() as i64);
        self.slots.reset();
        self.cartridges.reset();
        self.store_bytes.reset();
        self.ratio.reset();
        self.dedup_ratio.reset();
        self.dedup_saved.reset();
        self.lib_compression.reset();
        for l in all {
            let name = l.record.name.as_str();
            let storage: Vec<_> = l
                .inventory
                .elements()
                .into_iter()
                .filter(|e| e.kind == ElementType::Storage)
                .collect();
            let used = storage.iter().filter(|e| e.occupant.is_some()).count();
            self.slots
                .with_label_values(&[name, "used"])
                .set(used as i64);
            self.slots
                .with_label_values(&[name, "free"])
                .set((storage.len() - used) as i64);
            self.cartridges
                .with_label_values(&[name])
                .set(l.inventory.cartridges().len() as i64);
            self.store_bytes
                .with_label_values(&[name])
                .set((l.store.segments().0 * SEGMENT) as i64);
            let dd = l.store.dedup_stats();
            self.dedup_ratio
                .with_label_values(&[name])
                .set(ratio(dd.referenced_bytes, dd.unique_bytes));
            self.dedup_saved
                .with_label_values(&[name])
                .set(dd.referenced_bytes.saturating_sub(dd.unique_bytes) as i64);
            self.lib_compression
                .with_label_values(&[name])
                .set(ratio(dd.referenced_logical, dd.referenced_bytes));
            for (i, d) in l.drives.iter().enumerate() {
                let s = d.status();
                let n = (i + 1).to_string();
                let labels = [name, n.as_str()];
                let k = s.counters;
                catch_up(&self.written.with_label_values(&labels), k.bytes_written);
                catch_up(&self.read.with_label_values(&labels), k.bytes_read);
                catch_up(&self.mounts.with_label_values(&labels), k.mounts);
                catch_up(&self.positioning.with_label_values(&labels), k.positioning);
                for (key, count) in k.sense_keys.iter().enumerate().filter(|(_, c)| **c > 0) {
                    let key = format!("{key:#x}");
                    catch_up(
                        &self
                            .errors
                            .with_label_values(&[name, n.as_str(), key.as_str()]),
                        *count,
                    );
                }
                let r = s
                    .tape
                    .map_or(1.0, |t| ratio(t.logical_bytes, t.stored_bytes));
                self.ratio.with_label_values(&labels).set(r);
            }
        }
    }
}
