//! `/targets` and `/sessions`: iSCSI targets, their LUNs, ACLs and CHAP, and the sessions
//! of the iSCSI server.

use super::{body, run, ApiState, Routes};
use crate::action::{Action, SetChap};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

/// Adds the target routes.
pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/targets", list)
        .add("POST", "/targets", create)
        .add("GET", "/targets/{name}", show)
        .add("DELETE", "/targets/{name}", delete)
        .add("POST", "/targets/{name}/luns", add_lun)
        .add("DELETE", "/targets/{name}/luns/{lun}", remove_lun)
        .add("POST", "/targets/{name}/acl", add_acl)
        .add("DELETE", "/targets/{name}/acl/{initiator}", remove_acl)
        .add("PUT", "/targets/{name}/chap", chap)
        .add("GET", "/targets/{name}/sessions", target_sessions)
        .add("GET", "/sessions", sessions)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LunBody {
    volume: String,
    lun: Option<u64>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    removable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AclBody {
    initiator: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChapBody {
    user: Option<String>,
    secret: Option<String>,
    mutual_user: Option<String>,
    mutual_secret: Option<String>,
}

async fn list(State(s): State<ApiState>) -> Reply {
    run(&s, Action::ListTargets).await
}

async fn create(State(s): State<ApiState>, bytes: Bytes) -> Reply {
    let b: CreateBody = body(&bytes)?;
    run(
        &s,
        Action::CreateTarget {
            name: b.name,
            alias: b.alias,
        },
    )
    .await
}

async fn show(State(s): State<ApiState>, Path(name): Path<String>) -> Reply {
    run(&s, Action::ShowTarget { name }).await
}

async fn delete(State(s): State<ApiState>, Path(name): Path<String>) -> Reply {
    run(&s, Action::DeleteTarget { name }).await
}

async fn add_lun(State(s): State<ApiState>, Path(target): Path<String>, bytes: Bytes) -> Reply {
    let b: LunBody = body(&bytes)?;
    let action = Action::AddLun {
        target,
        volume: b.volume,
        lun: b.lun,
        read_only: b.read_only,
        removable: b.removable,
    };
    run(&s, action).await
}

async fn remove_lun(
    State(s): State<ApiState>,
    Path((target, lun)): Path<(String, String)>,
) -> Reply {
    let lun = lun.parse().map_err(|_| {
        ApiError::bad_request("invalid_lun", format!("'{lun}' is not a LUN number"))
    })?;
    run(&s, Action::RemoveLun { target, lun }).await
}

async fn add_acl(State(s): State<ApiState>, Path(target): Path<String>, bytes: Bytes) -> Reply {
    let b: AclBody = body(&bytes)?;
    run(
        &s,
        Action::AddAcl {
            target,
            initiator: b.initiator,
        },
    )
    .await
}

async fn remove_acl(
    State(s): State<ApiState>,
    Path((target, initiator)): Path<(String, String)>,
) -> Reply {
    run(&s, Action::RemoveAcl { target, initiator }).await
}

async fn chap(State(s): State<ApiState>, Path(target): Path<String>, bytes: Bytes) -> Reply {
    let b: ChapBody = body(&bytes)?;
    let action = Action::SetChap(SetChap {
        target,
        user: b.user,
        secret: b.secret,
        mutual_user: b.mutual_user,
        mutual_secret: b.mutual_secret,
    });
    run(&s, action).await
}

async fn target_sessions(State(s): State<ApiState>, Path(target): Path<String>) -> Reply {
    run(
        &s,
        Action::Sessions {
            target: Some(target),
        },
    )
    .await
}

async fn sessions(State(s): State<ApiState>) -> Reply {
    run(&s, Action::Sessions { target: None }).await
}
