//! `/pools`: list, create, show, add a spare, fail or replace a member, start a scrub.

use super::{body, opt_size, run, ApiState, Routes};
use crate::action::{Action, CreatePool};
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

/// Adds the pool routes.
pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/pools", list)
        .add("POST", "/pools", create)
        .add("GET", "/pools/{name}", show)
        .add("POST", "/pools/{name}/spares", add_spare)
        .add("POST", "/pools/{name}/members/{member}/fail", fail)
        .add("POST", "/pools/{name}/members/{member}/replace", replace)
        .add("POST", "/pools/{name}/scrub", scrub)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    raid: Value,
    members: Vec<PathBuf>,
    #[serde(default)]
    spares: Vec<PathBuf>,
    raid_chunk: Option<Value>,
    chunk_size: Option<Value>,
    create_size: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    device: PathBuf,
    create_size: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrubBody {
    repair: Option<bool>,
}

fn absolute(p: PathBuf, field: &str) -> Result<PathBuf, ApiError> {
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(ApiError::bad_request(
            "bad_member",
            format!(
                "{field} {} is a relative path; give the daemon absolute paths (the CLI does this for you)",
                p.display()
            ),
        ))
    }
}

async fn list(State(s): State<ApiState>) -> Reply {
    run(&s, Action::ListPools).await
}

async fn show(State(s): State<ApiState>, Path(name): Path<String>) -> Reply {
    run(&s, Action::ShowPool { name }).await
}

async fn create(State(s): State<ApiState>, bytes: Bytes) -> Reply {
    let b: CreateBody = body(&bytes)?;
    let raid = match b.raid {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => {
            return Err(ApiError::bad_request(
                "invalid_raid",
                format!("raid {other} is not a RAID level; use one of 0, 1, 5, 6, 10"),
            ))
        }
    };
    let action = Action::CreatePool(CreatePool {
        name: b.name,
        raid,
        members: b
            .members
            .into_iter()
            .map(|p| absolute(p, "member"))
            .collect::<Result<_, _>>()?,
        spares: b
            .spares
            .into_iter()
            .map(|p| absolute(p, "spare"))
            .collect::<Result<_, _>>()?,
        raid_chunk: opt_size(&b.raid_chunk)?,
        chunk_size: opt_size(&b.chunk_size)?,
        create_size: opt_size(&b.create_size)?,
    });
    run(&s, action).await
}

async fn add_spare(State(s): State<ApiState>, Path(pool): Path<String>, bytes: Bytes) -> Reply {
    let b: DeviceBody = body(&bytes)?;
    let action = Action::AddSpare {
        pool,
        device: absolute(b.device, "device")?,
        create_size: opt_size(&b.create_size)?,
    };
    run(&s, action).await
}

async fn fail(State(s): State<ApiState>, Path((pool, member)): Path<(String, String)>) -> Reply {
    run(&s, Action::FailMember { pool, member }).await
}

async fn replace(
    State(s): State<ApiState>,
    Path((pool, member)): Path<(String, String)>,
    bytes: Bytes,
) -> Reply {
    let b: DeviceBody = body(&bytes)?;
    let action = Action::ReplaceMember {
        pool,
        member,
        device: absolute(b.device, "device")?,
        create_size: opt_size(&b.create_size)?,
    };
    run(&s, action).await
}

async fn scrub(State(s): State<ApiState>, Path(pool): Path<String>, bytes: Bytes) -> Reply {
    let b: ScrubBody = body(&bytes)?;
    let action = Action::StartScrub {
        pool,
        repair: b.repair.unwrap_or(true),
    };
    run(&s, action).await
}
