//! The iSCSI component's API: `/targets` and `/sessions`. One type per operation; the
//! route table binds each to a [`Targets`] method.

use super::service::Targets;
use super::types::*;
use crate::core::endpoint::endpoint;
use crate::core::{Deleted, Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

endpoint!(/// `GET /targets`.
    ListTargets: Get "/targets", NoParams, Empty => Vec<TargetView>, OK, "List targets");
endpoint!(/// `POST /targets`.
    CreateTarget: Post "/targets", NoParams, CreateTargetBody => TargetView, CREATED,
    "Create a target");
endpoint!(/// `GET /targets/{name}`.
    ShowTarget: Get "/targets/{name}", TargetPath, Empty => TargetView, OK, "Show a target");
endpoint!(/// `DELETE /targets/{name}`.
    DeleteTarget: Delete "/targets/{name}", TargetPath, Empty => Deleted, OK,
    "Delete a target (sessions end; volumes stay)");
endpoint!(/// `POST /targets/{name}/luns`.
    AddLun: Post "/targets/{name}/luns", TargetPath, AddLunBody => TargetView, CREATED,
    "Serve a volume as a LUN");
endpoint!(/// `DELETE /targets/{name}/luns/{lun}`.
    RemoveLun: Delete "/targets/{name}/luns/{lun}", LunPath, Empty => TargetView, OK,
    "Stop serving a LUN");
endpoint!(/// `POST /targets/{name}/acl`.
    AddAcl: Post "/targets/{name}/acl", TargetPath, AclBody => TargetView, OK,
    "Admit an initiator");
endpoint!(/// `DELETE /targets/{name}/acl/{initiator}`.
    RemoveAcl: Delete "/targets/{name}/acl/{initiator}", AclPath, Empty => TargetView, OK,
    "Stop admitting an initiator");
endpoint!(/// `PUT /targets/{name}/chap`.
    SetChap: Put "/targets/{name}/chap", TargetPath, ChapBody => TargetView, OK,
    "Set CHAP (no user: CHAP off)");
endpoint!(/// `GET /targets/{name}/sessions`.
    TargetSessions: Get "/targets/{name}/sessions", TargetPath, Empty => Vec<SessionView>, OK,
    "Sessions of a target");
endpoint!(/// `GET /sessions`.
    Sessions: Get "/sessions", NoParams, Empty => Vec<SessionView>, OK, "All iSCSI sessions");

/// The iSCSI component's routes.
pub fn routes() -> Routes<Targets> {
    Routes::<Targets>::default()
        .route::<ListTargets>(|t, _, _| Ok(t.list()))
        .route::<CreateTarget>(|t, _, b| Ok(t.create(&b.name, b.alias)?))
        .route::<ShowTarget>(|t, p, _| Ok(t.show(&p.name)?))
        .route::<DeleteTarget>(|t, p, _| Ok(t.delete(&p.name)?))
        .route::<AddLun>(|t, p, b| Ok(t.add_lun(&p.name, b)?))
        .route::<RemoveLun>(|t, p, _| Ok(t.remove_lun(&p.name, &p.lun)?))
        .route::<AddAcl>(|t, p, b| Ok(t.acl(&p.name, &b.initiator, true)?))
        .route::<RemoveAcl>(|t, p, _| Ok(t.acl(&p.name, &p.initiator, false)?))
        .route::<SetChap>(|t, p, b| Ok(t.set_chap(&p.name, b)?))
        .route::<TargetSessions>(|t, p, _| Ok(t.sessions(Some(&p.name))?))
        .route::<Sessions>(|t, _, _| Ok(t.sessions(None)?))
}
