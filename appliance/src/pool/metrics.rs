//! The pool component's metrics, set from pool and volume status at scrape time.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_pool_capacity_bytes`, `_allocated_bytes`, `_free_bytes`, `_provisioned_bytes` | pool | space |
//! | `vsa_pool_member_state` | pool, index, member, state | 1 for the member's state (active, faulty, rebuilding) |
//! | `vsa_pool_member_checksum_errors` | pool, index, member | reads that found the member's blocks failing their checksums since the pool opened (repaired from redundancy, or lost) |
//! | `vsa_pool_degraded` | pool | 1 if some member is not active |
//! | `vsa_pool_health` | pool, state (failed, degraded, rebuilding, full, errors_found, low_space, scrubbing, healthy) | 1 for each state that applies, 0 for the others (`healthy` is 1 only when no other is; see `pool/health.rs`): alert on e.g. `vsa_pool_health{state=~"failed\|degraded\|full\|errors_found"} == 1` |
//! | `vsa_pool_task_done_bytes`, `vsa_pool_task_total_bytes`, `vsa_pool_task_running` | pool, task (rebuild, scrub) | progress of long operations |
//! | `vsa_pool_scrub_mismatches` | pool | mismatches the last scrub found |
//! | `vsa_pool_read_cache_hit_pages`, `_miss_pages`, `_bytes`, `_capacity_bytes` | pool | the read cache: pages reads found and fetched since the pool opened, bytes held, capacity |
//! | `vsa_pool_journal_used_bytes`, `_capacity_bytes`, `_pending_blocks`, `_records`, `_commits`, `_destaged_bytes` | pool | the pool's write journal: bytes of records in the log and its room, blocks not yet home, records and durable appends (commits) and bytes written home since the pool opened |
//! | `vsa_volume_provisioned_bytes`, `vsa_volume_allocated_bytes` | pool, volume | volume space |

use super::health::{Health, PoolHealth};
use super::service::PoolService;
use super::types::state_word;
use crate::core::metrics::{gauge, Metrics};
use crate::core::Volumes;
use prometheus::GaugeVec;
use vsa_pool::raid::MemberState;

/// The pool component's gauges, set from pool and volume status at scrape time.
#[derive(Clone)]
pub struct PoolMetrics {
    capacity: GaugeVec,
    allocated: GaugeVec,
    free: GaugeVec,
    provisioned: GaugeVec,
    member_state: GaugeVec,
    member_errors: GaugeVec,
    degraded: GaugeVec,
    health: GaugeVec,
    task_done: GaugeVec,
    task_total: GaugeVec,
    task_running: GaugeVec,
    scrub_mismatches: GaugeVec,
    cache: [GaugeVec; 4],
    journal: [GaugeVec; 6],
    vol_provisioned: GaugeVec,
    vol_allocated: GaugeVec,
}

impl PoolMetrics {
    /// Registers the pool gauges.
    pub fn new(metrics: &Metrics) -> Result<PoolMetrics, prometheus::Error> {
        let r = &metrics.registry;
        let p = &["pool"];
        let cache = |n: &str, help: &str| gauge(r, &format!("vsa_pool_read_cache_{n}"), help, p);
        let journal = |n: &str, help: &str| gauge(r, &format!("vsa_pool_journal_{n}"), help, p);
        Ok(PoolMetrics {
            capacity: gauge(r, "vsa_pool_capacity_bytes", "Usable bytes of the pool", p)?,
            allocated: gauge(
                r,
                "vsa_pool_allocated_bytes",
                "Bytes in allocated chunks",
                p,
            )?,
            free: gauge(r, "vsa_pool_free_bytes", "Free bytes", p)?,
            provisioned: gauge(
                r,
                "vsa_pool_provisioned_bytes",
                "Sum of the pool's volume sizes",
                p,
            )?,
            member_state: gauge(
                r,
                "vsa_pool_member_state",
                "1 for each member's current state",
                &["pool", "index", "member", "state"],
            )?,
            member_errors: gauge(
                r,
                "vsa_pool_member_checksum_errors",
                "Reads that found the member's blocks failing their checksums since the pool opened",
                &["pool", "index", "member"],
            )?,
            degraded: gauge(r, "vsa_pool_degraded", "1 if some member is not active", p)?,
            health: gauge(
                r,
                "vsa_pool_health",
                "1 for each health state that applies to the pool, 0 for the others",
                &["pool", "state"],
            )?,
            task_done: gauge(
                r,
                "vsa_pool_task_done_bytes",
                "Bytes a rebuild or scrub has processed",
                &["pool", "task"],
            )?,
            task_total: gauge(
                r,
                "vsa_pool_task_total_bytes",
                "Bytes a rebuild or scrub processes in all",
                &["pool", "task"],
            )?,
            task_running: gauge(
                r,
                "vsa_pool_task_running",
                "1 while a rebuild or scrub runs",
                &["pool", "task"],
            )?,
            scrub_mismatches: gauge(
                r,
                "vsa_pool_scrub_mismatches",
                "Mismatches the last scrub found",
                p,
            )?,
            cache: [
                cache("hit_pages", "Pages reads found in the read cache")?,
                cache("miss_pages", "Pages reads fetched from the RAID set")?,
                cache("bytes", "Bytes the read cache holds")?,
                cache("capacity_bytes", "The read cache's capacity (0: off)")?,
            ],
            journal: [
                journal("used_bytes", "Bytes of records in the write journal")?,
                journal("capacity_bytes", "Room for records in the write journal")?,
                journal("pending_blocks", "Journaled 4 KiB blocks not yet written home")?,
                journal("records", "Records journaled since the pool opened")?,
                journal("commits", "Durable journal appends since the pool opened")?,
                journal("destaged_bytes", "Bytes written home from the journal")?,
            ],
            vol_provisioned: gauge(
                r,
                "vsa_volume_provisioned_bytes",
                "Volume size",
                &["pool", "volume"],
            )?,
            vol_allocated: gauge(
                r,
                "vsa_volume_allocated_bytes",
                "Pool bytes the volume alone holds",
                &["pool", "volume"],
            )?,
        })
    }

    /// Sets every gauge from the pools' current state.
    pub fn update(&self, svc: &PoolService, volumes: &Volumes) {
        for g in [
            &self.capacity,
            &self.allocated,
            &self.free,
            &self.provisioned,
            &self.member_state,
            &self.member_errors,
            &self.degraded,
            &self.health,
            &self.task_done,
            &self.task_total,
            &self.task_running,
            &self.scrub_mismatches,
            &self.cache[0],
            &self.cache[1],
            &self.cache[2],
            &self.cache[3],
            &self.vol_provisioned,
            &self.vol_allocated,
        ] {
            g.reset();
        }
        for pool in svc.pools() {
            let name = pool.name();
            let st = pool.status();
            self.capacity
                .with_label_values(&[name])
                .set(st.space.capacity as f64);
            self.allocated
                .with_label_values(&[name])
                .set(st.space.allocated as f64);
            self.free
                .with_label_values(&[name])
                .set(st.space.free as f64);
            self.provisioned
                .with_label_values(&[name])
                .set(st.space.provisioned as f64);
            self.degraded
                .with_label_values(&[name])
                .set(if st.raid.degraded { 1.0 } else { 0.0 });
            let h = PoolHealth::of(&st);
            for state in Health::ALL {
                let on = h.conditions.contains(&state);
                self.health
                    .with_label_values(&[name, state.word()])
                    .set(if on { 1.0 } else { 0.0 });
            }
            for m in &st.raid.members {
                let idx = m.index.to_string();
                self.member_errors
                    .with_label_values(&[name, &idx, &m.name])
                    .set(m.checksum_errors as f64);
                for s in [
                    MemberState::Active,
                    MemberState::Faulty,
                    MemberState::Rebuilding { rebuilt: 0 },
                ] {
                    let on = state_word(s) == state_word(m.state);
                    self.member_state
                        .with_label_values(&[name, &idx, &m.name, state_word(s)])
                        .set(if on { 1.0 } else { 0.0 });
                }
            }
            for (task, report) in [("rebuild", st.rebuild), ("scrub", st.scrub)] {
                let (done, total, running) = report
                    .map(|r| (r.done, r.total, !r.finished))
                    .unwrap_or((0, 0, false));
                self.task_done
                    .with_label_values(&[name, task])
                    .set(done as f64);
                self.task_total
                    .with_label_values(&[name, task])
                    .set(total as f64);
                self.task_running
                    .with_label_values(&[name, task])
                    .set(if running { 1.0 } else { 0.0 });
            }
            self.scrub_mismatches
                .with_label_values(&[name])
                .set(st.last_scrub.as_ref().map(|r| r.mismatches).unwrap_or(0) as f64);
            let c = st.read_cache;
            for (g, v) in self
                .cache
                .iter()
                .zip([c.hits, c.misses, c.bytes_cached, c.capacity])
            {
                g.with_label_values(&[name]).set(v as f64);
            }
            if let Some(j) = &st.write_journal {
                let values = [
                    j.used_bytes,
                    j.capacity_bytes,
                    j.pending_blocks,
                    j.records,
                    j.commits,
                    j.destaged_bytes,
                ];
                for (g, v) in self.journal.iter().zip(values) {
                    g.with_label_values(&[name]).set(v as f64);
                }
            }
            for v in pool.volumes().list() {
                let labels = [name, v.record.name.as_str()];
                self.vol_provisioned
                    .with_label_values(&labels)
                    .set(v.record.size as f64);
                self.vol_allocated
                    .with_label_values(&labels)
                    .set(v.allocated as f64);
                volumes.touch(&v.record.name);
            }
        }
    }
}

crate::opaque_debug!(PoolMetrics);
