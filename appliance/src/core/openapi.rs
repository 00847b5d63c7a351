//! The OpenAPI document of `/api/v1`, generated from route tables: each route's method,
//! path, parameters, request body and reply come from its [`super::endpoint::Endpoint`]
//! type (schemas by `utoipa`), so the document cannot drift from what is served. Served
//! at `GET /api/v1/openapi.json` (see [`super::routes::document`]).

use super::endpoint::{Method, RouteInfo, Schemas};
use super::error::ErrorBody;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    ResponseBuilder, Schema, Server,
};
use utoipa::{PartialSchema, ToSchema};

const JSON: &str = "application/json";

fn http_method(m: Method) -> HttpMethod {
    match m {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Patch => HttpMethod::Patch,
        Method::Delete => HttpMethod::Delete,
    }
}

fn operation(r: &RouteInfo, reply: RefOr<Schema>, schemas: &mut Schemas) -> PathItem {
    let error = || RefOr::Ref(Ref::new("#/components/responses/Error"));
    let mut op = OperationBuilder::new()
        .summary(Some(r.summary))
        .parameters(Some(r.parameters()))
        .response(
            r.status.as_u16().to_string(),
            ResponseBuilder::new()
                .description("success")
                .content(JSON, Content::new(Some(reply))),
        );
    for status in ["400", "401", "404", "409", "500", "507"] {
        op = op.response(status, error());
    }
    if let Some(body) = r.body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(JSON, Content::new(Some(body(schemas))))
                .build(),
        ));
    }
    PathItem::new(http_method(r.method), op)
}

/// The document of these routes; `reply_override` may give a route's reply schema instead
/// of its type's (the status object, whose sections come from the components).
pub fn document(
    routes: &[RouteInfo],
    reply_override: impl Fn(&RouteInfo, &mut Schemas) -> Option<RefOr<Schema>>,
) -> serde_json::Value {
    let mut schemas: Schemas = Vec::new();
    let mut paths = PathsBuilder::new().build();
    for r in routes {
        let reply = match reply_override(r, &mut schemas) {
            Some(s) => s,
            None => (r.reply)(&mut schemas),
        };
        let item = operation(r, reply, &mut schemas);
        match paths.paths.get_mut(r.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                paths.paths.insert(r.path.to_owned(), item);
            }
        }
    }
    ErrorBody::schemas(&mut schemas);
    schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
    let components_doc = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .response(
            "Error",
            ResponseBuilder::new()
                .description("an error: a stable code and a message naming the fix")
                .content(
                    JSON,
                    Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
                ),
        )
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("vsa management API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "JSON over HTTP. Every request needs `Authorization: Bearer <token>` (the \
                     token is in <data-dir>/token). Errors are `{\"error\": {\"code\", \
                     \"message\"}}` with status 400 (bad input), 401 (token), 404 (unknown \
                     name), 409 (conflict), 500 (the appliance failed), 507 (pool full). \
                     Sizes are bytes or strings such as \"10G\".",
                ))
                .build(),
        )
        .servers(Some([Server::new("/api/v1")]))
        .security(Some([SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .paths(paths)
        .components(Some(components_doc))
        .build();
    serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null)
}
