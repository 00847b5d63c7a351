//! The HTTP API against arbitrary requests: every route of the table with arbitrary path
//! segments, tokens and bodies, on a real appliance. Nothing panics, and every answer is a
//! success or a JSON error with a code and a message, never a 5xx other than 507 (the pool
//! is full): what the client sends cannot make the appliance fail.

use super::*;
use crate::core::routes::all_routes;
use proptest::prelude::*;

/// JSON-ish bodies: mostly objects with the fields the API knows, with values of every
/// type; never an absolute path, so nothing outside the test's directory is touched.
fn body() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name"),
        Just("size"),
        Just("pool"),
        Just("thick"),
        Just("raid"),
        Just("members"),
        Just("volume"),
        Just("lun"),
        Just("initiator"),
        Just("user"),
        Just("secret"),
        Just("repair"),
        Just("device"),
        Just("create_size"),
        Just("alias"),
        Just("force"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[a-z0-9.:@-]{0,12}".prop_map(|s| format!("{s:?}")),
        "[0-9]{1,4}[KMGTPX]?".prop_map(|s| format!("{s:?}")),
        Just("[\"a\",\"b\"]".to_owned()),
        Just("{}".to_owned()),
        Just("1e400".to_owned()),
    ];
    prop_oneof![
        4 => proptest::collection::vec((key, value), 0..5).prop_map(|kv| {
            let fields: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            format!("{{{}}}", fields.join(","))
        }),
        1 => "\\PC{0,40}",
        1 => Just(String::new()),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._-]{1,10}",
        Just("default".to_owned()),
        Just("iqn.2026-01.com.example:t".to_owned()),
        Just("%2Fetc%2Fpasswd".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("..".to_owned()),
        Just("99999999999999999999".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_route_answers_arbitrary_input_with_json(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), segment(), body(), any::<bool>()), 1..12)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = setup(dir.path());
        let routes = all_routes(&all());
        rt.block_on(async {
            for (i, seg, body, authed) in picks {
                let route = &routes[i.index(routes.len())];
                let path: String = route
                    .path
                    .split('/')
                    .map(|s| if s.starts_with('{') { seg.as_str() } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                let auth = if authed { Some("Bearer s3cret") } else { Some("bearer wrong") };
                let (status, v) = call(&r, route.method.as_str(), &format!("/api/v1{path}"), auth, &body).await;
                if (200..300).contains(&status) {
                    continue;
                }
                prop_assert!(v["error"]["code"].is_string(), "{} {path} {body:?}: {status} {v}", route.method.as_str());
                prop_assert!(v["error"]["message"].is_string());
                // 507 is the one 5xx a request can earn: a thick volume bigger than the
                // pool's free space, which is the pool's state, not a failure.
                let full = status == 507 && v["error"]["code"] == "space_exhausted";
                prop_assert!(status < 500 || full, "{} {path} {body:?}: {status} {v}", route.method.as_str());
                if !authed {
                    prop_assert_eq!(status, 401);
                }
            }
            Ok(())
        })?;
    }
}
