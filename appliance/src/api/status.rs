//! `GET /status` and `GET /openapi.json`.

use super::{run, ApiState, Routes};
use crate::action::Action;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

/// Adds the core routes.
pub fn routes(r: Routes) -> Routes {
    r.add("GET", "/status", status)
        .add("GET", "/openapi.json", openapi)
}

async fn status(State(s): State<ApiState>) -> Result<(StatusCode, Json<Value>), ApiError> {
    run(&s, Action::Status).await
}

async fn openapi(State(s): State<ApiState>) -> Json<Value> {
    Json(crate::openapi::document(s.components()))
}
