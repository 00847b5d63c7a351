//! The OpenAPI document against the routes the router serves.

use super::*;
use crate::core::routes::all_routes;
use crate::core::routes::document;
use std::collections::BTreeSet;

#[test]
fn the_document_lists_every_route_with_its_schemas() {
    let components = all();
    let routes = all_routes(&components);
    let doc = document(&components);
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(served, documented);
    assert_eq!(served.len(), routes.len(), "a route is in the table twice");
    assert!(served.len() >= 30, "{served:?}");
    for r in &routes {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        let what = format!("{} {}", r.method.as_str(), r.path);
        assert!(op["summary"].is_string(), "{what}");
        let ok = &op["responses"][r.status.as_u16().to_string()];
        assert!(
            ok["content"]["application/json"]["schema"].is_object(),
            "{what}: no reply schema"
        );
        assert!(op["responses"]["400"]["$ref"].is_string(), "{what}");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"].is_object(),
            r.body.is_some(),
            "{what}: request body"
        );
        let names: Vec<&str> = r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, params, "{what}: path parameters");
    }
    let status = &doc["paths"]["/status"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert!(status["properties"]["pools"].is_object(), "{status}");
}

#[test]
fn every_reference_resolves() {
    let doc = document(&all());
    let text = doc.to_string();
    let mut refs = 0;
    for part in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let (kind, name) = target.split_once('/').unwrap();
        assert!(
            doc["components"][kind][name].is_object(),
            "dangling reference {target}"
        );
        refs += 1;
    }
    assert!(refs > 30, "{refs}");
}

#[tokio::test]
async fn the_router_serves_every_route_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let r = setup(dir.path());
    for route in all_routes(&all()) {
        let path: String = route
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "ghost" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = call(
            &r,
            route.method.as_str(),
            &format!("/api/v1{path}"),
            Some("Bearer s3cret"),
            "",
        )
        .await;
        assert_ne!(
            body["error"]["code"], "not_found",
            "{route:?} is not served ({status})"
        );
    }
}
