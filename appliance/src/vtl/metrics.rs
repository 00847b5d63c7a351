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
//! | `vsa_vtl_drive_compression_ratio` | library, drive | bytes written / bytes stored on the loaded cartridge (1 without compression) |

use super::service::Libraries;
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
                let ratio = s.tape.map_or(1.0, |t| {
                    if t.stored_bytes == 0 {
                        1.0
                    } else {
                        t.logical_bytes as f64 / t.stored_bytes as f64
                    }
                });
                self.ratio.with_label_values(&labels).set(ratio);
            }
        }
    }
}
