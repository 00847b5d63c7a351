//! `/volumes`: create, list, show, resize, delete; snapshots, clones, rollback.

use super::{body, run, ApiState, Routes};
use crate::action::Action;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

/// Adds the volume routes.
pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/volumes", list)
        .add("POST", "/volumes", create)
        .add("GET", "/volumes/{name}", show)
        .add("PATCH", "/volumes/{name}", resize)
        .add("DELETE", "/volumes/{name}", delete)
        .add("GET", "/volumes/{name}/snapshots", snapshots)
        .add("POST", "/volumes/{name}/snapshots", snapshot)
        .add(
            "DELETE",
            "/volumes/{name}/snapshots/{snap}",
            delete_snapshot,
        )
        .add("POST", "/volumes/{name}/snapshots/{snap}/clone", clone)
        .add(
            "POST",
            "/volumes/{name}/snapshots/{snap}/rollback",
            rollback,
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    size: Value,
    pool: Option<String>,
    #[serde(default)]
    thick: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResizeBody {
    size: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn list(State(s): State<ApiState>) -> Reply {
    run(&s, Action::ListVolumes).await
}

async fn create(State(s): State<ApiState>, bytes: Bytes) -> Reply {
    let b: CreateBody = body(&bytes)?;
    let action = Action::CreateVolume {
        name: b.name,
        size: crate::size::from_json(&b.size)?,
        pool: b.pool,
        thick: b.thick,
    };
    run(&s, action).await
}

async fn show(State(s): State<ApiState>, Path(name): Path<String>) -> Reply {
    run(&s, Action::ShowVolume { name }).await
}

async fn resize(State(s): State<ApiState>, Path(name): Path<String>, bytes: Bytes) -> Reply {
    let b: ResizeBody = body(&bytes)?;
    let size = crate::size::from_json(&b.size)?;
    run(&s, Action::ResizeVolume { name, size }).await
}

async fn delete(State(s): State<ApiState>, Path(name): Path<String>) -> Reply {
    let reply = run(&s, Action::DeleteVolume { name: name.clone() }).await?;
    s.metrics().io.remove(&name);
    Ok(reply)
}

async fn snapshots(State(s): State<ApiState>, Path(volume): Path<String>) -> Reply {
    run(&s, Action::ListSnapshots { volume }).await
}

async fn snapshot(State(s): State<ApiState>, Path(volume): Path<String>, bytes: Bytes) -> Reply {
    let b: NameBody = body(&bytes)?;
    run(
        &s,
        Action::CreateSnapshot {
            volume,
            name: b.name,
        },
    )
    .await
}

async fn delete_snapshot(
    State(s): State<ApiState>,
    Path((volume, snapshot)): Path<(String, String)>,
) -> Reply {
    run(&s, Action::DeleteSnapshot { volume, snapshot }).await
}

async fn clone(
    State(s): State<ApiState>,
    Path((volume, snapshot)): Path<(String, String)>,
    bytes: Bytes,
) -> Reply {
    let b: NameBody = body(&bytes)?;
    let action = Action::CloneSnapshot {
        volume,
        snapshot,
        new: b.name,
    };
    run(&s, action).await
}

async fn rollback(
    State(s): State<ApiState>,
    Path((volume, snapshot)): Path<(String, String)>,
) -> Reply {
    run(&s, Action::Rollback { volume, snapshot }).await
}
