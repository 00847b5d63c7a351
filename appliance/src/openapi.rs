//! The OpenAPI 3 description of `/api/v1`, built here and served at
//! `GET /api/v1/openapi.json`. A test checks that it lists exactly the routes the router
//! serves.

use crate::component::Component;
use serde_json::{json, Map, Value};

pub(crate) fn param(name: &str, what: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": what, "schema": { "type": "string" } })
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An operation: summary, path parameters, request body schema, success status and schema.
pub(crate) fn op(
    summary: &str,
    params: &[(&str, &str)],
    body: Option<Value>,
    ok: (u16, Value),
) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            ok.0.to_string(): { "description": "success", "content": { "application/json": { "schema": ok.1 } } },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "404": { "$ref": "#/components/responses/Error" },
            "409": { "$ref": "#/components/responses/Error" },
            "507": { "$ref": "#/components/responses/Error" },
        },
    });
    if !params.is_empty() {
        o["parameters"] = params.iter().map(|(n, w)| param(n, w)).collect();
    }
    if let Some(b) = body {
        o["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": b } } });
    }
    o
}

pub(crate) fn add(paths: &mut Map<String, Value>, path: &str, method: &str, operation: Value) {
    let entry = paths
        .entry(path.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = entry {
        m.insert(method.to_ascii_lowercase(), operation);
    }
}

const SIZE: &str = "Size";

/// The pool component's paths and schemas.
pub fn pool_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    schemas.insert(
        "Pool".into(),
        json!({ "type": "object", "description": "A pool: record, RAID status with member states, space, rebuild and scrub progress, the last scrub report, volume names.",
            "properties": {
                "name": { "type": "string" }, "id": { "type": "integer" }, "uuid": { "type": "string" },
                "level": { "type": "string", "enum": ["raid0", "raid1", "raid5", "raid6", "raid10"] },
                "health": { "type": "string", "enum": ["healthy", "degraded", "rebuilding", "failed"] },
                "raid": { "type": "object" }, "space": { "$ref": "#/components/schemas/Space" },
                "rebuild": { "$ref": "#/components/schemas/Progress" },
                "scrub": { "$ref": "#/components/schemas/Progress" },
                "last_scrub": { "type": "object", "nullable": true },
                "volumes": { "type": "array", "items": { "type": "string" } } } }),
    );
    schemas.insert(
        "Space".into(),
        json!({ "type": "object", "properties": {
            "capacity": { "type": "integer" }, "allocated": { "type": "integer" }, "free": { "type": "integer" },
            "provisioned": { "type": "integer" }, "chunk_size": { "type": "integer" }, "low": { "type": "boolean" } } }),
    );
    schemas.insert(
        "Progress".into(),
        json!({ "type": "object", "nullable": true, "properties": {
            "done": { "type": "integer" }, "total": { "type": "integer" }, "rate": { "type": "number", "description": "bytes per second" },
            "eta_secs": { "type": "number", "nullable": true }, "finished": { "type": "boolean" } } }),
    );
    schemas.insert(
        "TaskStarted".into(),
        json!({ "type": "object", "properties": {
            "pool": { "type": "string" }, "task": { "type": "string" }, "progress": { "$ref": "#/components/schemas/Progress" } } }),
    );
    schemas.insert(
        "Volume".into(),
        json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "pool": { "type": "string" }, "pool_id": { "type": "integer" },
            "size": { "type": "integer" }, "thick": { "type": "boolean" }, "uuid": { "type": "string" },
            "created": { "type": "integer" }, "origin": { "type": "string", "nullable": true },
            "allocated": { "type": "integer" }, "snapshots": { "type": "array", "items": { "type": "string" } } } }),
    );
    schemas.insert(
        "Snapshot".into(),
        json!({ "type": "object", "properties": {
            "volume": { "type": "string" }, "name": { "type": "string" }, "size": { "type": "integer" },
            "created": { "type": "integer" }, "allocated": { "type": "integer" },
            "clones": { "type": "array", "items": { "type": "string" } } } }),
    );
    schemas.insert(
        "Deleted".into(),
        json!({ "type": "object", "properties": { "deleted": { "type": "string" } } }),
    );
    let pool = schema_ref("Pool");
    let volume = schema_ref("Volume");
    let size = schema_ref(SIZE);
    let name_p = ("name", "pool name");
    let member_p = ("member", "member path (URL-encoded) or index");
    let device_body = json!({ "type": "object", "required": ["device"], "properties": {
        "device": { "type": "string", "description": "absolute path of a file or block device" },
        "create_size": size.clone() } });

    add(
        paths,
        "/pools",
        "GET",
        op(
            "List pools",
            &[],
            None,
            (200, json!({ "type": "array", "items": pool.clone() })),
        ),
    );
    add(
        paths,
        "/pools",
        "POST",
        op(
            "Create a pool",
            &[],
            Some(
                json!({ "type": "object", "required": ["name", "raid", "members"], "properties": {
        "name": { "type": "string" }, "raid": { "type": "string", "enum": ["0", "1", "5", "6", "10"] },
        "members": { "type": "array", "items": { "type": "string" } }, "spares": { "type": "array", "items": { "type": "string" } },
        "raid_chunk": size.clone(), "chunk_size": size.clone(), "create_size": size.clone() } }),
            ),
            (201, pool.clone()),
        ),
    );
    add(
        paths,
        "/pools/{name}",
        "GET",
        op(
            "Show a pool with member states, rebuild/scrub progress and the last scrub report",
            &[name_p],
            None,
            (200, pool.clone()),
        ),
    );
    add(
        paths,
        "/pools/{name}/spares",
        "POST",
        op(
            "Add a hot spare (it replaces a failed member at once)",
            &[name_p],
            Some(device_body.clone()),
            (200, pool.clone()),
        ),
    );
    add(
        paths,
        "/pools/{name}/members/{member}/fail",
        "POST",
        op(
            "Fail a member; a spare takes over and rebuilds",
            &[name_p, member_p],
            None,
            (200, pool.clone()),
        ),
    );
    add(
        paths,
        "/pools/{name}/members/{member}/replace",
        "POST",
        op(
            "Replace a member and rebuild onto the new device in the background",
            &[name_p, member_p],
            Some(device_body),
            (202, pool.clone()),
        ),
    );
    add(
        paths,
        "/pools/{name}/scrub",
        "POST",
        op(
            "Start a scrub in the background",
            &[name_p],
            Some(
                json!({ "type": "object", "properties": { "repair": { "type": "boolean", "default": true } } }),
            ),
            (202, schema_ref("TaskStarted")),
        ),
    );

    let vol_p = ("name", "volume name");
    let snap_p = ("snap", "snapshot name");
    let name_body = json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } });
    add(
        paths,
        "/volumes",
        "GET",
        op(
            "List volumes of every pool",
            &[],
            None,
            (200, json!({ "type": "array", "items": volume.clone() })),
        ),
    );
    add(
        paths,
        "/volumes",
        "POST",
        op(
            "Create a volume (thin unless thick)",
            &[],
            Some(
                json!({ "type": "object", "required": ["name", "size"], "properties": {
        "name": { "type": "string" }, "size": size.clone(), "pool": { "type": "string", "description": "default: the only pool, or 'default'" },
        "thick": { "type": "boolean", "default": false } } }),
            ),
            (201, volume.clone()),
        ),
    );
    add(
        paths,
        "/volumes/{name}",
        "GET",
        op("Show a volume", &[vol_p], None, (200, volume.clone())),
    );
    add(
        paths,
        "/volumes/{name}",
        "PATCH",
        op(
            "Resize a volume (shrinking is refused if data lies past the new size)",
            &[vol_p],
            Some(json!({ "type": "object", "required": ["size"], "properties": { "size": size } })),
            (200, volume.clone()),
        ),
    );
    add(
        paths,
        "/volumes/{name}",
        "DELETE",
        op(
            "Delete a volume and its snapshots (refused while clones depend on them)",
            &[vol_p],
            None,
            (200, schema_ref("Deleted")),
        ),
    );
    add(
        paths,
        "/volumes/{name}/snapshots",
        "GET",
        op(
            "List a volume's snapshots",
            &[vol_p],
            None,
            (
                200,
                json!({ "type": "array", "items": schema_ref("Snapshot") }),
            ),
        ),
    );
    add(
        paths,
        "/volumes/{name}/snapshots",
        "POST",
        op(
            "Take a snapshot",
            &[vol_p],
            Some(name_body.clone()),
            (201, schema_ref("Snapshot")),
        ),
    );
    add(
        paths,
        "/volumes/{name}/snapshots/{snap}",
        "DELETE",
        op(
            "Delete a snapshot",
            &[vol_p, snap_p],
            None,
            (200, schema_ref("Deleted")),
        ),
    );
    add(
        paths,
        "/volumes/{name}/snapshots/{snap}/clone",
        "POST",
        op(
            "Create a volume from a snapshot (linked clone)",
            &[vol_p, snap_p],
            Some(name_body),
            (201, volume.clone()),
        ),
    );
    add(
        paths,
        "/volumes/{name}/snapshots/{snap}/rollback",
        "POST",
        op(
            "Return a volume to a snapshot",
            &[vol_p, snap_p],
            None,
            (200, volume),
        ),
    );
}

/// The whole document for these components.
pub fn document(components: &[Box<dyn Component>]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        SIZE.into(),
        json!({ "oneOf": [ { "type": "integer", "minimum": 0, "description": "bytes" },
            { "type": "string", "example": "10G", "description": "a number with a unit K, M, G, T or P (powers of 1024)" } ] }),
    );
    schemas.insert(
        "Error".into(),
        json!({ "type": "object", "properties": { "error": { "type": "object", "properties": {
            "code": { "type": "string", "description": "stable code, e.g. no_such_volume, invalid_size, has_clones, space_exhausted, unauthorized" },
            "message": { "type": "string" } } } } }),
    );
    add(
        &mut paths,
        "/status",
        "GET",
        op(
            "Version, uptime, components and a summary of the pools",
            &[],
            None,
            (
                200,
                json!({ "type": "object", "properties": {
        "version": { "type": "string" }, "uptime_secs": { "type": "number" }, "data_dir": { "type": "string" },
        "components": { "type": "array", "items": { "type": "string" } }, "pools": { "type": "array", "items": { "type": "object" } } } }),
            ),
        ),
    );
    add(
        &mut paths,
        "/openapi.json",
        "GET",
        op(
            "This document",
            &[],
            None,
            (200, json!({ "type": "object" })),
        ),
    );
    for c in components {
        c.openapi(&mut paths, &mut schemas);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "vsa management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON over HTTP. Every request needs `Authorization: Bearer <token>` (the token is in <data-dir>/token). Errors are `{\"error\": {\"code\", \"message\"}}` with status 400 (bad input), 401 (token), 404 (unknown name), 409 (conflict), 507 (pool full). Sizes are bytes or strings such as \"10G\"."
        },
        "servers": [ { "url": "/api/v1" } ],
        "security": [ { "bearer": [] } ],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": { "Error": { "description": "an error", "content": { "application/json": { "schema": schema_ref("Error") } } } },
            "schemas": schemas,
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn document_lists_exactly_the_routes_served() {
        let components = crate::component::all();
        let served: BTreeSet<(String, String)> = crate::api::api_routes(&components)
            .list()
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        let doc = document(&components);
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "served but not documented: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
        assert!(served.len() >= 19, "{served:?}");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document(&crate::component::all());
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            let (kind, name) = target.split_once('/').unwrap();
            assert!(
                doc["components"][kind][name].is_object(),
                "dangling reference {target}"
            );
        }
    }
}
