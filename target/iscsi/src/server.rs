//! The listener: accepts connections, runs each on its own task (a connection beyond the
//! login-phase limit is turned away, see [`crate::admission`]), keeps at most
//! [`ServerConfig::connection_cap`] sockets open, and on shutdown stops accepting, tells
//! connections to finish their commands and waits for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::admission::{Limit, SessionLimits};
use crate::loggate::LoginLogGates;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::params::TargetLimits;
use crate::session::{SessionInfo, SessionTable};
use crate::throttle::{ChapThrottle, ChapThrottleConfig};
use crate::{ChapCredentials, Registry};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Sessions (normal and discovery) logged in at once; a login beyond gets 03/02.
    pub max_sessions: usize,
    /// Sessions one initiator name may have at once, over all targets; a login beyond
    /// gets 03/02.
    pub max_sessions_per_initiator: usize,
    /// Connections in the login phase at once (not yet authenticated); a connection
    /// beyond gets 03/02 to its first Login Request and is closed.
    pub max_login_connections: usize,
    /// How repeated CHAP failures of one initiator name at one address are slowed down.
    pub chap_throttle: ChapThrottleConfig,
    /// SCSI commands executing at once across all sessions (the blocking pool bound).
    pub max_blocking: usize,
    /// The CmdSN window each session gets (MaxCmdSN - ExpCmdSN + 1).
    pub queue_depth: u32,
    /// The target's side of the operational key negotiation.
    pub limits: TargetLimits,
    /// Target portal group tag of this portal.
    pub tpgt: u16,
    /// How long a login may take, from the connection to full feature phase (waits after
    /// wrong CHAP answers, see `chap_throttle`, are added to it); a connection whose login
    /// is not over by then is closed.
    pub login_timeout: Duration,
    /// Idle time after which the target pings an initiator with a NOP-In.
    pub nop_interval: Duration,
    /// How long the initiator has to answer that NOP-In before the connection is dropped.
    pub nop_timeout: Duration,
    /// Largest data-out buffer one command may ask for (expected transfer length).
    pub max_command_data: u32,
    /// CHAP credentials discovery sessions must present (`None`: no authentication).
    pub discovery_chap: Option<ChapCredentials>,
    /// The target's credentials for mutual CHAP in discovery sessions.
    pub discovery_mutual_chap: Option<ChapCredentials>,
    /// On shutdown or target removal, how long an initiator has to log out after the
    /// target asks it to (Async Message); zero closes at once.
    pub logout_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_sessions: 1024,
            max_sessions_per_initiator: 64,
            max_login_connections: 64,
            chap_throttle: ChapThrottleConfig::default(),
            max_blocking: 64,
            queue_depth: 128,
            limits: TargetLimits::default(),
            tpgt: 1,
            login_timeout: Duration::from_secs(15),
            nop_interval: Duration::from_secs(30),
            nop_timeout: Duration::from_secs(30),
            max_command_data: 16 << 20,
            discovery_chap: None,
            discovery_mutual_chap: None,
            logout_grace: Duration::from_secs(2),
        }
    }
}

impl ServerConfig {
    /// Sockets the server keeps open at most: every session, every login, and as many
    /// again being turned away; more connections wait in the listen queue.
    pub fn connection_cap(&self) -> usize {
        self.max_sessions
            .saturating_add(self.max_login_connections.saturating_mul(2))
            .max(1)
    }

    /// The value of `limit`.
    pub fn limit(&self, limit: Limit) -> usize {
        match limit {
            Limit::Sessions => self.max_sessions,
            Limit::SessionsPerInitiator => self.max_sessions_per_initiator,
            Limit::LoginConnections => self.max_login_connections,
        }
    }

    /// The session limits.
    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            total: self.max_sessions,
            per_initiator: self.max_sessions_per_initiator,
        }
    }
}

/// State every connection shares.
#[derive(Debug)]
pub struct Shared {
    pub registry: Arc<dyn Registry>,
    pub config: ServerConfig,
    pub sessions: SessionTable,
    pub metrics: Metrics,
    pub blocking: Arc<Semaphore>,
    /// One permit per connection in the login phase.
    pub login_slots: Arc<Semaphore>,
    /// Failed CHAP answers by (initiator name, address).
    pub chap_throttle: ChapThrottle,
    /// Rate limits of the login warnings.
    pub log_gates: LoginLogGates,
}

/// An iSCSI target server bound to one portal.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// A cloneable handle to a running server's state (sessions, metrics).
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the portal.
    pub async fn bind(
        addr: SocketAddr,
        registry: Arc<dyn Registry>,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let blocking = Arc::new(Semaphore::new(config.max_blocking.max(1)));
        let login_slots = Arc::new(Semaphore::new(config.max_login_connections.max(1)));
        let chap_throttle = ChapThrottle::new(config.chap_throttle.clone());
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                registry,
                config,
                sessions: SessionTable::default(),
                metrics: Metrics::default(),
                blocking,
                login_slots,
                chap_throttle,
                log_gates: LoginLogGates::default(),
            }),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle for sessions and metrics that stays valid while `run` owns the server.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Sessions logged in now.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.handle().sessions()
    }

    /// Closes every session of `target` (when the target is deleted).
    pub fn drop_target_sessions(&self, target: &str) -> usize {
        self.handle().drop_target_sessions(target)
    }

    /// Current counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Serves until `shutdown` becomes `true`, then stops accepting, lets connections
    /// finish the commands they have and waits for them.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limit = Arc::new(Semaphore::new(self.shared.config.connection_cap()));
        let mut conns = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let permit = tokio::select! {
                p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => break,
            };
            while conns.try_join_next().is_some() {}
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let shared = self.shared.clone();
            let sd = shutdown.clone();
            // Taken here, in accept order, so a flood cannot overtake earlier connections.
            let login_slot = shared.login_slots.clone().try_acquire_owned().ok();
            conns.spawn(async move {
                match login_slot {
                    Some(slot) => serve(stream, peer, shared, sd, slot).await,
                    None => crate::admission::turn_away(stream, peer, shared, sd).await,
                }
                drop(permit);
            });
        }
        // Connections see the same shutdown signal: each asks its initiator to log out,
        // finishes its commands and closes.
        drop(self.listener);
        while conns.join_next().await.is_some() {}
    }
}

impl ServerHandle {
    /// Sessions logged in now.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared
            .sessions
            .all()
            .iter()
            .map(|s| s.info())
            .collect()
    }

    /// Ends every session of `target` (asking each initiator to log out first, see
    /// `ServerConfig::logout_grace`); returns how many.
    pub fn drop_target_sessions(&self, target: &str) -> usize {
        let s = self.shared.sessions.of_target(target);
        for x in &s {
            x.request_logout();
        }
        s.len()
    }

    /// Current counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    login_slot: OwnedSemaphorePermit,
) {
    Metrics::inc(&shared.metrics.connections_accepted);
    Metrics::inc(&shared.metrics.connections_active);
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    crate::conn::run(stream, peer, local, shared.clone(), shutdown, login_slot).await;
    Metrics::dec(&shared.metrics.connections_active);
}
