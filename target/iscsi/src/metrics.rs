//! Counters the appliance reads (its `/metrics` turns a [`MetricsSnapshot`] into
//! Prometheus text).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::admission::Limit;

/// Live counters, shared by every connection of a server.
#[derive(Debug)]
pub struct Metrics {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_active: AtomicU64,
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_active: AtomicU64,
    pub(crate) login_failures: AtomicU64,
    pub(crate) commands: [AtomicU64; 256],
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) pdus_in: AtomicU64,
    pub(crate) pdus_out: AtomicU64,
    pub(crate) rejects: AtomicU64,
    pub(crate) digest_errors: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) task_management: AtomicU64,
    pub(crate) nop_timeouts: AtomicU64,
    pub(crate) inline_commands: AtomicU64,
    pub(crate) login_connections: AtomicU64,
    pub(crate) logins_over_limit: [AtomicU64; Limit::COUNT],
    pub(crate) chap_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections_accepted: AtomicU64::new(0),
            connections_active: AtomicU64::new(0),
            sessions_opened: AtomicU64::new(0),
            sessions_active: AtomicU64::new(0),
            login_failures: AtomicU64::new(0),
            commands: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            pdus_in: AtomicU64::new(0),
            pdus_out: AtomicU64::new(0),
            rejects: AtomicU64::new(0),
            digest_errors: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            task_management: AtomicU64::new(0),
            nop_timeouts: AtomicU64::new(0),
            inline_commands: AtomicU64::new(0),
            login_connections: AtomicU64::new(0),
            logins_over_limit: std::array::from_fn(|_| AtomicU64::new(0)),
            chap_failures: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    pub connections_accepted: u64,
    pub connections_active: u64,
    pub sessions_opened: u64,
    pub sessions_active: u64,
    pub login_failures: u64,
    /// SCSI commands executed, by CDB opcode (only opcodes seen).
    pub commands_by_opcode: Vec<(u8, u64)>,
    /// Bytes read from / written to initiators' sockets.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub pdus_in: u64,
    pub pdus_out: u64,
    /// Reject PDUs sent.
    pub rejects: u64,
    pub digest_errors: u64,
    /// Protocol violations that dropped a connection.
    pub protocol_errors: u64,
    pub task_management: u64,
    /// Connections dropped because the initiator did not answer a NOP-In.
    pub nop_timeouts: u64,
    /// Commands served on the connection's own thread, without the blocking pool (reads
    /// whose data was in the pool's cache).
    pub inline_commands: u64,
    /// Connections in the login phase now.
    pub login_connections: u64,
    /// Logins refused at a limit, indexed by [`Limit`] (see [`MetricsSnapshot::over_limit`]).
    pub logins_over_limit: [u64; Limit::COUNT],
    /// CHAP answers that failed verification (each answered after the throttle's delay).
    pub chap_failures: u64,
}

impl MetricsSnapshot {
    /// Logins refused at `limit`.
    pub fn over_limit(&self, limit: Limit) -> u64 {
        self.logins_over_limit[limit as usize]
    }
}

impl Metrics {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub(crate) fn dec(c: &AtomicU64) {
        c.fetch_sub(1, Relaxed);
    }

    pub(crate) fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Relaxed);
    }

    /// Copies the counters.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |c: &AtomicU64| c.load(Relaxed);
        MetricsSnapshot {
            connections_accepted: g(&self.connections_accepted),
            connections_active: g(&self.connections_active),
            sessions_opened: g(&self.sessions_opened),
            sessions_active: g(&self.sessions_active),
            login_failures: g(&self.login_failures),
            commands_by_opcode: self
                .commands
                .iter()
                .enumerate()
                .filter_map(|(op, c)| {
                    let n = g(c);
                    (n > 0).then_some((op as u8, n))
                })
                .collect(),
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            pdus_in: g(&self.pdus_in),
            pdus_out: g(&self.pdus_out),
            rejects: g(&self.rejects),
            digest_errors: g(&self.digest_errors),
            protocol_errors: g(&self.protocol_errors),
            task_management: g(&self.task_management),
            nop_timeouts: g(&self.nop_timeouts),
            inline_commands: g(&self.inline_commands),
            login_connections: g(&self.login_connections),
            logins_over_limit: std::array::from_fn(|i| g(&self.logins_over_limit[i])),
            chap_failures: g(&self.chap_failures),
        }
    }
}
