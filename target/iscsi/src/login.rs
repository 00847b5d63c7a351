//! The login phase (RFC 7143 6, 11.12–11.13): security stage (AuthMethod, CHAP),
//! operational stage (key negotiation), status class/detail on failure, and the move into
//! full feature phase with a TSIH.
//!
//! [`Login`] is the synchronous state machine (one [`Login::step`] per Login Request,
//! testable without sockets); [`run`] (in `login/drive.rs`) drives it over a connection.

mod drive;

use std::sync::Arc;

use crate::chap::{ChapChallenge, ChapCredentials, ChapError};
use crate::codec::Framing;
use crate::error::LoginError;
use crate::params::{SessionParams, TargetLimits};
use crate::pdu::{LoginRequest, Stage};
use crate::session::Session;
use crate::{text, Registry, TargetEntry};

pub(crate) use drive::fail;
pub use drive::{run, LOGIN_MAX_DATA};

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
    /// Whether the last CHAP response checked was right (until taken).
    chap_outcome: Option<bool>,
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
            chap_outcome: None,
        }
    }

    /// Whether the request just processed carried a CHAP response, and if so whether it
    /// was right (`Some(false)` for a wrong name, response or mutual challenge).
    pub fn take_chap_outcome(&mut self) -> Option<bool> {
        self.chap_outcome.take()
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
                    let verified = ch.verify(
                        get("CHAP_N"),
                        get("CHAP_R"),
                        get("CHAP_I"),
                        get("CHAP_C"),
                        creds,
                        mutual,
                    );
                    self.chap_outcome = Some(verified.is_ok());
                    let back = verified.map_err(|e| {
                        tracing::debug!(initiator = ?self.initiator, "CHAP failed: {e}");
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

#[cfg(test)]
mod tests;
