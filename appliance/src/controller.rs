//! The controller: executes an [`Action`] against the [`Appliance`] and returns a JSON
//! result or an [`ApiError`]. Blocking; the API runs it on the blocking thread pool.

use crate::action::{Action, CreatePool};
use crate::appliance::Appliance;
use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use vsa_pool::raid::{MemberState, RaidLevel};
use vsa_pool::{Pool, PoolSpec, VolumeInfo};

/// A successful result: the HTTP status (200, 201 or 202) and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

fn ok(body: Value) -> Result<Outcome, ApiError> {
    Ok(Outcome {
        status: StatusCode::OK,
        body,
    })
}

fn created(body: Value) -> Result<Outcome, ApiError> {
    Ok(Outcome {
        status: StatusCode::CREATED,
        body,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A member state as one word: `active`, `faulty`, `rebuilding`, `spare`.
pub fn state_word(s: MemberState) -> &'static str {
    match s {
        MemberState::Active => "active",
        MemberState::Faulty => "faulty",
        MemberState::Rebuilding { .. } => "rebuilding",
        MemberState::Spare => "spare",
    }
}

/// A pool's health in one word: `failed`, `rebuilding`, `degraded` or `healthy`.
pub fn health(pool: &Pool) -> &'static str {
    let raid = pool.raid().status();
    if raid.failed {
        "failed"
    } else if raid.needs_rebuild {
        "rebuilding"
    } else if raid.degraded {
        "degraded"
    } else {
        "healthy"
    }
}

/// The JSON view of a pool.
pub fn pool_view(pool: &Pool) -> Value {
    let status = pool.status();
    let mut v = to_json(&status);
    if let Value::Object(m) = &mut v {
        m.insert("health".into(), json!(health(pool)));
        m.insert("volumes".into(), json!(pool.volumes().names()));
        if let Some(Value::Object(raid)) = m.get_mut("raid") {
            if let Some(Value::Array(members)) = raid.get_mut("members") {
                for (mv, mi) in members.iter_mut().zip(&status.raid.members) {
                    if let Value::Object(mo) = mv {
                        mo.insert("state".into(), json!(state_word(mi.state)));
                        if let MemberState::Rebuilding { rebuilt } = mi.state {
                            mo.insert("rebuilt".into(), json!(rebuilt));
                        }
                    }
                }
            }
        }
    }
    v
}

/// The JSON view of a volume: its record with the pool named, not numbered.
pub fn volume_view(pool: &Pool, info: &VolumeInfo) -> Value {
    let mut v = to_json(info);
    if let Value::Object(m) = &mut v {
        m.insert("pool_id".into(), json!(info.record.pool));
        m.insert("pool".into(), json!(pool.name()));
    }
    v
}

fn create_pool(app: &Appliance, c: CreatePool) -> Result<Outcome, ApiError> {
    let level: RaidLevel = c
        .raid
        .parse()
        .map_err(|e: vsa_pool::raid::ParseRaidLevelError| {
            ApiError::bad_request("invalid_raid", e.to_string())
        })?;
    let mut spec = PoolSpec::new(&c.name, level, c.members);
    spec.spares = c.spares;
    if let Some(rc) = c.raid_chunk {
        spec.raid_chunk = u32::try_from(rc).map_err(|_| {
            ApiError::bad_request(
                "invalid_size",
                format!("raid chunk {rc} bytes is too large; use at most 16M"),
            )
        })?;
    }
    if let Some(cs) = c.chunk_size {
        spec.chunk_size = cs;
    }
    spec.create_size = c.create_size;
    let pool = app.create_pool(&spec)?;
    created(pool_view(&pool))
}

fn progress_body(pool: &Arc<Pool>, task: &str, p: Option<vsa_pool::ProgressReport>) -> Value {
    json!({ "pool": pool.name(), "task": task, "progress": p })
}

/// Executes `action`.
pub fn execute(app: &Appliance, action: Action) -> Result<Outcome, ApiError> {
    match action {
        Action::Status => ok(status(app)),
        Action::ListPools => ok(Value::Array(
            app.pools().iter().map(|p| pool_view(p)).collect(),
        )),
        Action::ShowPool { name } => ok(pool_view(&*app.pool(&name)?)),
        Action::CreatePool(c) => create_pool(app, c),
        Action::AddSpare {
            pool,
            device,
            create_size,
        } => {
            let p = app.pool(&pool)?;
            p.add_spare(&device, create_size)?;
            ok(pool_view(&p))
        }
        Action::FailMember { pool, member } => {
            let p = app.pool(&pool)?;
            p.fail_member(&member)?;
            ok(pool_view(&p))
        }
        Action::ReplaceMember {
            pool,
            member,
            device,
            create_size,
        } => {
            let p = app.pool(&pool)?;
            p.replace_member(&member, &device, create_size)?;
            Ok(Outcome {
                status: StatusCode::ACCEPTED,
                body: pool_view(&p),
            })
        }
        Action::StartScrub { pool, repair } => {
            let p = app.pool(&pool)?;
            let progress = p.start_scrub(repair)?;
            Ok(Outcome {
                status: StatusCode::ACCEPTED,
                body: progress_body(&p, "scrub", Some(progress.snapshot())),
            })
        }
        Action::ListVolumes => {
            let mut out = Vec::new();
            for p in app.pools() {
                for info in p.volumes().list() {
                    out.push(volume_view(&p, &info));
                }
            }
            ok(Value::Array(out))
        }
        Action::ShowVolume { name } => {
            let p = app.pool_of_volume(&name)?;
            ok(volume_view(&p, &p.volumes().info(&name)?))
        }
        Action::CreateVolume {
            name,
            size,
            pool,
            thick,
        } => {
            let p = match pool {
                Some(pool) => app.pool(&pool)?,
                None => app.default_pool().ok_or_else(|| {
                    ApiError::bad_request(
                        "pool_required",
                        "there are several pools and none is named 'default'; say which pool (`--pool`, or \"pool\" in the request)",
                    )
                })?,
            };
            // Volume names are unique across pools.
            if app.pool_of_volume(&name).is_ok() {
                return Err(vsa_pool::VolumeError::VolumeExists(name).into());
            }
            let info = p.volumes().create(&name, size, thick)?;
            created(volume_view(&p, &info))
        }
        Action::ResizeVolume { name, size } => {
            let p = app.pool_of_volume(&name)?;
            ok(volume_view(&p, &p.volumes().resize(&name, size)?))
        }
        Action::DeleteVolume { name } => {
            let p = app.pool_of_volume(&name)?;
            let users = app.targets().volume_users(&name);
            if !users.is_empty() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "volume_in_use",
                    format!(
                        "volume '{name}' is served as {}; remove the LUN first (`vsa target lun remove`)",
                        users.join(", ")
                    ),
                ));
            }
            p.volumes().delete(&name)?;
            ok(json!({ "deleted": name }))
        }
        Action::ListSnapshots { volume } => {
            let p = app.pool_of_volume(&volume)?;
            ok(to_json(&p.volumes().snapshots(&volume)?))
        }
        Action::CreateSnapshot { volume, name } => {
            let p = app.pool_of_volume(&volume)?;
            created(to_json(&p.volumes().snapshot(&volume, &name)?))
        }
        Action::DeleteSnapshot { volume, snapshot } => {
            let p = app.pool_of_volume(&volume)?;
            p.volumes().delete_snapshot(&volume, &snapshot)?;
            ok(json!({ "deleted": format!("{volume}@{snapshot}") }))
        }
        Action::CloneSnapshot {
            volume,
            snapshot,
            new,
        } => {
            let p = app.pool_of_volume(&volume)?;
            if app.pool_of_volume(&new).is_ok() {
                return Err(vsa_pool::VolumeError::VolumeExists(new).into());
            }
            let info = p.volumes().clone_snapshot(&volume, &snapshot, &new)?;
            created(volume_view(&p, &info))
        }
        Action::Rollback { volume, snapshot } => {
            let p = app.pool_of_volume(&volume)?;
            ok(volume_view(&p, &p.volumes().rollback(&volume, &snapshot)?))
        }
        Action::ListTargets => ok(app.targets().list()),
        Action::ShowTarget { name } => ok(app.targets().show(&name)?),
        Action::CreateTarget { name, alias } => created(app.targets().create(&name, alias)?),
        Action::DeleteTarget { name } => ok(app.targets().delete(&name)?),
        Action::AddLun {
            target,
            volume,
            lun,
            read_only,
            removable,
        } => created(
            app.targets()
                .add_lun(app, &target, &volume, lun, read_only, removable)?,
        ),
        Action::RemoveLun { target, lun } => ok(app.targets().remove_lun(&target, lun)?),
        Action::AddAcl { target, initiator } => ok(app.targets().acl(&target, &initiator, true)?),
        Action::RemoveAcl { target, initiator } => {
            ok(app.targets().acl(&target, &initiator, false)?)
        }
        Action::SetChap(c) => set_chap(app, c),
        Action::Sessions { target } => ok(app.targets().sessions(target.as_deref())?),
    }
}

fn chap_pair(
    user: Option<String>,
    secret: Option<String>,
    what: &str,
) -> Result<Option<crate::target::model::ChapRecord>, ApiError> {
    match (user, secret) {
        (Some(user), Some(secret)) => Ok(Some(crate::target::model::ChapRecord { user, secret })),
        (None, None) => Ok(None),
        _ => Err(ApiError::bad_request(
            "invalid_chap",
            format!("{what} needs both a user and a secret"),
        )),
    }
}

fn set_chap(app: &Appliance, c: crate::action::SetChap) -> Result<Outcome, ApiError> {
    let chap = chap_pair(c.user, c.secret, "CHAP")?;
    let mutual = chap_pair(c.mutual_user, c.mutual_secret, "mutual CHAP")?;
    ok(app.targets().set_chap(&c.target, chap, mutual)?)
}

fn status(app: &Appliance) -> Value {
    let pools: Vec<Value> = app
        .pools()
        .iter()
        .map(|p| {
            let space = p.volumes().space();
            json!({
                "name": p.name(),
                "raid": p.record().level.to_string(),
                "health": health(p),
                "capacity": space.capacity,
                "allocated": space.allocated,
                "free": space.free,
                "provisioned": space.provisioned,
                "volumes": p.volumes().names().len(),
            })
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": app.uptime_secs(),
        "data_dir": app.data_dir().display().to_string(),
        "components": crate::component::all().iter().map(|c| c.name()).collect::<Vec<_>>(),
        "pools": pools,
    })
}
