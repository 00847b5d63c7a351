//! The session table: sessions by TSIH, reinstatement on the same initiator + ISID +
//! target, and the per-session state shared between a connection's reader, its writer
//! and its command tasks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use vsa_scsi::Nexus;

use crate::admission::{Limit, SessionLimits};
use crate::error::LoginError;
use crate::params::SessionParams;
use crate::sched::Scheduler;
use crate::TargetEntry;

/// What the appliance sees of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Target name (empty for discovery sessions).
    pub target: String,
    pub initiator: String,
    pub isid: u64,
    pub tsih: u16,
    pub peer: SocketAddr,
    pub discovery: bool,
    /// Negotiated parameters as `(key, value)`.
    pub params: Vec<(&'static str, String)>,
    pub commands_in_flight: usize,
}

/// The CmdSN window (RFC 7143 4.2.2.1).
#[derive(Debug, Clone, Copy)]
pub struct CmdWindow {
    pub exp_cmd_sn: u32,
    pub depth: u32,
    /// The MaxCmdSN last advertised (never moves backwards).
    pub max_advertised: u32,
}

impl CmdWindow {
    pub fn new(exp_cmd_sn: u32, depth: u32) -> Self {
        let mut w = Self {
            exp_cmd_sn,
            depth: depth.max(1),
            max_advertised: 0,
        };
        w.max_advertised = w.max_cmd_sn();
        w
    }

    /// The widest window: `ExpCmdSN + depth - 1`.
    pub fn max_cmd_sn(&self) -> u32 {
        self.exp_cmd_sn.wrapping_add(self.depth).wrapping_sub(1)
    }

    /// The MaxCmdSN to send now: the window shrinks by the commands in flight, but never
    /// below what was already advertised.
    pub fn advertise(&mut self, in_flight: u32) -> u32 {
        let room = self.depth.saturating_sub(in_flight).max(1);
        let want = self.exp_cmd_sn.wrapping_add(room).wrapping_sub(1);
        if (want.wrapping_sub(self.max_advertised) as i32) > 0 {
            self.max_advertised = want;
        }
        self.max_advertised
    }

    /// Whether `sn` lies in `[ExpCmdSN, MaxCmdSN]` (serial arithmetic).
    pub fn contains(&self, sn: u32) -> bool {
        sn.wrapping_sub(self.exp_cmd_sn) < self.depth
    }
}

/// A command the session is executing (or waiting to execute).
#[derive(Debug)]
pub struct TaskEntry {
    pub cmd_sn: u32,
    pub lun: [u8; 8],
    pub aborted: Arc<AtomicBool>,
    /// Scheduler ticket while waiting for its turn.
    pub ticket: Option<u64>,
    /// Becomes `true` when the task has finished (responded or dropped).
    pub done: watch::Receiver<bool>,
    /// Held here while the task still collects Data-Out (nobody runs it yet), so an
    /// abort can finish it; the executing task takes it over.
    pub done_tx: Option<watch::Sender<bool>>,
    /// Its answer is on the way out (the task finishes right after): the initiator may
    /// use its ITT again as soon as the answer reaches it, before the entry is gone.
    pub answered: bool,
}

impl Session {
    /// Registers a task that is collecting data-out or about to run; returns its abort
    /// flag.
    pub fn register_task(&self, itt: u32, cmd_sn: u32, lun: [u8; 8]) -> Arc<AtomicBool> {
        let aborted = Arc::new(AtomicBool::new(false));
        let (tx, rx) = watch::channel(false);
        self.tasks.lock().insert(
            itt,
            TaskEntry {
                cmd_sn,
                lun,
                aborted: aborted.clone(),
                ticket: None,
                done: rx,
                done_tx: Some(tx),
                answered: false,
            },
        );
        aborted
    }

    /// Marks the tasks `pick` selects aborted: waiting ones leave the scheduler queue,
    /// ones still collecting data finish at once. Returns receivers that turn `true` when
    /// each has stopped.
    pub fn abort_tasks(
        &self,
        pick: impl Fn(u32, &TaskEntry) -> bool,
    ) -> Vec<watch::Receiver<bool>> {
        let mut tasks = self.tasks.lock();
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (&itt, t) in tasks.iter_mut() {
            if !pick(itt, t) {
                continue;
            }
            t.aborted.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(id) = t.ticket {
                self.sched.cancel(id);
            }
            if let Some(tx) = t.done_tx.take() {
                tx.send_replace(true);
                gone.push(itt);
            }
            out.push(t.done.clone());
        }
        for itt in gone {
            tasks.remove(&itt);
        }
        out
    }
}

/// One logged-in session (MaxConnections=1: its only connection's state lives here too).
#[derive(Debug)]
pub struct Session {
    pub tsih: u16,
    pub isid: u64,
    pub initiator: String,
    pub peer: SocketAddr,
    pub entry: Option<Arc<TargetEntry>>,
    pub nexus: Nexus,
    pub params: SessionParams,
    pub window: Mutex<CmdWindow>,
    pub tasks: Mutex<HashMap<u32, TaskEntry>>,
    pub sched: Scheduler,
    close: watch::Sender<bool>,
    logout: watch::Sender<bool>,
    done: watch::Sender<bool>,
    /// Set when a newer login reinstated this session (the nexus lives on).
    pub reinstated: AtomicBool,
    /// Set once the SCSI layer has been told the I_T nexus is gone.
    nexus_released: AtomicBool,
    next_ttt: AtomicU32,
}

impl Session {
    pub fn target_name(&self) -> &str {
        self.entry.as_ref().map(|e| e.name.as_str()).unwrap_or("")
    }

    pub fn is_discovery(&self) -> bool {
        self.entry.is_none()
    }

    /// Whether a login of `initiator` with `isid` to `target` would reinstate this
    /// session (same I_T nexus).
    pub fn same_nexus(&self, initiator: &str, isid: u64, target: &str) -> bool {
        self.initiator == initiator && self.isid == isid && self.target_name() == target
    }

    /// Tells the SCSI layer this I_T nexus is gone (RESERVE(6) reservations and other
    /// per-nexus state released), once, unless a newer login reinstated the session.
    /// A logout does it before its response, so the initiator's next command on another
    /// session already sees the nexus gone.
    pub fn release_nexus(&self) {
        if self.reinstated.load(SeqCst) || self.nexus_released.swap(true, SeqCst) {
            return;
        }
        if let Some(e) = &self.entry {
            e.scsi.nexus_lost(&self.nexus);
        }
    }

    /// Asks the session's connection to close.
    pub fn close(&self) {
        self.close.send_replace(true);
    }

    /// Asks the initiator to log out (Async Message, event 1); the connection closes
    /// after `ServerConfig::logout_grace` if it does not.
    pub fn request_logout(&self) {
        self.logout.send_replace(true);
    }

    /// A receiver that turns `true` when [`Session::request_logout`] is called.
    pub fn logout_requested(&self) -> watch::Receiver<bool> {
        self.logout.subscribe()
    }

    /// A receiver that turns `true` when [`Session::close`] is called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.close.subscribe()
    }

    /// Marks the session's connection as gone.
    pub fn set_done(&self) {
        self.done.send_replace(true);
    }

    /// Waits (up to `limit`) until the connection has gone.
    pub async fn wait_done(&self, limit: Duration) {
        let mut rx = self.done.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|d| *d)).await;
    }

    /// A fresh Target Transfer Tag (never `0xFFFFFFFF`).
    pub fn next_ttt(&self) -> u32 {
        loop {
            let t = self.next_ttt.fetch_add(1, Relaxed);
            if t != crate::pdu::NO_TAG {
                return t;
            }
        }
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            target: self.target_name().to_string(),
            initiator: self.initiator.clone(),
            isid: self.isid,
            tsih: self.tsih,
            peer: self.peer,
            discovery: self.is_discovery(),
            params: self.params.to_pairs(),
            commands_in_flight: self.tasks.lock().len(),
        }
    }
}

/// What [`SessionTable::create`] needs.
#[derive(Debug)]
pub struct NewSession {
    pub isid: u64,
    pub initiator: String,
    pub peer: SocketAddr,
    pub entry: Option<Arc<TargetEntry>>,
    pub tpgt: u16,
    pub params: SessionParams,
    pub exp_cmd_sn: u32,
    pub depth: u32,
}

/// Whether one more session of `initiator` fits `limits` beside `sessions`.
fn fits<'a>(
    sessions: impl Iterator<Item = &'a Arc<Session>>,
    initiator: &str,
    limits: &SessionLimits,
) -> Result<(), Limit> {
    let (mut total, mut mine) = (0usize, 0usize);
    for s in sessions {
        total += 1;
        mine += usize::from(s.initiator.eq_ignore_ascii_case(initiator));
    }
    if total >= limits.total {
        return Err(Limit::Sessions);
    }
    if mine >= limits.per_initiator {
        return Err(Limit::SessionsPerInitiator);
    }
    Ok(())
}

/// All sessions of a server.
#[derive(Debug, Default)]
pub struct SessionTable {
    sessions: Mutex<HashMap<u16, Arc<Session>>>,
    last_tsih: Mutex<u16>,
}

impl SessionTable {
    /// Sessions with the same initiator, ISID and target as `n` (to be reinstated).
    pub fn find_same(&self, initiator: &str, isid: u64, target: &str) -> Vec<Arc<Session>> {
        self.sessions
            .lock()
            .values()
            .filter(|s| s.same_nexus(initiator, isid, target))
            .cloned()
            .collect()
    }

    /// Whether a session of `initiator` fits `limits` now. With `replacing` (ISID and
    /// target) the session a login with those would reinstate does not count.
    pub fn admits(
        &self,
        initiator: &str,
        replacing: Option<(u64, &str)>,
        limits: &SessionLimits,
    ) -> Result<(), Limit> {
        let map = self.sessions.lock();
        let counted = map.values().filter(|s| match replacing {
            Some((isid, target)) => !s.same_nexus(initiator, isid, target),
            None => true,
        });
        fits(counted, initiator, limits)
    }

    /// Registers a new session with a fresh TSIH if it fits `limits`.
    pub fn create(
        &self,
        n: NewSession,
        limits: &SessionLimits,
    ) -> Result<Arc<Session>, LoginError> {
        let mut map = self.sessions.lock();
        fits(map.values(), &n.initiator, limits).map_err(LoginError::LimitReached)?;
        let mut last = self.last_tsih.lock();
        let mut tsih = *last;
        for _ in 0..=u16::MAX {
            tsih = tsih.wrapping_add(1);
            if tsih != 0 && !map.contains_key(&tsih) {
                break;
            }
        }
        if tsih == 0 || map.contains_key(&tsih) {
            return Err(LoginError::OutOfResources);
        }
        *last = tsih;
        let nexus = Nexus {
            initiator: n.initiator.clone(),
            isid: n.isid,
            target: n.entry.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
            tpgt: n.tpgt,
        };
        let s = Arc::new(Session {
            tsih,
            isid: n.isid,
            initiator: n.initiator,
            peer: n.peer,
            entry: n.entry,
            nexus,
            params: n.params,
            window: Mutex::new(CmdWindow::new(n.exp_cmd_sn, n.depth)),
            tasks: Mutex::new(HashMap::new()),
            sched: Scheduler::default(),
            close: watch::channel(false).0,
            logout: watch::channel(false).0,
            done: watch::channel(false).0,
            reinstated: AtomicBool::new(false),
            nexus_released: AtomicBool::new(false),
            next_ttt: AtomicU32::new(1),
        });
        map.insert(tsih, s.clone());
        Ok(s)
    }

    /// Removes a session.
    pub fn remove(&self, tsih: u16) {
        self.sessions.lock().remove(&tsih);
    }

    pub fn get(&self, tsih: u16) -> Option<Arc<Session>> {
        self.sessions.lock().get(&tsih).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().values().cloned().collect()
    }

    /// Sessions logged in to `target`.
    pub fn of_target(&self, target: &str) -> Vec<Arc<Session>> {
        self.sessions
            .lock()
            .values()
            .filter(|s| !s.is_discovery() && s.target_name() == target)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(initiator: &str, isid: u64) -> NewSession {
        NewSession {
            isid,
            initiator: initiator.into(),
            peer: SocketAddr::from(([127, 0, 0, 1], 1)),
            entry: None,
            tpgt: 1,
            params: SessionParams::default(),
            exp_cmd_sn: 1,
            depth: 8,
        }
    }

    #[test]
    fn limits_count_sessions_in_all_and_per_initiator() {
        let t = SessionTable::default();
        let lim = SessionLimits {
            total: 3,
            per_initiator: 2,
        };
        let over = |l| Err(LoginError::LimitReached(l));
        assert!(t.create(new("iqn.a", 1), &lim).is_ok());
        assert!(t.create(new("IQN.A", 2), &lim).is_ok());
        let third = t.create(new("iqn.a", 3), &lim).map(|s| s.tsih);
        assert_eq!(third, over(Limit::SessionsPerInitiator));
        assert_eq!(
            t.admits("iqn.a", None, &lim),
            Err(Limit::SessionsPerInitiator)
        );
        // A login that would reinstate one of them does not count it.
        assert_eq!(t.admits("iqn.a", Some((1, "")), &lim), Ok(()));
        let b = t.create(new("iqn.b", 1), &lim).map(|s| s.tsih);
        assert_eq!(t.admits("iqn.c", None, &lim), Err(Limit::Sessions));
        let c = t.create(new("iqn.c", 1), &lim).map(|s| s.tsih);
        assert_eq!(c, over(Limit::Sessions));
        t.remove(b.unwrap_or_default());
        assert!(t.create(new("iqn.c", 1), &lim).is_ok());
    }

    #[test]
    fn window_uses_serial_arithmetic() {
        let w = CmdWindow::new(u32::MAX - 1, 4);
        assert_eq!(w.max_cmd_sn(), 1);
        assert!(w.contains(u32::MAX));
        assert!(w.contains(1));
        assert!(!w.contains(2));
        assert!(!w.contains(u32::MAX - 2));
    }
}
