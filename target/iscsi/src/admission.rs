//! Who may log in: limits on sessions (in all and per initiator name) and on connections
//! still in the login phase, and what a login beyond them gets.
//!
//! Each limit answers a login beyond it with status 03/02 ("out of resources": the
//! target lacks session or connection resources; status class 3 tells the initiator it
//! may retry later, when sessions have ended). The refusal is counted
//! ([`crate::MetricsSnapshot::logins_over_limit`]; a connection turned away at the
//! login-phase limit is counted when it is accepted, whether or not it sends a request)
//! and logged at WARN, a few times per ten seconds at most. Sessions already logged in
//! are not touched.
//!
//! The session limits are checked as soon as the first Login Request names the initiator
//! and again, atomically, when the session is made. The login-phase limit is taken at
//! accept: a connection beyond it gets its first Login Request answered with the refusal
//! (if that comes within [`TURN_AWAY_WAIT`]) and is closed. The server keeps at most
//! `max_sessions + 2 × max_login_connections` sockets open (the second share for the
//! connections being turned away); more wait in the listen queue.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::codec::FrameReader;
use crate::error::LoginError;
use crate::metrics::Metrics;
use crate::pdu::Pdu;
use crate::server::Shared;

/// How long a connection beyond the login-phase limit may take to send its first Login
/// Request before it is closed without an answer.
pub const TURN_AWAY_WAIT: Duration = Duration::from_secs(5);

/// The longest initiator name shown in a log line.
const SHOWN_NAME_LEN: usize = 256;

/// A limit a login can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Sessions logged in at once (`ServerConfig::max_sessions`).
    Sessions = 0,
    /// Sessions of one initiator name (`ServerConfig::max_sessions_per_initiator`).
    SessionsPerInitiator = 1,
    /// Connections in the login phase (`ServerConfig::max_login_connections`).
    LoginConnections = 2,
}

impl Limit {
    /// How many limits there are (the length of arrays indexed by `Limit as usize`).
    pub const COUNT: usize = 3;

    /// Every limit, in index order.
    pub const ALL: [Limit; Limit::COUNT] = [
        Limit::Sessions,
        Limit::SessionsPerInitiator,
        Limit::LoginConnections,
    ];

    /// The name of the setting, as the configuration and the metrics spell it.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Sessions => "max_sessions",
            Limit::SessionsPerInitiator => "max_sessions_per_initiator",
            Limit::LoginConnections => "max_login_connections",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Sessions => "sessions in all",
            Limit::SessionsPerInitiator => "sessions of one initiator",
            Limit::LoginConnections => "connections in the login phase",
        })
    }
}

/// The session limits a new session must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions at most, in all.
    pub total: usize,
    /// Sessions at most with one initiator name (compared without regard to case).
    pub per_initiator: usize,
}

/// An initiator name as a log line shows it: at most its first 256 bytes.
pub fn shown(name: &str) -> &str {
    let mut end = name.len().min(SHOWN_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Counts a login refused at `limit` and logs it (rate-limited).
pub(crate) fn refused(shared: &Shared, limit: Limit, initiator: Option<&str>, peer: SocketAddr) {
    Metrics::inc(&shared.metrics.logins_over_limit[limit as usize]);
    let Some(left_out) = shared.log_gates.limits[limit as usize].pass(Instant::now()) else {
        return;
    };
    let value = shared.config.limit(limit);
    tracing::warn!(
        %peer,
        initiator = ?initiator.map_or("-", shown),
        setting = limit.key(),
        left_out,
        "iSCSI login refused (03/02 out of resources): the limit of {value} {limit} is \
         reached; sessions logged in are not affected"
    );
}

/// Answers a connection beyond the login-phase limit: its first Login Request gets
/// 03/02, then the connection is closed.
pub(crate) async fn turn_away(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    Metrics::inc(&shared.metrics.connections_accepted);
    refused(&shared, Limit::LoginConnections, None, peer);
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new(rd);
    let first = tokio::select! {
        r = tokio::time::timeout(TURN_AWAY_WAIT, reader.read()) => r,
        _ = shutdown.wait_for(|s| *s) => return,
    };
    let Ok(Ok(Some(raw))) = first else {
        return;
    };
    if let Ok(Pdu::LoginRequest(req)) = Pdu::parse(&raw) {
        let err = LoginError::LimitReached(Limit::LoginConnections);
        let answer = crate::login::fail(&mut wr, &req, req.exp_stat_sn, err);
        let _ = tokio::time::timeout(TURN_AWAY_WAIT, answer).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_short_and_whole() {
        assert_eq!(shown("iqn.x"), "iqn.x");
        let long = "é".repeat(1000);
        let s = shown(&long);
        assert!(s.len() <= SHOWN_NAME_LEN && s.chars().all(|c| c == 'é'));
        let keys: Vec<&str> = Limit::ALL.iter().map(|l| l.key()).collect();
        assert_eq!(
            keys,
            [
                "max_sessions",
                "max_sessions_per_initiator",
                "max_login_connections"
            ]
        );
    }
}
