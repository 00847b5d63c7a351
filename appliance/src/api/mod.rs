//! The HTTP management API: JSON under `/api/v1`, Prometheus text at `/metrics`, a small
//! page at `/`.
//!
//! Each resource has a file that turns requests into [`Action`]s (`pools.rs`,
//! `volumes.rs`, `status.rs`); [`run`] hands the action to the controller on the blocking
//! thread pool. No storage logic lives here. Every `/api/v1` request needs
//! `Authorization: Bearer <token>`; `/metrics` needs it only from other hosts. Every
//! request is counted in `vsa_api_requests_total` by route template and status.

pub mod pools;
pub mod status;
pub mod targets;
pub mod volumes;

use crate::action::Action;
use crate::appliance::Appliance;
use crate::component::{Component, MetricsUpdater};
use crate::controller;
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// Routes under `/api/v1`, recorded as they are added so that the OpenAPI document can be
/// checked against them.
#[derive(Debug)]
pub struct Routes {
    router: Router<ApiState>,
    list: Vec<(&'static str, &'static str)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }
}

impl Routes {
    /// Adds `handler` for `method` (`GET`, `POST`, `PATCH`, `DELETE`) on `path`.
    pub fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PATCH" => MethodFilter::PATCH,
            "PUT" => MethodFilter::PUT,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.list.push((method, path));
        self
    }

    /// The (method, path) pairs added so far.
    pub fn list(&self) -> &[(&'static str, &'static str)] {
        &self.list
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    app: Arc<Appliance>,
    token: String,
    metrics: Arc<Metrics>,
    updaters: Vec<Box<dyn MetricsUpdater>>,
    routes: Vec<(&'static str, &'static str)>,
    components: Vec<Box<dyn Component>>,
}

impl ApiState {
    /// The appliance.
    pub fn app(&self) -> &Arc<Appliance> {
        &self.0.app
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The components.
    pub fn components(&self) -> &[Box<dyn Component>] {
        &self.0.components
    }
}

/// Every route under `/api/v1` of this build: the core routes and each component's.
pub fn api_routes(components: &[Box<dyn Component>]) -> Routes {
    let mut routes = status::routes(Routes::default());
    for c in components {
        routes = c.routes(routes);
    }
    routes
}

/// Builds the whole HTTP service.
pub fn router(
    app: Arc<Appliance>,
    token: String,
    metrics: Arc<Metrics>,
) -> Result<Router, prometheus::Error> {
    let components = crate::component::all();
    let mut updaters = Vec::new();
    for c in &components {
        updaters.push(c.metrics(&metrics)?);
    }
    let routes = api_routes(&components);
    let state = ApiState(Arc::new(Inner {
        app,
        token,
        metrics,
        updaters,
        routes: routes.list.clone(),
        components,
    }));
    let api = routes
        .router
        .fallback(api_not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    Ok(Router::new()
        .route("/", axum::routing::get(index))
        .route("/metrics", axum::routing::get(metrics_handler))
        .nest("/api/v1", api)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .with_state(state))
}

/// Runs `action` on the blocking pool and turns the outcome into a response.
pub async fn run(state: &ApiState, action: Action) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = state.0.app.clone();
    let out = tokio::task::spawn_blocking(move || controller::execute(&app, action))
        .await
        .map_err(|e| ApiError::internal(format!("the operation failed unexpectedly: {e}")))??;
    Ok((out.status, Json(out.body)))
}

/// Parses a JSON request body (an empty body reads as `{}`).
pub fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("the request body is not valid: {e}; see /api/v1/openapi.json"),
        )
    })
}

/// Reads an optional size field (bytes or a string like "10G").
pub fn opt_size(v: &Option<Value>) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(crate::size::from_json(v)?)),
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !token.is_empty() && same(t.trim().as_bytes(), token.as_bytes()))
}

async fn auth(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if authorized(req.headers(), &state.0.token) {
        next.run(req).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

/// The route template `path` matches, for the request counter.
fn route_label(routes: &[(&'static str, &'static str)], path: &str) -> String {
    let Some(rest) = path.strip_prefix("/api/v1") else {
        return match path {
            "/" | "/metrics" => path.to_owned(),
            _ => "unmatched".to_owned(),
        };
    };
    let segs: Vec<&str> = rest.split('/').collect();
    for (_, template) in routes {
        let t: Vec<&str> = template.split('/').collect();
        if t.len() == segs.len()
            && t.iter()
                .zip(&segs)
                .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        {
            return format!("/api/v1{template}");
        }
    }
    "unmatched".to_owned()
}

async fn count(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = route_label(&state.0.routes, req.uri().path());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    state
        .0
        .metrics
        .api_requests
        .with_label_values(&[&route, &method, resp.status().as_str()])
        .inc();
    resp
}

async fn api_not_found() -> ApiError {
    ApiError::not_found(
        "not_found",
        "no such API path; GET /api/v1/openapi.json lists them",
    )
}

async fn metrics_handler(State(state): State<ApiState>, req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if !loopback && !authorized(req.headers(), &state.0.token) {
        return ApiError::unauthorized().into_response();
    }
    let s = state.clone();
    let text = tokio::task::spawn_blocking(move || {
        s.0.metrics.uptime.set(s.0.app.uptime_secs());
        for u in &s.0.updaters {
            u.update(&s.0.app);
        }
        s.0.metrics.encode()
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn index(State(state): State<ApiState>) -> Html<String> {
    let names: Vec<&str> = state.0.components.iter().map(|c| c.name()).collect();
    Html(format!(
        "<!doctype html><html><head><title>vsa</title></head><body>\
         <h1>vsa {}</h1><p>Components: {}.</p>\
         <p>Manage it with the <code>vsa</code> command, or the API at \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> \
         (token in <code>&lt;data-dir&gt;/token</code>). Metrics: <a href=\"/metrics\">/metrics</a>.</p>\
         </body></html>",
        env!("CARGO_PKG_VERSION"),
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests;
