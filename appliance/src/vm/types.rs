//! The VM component's request and reply bodies, shared by the handlers, the CLI and the
//! OpenAPI document.

use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{volume}`: an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportPath {
    /// The exported volume.
    pub volume: String,
}

impl PathParams for ExportPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("volume", "exported volume")];
}

/// `POST /vhost`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// The volume to serve.
    pub volume: String,
    /// The Unix socket to listen on (absolute; its directory must exist).
    pub socket: String,
    /// Guests may read but not write.
    #[serde(default)]
    pub read_only: bool,
    /// Request queues to offer, 1 to 16 (default 4; a VMM uses at most this many).
    #[serde(default)]
    pub queues: Option<u16>,
}

/// A vhost-user-blk export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportView {
    /// The volume.
    pub volume: String,
    /// The socket VMMs connect to.
    pub socket: String,
    /// Guests may read but not write.
    pub read_only: bool,
    /// Request queues offered.
    pub queues: u16,
    /// The disk's size in bytes, as guests see it.
    pub size: u64,
    /// `listening`, `connected` or `failed` (see `problem`).
    pub state: String,
    /// VMM connections served since the export (re)started.
    pub connections: u64,
    /// Why the export does not serve, or why the last connection ended badly.
    pub problem: Option<String>,
}
