#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model;

use super::*;
use crate::error::ResolveError;
use crate::link::LinkSettings;
use crate::site::Subnet;
use crate::target::TargetUrl;

fn p(s: &str) -> LogicalPath {
    LogicalPath::parse(s).unwrap()
}

fn t(s: &str) -> Target {
    Target::parse(s).unwrap()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// paris (10.1/16), lyon (10.2/16), nyc (10.3/16); paris-lyon 10, paris-nyc 100.
fn sites() -> Sites {
    let mut sites = Sites::new();
    for (i, name) in ["paris", "lyon", "nyc"].into_iter().enumerate() {
        sites.add_site(name).unwrap();
        let subnet = Subnet::parse(&format!("10.{}.0.0/16", i + 1)).unwrap();
        sites.add_subnet(name, subnet).unwrap();
    }
    sites.set_cost("paris", "lyon", 10).unwrap();
    sites.set_cost("paris", "nyc", 100).unwrap();
    sites
}

fn stable() -> LinkSettings {
    LinkSettings {
        ordering: TieOrder::Stable,
        ..LinkSettings::default()
    }
}

fn ns_with(targets: Vec<Target>, settings: LinkSettings) -> Namespace {
    let mut ns = Namespace::new("corp").unwrap();
    ns.add_link(&p("eng/docs"), targets, settings).unwrap();
    ns
}

fn servers(referral: &Referral<'_>) -> Vec<String> {
    referral
        .targets
        .iter()
        .map(|r| r.target.server().unwrap().to_owned())
        .collect()
}

fn reasons(referral: &Referral<'_>) -> Vec<String> {
    referral.targets.iter().map(|r| r.to_string()).collect()
}

#[test]
fn nearest_site_first_and_the_rest_of_the_path() {
    let ns = ns_with(
        vec![
            t("smb://ny1/docs").in_site("nyc"),
            t("smb://nosite/docs"),
            t("smb://ly1/docs").in_site("lyon"),
            t("smb://pa1/docs").in_site("paris"),
        ],
        stable(),
    );
    let sites = sites();
    let r = resolve(&ns, &p("Eng/Docs/specs/a.txt"), ip("10.1.2.3"), &sites, 7).unwrap();
    assert_eq!(r.link.as_str(), "eng/docs");
    assert_eq!(r.remainder.as_ref().unwrap().as_str(), "specs/a.txt");
    assert_eq!(r.ttl_secs, 300);
    assert_eq!(r.client_site, Some("paris"));
    assert_eq!(servers(&r), ["pa1", "ly1", "ny1", "nosite"]);
    assert_eq!(
        reasons(&r),
        [
            "in-site",
            "site cost 10",
            "site cost 100",
            "site cost unknown"
        ]
    );
    // From lyon: paris 10, nyc unknown (no cost set), no site unknown: configured order.
    let r = resolve(&ns, &p("eng/docs"), ip("10.2.0.9"), &sites, 7).unwrap();
    assert!(r.remainder.is_none());
    assert_eq!(servers(&r), ["ly1", "pa1", "ny1", "nosite"]);
    // A client of no known site: every target costs the same.
    let r = resolve(&ns, &p("eng/docs"), ip("192.0.2.1"), &sites, 7).unwrap();
    assert_eq!(r.client_site, None);
    assert_eq!(servers(&r), ["ny1", "nosite", "ly1", "pa1"]);
    let r = resolve(&ns, &p("eng/docs"), None, &sites, 7).unwrap();
    assert_eq!(servers(&r), ["ny1", "nosite", "ly1", "pa1"]);
}

#[test]
fn classes_and_ranks() {
    let ns = ns_with(
        vec![
            t("smb://low/d")
                .in_site("paris")
                .with_priority(PriorityClass::GlobalLow, 0),
            t("smb://far-high/d")
                .in_site("nyc")
                .with_priority(PriorityClass::SiteCostHigh, 0),
            t("smb://near-low/d")
                .in_site("paris")
                .with_priority(PriorityClass::SiteCostLow, 0),
            t("smb://near-rank1/d")
                .in_site("paris")
                .with_priority(PriorityClass::SiteCostNormal, 1),
            t("smb://near/d").in_site("paris"),
            t("smb://near-high/d")
                .in_site("paris")
                .with_priority(PriorityClass::SiteCostHigh, 3),
            t("smb://top2/d")
                .in_site("nyc")
                .with_priority(PriorityClass::GlobalHigh, 2),
            t("smb://top/d")
                .in_site("nyc")
                .with_priority(PriorityClass::GlobalHigh, 0),
        ],
        stable(),
    );
    let sites = sites();
    let r = resolve(&ns, &p("eng/docs"), ip("10.1.0.1"), &sites, 0).unwrap();
    assert_eq!(
        servers(&r),
        [
            "top",
            "top2",
            "near-high",
            "near",
            "near-rank1",
            "near-low",
            "far-high",
            "low"
        ]
    );
    assert_eq!(r.targets[0].reason, Reason::GlobalHigh);
    assert_eq!(r.targets[1].to_string(), "global high, rank 2");
    assert_eq!(r.targets[2].to_string(), "in-site, class high, rank 3");
    assert_eq!(r.targets[6].to_string(), "site cost 100, class high");
    assert_eq!(r.targets[7].reason, Reason::GlobalLow);
}

#[test]
fn unhealthy_last_disabled_never() {
    let mut ns = ns_with(
        vec![
            t("smb://pa1/d").in_site("paris"),
            t("smb://pa2/d").in_site("paris"),
            t("smb://ny1/d").in_site("nyc"),
            t("smb://top/d").with_priority(PriorityClass::GlobalHigh, 0),
        ],
        stable(),
    );
    let docs = p("eng/docs");
    let url = |s: &str| TargetUrl::parse(s).unwrap();
    ns.set_health(&docs, &url("smb://pa1/d"), Health::Unhealthy)
        .unwrap();
    ns.set_health(&docs, &url("smb://top/d"), Health::Unhealthy)
        .unwrap();
    ns.set_health(&docs, &url("smb://ny1/d"), Health::Healthy)
        .unwrap();
    ns.set_enabled(&docs, &url("smb://pa2/d"), false).unwrap();
    let sites = sites();
    let r = resolve(&ns, &docs, ip("10.1.0.1"), &sites, 0).unwrap();
    assert_eq!(servers(&r), ["ny1", "top", "pa1"]);
    assert_eq!(r.targets[2].to_string(), "in-site, unhealthy");
    for u in ["smb://pa1/d", "smb://ny1/d", "smb://top/d"] {
        ns.set_enabled(&docs, &url(u), false).unwrap();
    }
    let err = resolve(&ns, &docs, ip("10.1.0.1"), &sites, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "link 'eng/docs' has no target to refer to (every target is disabled); enable a target or add one"
    );
}

#[test]
fn in_site_only() {
    let settings = LinkSettings {
        in_site_only: true,
        ..stable()
    };
    let ns = ns_with(
        vec![
            t("smb://ny1/d")
                .in_site("nyc")
                .with_priority(PriorityClass::GlobalHigh, 0),
            t("smb://pa1/d").in_site("paris"),
            t("smb://pa2/d").in_site("paris"),
        ],
        settings,
    );
    let sites = sites();
    let r = resolve(&ns, &p("eng/docs/x"), ip("10.1.0.1"), &sites, 0).unwrap();
    assert_eq!(servers(&r), ["pa1", "pa2"]);
    let r = resolve(&ns, &p("eng/docs/x"), ip("10.3.0.1"), &sites, 0).unwrap();
    assert_eq!(servers(&r), ["ny1"]);
    // Client site unknown: everything.
    let r = resolve(&ns, &p("eng/docs/x"), None, &sites, 0).unwrap();
    assert_eq!(servers(&r), ["ny1", "pa1", "pa2"]);
    let err = resolve(&ns, &p("eng/docs/x"), ip("10.2.0.1"), &sites, 0).unwrap_err();
    assert!(matches!(err, ResolveError::NoTarget { .. }));
    assert!(err.to_string().contains("in-site only"), "{err}");
}

#[test]
fn shuffled_ties_follow_the_seed() {
    let targets: Vec<Target> = (0..6).map(|i| t(&format!("smb://fs{i}/d"))).collect();
    let ns = ns_with(targets, LinkSettings::default());
    let sites = sites();
    let order = |seed| servers(&resolve(&ns, &p("eng/docs"), None, &sites, seed).unwrap());
    assert_eq!(order(42), order(42));
    let distinct: std::collections::HashSet<Vec<String>> = (0..50).map(order).collect();
    assert!(
        distinct.len() > 10,
        "seeds should spread clients: {}",
        distinct.len()
    );
    let firsts: std::collections::HashSet<String> = (0..50).map(|s| order(s)[0].clone()).collect();
    assert_eq!(firsts.len(), 6);
}

#[test]
fn no_link_and_settings_in_the_referral() {
    let settings = LinkSettings {
        ttl_secs: 60,
        failback: true,
        ..LinkSettings::default()
    };
    let mut ns = ns_with(vec![t("file:///srv/docs")], settings);
    ns.add_folder(&p("hr")).unwrap();
    let sites = sites();
    let r = resolve(&ns, &p("eng/docs"), None, &sites, 0).unwrap();
    assert_eq!((r.ttl_secs, r.failback), (60, true));
    assert_eq!(r.targets[0].reason, Reason::CostUnknown);
    for folder in ["eng", "hr", "nothing/here"] {
        let err = resolve(&ns, &p(folder), None, &sites, 0).unwrap_err();
        assert_eq!(err, ResolveError::NoLink(folder.into()));
    }
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["link"], "eng/docs");
    assert_eq!(json["targets"][0]["target"]["url"], "file:///srv/docs");
    assert_eq!(json["targets"][0]["reason"], "cost-unknown");
}
