//! Prometheus metrics. Each appliance has its own [`Registry`]: the API counts requests
//! here, components register their own series at open (updated when `/metrics` is
//! scraped, see [`crate::core::Running::update_metrics`]), and [`MeteredDevice`] counts
//! the I/O of every volume opened through [`crate::core::Volumes`], whichever component
//! serves it.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_api_requests_total` | route, method, status | API requests answered |
//! | `vsa_uptime_seconds` | | seconds since the daemon started |
//! | `vsa_volume_io_ops_total`, `vsa_volume_io_bytes_total`, `vsa_volume_io_errors_total` | volume, op | I/O through a [`MeteredDevice`] |
//! | `vsa_volume_io_latency_seconds` | volume, op | I/O latency histogram |
//!
//! Each component lists its own series in its `metrics.rs`.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    Opts, Registry, TextEncoder,
};
use std::sync::OnceLock;
use std::time::Instant;
use vsa_blockdev::{BlockDevice, Extent};

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
        Ok(Metrics {
            registry,
            api_requests,
            uptime,
            io,
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

    /// A volume's operations and bytes so far, per operation of [`IO_OPS`].
    pub fn totals(&self, volume: &str) -> [(&'static str, u64, u64); 4] {
        IO_OPS.map(|op| {
            (
                op,
                self.ops.with_label_values(&[volume, op]).get(),
                self.bytes.with_label_values(&[volume, op]).get(),
            )
        })
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
    fn read_once_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        let start = Instant::now();
        let r = self.inner.read_once_at(buf, offset);
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
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<vsa_blockdev::Result<()>> {
        let start = Instant::now();
        let r = self.inner.try_write_at(buf, offset)?;
        self.record(&self.write, "write", buf.len() as u64, start, &r);
        Some(r)
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

/// A gauge vector registered in `registry`.
pub fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// A counter registered in `registry`.
pub fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
) -> Result<IntCounter, prometheus::Error> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Implements `Debug` for types holding prometheus series (which do not).
#[macro_export]
macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}
opaque_debug!(Metrics, IoMetrics);

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
