//! iSCSI (RFC 7143) target on tokio.
//!
//! Layout (after mini-redis): [`server`] accepts connections and owns the shared state;
//! [`codec`] frames PDUs (with [`digest`]); [`pdu`] holds one typed header per PDU type;
//! [`text`] parses `key=value` data segments and their values, [`params`] knows every
//! key and how it is negotiated, [`name`] checks iSCSI names; [`login`] runs the login phase (with [`chap`]) and [`discovery`] answers
//! SendTargets; [`session`] keeps the session table; [`conn`] is the full feature phase
//! of one connection (commands, R2T/Data-Out, Data-In, task management, NOP, logout),
//! ordering tasks with [`sched`]; [`metrics`] counts. Against hostile or broken
//! initiators: [`admission`] limits sessions and logins under way, [`throttle`] slows
//! down CHAP guessing, [`loggate`] keeps a flood out of the log.
//!
//! ```text
//! TcpStream ─▶ FrameReader (codec) ─▶ login::run ─▶ conn::run ──▶ vsa_scsi::Target::execute
//!                                                     │  ▲            (spawn_blocking,
//!                                  writer task ◀──────┘  └ Data-Out    bounded)
//! ```
//!
//! # Public API the appliance uses
//!
//! - [`TargetEntry`]`{ name, alias, chap, mutual_chap, acl, scsi }`: one target; `chap`
//!   set means CHAP is required (`mutual_chap` answers initiators that ask for mutual
//!   CHAP); `acl` lists initiator names (empty admits any); `scsi` is the LUN map.
//!   [`ChapCredentials`]`{ user, secret }` never prints its secret.
//! - [`Registry`] (`target(name)`, `targets()`): implemented by the appliance; consulted
//!   at every login and SendTargets, so targets and LUNs may change at runtime.
//! - [`Server::bind`]`(addr, Arc<dyn Registry>, `[`ServerConfig`]`)`,
//!   [`Server::local_addr`], [`Server::handle`] (a cloneable [`ServerHandle`]
//!   that stays valid while `run` owns the server), [`Server::run`]`(shutdown)` where
//!   `shutdown` is a `tokio::sync::watch::Receiver<bool>`: `true` (or a dropped sender)
//!   stops accepting, lets connections finish their commands and returns when all are
//!   closed.
//! - `sessions() -> Vec<`[`SessionInfo`]`>` (target, initiator, ISID, TSIH, peer,
//!   negotiated parameters, commands in flight), `drop_target_sessions(name) -> usize`
//!   (when a target is deleted) and `metrics() -> `[`MetricsSnapshot`], on both
//!   [`Server`] and [`ServerHandle`].
//!
//! Login failures map to RFC 7143 status codes: unknown target 02/03, ACL deny 02/02,
//! CHAP failure 02/01, missing InitiatorName/TargetName 02/07, unsupported version 02/05,
//! unknown session type 02/09, adding a connection to a missing session 02/0A (to an
//! existing one 02/06: MaxConnections is 1), a malformed request or one whose data
//! segment exceeds 8192 bytes 02/00, a limit of [`ServerConfig`] reached
//! (`max_sessions`, `max_sessions_per_initiator`, `max_login_connections`) 03/02. Login
//! answers longer than 8192 bytes (or the initiator's smaller MaxRecvDataSegmentLength)
//! go out in pieces with the C bit, as Text answers do.
//!
//! # Limits
//!
//! [`ServerConfig`] bounds what initiators can take: sessions in all and per initiator
//! name, connections in the login phase and how long each may stay there
//! ([`ServerConfig::login_timeout`]), and (derived) sockets open
//! ([`ServerConfig::connection_cap`]); see [`admission`]. Wrong CHAP answers of one
//! initiator name at one address wait longer each time ([`ServerConfig::chap_throttle`],
//! see [`throttle`]).
//!
//! # Protocol choices
//!
//! - ErrorRecoveryLevel 0, one connection per session (MaxConnections=1), any number of
//!   sessions per initiator and target (distinct ISIDs); a login with the ISID of a live
//!   session reinstates it (the old connection is closed first).
//! - CmdSN outside the window is ignored silently; Data-Out sequence errors (DataSN,
//!   offsets, TTT, F bit), bad header digests and oversized data segments drop the
//!   connection; unknown opcodes, SNACK, target opcodes and data-path PDUs in a discovery
//!   session get a Reject; a data digest error gets a Reject (and a drop for Data-Out).
//! - Discovery sessions may require CHAP of their own (`ServerConfig::discovery_chap`);
//!   SendTargets lists only the targets whose ACL admits the initiator, each with the
//!   portal the connection came in on.
//! - Commands run on tokio's blocking pool, bounded by `ServerConfig::max_blocking`,
//!   while the connection keeps reading; SIMPLE/ORDERED/HEAD OF QUEUE are honoured
//!   ([`sched`]), and a sequential unit (a tape drive, a medium changer) gets its
//!   commands one at a time in CmdSN order.
#![forbid(unsafe_code)]

pub mod admission;
pub mod chap;
pub mod codec;
pub mod conn;
pub mod digest;
pub mod discovery;
pub mod error;
pub mod loggate;
pub mod login;
pub mod metrics;
pub mod name;
pub mod params;
pub mod payload;
pub mod pdu;
pub mod sched;
pub mod selfcheck;
pub mod server;
pub mod session;
pub mod text;
pub mod throttle;

use std::sync::Arc;

pub use chap::ChapCredentials;
pub use error::{CodecError, LoginError, PduError};
pub use metrics::MetricsSnapshot;
pub use params::{SessionParams, TargetLimits};
pub use server::{Server, ServerConfig, ServerHandle};
pub use session::SessionInfo;

/// One iSCSI target as the appliance configures it.
#[derive(Debug)]
pub struct TargetEntry {
    /// iSCSI name (`iqn.…`), matched exactly as configured.
    pub name: String,
    pub alias: Option<String>,
    /// Credentials initiators must present (CHAP required when set).
    pub chap: Option<ChapCredentials>,
    /// Credentials the target presents when the initiator asks for mutual CHAP.
    pub mutual_chap: Option<ChapCredentials>,
    /// Initiator names admitted; empty admits any initiator.
    pub acl: Vec<String>,
    /// The SCSI target device (LUN map).
    pub scsi: Arc<vsa_scsi::Target>,
}

impl TargetEntry {
    /// Whether `initiator` may log in to (and discover) this target.
    pub fn admits(&self, initiator: &str) -> bool {
        self.acl.is_empty() || self.acl.iter().any(|a| a.eq_ignore_ascii_case(initiator))
    }
}

/// Where the server finds targets. The appliance implements it over its configuration;
/// lookups happen at login and discovery, never cached by the transport.
pub trait Registry: Send + Sync + std::fmt::Debug + 'static {
    /// The target called `name`.
    fn target(&self, name: &str) -> Option<Arc<TargetEntry>>;
    /// All targets.
    fn targets(&self) -> Vec<Arc<TargetEntry>>;
}
