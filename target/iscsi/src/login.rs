//! The login phase (RFC 7143 6, 11.12–11.13): security stage (AuthMethod, CHAP),
//! operational stage (key negotiation), status class/detail on failure, and the move into
//! full feature phase with a TSIH.
//!
//! [`Login`] is the synchronous state machine (one [`Login::step`] per Login Request,
//! testable without sockets); [`run`] drives it over a connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::chap::{ChapChallenge, ChapCredentials, ChapError};
use crate::codec::{self, FrameReader, Framing};
use crate::error::LoginError;
use crate::metrics::Metrics;
use crate::params::{SessionParams, TargetLimits};
use crate::pdu::{LoginRequest, LoginResponse, Pdu, SeqNums, Stage};
use crate::server::Shared;
use crate::session::{NewSession, Session};
use crate::{text, Registry, TargetEntry};

/// Where the security stage stands.
#[derive(Debug)]
enum Auth {
    /// AuthMethod not negotiated yet.
    Start,
    /// AuthMethod=None agreed (or no security stage needed).
    Done,
    /// CHAP chosen, waiting for CHAP_A.
    ChapAlgorithm,
    /// Challenge sent, waiting for CHAP_N/CHAP_R.
    ChapResponse(ChapChallenge),
}

/// One login's negotiation state.
#[derive(Debug)]
pub struct Login {
    pub initiator: Option<String>,
    pub initiator_alias: Option<String>,
    pub entry: Option<Arc<TargetEntry>>,
    pub discovery: bool,
    pub params: SessionParams,
    stage: Stage,
    auth: Auth,
    first: bool,
    declared_mrdsl: bool,
    limits: TargetLimits,
    tpgt: u16,
    discovery_chap: Option<ChapCredentials>,
    discovery_mutual_chap: Option<ChapCredentials>,
}

/// The answer to one Login Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub keys: Vec<(String, String)>,
    pub transit: bool,
    pub csg: Stage,
    pub nsg: Stage,
}

impl Login {
    pub fn new(limits: TargetLimits, tpgt: u16) -> Self {
        Self {
            initiator: None,
            initiator_alias: None,
            entry: None,
            discovery: false,
            params: SessionParams::default(),
            stage: Stage::Security,
            auth: Auth::Start,
            first: true,
            declared_mrdsl: false,
            limits,
            tpgt,
            discovery_chap: None,
            discovery_mutual_chap: None,
        }
    }

    /// Requires CHAP for discovery sessions (with `mutual` answered on request).
    pub fn with_discovery_chap(
        mut self,
        chap: Option<ChapCredentials>,
        mutual: Option<ChapCredentials>,
    ) -> Self {
        self.discovery_chap = chap;
        self.discovery_mutual_chap = mutual;
        self
    }

    /// The credentials the initiator must present, and the target's for mutual CHAP.
    fn credentials(&self) -> Option<(&ChapCredentials, Option<&ChapCredentials>)> {
        if self.discovery {
            let c = self.discovery_chap.as_ref()?;
            Some((c, self.discovery_mutual_chap.as_ref()))
        } else {
            let e = self.entry.as_ref()?;
            Some((e.chap.as_ref()?, e.mutual_chap.as_ref()))
        }
    }

    fn auth_required(&self) -> bool {
        self.credentials().is_some()
    }

    /// Processes one (reassembled) Login Request.
    pub fn step(
        &mut self,
        req: &LoginRequest,
        keys: &[(String, String)],
        registry: &dyn Registry,
    ) -> Result<Step, LoginError> {
        let get = |k: &str| keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut out: Vec<(String, String)> = Vec::new();
        if self.first {
            self.first = false;
            if req.version_min > 0 {
                return Err(LoginError::UnsupportedVersion);
            }
            let name = get("InitiatorName").ok_or(LoginError::MissingParameter)?;
            if name.is_empty() {
                return Err(LoginError::MissingParameter);
            }
            self.initiator = Some(name.to_string());
            self.initiator_alias = get("InitiatorAlias").map(str::to_string);
            match get("SessionType").unwrap_or("Normal") {
                "Normal" => {
                    let t = get("TargetName").ok_or(LoginError::MissingParameter)?;
                    let entry = registry.target(t).ok_or(LoginError::NotFound)?;
                    if !entry.admits(name) {
                        return Err(LoginError::AuthorizationFailure);
                    }
                    if let Some(a) = &entry.alias {
                        out.push(("TargetAlias".into(), a.clone()));
                    }
                    out.push(("TargetPortalGroupTag".into(), self.tpgt.to_string()));
                    self.entry = Some(entry);
                }
                "Discovery" => self.discovery = true,
                _ => return Err(LoginError::SessionTypeNotSupported),
            }
        }
        if req.csg != self.stage {
            // The initiator may skip the security stage only at the start.
            if !(self.stage == Stage::Security && req.csg == Stage::Operational) {
                return Err(LoginError::InitiatorError);
            }
            self.leave_security()?;
            self.stage = Stage::Operational;
        }
        if req.transit && ((req.nsg as u8) <= (req.csg as u8) || req.nsg == Stage::Reserved) {
            return Err(LoginError::InitiatorError);
        }
        match req.csg {
            Stage::Security => self.security(keys, &mut out)?,
            Stage::Operational => self.operational(keys, &mut out),
            _ => return Err(LoginError::InitiatorError),
        }
        let mut transit = req.transit;
        if transit && req.csg == Stage::Security {
            match self.auth {
                Auth::Done => {}
                // CHAP not finished: stay in the security stage.
                Auth::ChapResponse(_) | Auth::ChapAlgorithm => transit = false,
                Auth::Start => self.leave_security()?,
            }
        }
        let nsg = if transit { req.nsg } else { req.csg };
        if transit {
            if nsg == Stage::FullFeature {
                if req.csg == Stage::Security {
                    self.leave_security()?;
                }
                self.finish(&mut out);
            }
            self.stage = nsg;
        }
        Ok(Step {
            keys: out,
            transit,
            csg: req.csg,
            nsg,
        })
    }

    fn leave_security(&mut self) -> Result<(), LoginError> {
        match self.auth {
            Auth::Done => Ok(()),
            Auth::Start if !self.auth_required() => {
                self.auth = Auth::Done;
                Ok(())
            }
            _ => Err(LoginError::AuthenticationFailed),
        }
    }

    fn security(
        &mut self,
        keys: &[(String, String)],
        out: &mut Vec<(String, String)>,
    ) -> Result<(), LoginError> {
        let get = |k: &str| keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if let Some(methods) = get("AuthMethod") {
            let offered = text::list(methods);
            let chap_ok = self.auth_required();
            let pick = if self.auth_required() {
                offered.contains(&"CHAP").then_some("CHAP")
            } else if offered.contains(&"None") {
                Some("None")
            } else {
                None
            };
            match pick {
                Some("CHAP") if chap_ok => {
                    self.auth = Auth::ChapAlgorithm;
                    out.push(("AuthMethod".into(), "CHAP".into()));
                }
                Some(_) => {
                    self.auth = Auth::Done;
                    out.push(("AuthMethod".into(), "None".into()));
                }
                None => return Err(LoginError::AuthenticationFailed),
            }
        }
        match std::mem::replace(&mut self.auth, Auth::Done) {
            Auth::ChapAlgorithm => {
                if let Some(a) = get("CHAP_A") {
                    let ch = ChapChallenge::new(a).map_err(|e| match e {
                        ChapError::NoRandomness => LoginError::TargetError,
                        _ => LoginError::AuthenticationFailed,
                    })?;
                    out.extend(ch.keys());
                    self.auth = Auth::ChapResponse(ch);
                } else {
                    self.auth = Auth::ChapAlgorithm;
                }
            }
            Auth::ChapResponse(ch) => {
                if get("CHAP_N").is_none() && get("CHAP_R").is_none() {
                    self.auth = Auth::ChapResponse(ch);
                } else {
                    let (creds, mutual) =
                        self.credentials().ok_or(LoginError::AuthenticationFailed)?;
                    let back = ch
                        .verify(
                            get("CHAP_N"),
                            get("CHAP_R"),
                            get("CHAP_I"),
                            get("CHAP_C"),
                            creds,
                            mutual,
                        )
                        .map_err(|e| {
                            tracing::info!(initiator = ?self.initiator, "CHAP failed: {e}");
                            LoginError::AuthenticationFailed
                        })?;
                    out.extend(back);
                    self.auth = Auth::Done;
                }
            }
            other => self.auth = other,
        }
        // Operational keys may ride along in the security stage.
        for (k, v) in keys {
            if !k.starts_with("CHAP_") && k != "AuthMethod" {
                self.operational_key(k, v, out);
            }
        }
        Ok(())
    }

    fn operational(&mut self, keys: &[(String, String)], out: &mut Vec<(String, String)>) {
        for (k, v) in keys {
            if k.starts_with("CHAP_") || k == "AuthMethod" {
                out.push((k.clone(), "Irrelevant".into()));
            } else {
                self.operational_key(k, v, out);
            }
        }
        self.declare(out);
    }

    fn operational_key(&mut self, k: &str, v: &str, out: &mut Vec<(String, String)>) {
        if let Some(a) = self.params.negotiate(k, v, &self.limits, self.discovery) {
            out.push((k.to_string(), a));
        }
    }

    fn declare(&mut self, out: &mut Vec<(String, String)>) {
        if !self.declared_mrdsl {
            self.declared_mrdsl = true;
            out.push((
                "MaxRecvDataSegmentLength".into(),
                self.limits.max_recv_data_segment_length.to_string(),
            ));
        }
    }

    fn finish(&mut self, out: &mut Vec<(String, String)>) {
        self.declare(out);
        self.params.finish(&self.limits);
    }
}

/// The result of a successful login.
#[derive(Debug)]
pub struct LoginDone {
    pub session: Arc<Session>,
    /// The StatSN of the next status-bearing PDU.
    pub stat_sn: u32,
    pub framing: Framing,
    pub cid: u16,
}

/// Runs the login phase on a new connection. On failure the Login Response with the
/// status has been sent and the caller closes the connection.
pub async fn run<R, W>(
    shared: &Shared,
    reader: &mut FrameReader<R>,
    writer: &mut W,
    peer: SocketAddr,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<LoginDone>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let timeout = shared.config.login_timeout;
    let mut login = Login::new(shared.config.limits.clone(), shared.config.tpgt)
        .with_discovery_chap(
            shared.config.discovery_chap.clone(),
            shared.config.discovery_mutual_chap.clone(),
        );
    let mut stat_sn = 0u32;
    let mut pending_text: Vec<u8> = Vec::new();
    let mut first: Option<LoginRequest> = None;
    loop {
        let read = tokio::select! {
            r = tokio::time::timeout(timeout, reader.read()) => r,
            // Shutting down: stop between PDUs, before any session exists.
            _ = shutdown.wait_for(|s| *s) => return None,
        };
        let raw = match read {
            Ok(Ok(Some(raw))) => raw,
            Ok(Ok(None)) | Err(_) => return None,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "login read failed: {e}");
                return None;
            }
        };
        Metrics::inc(&shared.metrics.pdus_in);
        Metrics::add(&shared.metrics.bytes_in, 48 + raw.data.len());
        let req = match Pdu::parse(&raw) {
            Ok(Pdu::LoginRequest(r)) => r,
            _ => {
                tracing::debug!(%peer, "non-login PDU during login");
                Metrics::inc(&shared.metrics.protocol_errors);
                return None;
            }
        };
        let base = first.get_or_insert_with(|| {
            stat_sn = req.exp_stat_sn;
            req.clone()
        });
        if req.isid != base.isid || req.tsih != base.tsih || req.cid != base.cid {
            let _ = fail(writer, &req, stat_sn, LoginError::InitiatorError).await;
            return None;
        }
        if base.tsih != 0 {
            // MaxConnections=1: no connection can be added to an existing session.
            let err = if shared.sessions.get(base.tsih).is_some() {
                LoginError::TooManyConnections
            } else {
                LoginError::SessionDoesNotExist
            };
            let _ = fail(writer, &req, stat_sn, err).await;
            Metrics::inc(&shared.metrics.login_failures);
            return None;
        }
        pending_text.extend_from_slice(&raw.data);
        if pending_text.len() > text::MAX_TEXT_LEN {
            let _ = fail(writer, &req, stat_sn, LoginError::OutOfResources).await;
            return None;
        }
        if req.continue_bit {
            // More text follows: acknowledge with an empty response in the same stage.
            let rsp = response(&req, stat_sn, false, req.csg, 0, 0);
            stat_sn = stat_sn.wrapping_add(1);
            if send(writer, &rsp, &[], shared).await.is_err() {
                return None;
            }
            continue;
        }
        let keys = match text::parse(&std::mem::take(&mut pending_text)) {
            Ok(k) => k,
            Err(_) => {
                let _ = fail(writer, &req, stat_sn, LoginError::InitiatorError).await;
                Metrics::inc(&shared.metrics.login_failures);
                return None;
            }
        };
        let step = match login.step(&req, &keys, shared.registry.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(%peer, initiator = ?login.initiator, "login failed: {e}");
                Metrics::inc(&shared.metrics.login_failures);
                let _ = fail(writer, &req, stat_sn, e).await;
                return None;
            }
        };
        let mut rsp = response(&req, stat_sn, step.transit, step.csg, 0, 0);
        rsp.nsg = step.nsg;
        let data = text::encode(&step.keys);
        if !(step.transit && step.nsg == Stage::FullFeature) {
            stat_sn = stat_sn.wrapping_add(1);
            if send(writer, &rsp, &data, shared).await.is_err() {
                return None;
            }
            continue;
        }
        // Into full feature phase: reinstate any older session of this I_T nexus.
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
        let created = shared.sessions.create(NewSession {
            isid: req.isid,
            initiator,
            peer,
            entry: login.entry.clone(),
            tpgt: shared.config.tpgt,
            params: login.params.clone(),
            exp_cmd_sn: req.cmd_sn,
            depth: shared.config.queue_depth,
        });
        let Some(session) = created else {
            let _ = fail(writer, &req, stat_sn, LoginError::OutOfResources).await;
            return None;
        };
        rsp.tsih = session.tsih;
        rsp.sn.exp_cmd_sn = req.cmd_sn;
        rsp.sn.max_cmd_sn = session.window.lock().max_cmd_sn();
        if send(writer, &rsp, &data, shared).await.is_err() {
            shared.sessions.remove(session.tsih);
            return None;
        }
        Metrics::inc(&shared.metrics.sessions_opened);
        let framing = Framing {
            header_digest: session.params.header_digest,
            data_digest: session.params.data_digest,
            max_recv_data: session.params.target_mrdsl as usize,
        };
        return Some(LoginDone {
            session,
            stat_sn: stat_sn.wrapping_add(1),
            framing,
            cid: req.cid,
        });
    }
}

fn response(
    req: &LoginRequest,
    stat_sn: u32,
    transit: bool,
    csg: Stage,
    class: u8,
    detail: u8,
) -> LoginResponse {
    LoginResponse {
        transit,
        continue_bit: false,
        csg,
        nsg: if transit { req.nsg } else { csg },
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
        status_class: class,
        status_detail: detail,
    }
}

async fn fail<W: AsyncWrite + Unpin>(
    w: &mut W,
    req: &LoginRequest,
    stat_sn: u32,
    e: LoginError,
) -> std::io::Result<()> {
    let (class, detail) = e.status();
    let mut rsp = response(req, stat_sn, false, req.csg, class, detail);
    rsp.nsg = Stage::Security;
    rsp.csg = req.csg;
    let bytes = codec::encode(&Pdu::LoginResponse(rsp), &[], &Framing::default());
    w.write_all(&bytes).await?;
    w.flush().await
}

async fn send<W: AsyncWrite + Unpin>(
    w: &mut W,
    rsp: &LoginResponse,
    data: &[u8],
    shared: &Shared,
) -> std::io::Result<()> {
    let bytes = codec::encode(&Pdu::LoginResponse(rsp.clone()), data, &Framing::default());
    Metrics::inc(&shared.metrics.pdus_out);
    Metrics::add(&shared.metrics.bytes_out, bytes.len());
    w.write_all(&bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests;
