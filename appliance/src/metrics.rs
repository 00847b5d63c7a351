//! Prometheus metrics. Each appliance has its own [`Registry`]: the API counts requests
//! here, components register their gauges (updated when `/metrics` is scraped), and
//! [`MeteredDevice`] counts a volume's I/O for whichever front end serves it (iSCSI, VMM).
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_api_requests_total` | route, method, status | API requests answered |
//! | `vsa_uptime_seconds` | | seconds since the daemon started |
//! | `vsa_pool_capacity_bytes`, `_allocated_bytes`, `_free_bytes`, `_provisioned_bytes` | pool | space |
//! | `vsa_pool_member_state` | pool, index, member, state | 1 for the member's state (active, faulty, rebuilding) |
//! | `vsa_pool_degraded` | pool | 1 if some member is not active |
//! | `vsa_pool_task_done_bytes`, `vsa_pool_task_total_bytes`, `vsa_pool_task_running` | pool, task (rebuild, scrub) | progress of long operations |
//! | `vsa_pool_scrub_mismatches` | pool | mismatches the last scrub found |
//! | `vsa_pool_read_cache_hit_pages`, `_miss_pages`, `_bytes`, `_capacity_bytes` | pool | the read cache: pages reads found and fetched since the pool opened, bytes held, capacity |
//! | `vsa_volume_provisioned_bytes`, `vsa_volume_allocated_bytes` | pool, volume | volume space |
//! | `vsa_volume_io_ops_total`, `vsa_volume_io_bytes_total`, `vsa_volume_io_errors_total` | volume, op | I/O through a [`MeteredDevice`] |
//! | `vsa_volume_io_latency_seconds` | volume, op | I/O latency histogram |
//!
//! The iSCSI series are listed in `target/metrics.rs`.

use crate::appliance::Appliance;
use crate::controller::state_word;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    Opts, Registry, TextEncoder,
};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use vsa_blockdev::{BlockDevice, Extent};
use vsa_pool::raid::MemberState;

/// Metrics every appliance has, whatever its components.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Registry,
    /// API requests by route template, method and status.
    pub api_requests: IntCounterVec,
    /// Seconds since start.
    pub uptime: Gauge,
    /// Per-volume I/O.
    pub io: IoMetrics,
    /// Per-LUN SCSI commands.
    pub scsi: crate::target::metrics::ScsiMetrics,
}

impl Metrics {
    /// A fresh registry with the common metrics.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let api_requests = IntCounterVec::new(
            Opts::new("vsa_api_requests_total", "API requests answered"),
            &["route", "method", "status"],
        )?;
        registry.register(Box::new(api_requests.clone()))?;
        let uptime = Gauge::new("vsa_uptime_seconds", "Seconds since the daemon started")?;
        registry.register(Box::new(uptime.clone()))?;
        let io = IoMetrics::new(&registry)?;
        let scsi = crate::target::metrics::ScsiMetrics::new(&registry)?;
        Ok(Metrics {
            registry,
            api_requests,
            uptime,
            io,
            scsi,
        })
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!("encoding metrics failed: {e}");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Per-volume I/O counters and latency histograms.
#[derive(Clone)]
pub struct IoMetrics {
    ops: IntCounterVec,
    bytes: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
}

/// The operations [`IoMetrics`] counts.
pub const IO_OPS: [&str; 4] = ["read", "write", "flush", "unmap"];

impl IoMetrics {
    fn new(registry: &Registry) -> Result<IoMetrics, prometheus::Error> {
        let ops = IntCounterVec::new(
            Opts::new("vsa_volume_io_ops_total", "Volume I/O operations"),
            &["volume", "op"],
        )?;
        let bytes = IntCounterVec::new(
            Opts::new("vsa_volume_io_bytes_total", "Volume I/O bytes"),
            &["volume", "op"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "vsa_volume_io_errors_total",
                "Volume I/O operations that failed",
            ),
            &["volume", "op"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("vsa_volume_io_latency_seconds", "Volume I/O latency").buckets(
                vec![
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["volume", "op"],
        )?;
        for c in [&ops, &bytes, &errors] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(latency.clone()))?;
        Ok(IoMetrics {
            ops,
            bytes,
            errors,
            latency,
        })
    }

    /// Makes a volume's series exist (at zero) before its first I/O.
    pub fn touch(&self, volume: &str) {
        for op in IO_OPS {
            self.ops.with_label_values(&[volume, op]);
            self.bytes.with_label_values(&[volume, op]);
        }
    }

    /// Removes a deleted volume's series.
    pub fn remove(&self, volume: &str) {
        for op in IO_OPS {
            let _ = self.ops.remove_label_values(&[volume, op]);
            let _ = self.bytes.remove_label_values(&[volume, op]);
            let _ = self.errors.remove_label_values(&[volume, op]);
            let _ = self.latency.remove_label_values(&[volume, op]);
        }
    }

    /// Wraps `dev` (a volume) so that its I/O is counted under `volume`. The series are
    /// looked up here, once, not per I/O.
    pub fn wrap<D: BlockDevice>(&self, volume: &str, dev: D) -> MeteredDevice<D> {
        self.touch(volume);
        let series = |op: &str| OpSeries {
            ops: self.ops.with_label_values(&[volume, op]),
            bytes: self.bytes.with_label_values(&[volume, op]),
            latency: self.latency.with_label_values(&[volume, op]),
            errors: OnceLock::new(),
        };
        MeteredDevice {
            inner: dev,
            volume: volume.to_owned(),
            read: series("read"),
            write: series("write"),
            flush: series("flush"),
            unmap: series("unmap"),
            metrics: self.clone(),
        }
    }
}

/// The series of one volume and operation.
#[derive(Debug)]
struct OpSeries {
    ops: IntCounter,
    bytes: IntCounter,
    latency: Histogram,
    /// Made on the first error, so volumes without errors show no error series.
    errors: OnceLock<IntCounter>,
}

/// A [`BlockDevice`] that counts the I/O of the device it wraps.
#[derive(Debug)]
pub struct MeteredDevice<D> {
    inner: D,
    volume: String,
    read: OpSeries,
    write: OpSeries,
    flush: OpSeries,
    unmap: OpSeries,
    metrics: IoMetrics,
}

impl<D: BlockDevice> MeteredDevice<D> {
    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn record<T>(
        &self,
        s: &OpSeries,
        op: &str,
        bytes: u64,
        start: Instant,
        r: &vsa_blockdev::Result<T>,
    ) {
        s.ops.inc();
        if r.is_ok() {
            s.bytes.inc_by(bytes);
        } else {
            s.errors
                .get_or_init(|| self.metrics.errors.with_label_values(&[&self.volume, op]))
                .inc();
        }
        s.latency.observe(start.elapsed().as_secs_f64());
    }
}

impl<D: BlockDevice> BlockDevice for MeteredDevice<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn space_low(&self) -> bool {
        self.inner.space_low()
    }
    fn io_granularity(&self) -> u64 {
        self.inner.io_granularity()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        let start = Instant::now();
        let r = self.inner.read_at(buf, offset);
        self.record(&self.read, "read", buf.len() as u64, start, &r);
        r
    }
    fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<vsa_blockdev::Result<()>> {
        let start = Instant::now();
        let r = self.inner.try_read_at(buf, offset)?;
        self.record(&self.read, "read", buf.len() as u64, start, &r);
        Some(r)
    }
    fn try_read_shared(
        &self,
        out: &mut Vec<vsa_blockdev::Bytes>,
        offset: u64,
        len: usize,
    ) -> Option<vsa_blockdev::Result<()>> {
        let start = Instant::now();
        let r = self.inner.try_read_shared(out, offset, len)?;
        self.record(&self.read, "read", len as u64, start, &r);
        Some(r)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        let start = Instant::now();
        let r = self.inner.write_at(buf, offset);
        self.record(&self.write, "write", buf.len() as u64, start, &r);
        r
    }
    fn flush(&self) -> vsa_blockdev::Result<()> {
        let start = Instant::now();
        let r = self.inner.flush();
        self.record(&self.flush, "flush", 0, start, &r);
        r
    }
    fn unmap(&self, offset: u64, len: u64) -> vsa_blockdev::Result<()> {
        let start = Instant::now();
        let r = self.inner.unmap(offset, len);
        self.record(&self.unmap, "unmap", len, start, &r);
        r
    }
    fn allocation(&self, offset: u64, len: u64) -> vsa_blockdev::Result<Vec<Extent>> {
        self.inner.allocation(offset, len)
    }
}

/// The pool component's gauges, set from pool and volume status at scrape time.
#[derive(Clone)]
pub struct PoolMetrics {
    capacity: GaugeVec,
    allocated: GaugeVec,
    free: GaugeVec,
    provisioned: GaugeVec,
    member_state: GaugeVec,
    degraded: GaugeVec,
    task_done: GaugeVec,
    task_total: GaugeVec,
    task_running: GaugeVec,
    scrub_mismatches: GaugeVec,
    cache: [GaugeVec; 4],
    vol_provisioned: GaugeVec,
    vol_allocated: GaugeVec,
    io: IoMetrics,
}

fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

impl PoolMetrics {
    /// Registers the pool gauges.
    pub fn new(metrics: &Metrics) -> Result<PoolMetrics, prometheus::Error> {
        let r = &metrics.registry;
        let p = &["pool"];
        let cache = |n: &str, help: &str| gauge(r, &format!("vsa_pool_read_cache_{n}"), help, p);
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
            degraded: gauge(r, "vsa_pool_degraded", "1 if some member is not active", p)?,
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
            io: metrics.io.clone(),
        })
    }

    /// Sets every gauge from the pools' current state.
    pub fn update(&self, app: &Appliance) {
        for g in [
            &self.capacity,
            &self.allocated,
            &self.free,
            &self.provisioned,
            &self.member_state,
            &self.degraded,
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
        for pool in app.pools() {
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
            for m in &st.raid.members {
                let idx = m.index.to_string();
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
                .set(st.last_scrub.map(|r| r.mismatches).unwrap_or(0) as f64);
            let c = st.read_cache;
            for (g, v) in self
                .cache
                .iter()
                .zip([c.hits, c.misses, c.bytes_cached, c.capacity])
            {
                g.with_label_values(&[name]).set(v as f64);
            }
            for v in pool.volumes().list() {
                let labels = [name, v.record.name.as_str()];
                self.vol_provisioned
                    .with_label_values(&labels)
                    .set(v.record.size as f64);
                self.vol_allocated
                    .with_label_values(&labels)
                    .set(v.allocated as f64);
                self.io.touch(&v.record.name);
            }
        }
    }
}

// prometheus's metric vectors do not implement Debug.
macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}
opaque_debug!(Metrics, IoMetrics, PoolMetrics);

/// Shared handle to the metrics.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;
    use vsa_blockdev::testing::MemDevice;

    #[test]
    fn metered_device_counts_io() {
        let m = Metrics::new().unwrap();
        let dev = m.io.wrap("vol1", MemDevice::new(1 << 20, 512));
        dev.write_at(&[1u8; 4096], 0).unwrap();
        let mut buf = [0u8; 1024];
        dev.read_at(&mut buf, 0).unwrap();
        dev.read_at(&mut buf, 512).unwrap();
        assert!(dev.read_at(&mut buf, 1 << 20).is_err());
        dev.flush().unwrap();
        let text = m.encode();
        for line in [
            "vsa_volume_io_ops_total{op=\"read\",volume=\"vol1\"} 3",
            "vsa_volume_io_bytes_total{op=\"read\",volume=\"vol1\"} 2048",
            "vsa_volume_io_bytes_total{op=\"write\",volume=\"vol1\"} 4096",
            "vsa_volume_io_errors_total{op=\"read\",volume=\"vol1\"} 1",
            "vsa_volume_io_ops_total{op=\"unmap\",volume=\"vol1\"} 0",
            "vsa_volume_io_latency_seconds_count{op=\"write\",volume=\"vol1\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        m.io.remove("vol1");
        assert!(!m.encode().contains("vol1"));
    }
}
