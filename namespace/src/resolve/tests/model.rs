//! Property tests of `resolve` against a reference model: a plain filter and a sort by a
//! key tuple, written from the rules in the module docs without the crate's helpers.

use super::super::*;
use super::p;
use crate::link::LinkSettings;
use crate::site::Subnet;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SITES: [&str; 3] = ["s0", "s1", "s2"];

/// A generated target: class 0..5, rank, site index (3 = none), enabled, health 0..3.
type Spec = (u8, u8, u8, bool, u8);

#[derive(Debug, Clone)]
struct Case {
    targets: Vec<Spec>,
    /// Costs set between site pairs (from, to, cost).
    costs: Vec<(u8, u8, u32)>,
    /// Client: None, or a site index (3 = an address in no site).
    client: Option<u8>,
    in_site_only: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let target = (
        0u8..5,
        0u8..3,
        0u8..4,
        proptest::bool::weighted(0.8),
        0u8..3,
    );
    (
        proptest::collection::vec(target, 1..9),
        proptest::collection::vec((0u8..3, 0u8..3, 1u32..20), 0..6),
        proptest::option::of(0u8..4),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(targets, costs, client, in_site_only, seed)| Case {
            targets,
            costs,
            client,
            in_site_only,
            seed,
        })
}

fn class(c: u8) -> PriorityClass {
    match c {
        0 => PriorityClass::GlobalHigh,
        1 => PriorityClass::SiteCostHigh,
        2 => PriorityClass::SiteCostNormal,
        3 => PriorityClass::SiteCostLow,
        _ => PriorityClass::GlobalLow,
    }
}

fn build(case: &Case, ordering: TieOrder) -> (Namespace, Sites, Option<IpAddr>) {
    let mut sites = Sites::new();
    for (i, name) in SITES.iter().enumerate() {
        sites.add_site(name).unwrap();
        let subnet = Subnet::parse(&format!("10.{i}.0.0/16")).unwrap();
        sites.add_subnet(name, subnet).unwrap();
    }
    for &(a, b, cost) in &case.costs {
        let _ = sites.set_cost(SITES[a as usize], SITES[b as usize], cost);
    }
    let targets = case
        .targets
        .iter()
        .enumerate()
        .map(|(i, &(c, rank, site, enabled, health))| {
            let mut t = Target::parse(&format!("smb://fs{i}/share")).unwrap();
            t.priority.class = class(c);
            t.priority.rank = rank;
            t.site = SITES.get(site as usize).map(|s| s.to_string());
            t.enabled = enabled;
            t.health = [Health::Healthy, Health::Unhealthy, Health::Unknown][health as usize];
            t
        })
        .collect();
    let settings = LinkSettings {
        ordering,
        in_site_only: case.in_site_only,
        ..LinkSettings::default()
    };
    let mut ns = Namespace::new("r").unwrap();
    ns.add_link(&p("a/b"), targets, settings).unwrap();
    let client = case.client.map(|i| format!("10.{i}.7.7").parse().unwrap());
    (ns, sites, client)
}

/// The reference's cost table: last setting of (from, to) wins, looked up this way first.
fn reference_cost(case: &Case, from: Option<u8>, to: u8) -> u32 {
    let (Some(from), true) = (from.filter(|&f| f < 3), to < 3) else {
        return UNKNOWN_COST;
    };
    if from == to {
        return 0;
    }
    let table: BTreeMap<(u8, u8), u32> = case
        .costs
        .iter()
        .filter(|c| c.0 != c.1)
        .map(|&(a, b, c)| ((a, b), c))
        .collect();
    table
        .get(&(from, to))
        .or_else(|| table.get(&(to, from)))
        .copied()
        .unwrap_or(UNKNOWN_COST)
}

/// The rules' key: unhealthy, class bucket, site cost, class within the cost, rank.
type Key = (bool, u8, u32, u8, u8);

/// The reference order (configured indices) and each target's non-tie key.
fn reference(case: &Case) -> Vec<(usize, Key)> {
    let client_site = case.client.filter(|&c| c < 3);
    let mut out: Vec<(usize, Key)> = Vec::new();
    for (i, &(c, rank, site, enabled, health)) in case.targets.iter().enumerate() {
        let cost = reference_cost(case, client_site, site);
        if !enabled || (case.in_site_only && client_site.is_some() && cost != 0) {
            continue;
        }
        let unhealthy = health == 1;
        let key = match c {
            0 => (unhealthy, 0, 0, 0, rank),
            4 => (unhealthy, 2, 0, 0, rank),
            within => (unhealthy, 1, cost, within - 1, rank),
        };
        out.push((i, key));
    }
    out.sort_by_key(|&(i, key)| (key, i));
    out
}

fn indices(referral: &Referral<'_>) -> Vec<usize> {
    referral
        .targets
        .iter()
        .map(|r| {
            let server = r.target.server().unwrap();
            server.trim_start_matches("fs").parse().unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn stable_order_matches_the_reference(case in case()) {
        let (ns, sites, client) = build(&case, TieOrder::Stable);
        let want: Vec<usize> = reference(&case).into_iter().map(|(i, _)| i).collect();
        match resolve(&ns, &p("a/b/c"), client, &sites, case.seed) {
            Ok(referral) => {
                prop_assert_eq!(indices(&referral), want);
                for r in &referral.targets {
                    prop_assert!(r.target.enabled);
                    prop_assert_eq!(r.unhealthy, r.target.health == Health::Unhealthy);
                }
            }
            Err(ResolveError::NoTarget { .. }) => prop_assert!(want.is_empty()),
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    #[test]
    fn shuffled_order_keeps_the_rules_and_the_seed(case in case()) {
        let (ns, sites, client) = build(&case, TieOrder::Shuffled);
        let reference = reference(&case);
        let keys: BTreeMap<usize, _> = reference.iter().copied().collect();
        let first = resolve(&ns, &p("a/b"), client, &sites, case.seed);
        let again = resolve(&ns, &p("a/b"), client, &sites, case.seed);
        match (first, again) {
            (Ok(first), Ok(again)) => {
                let got = indices(&first);
                prop_assert_eq!(&got, &indices(&again), "same seed, same order");
                let mut sorted = got.clone();
                sorted.sort_unstable();
                prop_assert_eq!(sorted, keys.keys().copied().collect::<Vec<_>>());
                let got_keys: Vec<_> = got.iter().map(|i| keys[i]).collect();
                prop_assert!(got_keys.windows(2).all(|w| w[0] <= w[1]), "{:?}", got_keys);
            }
            (Err(ResolveError::NoTarget { .. }), Err(_)) => prop_assert!(reference.is_empty()),
            (a, b) => prop_assert!(false, "unexpected {:?} / {:?}", a.err(), b.err()),
        }
    }

    #[test]
    fn in_site_only_is_respected(case in case()) {
        let (ns, sites, client) = build(&case, TieOrder::Shuffled);
        if let Ok(referral) = resolve(&ns, &p("a/b"), client, &sites, case.seed) {
            if let (true, Some(site)) = (case.in_site_only, referral.client_site) {
                for r in &referral.targets {
                    prop_assert_eq!(r.target.site.as_deref(), Some(site));
                    prop_assert_eq!(r.reason == Reason::InSite, !matches!(
                        r.target.priority.class,
                        PriorityClass::GlobalHigh | PriorityClass::GlobalLow
                    ));
                }
            }
        }
    }

    #[test]
    fn resolve_never_panics(path in "\\PC{0,40}", a in any::<[u8; 16]>(), seed in any::<u64>(), v6 in any::<bool>()) {
        let case = Case {
            targets: vec![(2, 0, 0, true, 0), (0, 1, 3, true, 1)],
            costs: vec![(0, 1, 5)],
            client: None,
            in_site_only: false,
            seed,
        };
        let (mut ns, sites, _) = build(&case, TieOrder::Shuffled);
        if let Ok(path) = LogicalPath::parse(&path) {
            let _ = ns.add_link(&path, vec![Target::parse("file:///x").unwrap()], LinkSettings::default());
            let client = if v6 {
                IpAddr::from(a)
            } else {
                IpAddr::from([a[0], a[1], a[2], a[3]])
            };
            let _ = resolve(&ns, &path, Some(client), &sites, seed);
        }
    }
}
