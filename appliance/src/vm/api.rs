//! The VM component's API: `/vhost` (vhost-user-blk exports). One type per operation;
//! the route table binds each to an [`Exports`] method.

use super::service::Exports;
use super::types::*;
use crate::core::endpoint::endpoint;
use crate::core::{Deleted, Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

endpoint!(/// `GET /vhost`.
    ListExports: Get "/vhost", NoParams, Empty => Vec<ExportView>, OK,
    "List vhost-user-blk exports");
endpoint!(/// `POST /vhost`.
    CreateExport: Post "/vhost", NoParams, ExportBody => ExportView, CREATED,
    "Serve a volume on a vhost-user-blk socket");
endpoint!(/// `GET /vhost/{volume}`.
    ShowExport: Get "/vhost/{volume}", ExportPath, Empty => ExportView, OK,
    "Show an export");
endpoint!(/// `DELETE /vhost/{volume}`.
    DeleteExport: Delete "/vhost/{volume}", ExportPath, Empty => Deleted, OK,
    "Stop serving a volume over vhost-user (the VMM loses the disk)");

/// The VM component's routes.
pub fn routes() -> Routes<Exports> {
    Routes::<Exports>::default()
        .route::<ListExports>(|x, _, _| Ok(x.list()))
        .route::<CreateExport>(|x, _, b| Ok(x.export(b)?))
        .route::<ShowExport>(|x, p, _| Ok(x.show(&p.volume)?))
        .route::<DeleteExport>(|x, p, _| Ok(x.unexport(&p.volume)?))
}
