//! Every CLI verb sends a request the router serves, built from the same endpoint types.

use super::*;
use crate::core::cli::{command, Globals};
use crate::core::client::{Client, SentRequest};
use crate::core::routes::all_routes;
use crate::core::CliCtx;
use clap::FromArgMatches;
use std::collections::BTreeSet;

/// What `vsa ARGS` would send, without a daemon.
fn request(args: &[&str]) -> SentRequest {
    let components = all();
    let mut argv = vec!["vsa"];
    argv.extend_from_slice(args);
    let m = command(&components).try_get_matches_from(argv).unwrap();
    let g = Globals::from_arg_matches(&m).unwrap();
    let (noun, sub) = m.subcommand().unwrap();
    let (client, log) = Client::recording();
    let ctx = CliCtx {
        client,
        json: g.json,
    };
    let c = components
        .iter()
        .find(|c| c.commands().iter().any(|n| n.get_name() == noun))
        .unwrap();
    let e = c.run_command(noun, sub, &ctx).unwrap_err();
    assert!(e.is::<crate::core::client::Recorded>(), "{args:?}: {e}");
    let sent = log.lock().clone();
    assert_eq!(sent.len(), 1, "{args:?}");
    sent[0].clone()
}

#[test]
fn cli_requests_match_the_routes() {
    let routes = all_routes(&all());
    let mut used = BTreeSet::new();
    let examples: Vec<&[&str]> = all()
        .iter()
        .flat_map(|c| c.cli_examples().iter().copied())
        .collect();
    for args in examples {
        let req = request(args);
        let route = routes
            .iter()
            .find(|r| r.method == req.method && r.path == req.template)
            .unwrap_or_else(|| panic!("{args:?}: {req:?} is not a route"));
        assert!(
            route.matches(&req.path),
            "{args:?}: {} vs {}",
            req.path,
            route.path
        );
        assert_eq!(req.body.is_some(), route.body.is_some(), "{args:?}");
        used.insert((route.method, route.path));
    }
    let unused: Vec<_> = routes
        .iter()
        .filter(|r| !used.contains(&(r.method, r.path)))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        unused,
        ["/status", "/openapi.json"],
        "routes no CLI verb sends"
    );
}

#[test]
fn paths_and_bodies_carry_the_arguments() {
    let r = request(&["pool", "fail", "p", "/dev/disk/by-id/a b"]);
    assert_eq!(
        r.path,
        "/pools/p/members/%2Fdev%2Fdisk%2Fby-id%2Fa%20b/fail"
    );
    let r = request(&["volume", "create", "v", "--size", "1G", "--pool", "p"]);
    assert_eq!(
        r.body.unwrap(),
        serde_json::json!({ "name": "v", "size": 1u64 << 30, "pool": "p", "thick": false })
    );
    let r = request(&["target", "chap", "clear", "iqn.2026-01.com.example:t"]);
    assert_eq!(
        r.body.unwrap(),
        serde_json::json!({ "user": null, "secret": null, "mutual_user": null, "mutual_secret": null })
    );
}

#[test]
fn the_command_line_is_consistent() {
    command(&all()).debug_assert();
}

#[test]
fn bad_arguments_are_usage_errors() {
    let parse = |args: &[&str]| {
        let mut argv = vec!["vsa"];
        argv.extend_from_slice(args);
        command(&all()).try_get_matches_from(argv)
    };
    let e = parse(&["volume", "create", "v", "--size", "12X"]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("not a size"), "{e}");
    let e = parse(&["pool", "create", "p", "--raid", "7", "/a", "/b"]).unwrap_err();
    assert!(
        e.to_string().contains("[possible values: 0, 1, 5, 6, 10]"),
        "{e}"
    );
    let e = parse(&["volume", "clone", "nosnap", "new"]).unwrap_err();
    assert!(e.to_string().contains("VOLUME@SNAPSHOT"), "{e}");
    let e = parse(&["serve", "--default-member-size", "big"]).unwrap_err();
    assert!(e.to_string().contains("not a size"), "{e}");
    for args in [
        &["--json", "volume", "create", "v", "--size", "1G"][..],
        &["volume", "create", "v", "--size", "1G", "--json"][..],
    ] {
        let ok = parse(args).unwrap();
        assert!(Globals::from_arg_matches(&ok).unwrap().json, "{args:?}");
    }
}
