//! The global namespace through the real daemon and CLI: sites, folders, links to local
//! directories and to an SMB server still being set up, referrals for clients in
//! different sites, bad input refused with clear errors and nothing changed, a disabled
//! target leaving the referral, a restart, and the metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use vsa_e2e::Daemon;

/// `(url, reason)` of each target of a `vsa --json ns resolve`, in order.
fn order(r: &Value) -> Vec<(String, String)> {
    r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["url"].as_str().unwrap().to_owned(),
                t["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn namespaces_sites_links_referrals_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let paris = tmp.path().join("paris-docs");
    let lyon = tmp.path().join("lyon-docs");
    let wiki = tmp.path().join("wiki");
    for d in [&paris, &lyon, &wiki] {
        std::fs::create_dir_all(d).unwrap();
    }
    let url = |p: &std::path::Path| format!("file://{}", p.display());
    let (paris, lyon, wiki) = (url(&paris), url(&lyon), url(&wiki));
    // Nothing listens on port 445 here: an SMB server still being set up.
    let smb = "smb://127.0.0.1/docs";

    // Health probes are the subject of ns_health.rs: here they check once, at start, so
    // the health of each target stays as it was added.
    let config = tmp.path().join("vsa.toml");
    std::fs::write(&config, "[namespace]\nprobe_interval_ms = 86400000\n").unwrap();
    let slow_probes = ["--config", config.to_str().unwrap()];

    let d = Daemon::start(&dir, &slow_probes);
    d.ok(&["ns", "create", "corp"]);
    d.ok(&["ns", "site", "add", "paris", "10.1.0.0/16"]);
    d.ok(&[
        "ns",
        "site",
        "add",
        "lyon",
        "10.2.0.0/16",
        "--cost",
        "paris=10",
    ]);
    let sites = d.json(&["ns", "site", "list"]);
    assert_eq!(sites[1]["name"], "paris", "{sites}");
    assert_eq!(
        sites[1]["costs"]["lyon"], 10,
        "costs hold both ways: {sites}"
    );
    d.ok(&["ns", "folder", "add", "corp", "eng"]);
    d.ok(&["ns", "folder", "add", "corp", "hr"]);
    let docs = d.json(&[
        "ns", "link", "add", "corp", "eng/docs", &paris, "--site", "paris", "--stable",
    ]);
    assert_eq!(docs["targets"][0]["health"], "healthy", "checked: {docs}");
    d.ok(&[
        "ns", "target", "add", "corp", "eng/docs", &lyon, "--site", "lyon",
    ]);
    d.ok(&[
        "ns", "link", "add", "corp", "eng/wiki", &wiki, "--ttl", "60",
    ]);

    // An SMB target whose server does not answer: refused, nothing changed.
    let before = d.json(&["ns", "show", "corp"]);
    let e = d.refused(&[
        "ns",
        "target",
        "add",
        "corp",
        "eng/docs",
        smb,
        "--priority",
        "global-low",
    ]);
    for words in [
        "smb://127.0.0.1/docs",
        "not reachable",
        "--force",
        "target_unreachable",
    ] {
        assert!(e.contains(words), "{words}: {e}");
    }
    assert_eq!(d.json(&["ns", "show", "corp"]), before);
    // With --force it goes in, health unknown.
    let v = d.json(&[
        "ns",
        "target",
        "add",
        "corp",
        "eng/docs",
        smb,
        "--priority",
        "global-low",
        "--force",
    ]);
    assert_eq!(v["targets"][2]["url"], smb);
    assert_eq!(v["targets"][2]["health"], "unknown");
    assert_eq!(v["version"], before["version"].as_u64().unwrap() + 1);

    // Referrals: the client's own site first, then by cost, global-low last.
    let r = d.json(&[
        "ns",
        "resolve",
        "corp",
        "eng/docs/specs/a.txt",
        "--client",
        "10.1.2.3",
    ]);
    assert_eq!(r["link"], "eng/docs");
    assert_eq!(r["remainder"], "specs/a.txt");
    assert_eq!(r["ttl_secs"], 300);
    assert_eq!(r["client_site"], "paris");
    let want = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        order(&r),
        want(&[
            (&paris, "in-site"),
            (&lyon, "site cost 10"),
            (smb, "global low")
        ])
    );
    let r = d.json(&["ns", "resolve", "corp", "eng/docs", "--client", "10.2.0.9"]);
    assert_eq!(r["client_site"], "lyon");
    assert_eq!(
        order(&r),
        want(&[
            (&lyon, "in-site"),
            (&paris, "site cost 10"),
            (smb, "global low")
        ])
    );
    let r = d.json(&[
        "ns",
        "resolve",
        "corp",
        "eng/docs",
        "--client",
        "192.168.1.1",
    ]);
    assert_eq!(r["client_site"], Value::Null);
    assert_eq!(r["targets"][0]["reason"], "site cost unknown", "{r}");
    let r = d.json(&[
        "ns",
        "resolve",
        "corp",
        "eng/wiki/page",
        "--client",
        "10.1.2.3",
    ]);
    assert_eq!(r["ttl_secs"], 60);
    let out = d.ok(&[
        "ns",
        "resolve",
        "corp",
        "eng/docs/a",
        "--client",
        "10.1.2.3",
    ]);
    assert!(out.contains("site cost 10"), "{out}");

    // Bad input: clear errors, nothing changed.
    let before = d.json(&["ns", "show", "corp"]);
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &["ns", "link", "add", "corp", "eng/../etc", &wiki],
            &["'..'", "invalid_path"],
        ),
        (
            &["ns", "link", "add", "corp", "eng/docs/old", &wiki],
            &["overlaps the link 'eng/docs'", "overlap"],
        ),
        (
            &["ns", "link", "add", "corp", "eng", &wiki],
            &["overlaps the folder 'eng'", "overlap"],
        ),
        (
            &["ns", "show", "ghost"],
            &["no namespace 'ghost'", "vsa ns list", "no_such_namespace"],
        ),
        (
            &["ns", "site", "add", "nyc", "10.3.0.0/33"],
            &["10.3.0.0/33", "invalid_subnet"],
        ),
        (
            &["ns", "site", "add", "nyc", "10.3.0.1/16"],
            &["did you mean 10.3.0.0/16", "invalid_subnet"],
        ),
        (
            &["ns", "link", "add", "corp", "hr/x", "ftp://fs/x"],
            &["no supported scheme", "invalid_target"],
        ),
        (
            &[
                "ns", "target", "add", "corp", "eng/wiki", &lyon, "--site", "mars",
            ],
            &["no site 'mars'", "vsa ns site list", "no_such_site"],
        ),
    ];
    for (args, words) in cases {
        let e = d.refused(args);
        for w in words {
            assert!(e.contains(w), "vsa {args:?}: {w}: {e}");
        }
    }
    assert_eq!(d.json(&["ns", "show", "corp"]), before);
    assert_eq!(d.json(&["ns", "site", "list"]), sites);
    let e = d.refused(&["ns", "resolve", "corp", "hr", "--client", "10.1.2.3"]);
    assert!(e.contains("no link covers 'hr'"), "{e}");

    // A disabled target leaves the referral.
    d.ok(&["ns", "target", "disable", "corp", "eng/docs", &paris]);
    let r = d.json(&["ns", "resolve", "corp", "eng/docs", "--client", "10.1.2.3"]);
    assert_eq!(
        order(&r),
        want(&[(&lyon, "site cost 10"), (smb, "global low")])
    );
    let shown = d.ok(&["ns", "show", "corp"]);
    for words in [
        "eng/",
        "hr/",
        "docs",
        "wiki",
        "disabled",
        "unknown, global-low",
    ] {
        assert!(shown.contains(words), "{words}: {shown}");
    }

    let m = d.metrics();
    assert_eq!(m.get("vsa_ns_namespaces"), Some(&1.0), "{m:?}");
    assert_eq!(m.get("vsa_ns_links{namespace=\"corp\"}"), Some(&2.0));
    let targets = |health: &str| {
        m.get(&format!(
            "vsa_ns_targets{{health=\"{health}\",namespace=\"corp\"}}"
        ))
        .copied()
    };
    assert_eq!(
        (targets("healthy"), targets("unhealthy"), targets("unknown")),
        (Some(3.0), Some(0.0), Some(1.0)),
        "{m:?}"
    );

    // Everything is still there after a restart.
    let shown = d.json(&["ns", "show", "corp"]);
    let referral = d.json(&["ns", "resolve", "corp", "eng/docs", "--client", "10.2.0.9"]);
    assert!(d.stop().success());
    let d = Daemon::start(&dir, &slow_probes);
    assert_eq!(d.json(&["ns", "show", "corp"]), shown);
    assert_eq!(d.json(&["ns", "site", "list"]), sites);
    assert_eq!(
        d.json(&["ns", "resolve", "corp", "eng/docs", "--client", "10.2.0.9"]),
        referral
    );
    d.ok(&["ns", "target", "enable", "corp", "eng/docs", &paris]);
    d.ok(&["ns", "target", "remove", "corp", "eng/docs", smb]);
    d.ok(&["ns", "link", "remove", "corp", "eng/wiki"]);
    let e = d.refused(&["ns", "site", "remove", "paris"]);
    assert!(e.contains("site_in_use"), "{e}");
    d.ok(&["ns", "delete", "corp"]);
    d.ok(&["ns", "site", "remove", "paris"]);
    assert_eq!(d.json(&["ns", "list"]), serde_json::json!([]));
    assert_eq!(d.metrics().get("vsa_ns_namespaces"), Some(&0.0));
}
