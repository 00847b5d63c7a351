//! Drives the login phase over a connection: joins Login Requests continued with the C
//! bit, runs the [`Login`] state machine on each whole request, answers, and moves into
//! full feature phase with a new session.
//!
//! - Login PDUs carry at most [`LOGIN_MAX_DATA`] bytes of text each way (the default
//!   MaxRecvDataSegmentLength, which is what applies during login; less if the initiator
//!   declares less). A longer answer goes out in pieces cut after whole `key=value` pairs
//!   ([`text::split_point`]), each but the last with the C bit and without the T bit
//!   (RFC 7143 11.13); the initiator fetches the next piece with an empty Login Request
//!   in the same stage. A request with a longer data segment is answered 02/00 and the
//!   connection closed, as is one with both C and T set.
//! - The session limits ([`crate::admission`]) are checked once the first whole request
//!   names the initiator, and again when the session is made.
//! - A CHAP response is answered after the wait [`crate::throttle`] sets.
//! - The whole login, reads and writes, must be over within `ServerConfig::login_timeout`
//!   (plus any waits the throttle imposes), so that a slow or stalled initiator cannot
//!   keep its place among the connections in the login phase.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::{Login, LoginDone, Step};
use crate::admission::{self, shown};
use crate::codec::{self, FrameReader, Framing};
use crate::error::{CodecError, LoginError};
use crate::metrics::Metrics;
use crate::pdu::{LoginRequest, LoginResponse, Pdu, RawPdu, SeqNums, Stage};
use crate::server::Shared;
use crate::session::NewSession;
use crate::text;

/// The largest data segment of a Login Request or Response.
pub const LOGIN_MAX_DATA: usize = 8192;

/// The most of an oversized Login Request taken in (and thrown away) after its answer.
const DRAIN_MAX: usize = 64 * 1024;
/// How long that may take.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The instant `d` from now (far in the future for a `d` too long to add).
fn after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400))
}

/// The login ended without a session; whatever answer it had has been sent.
struct Ended;

type Flow<T> = Result<T, Ended>;

/// One connection's login phase.
struct Exchange<'a, R, W> {
    shared: &'a Shared,
    reader: &'a mut FrameReader<R>,
    writer: &'a mut W,
    peer: SocketAddr,
    shutdown: &'a mut watch::Receiver<bool>,
    /// The StatSN of the next Login Response.
    stat_sn: u32,
    /// The first request: every later one repeats its ISID, TSIH and CID.
    first: Option<LoginRequest>,
    /// When the login must be over.
    deadline: tokio::time::Instant,
}

/// Runs the login phase on a new connection. On failure the Login Response with the
/// status has been sent and the caller closes the connection.
pub async fn run<R, W>(
    shared: &Shared,
    reader: &mut FrameReader<R>,
    writer: &mut W,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<LoginDone>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut login = Login::new(shared.config.limits.clone(), shared.config.tpgt)
        .with_discovery_chap(
            shared.config.discovery_chap.clone(),
            shared.config.discovery_mutual_chap.clone(),
        );
    let mut x = Exchange {
        shared,
        reader,
        writer,
        peer,
        shutdown,
        stat_sn: 0,
        first: None,
        deadline: after(shared.config.login_timeout),
    };
    x.drive(&mut login).await.ok()
}

impl<R, W> Exchange<'_, R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    async fn drive(&mut self, login: &mut Login) -> Flow<LoginDone> {
        let mut admitted = false;
        loop {
            let (req, step) = self.step(login).await?;
            if !admitted {
                self.admit(login, &req).await?;
                admitted = true;
            }
            let data = text::encode(&step.keys);
            let mrdsl = login.params.initiator_mrdsl;
            let (req, last) = self.send_leading(req, step.csg, data, mrdsl).await?;
            let rsp = response(&req, self.stat_sn, step.transit, step.csg, step.nsg);
            if !(step.transit && step.nsg == Stage::FullFeature) {
                self.send(&rsp, &last).await?;
                continue;
            }
            return self.open_session(&req, rsp, &last, login).await;
        }
    }

    /// Takes the next whole request and runs the login on it (a CHAP response answered
    /// after the throttle's wait); a refusal has been answered.
    async fn step(&mut self, login: &mut Login) -> Flow<(LoginRequest, Step)> {
        let (req, text) = self.gather().await?;
        let Ok(keys) = text::parse(&text) else {
            let e = LoginError::InitiatorError;
            return self.refuse(&req, login.initiator.as_deref(), e).await;
        };
        let result = login.step(&req, &keys, self.shared.registry.as_ref());
        if let Some(right) = login.take_chap_outcome() {
            self.throttle(login, right).await?;
        }
        match result {
            Ok(step) => Ok((req, step)),
            Err(e) => self.refuse(&req, login.initiator.as_deref(), e).await,
        }
    }

    /// Refuses the login if the session it asks for does not fit the session limits now.
    async fn admit(&mut self, login: &Login, req: &LoginRequest) -> Flow<()> {
        let initiator = login.initiator.as_deref().unwrap_or("");
        let replacing = login.entry.as_ref().map(|e| (req.isid, e.name.as_str()));
        let limits = self.shared.config.session_limits();
        match self.shared.sessions.admits(initiator, replacing, &limits) {
            Ok(()) => Ok(()),
            Err(limit) => {
                let e = LoginError::LimitReached(limit);
                self.refuse(req, login.initiator.as_deref(), e).await
            }
        }
    }

    /// The next whole request: Login Requests continued with the C bit are joined, each
    /// acknowledged with an empty Login Response.
    async fn gather(&mut self) -> Flow<(LoginRequest, Vec<u8>)> {
        let mut text = Vec::new();
        loop {
            let (req, data) = self.next().await?;
            text.extend_from_slice(&data);
            if text.len() > text::MAX_TEXT_LEN {
                return self.refuse(&req, None, LoginError::OutOfResources).await;
            }
            if !req.continue_bit {
                return Ok((req, text));
            }
            let ack = response(&req, self.stat_sn, false, req.csg, req.csg);
            self.send(&ack, &[]).await?;
        }
    }

    /// Reads the next Login Request. Anything else, a close, the deadline or shutdown
    /// ends the login.
    async fn next(&mut self) -> Flow<(LoginRequest, Bytes)> {
        let read = tokio::select! {
            r = tokio::time::timeout_at(self.deadline, self.reader.read()) => r,
            // Shutting down: stop between PDUs, before any session exists.
            _ = self.shutdown.wait_for(|s| *s) => return Err(Ended),
        };
        let raw = match read {
            Ok(Ok(Some(raw))) => raw,
            Ok(Err(CodecError::TooLong { len, .. })) => return self.oversized(len).await,
            Ok(Ok(None)) => return Err(Ended),
            Err(_) => {
                tracing::debug!(peer = %self.peer, "login not over in time; closing");
                return Err(Ended);
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, "login read failed: {e}");
                return Err(Ended);
            }
        };
        Metrics::inc(&self.shared.metrics.pdus_in);
        Metrics::add(&self.shared.metrics.bytes_in, 48 + raw.data.len());
        let Ok(Pdu::LoginRequest(req)) = Pdu::parse(&raw) else {
            tracing::debug!(peer = %self.peer, "non-login PDU during login");
            Metrics::inc(&self.shared.metrics.protocol_errors);
            return Err(Ended);
        };
        self.check(&req).await?;
        Ok((req, raw.data))
    }

    /// Every request repeats the first one's ISID, TSIH and CID, and never sets both C
    /// and T; a TSIH asks to add a connection to a session, which MaxConnections=1
    /// refuses.
    async fn check(&mut self, req: &LoginRequest) -> Flow<()> {
        if self.first.is_none() {
            self.stat_sn = req.exp_stat_sn;
            self.first = Some(req.clone());
        }
        let (same, tsih) = match &self.first {
            Some(b) => (
                req.isid == b.isid && req.tsih == b.tsih && req.cid == b.cid,
                b.tsih,
            ),
            None => (true, req.tsih),
        };
        if !same || (req.continue_bit && req.transit) {
            return self.refuse(req, None, LoginError::InitiatorError).await;
        }
        if tsih != 0 {
            let err = if self.shared.sessions.get(tsih).is_some() {
                LoginError::TooManyConnections
            } else {
                LoginError::SessionDoesNotExist
            };
            return self.refuse(req, None, err).await;
        }
        Ok(())
    }

    /// Answers a Login Request whose data segment is longer than a login may carry, from
    /// its header, with 02/00.
    async fn oversized<T>(&mut self, len: usize) -> Flow<T> {
        Metrics::inc(&self.shared.metrics.protocol_errors);
        let Some(bhs) = self.reader.pending_header() else {
            return Err(Ended);
        };
        let raw = RawPdu {
            bhs,
            ahs: Bytes::new(),
            data: Bytes::new(),
        };
        let Ok(Pdu::LoginRequest(req)) = Pdu::parse(&raw) else {
            return Err(Ended);
        };
        if self.first.is_none() {
            self.stat_sn = req.exp_stat_sn;
        }
        let refused = self
            .refuse(&req, None, LoginError::DataSegmentTooLong(len))
            .await;
        // Take in (a bounded part of) what the initiator is still sending, so that the
        // close does not reset the connection before the answer is read.
        let drain = self.reader.discard_pending(DRAIN_MAX);
        let _ = tokio::time::timeout(DRAIN_WAIT, drain).await;
        refused
    }

    /// Waits before the answer to a CHAP response, as the throttle says for this
    /// initiator name and address, counting and logging a wrong one.
    async fn throttle(&mut self, login: &Login, right: bool) -> Flow<()> {
        let name = login.initiator.as_deref().unwrap_or("");
        let (ip, now) = (self.peer.ip(), Instant::now());
        let throttle = &self.shared.chap_throttle;
        let wait = if right {
            throttle.succeeded(name, ip, now)
        } else {
            let (wait, failures) = throttle.failed(name, ip, now);
            Metrics::inc(&self.shared.metrics.chap_failures);
            if let Some(left_out) = self.shared.log_gates.chap.pass(now) {
                tracing::warn!(
                    initiator = ?shown(name),
                    address = %ip,
                    failures,
                    delay_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    left_out,
                    "iSCSI CHAP authentication failed; the answer waits"
                );
            }
            wait
        };
        if wait.is_zero() {
            return Ok(());
        }
        // The wait is the target's doing: the initiator's time runs on after it.
        self.deadline = self.deadline.checked_add(wait).unwrap_or(self.deadline);
        tokio::select! {
            _ = tokio::time::sleep(wait) => Ok(()),
            _ = self.shutdown.wait_for(|s| *s) => Err(Ended),
        }
    }

    /// Sends all but the last piece of a long answer, each with the C bit, taking the
    /// empty Login Request the initiator asks for the next one with; returns the request
    /// the last piece answers, and that piece.
    async fn send_leading(
        &mut self,
        mut req: LoginRequest,
        csg: Stage,
        data: Vec<u8>,
        initiator_mrdsl: u32,
    ) -> Flow<(LoginRequest, Vec<u8>)> {
        let max = LOGIN_MAX_DATA.min(initiator_mrdsl as usize);
        let mut at = 0;
        loop {
            let cut = at + text::split_point(&data[at..], max);
            if cut == data.len() {
                return Ok((req, data[at..].to_vec()));
            }
            let mut rsp = response(&req, self.stat_sn, false, csg, csg);
            rsp.continue_bit = true;
            self.send(&rsp, &data[at..cut]).await?;
            at = cut;
            let (next, more) = self.next().await?;
            if !more.is_empty() || next.continue_bit || next.csg != csg {
                return self.refuse(&next, None, LoginError::InitiatorError).await;
            }
            req = next;
        }
    }

    /// Makes the session (reinstating an older one of the same I_T nexus) and sends the
    /// final Login Response with its TSIH.
    async fn open_session(
        &mut self,
        req: &LoginRequest,
        mut rsp: LoginResponse,
        data: &[u8],
        login: &Login,
    ) -> Flow<LoginDone> {
        let shared = self.shared;
        let initiator = login.initiator.clone().unwrap_or_default();
        if let Some(entry) = &login.entry {
            for old in shared.sessions.find_same(&initiator, req.isid, &entry.name) {
                old.reinstated
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                old.close();
                old.wait_done(Duration::from_secs(5)).await;
                shared.sessions.remove(old.tsih);
            }
        }
        let new = NewSession {
            isid: req.isid,
            initiator: initiator.clone(),
            peer: self.peer,
            entry: login.entry.clone(),
            tpgt: shared.config.tpgt,
            params: login.params.clone(),
            exp_cmd_sn: req.cmd_sn,
            depth: shared.config.queue_depth,
        };
        let session = match shared.sessions.create(new, &shared.config.session_limits()) {
            Ok(s) => s,
            Err(e) => return self.refuse(req, Some(&initiator), e).await,
        };
        rsp.tsih = session.tsih;
        rsp.sn.exp_cmd_sn = req.cmd_sn;
        rsp.sn.max_cmd_sn = session.window.lock().max_cmd_sn();
        if self.send(&rsp, data).await.is_err() {
            shared.sessions.remove(session.tsih);
            return Err(Ended);
        }
        Metrics::inc(&shared.metrics.sessions_opened);
        let framing = Framing {
            header_digest: session.params.header_digest,
            data_digest: session.params.data_digest,
            max_recv_data: session.params.target_mrdsl as usize,
        };
        Ok(LoginDone {
            session,
            stat_sn: self.stat_sn,
            framing,
            cid: req.cid,
        })
    }

    /// Counts and logs a failed login, and answers it with its status.
    async fn refuse<T>(
        &mut self,
        req: &LoginRequest,
        initiator: Option<&str>,
        e: LoginError,
    ) -> Flow<T> {
        if let LoginError::LimitReached(limit) = e {
            admission::refused(self.shared, limit, initiator, self.peer);
        } else {
            Metrics::inc(&self.shared.metrics.login_failures);
            if let Some(left_out) = self.shared.log_gates.failures.pass(Instant::now()) {
                let initiator = initiator.map_or("-", shown);
                tracing::info!(peer = %self.peer, ?initiator, left_out, "login failed: {e}");
            }
        }
        let answer = fail(&mut *self.writer, req, self.stat_sn, e);
        let _ = tokio::time::timeout_at(self.deadline, answer).await;
        Err(Ended)
    }

    /// Sends a Login Response (before the deadline); each takes a StatSN.
    async fn send(&mut self, rsp: &LoginResponse, data: &[u8]) -> Flow<()> {
        let bytes = codec::encode(&Pdu::LoginResponse(rsp.clone()), data, &Framing::default());
        Metrics::inc(&self.shared.metrics.pdus_out);
        Metrics::add(&self.shared.metrics.bytes_out, bytes.len());
        self.stat_sn = self.stat_sn.wrapping_add(1);
        let writer = &mut *self.writer;
        let write = async move {
            writer.write_all(&bytes).await?;
            writer.flush().await
        };
        match tokio::time::timeout_at(self.deadline, write).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Ended),
        }
    }
}

/// A Login Response to `req` with status 0.
fn response(
    req: &LoginRequest,
    stat_sn: u32,
    transit: bool,
    csg: Stage,
    nsg: Stage,
) -> LoginResponse {
    LoginResponse {
        transit,
        continue_bit: false,
        csg,
        nsg,
        version_max: 0,
        version_active: 0,
        isid: req.isid,
        tsih: 0,
        itt: req.itt,
        sn: SeqNums {
            stat_sn,
            exp_cmd_sn: req.cmd_sn,
            max_cmd_sn: req.cmd_sn,
        },
        status_class: 0,
        status_detail: 0,
    }
}

/// Answers `req` with the status of `e` (the connection is closed after).
pub(crate) async fn fail<W: AsyncWrite + Unpin>(
    w: &mut W,
    req: &LoginRequest,
    stat_sn: u32,
    e: LoginError,
) -> std::io::Result<()> {
    let (class, detail) = e.status();
    let mut rsp = response(req, stat_sn, false, req.csg, Stage::Security);
    rsp.status_class = class;
    rsp.status_detail = detail;
    let bytes = codec::encode(&Pdu::LoginResponse(rsp), &[], &Framing::default());
    w.write_all(&bytes).await?;
    w.flush().await
}
