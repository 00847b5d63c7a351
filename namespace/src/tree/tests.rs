#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::link::TieOrder;
use proptest::prelude::*;

fn p(s: &str) -> LogicalPath {
    LogicalPath::parse(s).unwrap()
}

fn t(s: &str) -> Target {
    Target::parse(s).unwrap()
}

fn url(s: &str) -> TargetUrl {
    TargetUrl::parse(s).unwrap()
}

fn corp() -> Namespace {
    let mut ns = Namespace::new("corp").unwrap();
    ns.add_folder(&p("eng")).unwrap();
    ns.add_link(
        &p("Eng/Docs"),
        vec![t("smb://fs1/docs"), t("smb://fs2/docs")],
        LinkSettings::default(),
    )
    .unwrap();
    ns
}

#[test]
fn finds_the_covering_link() {
    let ns = corp();
    let path = p("eng/docs/Sub/file.txt");
    let link = ns.covering_link(&path).unwrap();
    assert_eq!(link.path().as_str(), "Eng/Docs");
    assert_eq!(
        path.suffix(link.path().depth()).unwrap().as_str(),
        "Sub/file.txt"
    );
    assert_eq!(
        ns.covering_link(&p("ENG/DOCS")).unwrap().path(),
        &p("eng/docs")
    );
    assert!(ns.covering_link(&p("eng")).is_none());
    assert!(ns.covering_link(&p("eng/doc")).is_none());
    assert!(ns.covering_link(&p("other/docs")).is_none());
    assert_eq!(ns.link(&p("eng/docs")).unwrap().targets().len(), 2);
    assert!(ns.link(&p("eng/docs/sub")).is_none());
}

#[test]
fn refuses_overlapping_links() {
    let mut ns = corp();
    let add = |ns: &mut Namespace, s: &str| {
        ns.add_link(&p(s), vec![t("smb://fs9/x")], LinkSettings::default())
    };
    let err = add(&mut ns, "eng/docs/old").unwrap_err();
    assert_eq!(
        err,
        NamespaceError::Overlap {
            path: "eng/docs/old".into(),
            kind: "link",
            existing: "Eng/Docs".into()
        }
    );
    let err = add(&mut ns, "ENG").unwrap_err();
    assert!(
        matches!(err, NamespaceError::Overlap { kind: "folder", .. }),
        "{err}"
    );
    assert!(matches!(
        add(&mut ns, "eng/docs"),
        Err(NamespaceError::Exists { kind: "link", .. })
    ));
    assert!(matches!(
        ns.add_folder(&p("eng/docs/x")),
        Err(NamespaceError::Overlap { kind: "link", .. })
    ));
    ns.add_folder(&p("hr/pay")).unwrap();
    let err = add(&mut ns, "hr").unwrap_err();
    assert_eq!(
        err,
        NamespaceError::Overlap {
            path: "hr".into(),
            kind: "folder",
            existing: "hr/pay".into()
        }
    );
    add(&mut ns, "eng/wiki").unwrap();
    add(&mut ns, "eng/docs2").unwrap();
    assert_eq!(ns.link_count(), 3);
}

#[test]
fn folders_and_links_come_and_go() {
    let mut ns = corp();
    assert_eq!(ns.version(), 2);
    assert!(matches!(
        ns.remove_folder(&p("eng")),
        Err(NamespaceError::NotEmpty(_))
    ));
    assert!(matches!(
        ns.remove_folder(&p("hr")),
        Err(NamespaceError::NotFound { .. })
    ));
    assert!(matches!(
        ns.add_folder(&p("eng")),
        Err(NamespaceError::Exists { .. })
    ));
    let link = ns.remove_link(&p("eng/docs")).unwrap();
    assert_eq!(link.targets().len(), 2);
    assert!(matches!(
        ns.remove_link(&p("eng/docs")),
        Err(NamespaceError::NotFound { .. })
    ));
    ns.remove_folder(&p("eng")).unwrap();
    assert_eq!(ns.version(), 4);
    assert_eq!(ns.folders().count(), 0);
    // Now a link may sit where the folder was, and below it.
    ns.add_link(
        &p("eng"),
        vec![t("file:///srv/eng")],
        LinkSettings::default(),
    )
    .unwrap();
    assert!(ns.below.is_empty());
}

#[test]
fn targets_change_and_version_counts_real_changes() {
    let mut ns = corp();
    let docs = p("eng/docs");
    let v = ns.version();
    ns.add_target(&docs, t("nfs://fs3/docs")).unwrap();
    assert!(matches!(
        ns.add_target(&docs, t("SMB://FS1/Docs")),
        Err(NamespaceError::DuplicateTarget { .. })
    ));
    ns.set_enabled(&docs, &url("smb://fs2/docs"), false)
        .unwrap();
    ns.set_health(&docs, &url("smb://fs1/docs"), Health::Unhealthy)
        .unwrap();
    assert_eq!(ns.version(), v + 3);
    ns.set_health(&docs, &url("smb://fs1/docs"), Health::Unhealthy)
        .unwrap();
    ns.set_enabled(&docs, &url("smb://fs2/docs"), false)
        .unwrap();
    assert_eq!(ns.version(), v + 3, "no change, no new version");
    ns.update_target(&docs, &url("smb://fs1/docs"), |t| {
        t.site = Some("paris".into());
        t.url = url("smb://elsewhere/x");
    })
    .unwrap();
    let link = ns.link(&docs).unwrap();
    let fs1 = link.target(&url("smb://fs1/docs")).unwrap();
    assert_eq!(fs1.site.as_deref(), Some("paris"));
    assert_eq!(fs1.health, Health::Unhealthy);
    assert!(!link.target(&url("smb://fs2/docs")).unwrap().enabled);
    assert!(matches!(
        ns.set_health(&docs, &url("smb://fs9/docs"), Health::Healthy),
        Err(NamespaceError::UnknownTarget { .. })
    ));
    assert!(matches!(
        ns.set_health(&p("eng/nope"), &url("smb://fs1/docs"), Health::Healthy),
        Err(NamespaceError::NotFound { .. })
    ));
    ns.remove_target(&docs, &url("smb://fs2/docs")).unwrap();
    ns.remove_target(&docs, &url("nfs://fs3/docs")).unwrap();
    assert!(matches!(
        ns.remove_target(&docs, &url("smb://fs1/docs")),
        Err(NamespaceError::NoTargets(_))
    ));
    let settings = LinkSettings {
        ordering: TieOrder::Stable,
        ttl_secs: 60,
        ..Default::default()
    };
    let v = ns.version();
    ns.set_settings(&docs, settings).unwrap();
    ns.set_settings(&docs, settings).unwrap();
    assert_eq!(ns.version(), v + 1);
    assert_eq!(ns.link(&docs).unwrap().settings().ttl_secs, 60);
}

#[test]
fn refuses_bad_roots_and_empty_links() {
    assert!(matches!(
        Namespace::new("a/b"),
        Err(NamespaceError::BadRoot { .. })
    ));
    assert!(matches!(
        Namespace::new(""),
        Err(NamespaceError::BadRoot { .. })
    ));
    assert_eq!(Namespace::new("/Corp/").unwrap().root(), "Corp");
    let mut ns = corp();
    assert!(matches!(
        ns.add_link(&p("x"), vec![], LinkSettings::default()),
        Err(NamespaceError::NoTargets(_))
    ));
    assert!(matches!(
        ns.add_link(
            &p("x"),
            vec![t("smb://a/b"), t("smb://A/B")],
            LinkSettings::default()
        ),
        Err(NamespaceError::DuplicateTarget { .. })
    ));
    assert_eq!(ns.link_count(), 1);
}

#[test]
fn serde_round_trip_and_checks() {
    let mut ns = corp();
    ns.add_folder(&p("hr")).unwrap();
    let json = serde_json::to_string(&ns).unwrap();
    let back: Namespace = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(back.version(), ns.version());
    assert!(back.covering_link(&p("eng/docs/a")).is_some());
    let nested = json.replace("\"folders\":[", "\"folders\":[\"Eng/Docs/x\",");
    let err = serde_json::from_str::<Namespace>(&nested).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");
}

proptest! {
    /// Random changes keep the invariant: no link at or above another link or a folder, and
    /// covering_link agrees with a scan.
    #[test]
    fn no_overlaps_and_lookup_matches_a_scan(
        ops in proptest::collection::vec((0u8..4, proptest::collection::vec(0u8..3, 1..4)), 1..40),
        probes in proptest::collection::vec(proptest::collection::vec(0u8..3, 1..5), 1..10),
    ) {
        let name = |c: &[u8]| c.iter().map(|i| ["a", "B", "c"][*i as usize]).collect::<Vec<_>>().join("/");
        let mut ns = Namespace::new("r").unwrap();
        for (op, comps) in ops {
            let path = p(&name(&comps));
            let _ = match op {
                0 => ns.add_link(&path, vec![t("smb://s/x")], LinkSettings::default()).map(|_| ()),
                1 => ns.add_folder(&path),
                2 => ns.remove_link(&path).map(|_| ()),
                _ => ns.remove_folder(&path),
            };
        }
        let links: Vec<LogicalPath> = ns.links().map(|l| l.path().clone()).collect();
        let folders: Vec<LogicalPath> = ns.folders().cloned().collect();
        for a in &links {
            for b in &links {
                prop_assert!(a == b || !b.starts_with(a));
            }
            for f in &folders {
                prop_assert!(!f.starts_with(a));
            }
        }
        for probe in probes {
            let path = p(&name(&probe));
            let scan = links.iter().find(|l| path.starts_with(l));
            prop_assert_eq!(ns.covering_link(&path).map(|l| l.path()), scan);
        }
    }
}
