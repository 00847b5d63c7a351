//! What the VM component refuses, with stable codes and HTTP statuses.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `invalid_socket`, `invalid_queues`, `invalid_vm` |
//! | 404 | `no_such_export`, `no_such_vm` (and the volume's `no_such_volume`) |
//! | 409 | `export_exists`, `socket_in_use`, `volume_in_use`, `vm_exists`, `vm_running`, `vm_not_running`, `changes_pending` |
//! | 500 | `metadata_error`, `vm_start_failed` |

use crate::core::{ApiError, ErrorCode, InUse};
use axum::http::StatusCode;

/// A VM component operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmError {
    /// The volume is not exported.
    #[error("volume '{0}' is not exported over vhost-user")]
    NoSuchExport(String),
    /// The volume is exported already.
    #[error("volume '{volume}' is exported already, on {socket}")]
    ExportExists {
        /// The volume.
        volume: String,
        /// Its socket.
        socket: String,
    },
    /// Another export listens on the socket.
    #[error("socket {socket} is used by the export of volume '{volume}'")]
    SocketInUse {
        /// The socket.
        socket: String,
        /// The volume exported on it.
        volume: String,
    },
    /// The socket path cannot be used.
    #[error("{0}")]
    InvalidSocket(String),
    /// A queue count out of range.
    #[error("{0} queues: an export offers 1 to 16")]
    InvalidQueues(u16),
    /// The volume is held by someone.
    #[error(transparent)]
    InUse(#[from] InUse),
    /// The volume cannot be opened (its owner's error).
    #[error(transparent)]
    Volume(ApiError),
    /// No such VM.
    #[error("there is no VM '{0}'")]
    NoSuchVm(String),
    /// The name is taken.
    #[error("VM '{0}' already exists")]
    VmExists(String),
    /// The VM runs, and the operation needs it stopped.
    #[error("VM '{0}' is running")]
    VmRunning(String),
    /// The VM does not run, and the operation needs it running.
    #[error("VM '{0}' is not running")]
    VmNotRunning(String),
    /// Undoable disks hold changes nobody committed or discarded.
    #[error("VM '{name}' has uncommitted changes on {volumes}: keep them with `vsa vm commit {name}` or throw them away with `vsa vm discard {name}` first")]
    ChangesPending {
        /// The VM.
        name: String,
        /// The volumes.
        volumes: String,
    },
    /// A VM configuration that cannot work.
    #[error("{0}")]
    InvalidVm(String),
    /// The runner process could not start.
    #[error("cannot start VM '{name}': {why}")]
    StartFailed {
        /// The VM.
        name: String,
        /// Why.
        why: String,
    },
    /// The metadata store failed.
    #[error("cannot write the VM configuration: {0}")]
    Meta(String),
}

impl ErrorCode for VmError {
    fn code(&self) -> &'static str {
        match self {
            VmError::NoSuchExport(_) => "no_such_export",
            VmError::ExportExists { .. } => "export_exists",
            VmError::SocketInUse { .. } => "socket_in_use",
            VmError::InvalidSocket(_) => "invalid_socket",
            VmError::InvalidQueues(_) => "invalid_queues",
            VmError::InUse(e) => e.code(),
            VmError::Volume(e) => e.code,
            VmError::NoSuchVm(_) => "no_such_vm",
            VmError::VmExists(_) => "vm_exists",
            VmError::VmRunning(_) => "vm_running",
            VmError::ChangesPending { .. } => "changes_pending",
            VmError::VmNotRunning(_) => "vm_not_running",
            VmError::InvalidVm(_) => "invalid_vm",
            VmError::StartFailed { .. } => "vm_start_failed",
            VmError::Meta(_) => "metadata_error",
        }
    }

    fn status(&self) -> StatusCode {
        use StatusCode as S;
        match self {
            VmError::InvalidSocket(_) | VmError::InvalidQueues(_) | VmError::InvalidVm(_) => {
                S::BAD_REQUEST
            }
            VmError::NoSuchExport(_) | VmError::NoSuchVm(_) => S::NOT_FOUND,
            VmError::ExportExists { .. }
            | VmError::SocketInUse { .. }
            | VmError::VmExists(_)
            | VmError::VmRunning(_)
            | VmError::ChangesPending { .. }
            | VmError::VmNotRunning(_) => S::CONFLICT,
            VmError::InUse(e) => e.status(),
            VmError::Volume(e) => e.status,
            VmError::Meta(_) | VmError::StartFailed { .. } => S::INTERNAL_SERVER_ERROR,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            VmError::NoSuchExport(_) => Some("`vsa vhost list` shows the exports".into()),
            VmError::ExportExists { volume, .. } => Some(format!(
                "unexport it first (`vsa vhost unexport {volume}`) to move it to another socket"
            )),
            VmError::SocketInUse { .. } => Some("pick another --socket path".into()),
            VmError::InvalidSocket(_) => {
                Some("give an absolute path in an existing directory, e.g. /run/vsa/db.sock".into())
            }
            VmError::InUse(e) => e.hint(),
            VmError::NoSuchVm(_) => Some("`vsa vm list` shows the VMs".into()),
            VmError::VmRunning(n) => Some(format!("stop it first (`vsa vm stop {n}`)")),
            VmError::VmNotRunning(n) => Some(format!("start it first (`vsa vm start {n}`)")),
            _ => None,
        }
    }
}

/// A metadata store failure.
pub fn meta(e: impl std::fmt::Display) -> VmError {
    VmError::Meta(e.to_string())
}
