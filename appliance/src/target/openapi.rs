//! The OpenAPI description of `/targets` and `/sessions`.

use crate::openapi::{add, op, schema_ref};
use serde_json::{json, Map, Value};

/// The target component's paths and schemas.
pub fn paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    schemas.insert(
        "Target".into(),
        json!({ "type": "object", "description": "An iSCSI target: LUNs, ACL (empty admits every initiator), CHAP users (secrets are never returned).",
            "properties": {
                "name": { "type": "string" }, "alias": { "type": "string", "nullable": true },
                "luns": { "type": "array", "items": { "type": "object", "properties": {
                    "lun": { "type": "integer" }, "volume": { "type": "string" },
                    "read_only": { "type": "boolean" }, "removable": { "type": "boolean" },
                    "serial": { "type": "string" }, "naa": { "type": "string" } } } },
                "acl": { "type": "array", "items": { "type": "string" } },
                "chap": { "type": "object", "nullable": true, "properties": { "user": { "type": "string" } } },
                "mutual_chap": { "type": "object", "nullable": true, "properties": { "user": { "type": "string" } } } } }),
    );
    schemas.insert(
        "Session".into(),
        json!({ "type": "object", "description": "An iSCSI session: target, initiator, ISID, TSIH, peer address, negotiated parameters, commands in flight." }),
    );
    let target = schema_ref("Target");
    let deleted = schema_ref("Deleted");
    let sessions = json!({ "type": "array", "items": schema_ref("Session") });
    let t = ("name", "target IQN");
    add(
        paths,
        "/targets",
        "GET",
        op(
            "List targets",
            &[],
            None,
            (200, json!({ "type": "array", "items": target.clone() })),
        ),
    );
    add(
        paths,
        "/targets",
        "POST",
        op(
            "Create a target",
            &[],
            Some(
                json!({ "type": "object", "required": ["name"], "properties": {
            "name": { "type": "string", "description": "iqn., eui. or naa. name" },
            "alias": { "type": "string" } } }),
            ),
            (201, target.clone()),
        ),
    );
    add(
        paths,
        "/targets/{name}",
        "GET",
        op("Show a target", &[t], None, (200, target.clone())),
    );
    add(
        paths,
        "/targets/{name}",
        "DELETE",
        op(
            "Delete a target (sessions end; volumes stay)",
            &[t],
            None,
            (200, deleted),
        ),
    );
    add(
        paths,
        "/targets/{name}/luns",
        "POST",
        op(
            "Serve a volume as a LUN",
            &[t],
            Some(
                json!({ "type": "object", "required": ["volume"], "properties": {
            "volume": { "type": "string" }, "lun": { "type": "integer", "description": "default: the lowest free" },
            "read_only": { "type": "boolean" }, "removable": { "type": "boolean" } } }),
            ),
            (201, target.clone()),
        ),
    );
    add(
        paths,
        "/targets/{name}/luns/{lun}",
        "DELETE",
        op(
            "Stop serving a LUN",
            &[t, ("lun", "LUN number")],
            None,
            (200, target.clone()),
        ),
    );
    add(
        paths,
        "/targets/{name}/acl",
        "POST",
        op(
            "Admit an initiator",
            &[t],
            Some(
                json!({ "type": "object", "required": ["initiator"], "properties": {
            "initiator": { "type": "string" } } }),
            ),
            (200, target.clone()),
        ),
    );
    add(
        paths,
        "/targets/{name}/acl/{initiator}",
        "DELETE",
        op(
            "Stop admitting an initiator",
            &[t, ("initiator", "initiator IQN")],
            None,
            (200, target.clone()),
        ),
    );
    add(
        paths,
        "/targets/{name}/chap",
        "PUT",
        op(
            "Set CHAP (no user: CHAP off)",
            &[t],
            Some(json!({ "type": "object", "properties": {
            "user": { "type": "string" }, "secret": { "type": "string", "description": "12 to 255 bytes" },
            "mutual_user": { "type": "string" }, "mutual_secret": { "type": "string" } } })),
            (200, target),
        ),
    );
    add(
        paths,
        "/targets/{name}/sessions",
        "GET",
        op("Sessions of a target", &[t], None, (200, sessions.clone())),
    );
    add(
        paths,
        "/sessions",
        "GET",
        op("All iSCSI sessions", &[], None, (200, sessions)),
    );
}
