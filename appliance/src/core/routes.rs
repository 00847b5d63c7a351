//! The core's own routes (`GET /status`, `GET /openapi.json`) and the route table of a
//! whole build.

use super::appliance::Appliance;
use super::component::Component;
use super::endpoint::{Empty, Endpoint, Method, NoParams, RouteInfo, Routes, Schemas};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// `GET /status`: version, uptime, components, and each component's section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusReply {
    /// The daemon's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_secs: f64,
    /// Its data directory.
    pub data_dir: String,
    /// The components of this build, in start order.
    pub components: Vec<String>,
    /// Each component's section (e.g. `pools`), by key.
    #[serde(flatten)]
    pub sections: BTreeMap<String, serde_json::Value>,
}

/// `GET /status`.
#[derive(Debug)]
pub struct Status;
impl Endpoint for Status {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/status";
    const SUMMARY: &'static str = "Version, uptime, components and each component's summary";
    type Params = NoParams;
    type Body = Empty;
    type Reply = StatusReply;
}

/// `GET /openapi.json`.
#[derive(Debug)]
pub struct OpenApiDoc;
impl Endpoint for OpenApiDoc {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/openapi.json";
    const SUMMARY: &'static str = "This document";
    type Params = NoParams;
    type Body = Empty;
    type Reply = serde_json::Value;
}

/// The core's routes.
pub fn core_routes() -> Routes<Appliance> {
    Routes::<Appliance>::default()
        .route::<Status>(|app, _, _| Ok(status(app)))
        .route::<OpenApiDoc>(|app, _, _| Ok(document(app.components())))
}

/// Every route under `/api/v1` of a build with these components.
pub fn all_routes(components: &[Box<dyn Component>]) -> Vec<RouteInfo> {
    let mut all = core_routes().into_table();
    for c in components {
        all.extend(c.routes());
    }
    all
}

fn status(app: &Appliance) -> StatusReply {
    let mut sections = BTreeMap::new();
    for (c, r) in app.components().iter().zip(app.running()) {
        if let (Some(s), Some(v)) = (c.status_section(), r.status()) {
            sections.insert(s.key.to_owned(), v);
        }
    }
    StatusReply {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: app.core().uptime_secs(),
        data_dir: app.core().data_dir().display().to_string(),
        components: app
            .components()
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
        sections,
    }
}

/// The schema of `GET /status`: the core's fields and each component's section.
fn status_schema(components: &[Box<dyn Component>], schemas: &mut Schemas) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(base)) = StatusReply::schema() else {
        return StatusReply::schema();
    };
    let mut b: ObjectBuilder = base.into();
    for c in components {
        if let Some(s) = c.status_section() {
            b = b.property(s.key, (s.schema)(schemas));
        }
    }
    b.into()
}

/// The OpenAPI document of a build with these components.
pub fn document(components: &[Box<dyn Component>]) -> serde_json::Value {
    super::openapi::document(&all_routes(components), |route, schemas| {
        (route.path == Status::PATH).then(|| status_schema(components, schemas))
    })
}
