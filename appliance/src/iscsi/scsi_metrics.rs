//! Per-LUN SCSI command metrics: every command is counted by [`MeteredUnit`] (a
//! `LogicalUnit` wrapped around the LUN's unit): by opcode, bytes each way, latency, and
//! errors by sense key.
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_scsi_commands_total` | target, lun, opcode | SCSI commands executed |
//! | `vsa_scsi_bytes_total` | target, lun, dir (in, out) | data-out received, data-in sent |
//! | `vsa_scsi_errors_total` | target, lun, sense_key | commands that ended in CHECK CONDITION (or `reservation_conflict`, `busy`, ...) |
//! | `vsa_scsi_latency_seconds` | target, lun | command latency histogram |

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use vsa_scsi::{Command, LogicalUnit, Nexus, Reset, Response, Status};

/// Per-LUN command series (registered with the common metrics, fed by [`MeteredUnit`]).
#[derive(Debug, Clone)]
pub struct ScsiMetrics {
    commands: IntCounterVec,
    bytes: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
}

impl ScsiMetrics {
    /// Registers the series in `registry`.
    pub fn new(registry: &Registry) -> Result<ScsiMetrics, prometheus::Error> {
        let commands = IntCounterVec::new(
            Opts::new("vsa_scsi_commands_total", "SCSI commands executed"),
            &["target", "lun", "opcode"],
        )?;
        let bytes = IntCounterVec::new(
            Opts::new("vsa_scsi_bytes_total", "SCSI data transferred"),
            &["target", "lun", "dir"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "vsa_scsi_errors_total",
                "SCSI commands that did not end GOOD, by sense key or status",
            ),
            &["target", "lun", "sense_key"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("vsa_scsi_latency_seconds", "SCSI command latency").buckets(vec![
                0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
                0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["target", "lun"],
        )?;
        registry.register(Box::new(commands.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(ScsiMetrics {
            commands,
            bytes,
            errors,
            latency,
        })
    }

    /// Wraps a LUN's unit so its commands are counted.
    pub fn wrap(&self, target: &str, lun: u64, unit: Arc<dyn LogicalUnit>) -> Arc<dyn LogicalUnit> {
        let lun = lun.to_string();
        let (t, l) = (target, lun.as_str());
        Arc::new(MeteredUnit {
            inner: unit,
            bytes_in: self.bytes.with_label_values(&[t, l, "in"]),
            bytes_out: self.bytes.with_label_values(&[t, l, "out"]),
            latency: self.latency.with_label_values(&[t, l]),
            by_opcode: (0..256).map(|_| OnceLock::new()).collect(),
            target: target.to_owned(),
            lun,
            metrics: self.clone(),
        })
    }
}

/// A unit whose commands are counted in [`ScsiMetrics`]. The series of the LUN are
/// looked up once (per opcode: on first use), not per command.
#[derive(Debug)]
pub struct MeteredUnit {
    inner: Arc<dyn LogicalUnit>,
    bytes_in: IntCounter,
    bytes_out: IntCounter,
    latency: Histogram,
    /// Commands by opcode, indexed by the opcode.
    by_opcode: Box<[OnceLock<IntCounter>]>,
    target: String,
    lun: String,
    metrics: ScsiMetrics,
}

impl MeteredUnit {
    fn record(&self, cmd: &Command<'_>, r: &Response, start: Instant) {
        let op = cmd.cdb.first().copied().unwrap_or(0xFF);
        let (t, l) = (self.target.as_str(), self.lun.as_str());
        if let Some(c) = self.by_opcode.get(usize::from(op)) {
            c.get_or_init(|| {
                self.metrics
                    .commands
                    .with_label_values(&[t, l, &opcode_label(op)])
            })
            .inc();
        }
        self.bytes_in.inc_by(cmd.data_out.len() as u64);
        self.bytes_out.inc_by(r.data_len() as u64);
        if let Some(e) = error_label(r) {
            self.metrics.errors.with_label_values(&[t, l, e]).inc();
        }
        self.latency.observe(start.elapsed().as_secs_f64());
    }
}

fn sense_key_name(key: u8) -> &'static str {
    match key {
        0x0 => "no_sense",
        0x1 => "recovered_error",
        0x2 => "not_ready",
        0x3 => "medium_error",
        0x4 => "hardware_error",
        0x5 => "illegal_request",
        0x6 => "unit_attention",
        0x7 => "data_protect",
        0x8 => "blank_check",
        0xA => "copy_aborted",
        0xB => "aborted_command",
        0xD => "volume_overflow",
        0xE => "miscompare",
        _ => "other",
    }
}

/// The sense key of encoded sense data (fixed or descriptor format).
fn sense_key(sense: &[u8]) -> Option<u8> {
    match sense.first().map(|b| b & 0x7F) {
        Some(0x70 | 0x71) => sense.get(2).map(|k| k & 0x0F),
        Some(0x72 | 0x73) => sense.get(1).map(|k| k & 0x0F),
        _ => None,
    }
}

fn error_label(r: &Response) -> Option<&'static str> {
    match r.status {
        Status::Good | Status::ConditionMet => None,
        Status::CheckCondition => Some(
            r.sense
                .as_deref()
                .and_then(sense_key)
                .map(sense_key_name)
                .unwrap_or("other"),
        ),
        Status::ReservationConflict => Some("reservation_conflict"),
        Status::Busy => Some("busy"),
        Status::TaskSetFull => Some("task_set_full"),
        Status::TaskAborted => Some("task_aborted"),
        Status::AcaActive => Some("aca_active"),
    }
}

/// A readable opcode label for the commands initiators send most; hex for the rest
/// (allocated only for those, so the common commands cost no allocation).
fn opcode_label(op: u8) -> std::borrow::Cow<'static, str> {
    let name = match op {
        0x00 => "TEST_UNIT_READY",
        0x03 => "REQUEST_SENSE",
        0x08 => "READ6",
        0x0A => "WRITE6",
        0x12 => "INQUIRY",
        0x1A => "MODE_SENSE6",
        0x25 => "READ_CAPACITY10",
        0x28 => "READ10",
        0x2A => "WRITE10",
        0x35 => "SYNCHRONIZE_CACHE10",
        0x41 => "WRITE_SAME10",
        0x42 => "UNMAP",
        0x5A => "MODE_SENSE10",
        0x5E => "PERSISTENT_RESERVE_IN",
        0x5F => "PERSISTENT_RESERVE_OUT",
        0x83 => "EXTENDED_COPY",
        0x88 => "READ16",
        0x89 => "COMPARE_AND_WRITE",
        0x8A => "WRITE16",
        0x91 => "SYNCHRONIZE_CACHE16",
        0x93 => "WRITE_SAME16",
        0x9E => "SERVICE_ACTION_IN16",
        0xA0 => "REPORT_LUNS",
        _ => return format!("0x{op:02X}").into(),
    };
    name.into()
}

impl LogicalUnit for MeteredUnit {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        let start = Instant::now();
        let r = self.inner.execute(cmd);
        self.record(cmd, &r, start);
        r
    }

    fn try_execute(&self, cmd: &Command<'_>) -> Option<Response> {
        let start = Instant::now();
        let r = self.inner.try_execute(cmd)?;
        self.record(cmd, &r, start);
        Some(r)
    }

    fn sequential(&self) -> bool {
        self.inner.sequential()
    }

    fn reset(&self, reset: Reset, from: &Nexus) {
        self.inner.reset(reset, from);
    }

    fn tasks_cleared(&self, nexus: &Nexus, by: &Nexus) {
        self.inner.tasks_cleared(nexus, by);
    }

    fn nexus_lost(&self, nexus: &Nexus) {
        self.inner.nexus_lost(nexus);
    }

    fn aborting(&self, nexus: &Nexus) {
        self.inner.aborting(nexus);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sense_keys_of_both_formats() {
        assert_eq!(sense_key(&[0x70, 0, 0x05]), Some(5));
        assert_eq!(sense_key(&[0xF0, 0, 0x26]), Some(6));
        assert_eq!(sense_key(&[0x72, 0x07]), Some(7));
        assert_eq!(sense_key(&[]), None);
    }

    #[test]
    fn opcode_labels() {
        assert_eq!(opcode_label(0x28), "READ10");
        assert_eq!(opcode_label(0xC1), "0xC1");
    }
}
