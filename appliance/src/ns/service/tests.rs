//! The service on a real metadata store: changes stored, refused ones changing nothing,
//! probes deciding health.

use super::*;

use crate::core::{Appliance, ConfigFile, ErrorCode, OpenOptions};

/// The namespace service over a metadata store in `dir` (only this component).
fn open(dir: &std::path::Path) -> (Appliance, Namespaces) {
    let components: Vec<Box<dyn crate::core::Component>> =
        vec![Box::new(super::super::NsComponent)];
    let args = crate::core::serve::command(&components)
        .try_get_matches_from(["serve"])
        .unwrap();
    let (app, _) = Appliance::open(
        components,
        OpenOptions {
            data_dir: dir.to_owned(),
            config: ConfigFile::default(),
            args,
        },
    )
    .unwrap();
    let ns = Namespaces::open(app.core().clone()).unwrap();
    (app, ns)
}

fn link(path: &str, targets: &[&str], force: bool) -> AddLinkBody {
    AddLinkBody {
        path: path.into(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        priority: None,
        site: None,
        stable: true,
        ttl_secs: None,
        in_site_only: false,
        failback: false,
        force,
    }
}

#[test]
fn changes_are_stored_and_refused_ones_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let local = format!("file://{}", share.display());
    // Nothing listens on port 445 here: a server still being set up.
    let absent = "smb://127.0.0.1/docs";
    let (app, n) = open(&data);
    n.create(CreateNsBody {
        name: "Corp".into(),
    })
    .unwrap();
    let e = n
        .create(CreateNsBody {
            name: "corp".into(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "namespace_exists");
    n.add_site(AddSiteBody {
        name: "paris".into(),
        subnets: vec!["10.1.0.0/16".into()],
        costs: BTreeMap::new(),
    })
    .unwrap();
    let e = n
        .add_site(AddSiteBody {
            name: "lyon".into(),
            subnets: vec!["10.2.0.0/16".into(), "10.2.0.1/16".into()],
            costs: BTreeMap::new(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "invalid_subnet");
    assert_eq!(n.sites().len(), 1, "a refused site adds nothing");
    n.add_folder("corp", FolderBody { path: "eng".into() })
        .unwrap();
    let v = n
        .add_link("corp", link("eng/docs", &[&local], false))
        .unwrap();
    assert_eq!(v.targets[0].health, "healthy", "{v:?}");
    let before = n.show("corp").unwrap();

    let refused = [
        n.add_link("corp", link("eng/docs/old", &[&local], true))
            .unwrap_err(),
        n.add_link("corp", link("eng/../x", &[&local], true))
            .unwrap_err(),
        n.add_link("corp", link("eng/wiki", &[absent], false))
            .unwrap_err(),
        n.add_link("corp", link("eng/wiki", &[], true)).unwrap_err(),
        n.add_folder("ghost", FolderBody { path: "a".into() })
            .unwrap_err(),
        n.remove_folder("corp", "eng").unwrap_err(),
        n.remove_target("corp", "eng/docs", &local).unwrap_err(),
        n.add_target(
            "corp",
            "eng/docs",
            AddTargetBody {
                target: absent.into(),
                priority: Some("high".into()),
                site: None,
                force: true,
            },
        )
        .unwrap_err(),
    ];
    let codes: Vec<&str> = refused.iter().map(ErrorCode::code).collect();
    assert_eq!(
        codes,
        [
            "overlap",
            "invalid_path",
            "target_unreachable",
            "invalid_request",
            "no_such_namespace",
            "folder_not_empty",
            "last_target",
            "invalid_priority"
        ]
    );
    assert!(refused[2].to_string().contains("smb://127.0.0.1/docs"));
    assert!(refused[2].to_string().contains("--force"));
    assert_eq!(n.show("corp").unwrap(), before, "nothing changed");

    let v = n
        .add_target(
            "corp",
            "eng/docs",
            AddTargetBody {
                target: absent.into(),
                priority: Some("global-low".into()),
                site: Some("paris".into()),
                force: true,
            },
        )
        .unwrap();
    assert_eq!(v.targets[1].health, "unknown");
    assert_eq!(v.version, before.version + 1);
    n.set_enabled("corp", "eng/docs", &local, false).unwrap();
    let e = n.remove_site("paris").unwrap_err();
    assert_eq!(e.code(), "site_in_use");
    let r = n
        .resolve(
            "corp",
            ResolveBody {
                path: "ENG/docs/a/b.txt".into(),
                client: Some("10.1.2.3".into()),
            },
        )
        .unwrap();
    assert_eq!(r.link, "eng/docs");
    assert_eq!(r.remainder.as_deref(), Some("a/b.txt"));
    assert_eq!(r.client_site.as_deref(), Some("paris"));
    assert_eq!(r.targets.len(), 1, "the disabled target is left out");
    assert_eq!(r.targets[0].reason, "global low");
    let after = n.show("corp").unwrap();
    assert_eq!(
        n.counts()[0].targets,
        [1, 0, 1],
        "healthy, unhealthy, unknown"
    );
    drop(n);
    drop(app);

    let (_app, n) = open(&data);
    assert_eq!(n.show("corp").unwrap(), after, "the same after reopening");
    assert_eq!(n.sites()[0].subnets, ["10.1.0.0/16"]);
}

#[test]
fn probes_change_health_after_a_run_and_store_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let local = format!("file://{}", share.display());
    let (app, n) = open(&data);
    n.create(CreateNsBody {
        name: "Corp".into(),
    })
    .unwrap();
    n.add_link("corp", link("eng/docs", &[&local], false))
        .unwrap();
    let before = n.show("corp").unwrap();
    let targets = n.probe_targets();
    assert_eq!(targets.len(), 1);
    let t = &targets[0];
    let th = Thresholds::default();
    let gone: std::result::Result<String, String> = Err("it went away".into());
    let o = n.record_probe(t, &gone, th).unwrap().unwrap();
    assert_eq!(
        (o.namespace.as_str(), o.failed, o.changed),
        ("Corp", true, false)
    );
    assert_eq!(
        n.show("corp").unwrap(),
        before,
        "one failure changes nothing"
    );
    let o = n.record_probe(t, &gone, th).unwrap().unwrap();
    assert!(o.changed);
    let after = n.show("corp").unwrap();
    let target = &after.links[0].targets[0];
    assert_eq!(target.health, "unhealthy");
    assert!(target.health_since.is_some());
    assert_eq!(after.version, before.version + 1);
    let o = n.record_probe(t, &gone, th).unwrap().unwrap();
    assert!(!o.changed, "no change, no event");
    let events = n.events(Some("CORP")).unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!((e.from.as_str(), e.to.as_str()), ("healthy", "unhealthy"));
    assert_eq!(e.reason, "it went away (2 failed checks in a row)");
    assert_eq!(n.events(None).unwrap(), events);
    assert_eq!(
        n.events(Some("ghost")).unwrap_err().code(),
        "no_such_namespace"
    );
    let r = n
        .resolve(
            "corp",
            ResolveBody {
                path: "eng/docs".into(),
                client: None,
            },
        )
        .unwrap();
    assert!(r.targets[0].unhealthy);

    // A target that is gone is forgotten.
    n.remove_link("corp", "eng/docs").unwrap();
    assert_eq!(n.record_probe(t, &gone, th).unwrap(), None);
    assert!(n.probe_targets().is_empty());
    drop(n);
    drop(app);
    let (_app, n) = open(&data);
    assert_eq!(n.show("corp").unwrap().version, after.version + 1);
    assert!(
        n.events(None).unwrap().is_empty(),
        "events are kept in memory"
    );
}

#[test]
fn priorities_parse() {
    let p = parse_priority("site-cost-high:2").unwrap();
    assert_eq!((p.class, p.rank), (PriorityClass::SiteCostHigh, 2));
    assert_eq!(
        parse_priority("global-low").unwrap().class,
        PriorityClass::GlobalLow
    );
    for bad in [
        "",
        "high",
        "global-low:256",
        "global-low:-1",
        "global-low:x",
    ] {
        let e = parse_priority(bad).unwrap_err();
        assert_eq!(
            crate::core::ErrorCode::code(&e),
            "invalid_priority",
            "{bad}"
        );
    }
}

#[test]
fn seeds_follow_the_client() {
    let a: IpAddr = "10.1.2.3".parse().unwrap();
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    assert_eq!(seed(Some(a)), seed(Some(mapped)));
    assert_ne!(seed(Some(a)), seed(None));
}
