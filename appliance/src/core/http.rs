//! The HTTP service: JSON under `/api/v1` (the core's routes and every open component's),
//! Prometheus text at `/metrics`, a small page at `/`.
//!
//! Every `/api/v1` request needs `Authorization: Bearer <token>` (the scheme is matched
//! case-insensitively, RFC 7235); `/metrics` needs it only from other hosts. Every request
//! is counted in `vsa_api_requests_total` by route template (axum's [`MatchedPath`]),
//! method and status.

use super::appliance::Appliance;
use super::error::ApiError;
use super::routes::core_routes;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
struct HttpState {
    app: Arc<Appliance>,
    token: String,
}

/// Builds the whole HTTP service.
pub fn router(app: Arc<Appliance>, token: String) -> Router {
    let state = HttpState {
        app: app.clone(),
        token,
    };
    let mut api = core_routes().into_router(app.clone());
    for r in app.running() {
        api = api.merge(r.router());
    }
    let api = api
        .fallback(api_not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/", axum::routing::get(index))
        .route("/metrics", axum::routing::get(metrics_handler))
        .with_state(state.clone())
        .nest("/api/v1", api)
        .layer(axum::middleware::from_fn_with_state(state, count))
}

/// Whether the `Authorization` header carries `token` as a bearer token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

async fn auth(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    if authorized(req.headers(), &state.token) {
        next.run(req).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

async fn count(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(m) if !m.as_str().ends_with("/{*__private__axum_fallback}") => m.as_str().to_owned(),
        _ => "unmatched".to_owned(),
    };
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    state
        .app
        .core()
        .metrics()
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

async fn metrics_handler(State(state): State<HttpState>, req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if !loopback && !authorized(req.headers(), &state.token) {
        return ApiError::unauthorized().into_response();
    }
    let app = state.app.clone();
    let text = tokio::task::spawn_blocking(move || {
        let m = app.core().metrics();
        m.uptime.set(app.core().uptime_secs());
        for r in app.running() {
            r.update_metrics();
        }
        m.encode()
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn index(State(state): State<HttpState>) -> Html<String> {
    let names: Vec<&str> = state.app.components().iter().map(|c| c.name()).collect();
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
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_exact() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, v.parse().unwrap());
            m
        };
        for ok in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret "] {
            assert!(authorized(&h(ok), "s3cret"), "{ok}");
        }
        for bad in [
            "Bearer s3cre",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
            "Bearer s3cret2",
        ] {
            assert!(!authorized(&h(bad), "s3cret"), "{bad}");
        }
        assert!(!authorized(&h("Bearer "), ""));
        assert!(!authorized(&HeaderMap::new(), "s3cret"));
    }
}
