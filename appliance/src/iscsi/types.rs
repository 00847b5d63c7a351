//! The iSCSI component's request and reply bodies, shared by the handlers, the CLI and the
//! OpenAPI document. Secrets go in (CHAP) but never come out.

use super::model::{LunKind, TargetRecord};
use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `{name}`: a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetPath {
    /// The target's iSCSI name.
    pub name: String,
}

impl PathParams for TargetPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "target IQN")];
}

/// `{name}/luns/{lun}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LunPath {
    /// The target.
    pub name: String,
    /// The LUN number (a path segment; the service parses it).
    pub lun: String,
}

impl PathParams for LunPath {
    const DOC: &'static [(&'static str, &'static str)] =
        &[("name", "target IQN"), ("lun", "LUN number")];
}

/// `{name}/acl/{initiator}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AclPath {
    /// The target.
    pub name: String,
    /// The initiator's iSCSI name.
    pub initiator: String,
}

impl PathParams for AclPath {
    const DOC: &'static [(&'static str, &'static str)] =
        &[("name", "target IQN"), ("initiator", "initiator IQN")];
}

/// `POST /targets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTargetBody {
    /// The iSCSI name: `iqn.`, `eui.` or `naa.`.
    pub name: String,
    /// The TargetAlias initiators show.
    pub alias: Option<String>,
}

/// `POST /targets/{name}/luns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLunBody {
    /// The volume to serve.
    pub volume: String,
    /// The LUN number (default: the lowest free).
    pub lun: Option<u64>,
    /// Writes fail with DATA PROTECT.
    #[serde(default)]
    pub read_only: bool,
    /// Report removable medium.
    #[serde(default)]
    pub removable: bool,
}

/// `POST /targets/{name}/acl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AclBody {
    /// The initiator's iSCSI name.
    pub initiator: String,
}

/// `PUT /targets/{name}/chap`: no user turns CHAP off.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChapBody {
    /// The user initiators log in as.
    pub user: Option<String>,
    /// Its secret, 12 to 255 bytes.
    pub secret: Option<String>,
    /// The target's own user, for mutual CHAP.
    pub mutual_user: Option<String>,
    /// Its secret.
    pub mutual_secret: Option<String>,
}

impl std::fmt::Debug for ChapBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChapBody")
            .field("user", &self.user)
            .field("mutual_user", &self.mutual_user)
            .finish_non_exhaustive()
    }
}

/// A CHAP user (the secret is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChapUser {
    /// The user name.
    pub user: String,
}

/// One LUN of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LunView {
    /// The LUN number.
    pub lun: u64,
    /// What kind of logical unit it is (`disk`).
    pub kind: LunKind,
    /// The volume it serves.
    pub volume: String,
    /// Writes fail with DATA PROTECT.
    pub read_only: bool,
    /// Reported as removable medium.
    pub removable: bool,
    /// Unit serial number (VPD 0x80).
    pub serial: String,
    /// NAA 6 designator (VPD 0x83), 32 hex digits.
    pub naa: String,
}

/// An iSCSI target: LUNs, ACL (empty admits every initiator), CHAP users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetView {
    /// The iSCSI name.
    pub name: String,
    /// TargetAlias.
    pub alias: Option<String>,
    /// LUNs by number.
    pub luns: Vec<LunView>,
    /// Initiators allowed to log in; empty admits every initiator.
    pub acl: Vec<String>,
    /// CHAP the initiator must pass.
    pub chap: Option<ChapUser>,
    /// Mutual CHAP: the target's own user.
    pub mutual_chap: Option<ChapUser>,
}

impl From<&TargetRecord> for TargetView {
    fn from(r: &TargetRecord) -> Self {
        TargetView {
            name: r.name.clone(),
            alias: r.alias.clone(),
            luns: r
                .luns
                .iter()
                .map(|(n, l)| LunView {
                    lun: *n,
                    kind: l.kind,
                    volume: l.volume.clone(),
                    read_only: l.read_only,
                    removable: l.removable,
                    serial: l.serial.clone(),
                    naa: l.naa.clone(),
                })
                .collect(),
            acl: r.acl.iter().cloned().collect(),
            chap: r.chap.as_ref().map(|c| ChapUser {
                user: c.user.clone(),
            }),
            mutual_chap: r.mutual_chap.as_ref().map(|c| ChapUser {
                user: c.user.clone(),
            }),
        }
    }
}

/// An iSCSI session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The target (empty for discovery sessions).
    pub target: String,
    /// The initiator's iSCSI name.
    pub initiator: String,
    /// The ISID, 12 hex digits.
    pub isid: String,
    /// The TSIH.
    pub tsih: u16,
    /// The initiator's address and port.
    pub peer: String,
    /// A discovery session.
    pub discovery: bool,
    /// The negotiated parameters.
    pub params: BTreeMap<String, String>,
    /// Commands in flight.
    pub commands_in_flight: usize,
}

impl From<&vsa_iscsi::SessionInfo> for SessionView {
    fn from(s: &vsa_iscsi::SessionInfo) -> Self {
        SessionView {
            target: s.target.clone(),
            initiator: s.initiator.clone(),
            isid: format!("{:012x}", s.isid),
            tsih: s.tsih,
            peer: s.peer.to_string(),
            discovery: s.discovery,
            params: s
                .params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            commands_in_flight: s.commands_in_flight,
        }
    }
}
