//! Typed API operations. Every operation of the HTTP API is one type implementing
//! [`Endpoint`]: its method and path template, its path parameters, request body and
//! reply as serde types. The server binds a handler to it ([`Routes::route`]), the CLI's
//! client sends it ([`crate::core::client::Client::call`]), and the OpenAPI document is
//! generated from the same types ([`crate::core::openapi`]), so a renamed field or path
//! breaks the build, not a user.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, RawPathParamsRejection};
use axum::extract::{RawPathParams, State};
use axum::http::StatusCode;
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::TypeId;
use std::sync::Arc;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{RefOr, Required, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Read.
    Get,
    /// Create or act.
    Post,
    /// Replace.
    Put,
    /// Change part of.
    Patch,
    /// Delete.
    Delete,
}

impl Method {
    /// The method's name, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// No request body (GET, DELETE, and actions that need none). An empty body reads as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// What a delete removed (a reply several components share).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// Its name (`volume@snapshot` for a snapshot).
    pub deleted: String,
}

/// No path parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Path parameters: a struct whose fields are named like the `{name}`s of the path
/// template, all strings (they are path segments; the service parses what needs parsing).
pub trait PathParams: Serialize + DeserializeOwned + Send + 'static {
    /// Each parameter's name and a description, in template order, for the OpenAPI
    /// document.
    const DOC: &'static [(&'static str, &'static str)];
}

impl PathParams for NoParams {
    const DOC: &'static [(&'static str, &'static str)] = &[];
}

/// One operation of the API.
pub trait Endpoint: 'static {
    /// The method.
    const METHOD: Method;
    /// The path below `/api/v1`, with `{name}` parameters.
    const PATH: &'static str;
    /// One line for the OpenAPI document.
    const SUMMARY: &'static str;
    /// The status of a successful answer (200, 201 created, 202 accepted).
    const STATUS: StatusCode = StatusCode::OK;
    /// Path parameters.
    type Params: PathParams;
    /// Request body ([`Empty`] for none).
    type Body: Serialize + DeserializeOwned + ToSchema + Send + 'static;
    /// Successful answer.
    type Reply: Serialize + DeserializeOwned + ToSchema + Send + 'static;
}

/// Declares an [`Endpoint`] type:
/// `endpoint!(/// doc\n Name: Get "/path/{name}", Params, Body => Reply, STATUS, "summary");`
macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident: $method:ident $path:literal, $params:ty, $body:ty => $reply:ty,
     $status:expr, $summary:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl $crate::core::endpoint::Endpoint for $name {
            const METHOD: $crate::core::endpoint::Method = $crate::core::endpoint::Method::$method;
            const PATH: &'static str = $path;
            const SUMMARY: &'static str = $summary;
            const STATUS: ::axum::http::StatusCode = $status;
            type Params = $params;
            type Body = $body;
            type Reply = $reply;
        }
    };
}
pub(crate) use endpoint;

/// Whether `E` takes a request body.
pub fn has_body<E: Endpoint>() -> bool {
    TypeId::of::<E::Body>() != TypeId::of::<Empty>()
}

/// Collected schemas (name, schema) for `components/schemas`.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// What the OpenAPI document and the tests know of a route: everything but its handler.
#[derive(Clone)]
pub struct RouteInfo {
    /// The method.
    pub method: Method,
    /// The path template below `/api/v1`.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Success status.
    pub status: StatusCode,
    /// Path parameters.
    pub params: &'static [(&'static str, &'static str)],
    /// The request body's schema (and the schemas it refers to), if it has one.
    pub body: Option<fn(&mut Schemas) -> RefOr<Schema>>,
    /// The reply's schema (and the schemas it refers to).
    pub reply: fn(&mut Schemas) -> RefOr<Schema>,
}

impl std::fmt::Debug for RouteInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

impl RouteInfo {
    /// The route of endpoint `E`.
    pub fn of<E: Endpoint>() -> RouteInfo {
        RouteInfo {
            method: E::METHOD,
            path: E::PATH,
            summary: E::SUMMARY,
            status: E::STATUS,
            params: E::Params::DOC,
            body: has_body::<E>().then_some(schema_of::<E::Body> as fn(&mut Schemas) -> _),
            reply: schema_of::<E::Reply>,
        }
    }

    /// The OpenAPI parameters of the route.
    pub fn parameters(&self) -> Vec<Parameter> {
        self.params
            .iter()
            .map(|(name, what)| {
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some(*what))
                    .schema(Some(String::schema()))
                    .build()
            })
            .collect()
    }

    /// Whether a concrete path (below `/api/v1`) matches this route's template.
    pub fn matches(&self, path: &str) -> bool {
        let t: Vec<&str> = self.path.split('/').collect();
        let p: Vec<&str> = path.split('/').collect();
        t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
    }
}

/// `T`'s schema, and the named schemas it refers to added to `schemas`.
pub fn schema_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    T::schemas(schemas);
    T::schema()
}

/// A handler: runs on the blocking thread pool with the component's service.
pub type Handler<S, E> = fn(
    &S,
    <E as Endpoint>::Params,
    <E as Endpoint>::Body,
) -> Result<<E as Endpoint>::Reply, ApiError>;

/// A component's routes: the table (for the document and the tests) and the router that
/// serves them over the component's service `S`.
pub struct Routes<S> {
    router: Router<Arc<S>>,
    table: Vec<RouteInfo>,
}

impl<S> std::fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.table).finish()
    }
}

impl<S: Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl<S: Send + Sync + 'static> Routes<S> {
    /// Serves `E` with `handler`.
    pub fn route<E: Endpoint>(mut self, handler: Handler<S, E>) -> Self {
        let route = move |State(service): State<Arc<S>>,
                          raw: Result<RawPathParams, RawPathParamsRejection>,
                          bytes: Result<Bytes, BytesRejection>| async move {
            let bad = |e: &dyn std::fmt::Display| {
                ApiError::bad_request("invalid_request", format!("the request is not valid: {e}"))
            };
            let params = path_params::<E::Params>(&raw.map_err(|e| bad(&e))?)?;
            let bytes = bytes.map_err(|e| bad(&e))?;
            // A body sent where none is taken is ignored, as HTTP allows.
            let body: E::Body = parse_body(if has_body::<E>() { &bytes } else { &[] })?;
            let reply = tokio::task::spawn_blocking(move || handler(&service, params, body))
                .await
                .map_err(|e| {
                    ApiError::internal(format!("the operation failed unexpectedly: {e}"))
                })??;
            Ok::<_, ApiError>((E::STATUS, Json(reply)))
        };
        self.router = self.router.route(E::PATH, on(E::METHOD.filter(), route));
        self.table.push(RouteInfo::of::<E>());
        self
    }

    /// The route table.
    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// The table, without the router.
    pub fn into_table(self) -> Vec<RouteInfo> {
        self.table
    }

    /// The router over `service`.
    pub fn into_router(self, service: Arc<S>) -> Router {
        self.router.with_state(service)
    }
}

/// Parses path parameters (already percent-decoded) into `P`.
fn path_params<P: PathParams>(raw: &RawPathParams) -> Result<P, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = raw
        .iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("the request path is not valid: {e}"),
        )
    })
}

/// Parses a JSON request body (an empty body reads as `{}`).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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

/// The concrete path of `E` for these parameters, each percent-encoded.
pub fn fill_path<E: Endpoint>(params: &E::Params) -> Result<String, ApiError> {
    let values = match serde_json::to_value(params) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut out = String::new();
    for seg in E::PATH.split('/').skip(1) {
        out.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let v = values.get(name).and_then(|v| v.as_str()).ok_or_else(|| {
                    ApiError::internal(format!("no value for {{{name}}} of {}", E::PATH))
                })?;
                out.push_str(&segment(v));
            }
            None => out.push_str(seg),
        }
    }
    Ok(out)
}

/// Characters left as they are in a path segment: RFC 3986's unreserved ones.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (member paths hold `/`).
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Two {
        name: String,
        member: String,
    }

    impl PathParams for Two {
        const DOC: &'static [(&'static str, &'static str)] = &[("name", "n"), ("member", "m")];
    }

    struct E;
    impl Endpoint for E {
        const METHOD: Method = Method::Post;
        const PATH: &'static str = "/pools/{name}/members/{member}/fail";
        const SUMMARY: &'static str = "x";
        type Params = Two;
        type Body = Empty;
        type Reply = String;
    }

    #[test]
    fn paths_are_filled_and_encoded() {
        let p = Two {
            name: "p1".into(),
            member: "/dev/disk/by-id/a b".into(),
        };
        assert_eq!(
            fill_path::<E>(&p).unwrap(),
            "/pools/p1/members/%2Fdev%2Fdisk%2Fby-id%2Fa%20b/fail"
        );
        let r = RouteInfo::of::<E>();
        assert!(r.matches("/pools/p1/members/x/fail"));
        assert!(!r.matches("/pools/p1/members//fail"));
        assert!(!r.matches("/pools/p1/members/x"));
        assert!(r.body.is_none());
    }

    #[test]
    fn empty_bodies_read_as_empty_objects() {
        assert_eq!(parse_body::<Empty>(b"  \n").unwrap(), Empty {});
        let e = parse_body::<Empty>(b"{\"x\":1}").unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }
}
