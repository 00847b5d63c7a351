//! The iSCSI component's gauges and the transport's counters, set from the targets and
//! the iSCSI server at scrape time (the per-LUN command series are in `scsi_metrics.rs`).
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `vsa_iscsi_targets` | | targets configured |
//! | `vsa_iscsi_luns` | target | LUNs of a target |
//! | `vsa_iscsi_sessions` | target | sessions logged in |
//! | `vsa_iscsi_logins_failed_total`, `vsa_iscsi_rejects_total`, `vsa_iscsi_digest_errors_total`, `vsa_iscsi_protocol_errors_total`, `vsa_iscsi_nop_timeouts_total`, `vsa_iscsi_task_management_total` | | transport events |
//! | `vsa_iscsi_inline_commands_total` | | commands served on the connection's thread (cache hits), not the blocking pool |
//! | `vsa_iscsi_logins_over_limit_total` | limit | logins refused (03/02) at a limit of `[iscsi]`: `max_sessions`, `max_sessions_per_initiator` or `max_login_connections` |
//! | `vsa_iscsi_login_connections` | | connections in the login phase now |
//! | `vsa_iscsi_chap_failures_total` | | wrong CHAP answers (each answered after a growing delay) |

use super::service::Targets;
use crate::core::metrics::{counter, Metrics};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use vsa_iscsi::admission::Limit;

/// The target component's gauges and the transport's counters.
#[derive(Debug, Clone)]
pub struct TargetMetrics {
    targets: IntGauge,
    luns: IntGaugeVec,
    sessions: IntGaugeVec,
    logins_failed: IntCounter,
    rejects: IntCounter,
    digest_errors: IntCounter,
    protocol_errors: IntCounter,
    nop_timeouts: IntCounter,
    task_management: IntCounter,
    inline_commands: IntCounter,
    over_limit: IntCounterVec,
    login_connections: IntGauge,
    chap_failures: IntCounter,
}

/// Brings a counter up to a total the transport keeps.
fn catch_up(c: &IntCounter, total: u64) {
    c.inc_by(total.saturating_sub(c.get()));
}

impl TargetMetrics {
    /// Registers the series.
    pub fn new(m: &Metrics) -> Result<TargetMetrics, prometheus::Error> {
        let r = &m.registry;
        let targets = IntGauge::new("vsa_iscsi_targets", "iSCSI targets configured")?;
        let luns = IntGaugeVec::new(Opts::new("vsa_iscsi_luns", "LUNs of a target"), &["target"])?;
        let sessions = IntGaugeVec::new(
            Opts::new("vsa_iscsi_sessions", "iSCSI sessions logged in"),
            &["target"],
        )?;
        let over_limit = IntCounterVec::new(
            Opts::new(
                "vsa_iscsi_logins_over_limit_total",
                "Logins refused (status 03/02) because a limit of [iscsi] was reached",
            ),
            &["limit"],
        )?;
        let login_connections = IntGauge::new(
            "vsa_iscsi_login_connections",
            "iSCSI connections in the login phase",
        )?;
        r.register(Box::new(targets.clone()))?;
        r.register(Box::new(luns.clone()))?;
        r.register(Box::new(sessions.clone()))?;
        r.register(Box::new(over_limit.clone()))?;
        r.register(Box::new(login_connections.clone()))?;
        Ok(TargetMetrics {
            targets,
            luns,
            sessions,
            logins_failed: counter(r, "vsa_iscsi_logins_failed_total", "Logins refused")?,
            rejects: counter(r, "vsa_iscsi_rejects_total", "Reject PDUs sent")?,
            digest_errors: counter(r, "vsa_iscsi_digest_errors_total", "PDUs with a bad digest")?,
            protocol_errors: counter(
                r,
                "vsa_iscsi_protocol_errors_total",
                "Connections dropped for protocol violations",
            )?,
            nop_timeouts: counter(
                r,
                "vsa_iscsi_nop_timeouts_total",
                "Connections dropped because the initiator stopped answering NOP-In",
            )?,
            task_management: counter(
                r,
                "vsa_iscsi_task_management_total",
                "Task management requests",
            )?,
            inline_commands: counter(
                r,
                "vsa_iscsi_inline_commands_total",
                "SCSI commands served without the blocking pool (reads from the pool's cache)",
            )?,
            over_limit,
            login_connections,
            chap_failures: counter(
                r,
                "vsa_iscsi_chap_failures_total",
                "Wrong CHAP answers (each answered after a growing delay)",
            )?,
        })
    }
}

impl TargetMetrics {
    /// Sets the gauges and catches the transport's counters up.
    pub fn update(&self, targets: &Targets) {
        let live = targets.live();
        self.targets.set(live.len() as i64);
        self.luns.reset();
        self.sessions.reset();
        for t in &live {
            let name = t.entry().name.clone();
            self.luns
                .with_label_values(&[name.as_str()])
                .set(t.scsi().luns().len() as i64);
            self.sessions.with_label_values(&[name.as_str()]).set(0);
        }
        for s in targets.session_list() {
            if !s.discovery {
                self.sessions.with_label_values(&[s.target.as_str()]).inc();
            }
        }
        if let Some(snap) = targets.transport_metrics() {
            catch_up(&self.logins_failed, snap.login_failures);
            catch_up(&self.rejects, snap.rejects);
            catch_up(&self.digest_errors, snap.digest_errors);
            catch_up(&self.protocol_errors, snap.protocol_errors);
            catch_up(&self.nop_timeouts, snap.nop_timeouts);
            catch_up(&self.task_management, snap.task_management);
            catch_up(&self.inline_commands, snap.inline_commands);
            catch_up(&self.chap_failures, snap.chap_failures);
            for limit in Limit::ALL {
                let c = self.over_limit.with_label_values(&[limit.key()]);
                catch_up(&c, snap.over_limit(limit));
            }
            let logging_in = i64::try_from(snap.login_connections).unwrap_or(i64::MAX);
            self.login_connections.set(logging_in);
        }
    }
}
