#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn net(s: &str) -> Subnet {
    Subnet::parse(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn parses_subnets() {
    let v4 = net("10.1.0.0/16");
    assert_eq!(v4.network(), ip("10.1.0.0"));
    assert_eq!(v4.prefix_len(), 16);
    assert_eq!(v4.to_string(), "10.1.0.0/16");
    assert!(v4.contains(ip("10.1.200.3")));
    assert!(!v4.contains(ip("10.2.0.1")));
    assert!(v4.contains(ip("::ffff:10.1.2.3")));
    assert!(!v4.contains(ip("2001:db8::1")));
    assert!(net("0.0.0.0/0").contains(ip("192.0.2.1")));
    assert!(net("192.0.2.7/32").contains(ip("192.0.2.7")));
    let v6 = net("2001:db8::/32");
    assert!(v6.contains(ip("2001:db8:1::5")));
    assert!(!v6.contains(ip("10.1.0.1")));
    assert!(net("::/0").contains(ip("::1")));
}

#[test]
fn refuses_bad_subnets_with_reasons() {
    let err = |s: &str| Subnet::parse(s).unwrap_err();
    assert!(matches!(err("10.1.0.0"), SiteError::Syntax { .. }));
    assert!(matches!(err("10.1.0/16"), SiteError::Address { .. }));
    assert!(matches!(
        err("10.1.0.0/33"),
        SiteError::PrefixLength { max: 32, .. }
    ));
    assert!(matches!(err("10.1.0.0/+8"), SiteError::PrefixLength { .. }));
    assert!(matches!(err("10.1.0.0/"), SiteError::PrefixLength { .. }));
    assert!(matches!(
        err("::/129"),
        SiteError::PrefixLength { max: 128, .. }
    ));
    assert_eq!(
        err("10.1.2.0/16").to_string(),
        "subnet '10.1.2.0/16' has host bits set; did you mean 10.1.0.0/16?"
    );
}

fn three_sites() -> Sites {
    let mut sites = Sites::new();
    for name in ["paris", "lyon", "nyc"] {
        sites.add_site(name).unwrap();
    }
    sites.add_subnet("paris", net("10.1.0.0/16")).unwrap();
    sites.add_subnet("lyon", net("10.1.5.0/24")).unwrap();
    sites.add_subnet("nyc", net("10.0.0.0/8")).unwrap();
    sites.add_subnet("nyc", net("2001:db8::/32")).unwrap();
    sites.set_cost("paris", "lyon", 10).unwrap();
    sites.set_cost("paris", "nyc", 100).unwrap();
    sites.set_cost("nyc", "paris", 120).unwrap();
    sites
}

#[test]
fn site_of_picks_the_longest_prefix() {
    let sites = three_sites();
    assert_eq!(sites.site_of(ip("10.1.5.9")), Some("lyon"));
    assert_eq!(sites.site_of(ip("10.1.6.9")), Some("paris"));
    assert_eq!(sites.site_of(ip("10.9.9.9")), Some("nyc"));
    assert_eq!(sites.site_of(ip("2001:db8::7")), Some("nyc"));
    assert_eq!(sites.site_of(ip("192.0.2.1")), None);
}

#[test]
fn costs_are_symmetric_unless_set_both_ways() {
    let sites = three_sites();
    assert_eq!(sites.cost("paris", "paris"), 0);
    assert_eq!(sites.cost("paris", "lyon"), 10);
    assert_eq!(sites.cost("lyon", "paris"), 10);
    assert_eq!(sites.cost("paris", "nyc"), 100);
    assert_eq!(sites.cost("nyc", "paris"), 120);
    assert_eq!(sites.cost("lyon", "nyc"), UNKNOWN_COST);
    assert_eq!(sites.cost("mars", "nyc"), UNKNOWN_COST);
}

#[test]
fn refuses_bad_site_changes() {
    let mut sites = three_sites();
    assert_eq!(
        sites.add_site("paris"),
        Err(SiteError::DuplicateSite("paris".into()))
    );
    assert!(matches!(sites.add_site(""), Err(SiteError::BadName { .. })));
    assert!(matches!(
        sites.add_site(" x"),
        Err(SiteError::BadName { .. })
    ));
    assert!(matches!(
        sites.add_site("a\nb"),
        Err(SiteError::BadName { .. })
    ));
    assert!(matches!(
        sites.add_site(&"s".repeat(65)),
        Err(SiteError::BadName { .. })
    ));
    assert!(matches!(
        sites.add_subnet("lyon", net("10.1.0.0/16")),
        Err(SiteError::DuplicateSubnet { .. })
    ));
    assert!(matches!(
        sites.add_subnet("mars", net("10.2.0.0/16")),
        Err(SiteError::UnknownSite(_))
    ));
    assert!(matches!(
        sites.set_cost("paris", "paris", 3),
        Err(SiteError::SameSite(_))
    ));
    assert!(matches!(
        sites.set_cost("paris", "lyon", 0),
        Err(SiteError::ZeroCost(..))
    ));
    assert!(matches!(
        sites.set_cost("paris", "mars", 3),
        Err(SiteError::UnknownSite(_))
    ));
}

#[test]
fn removing_a_site_forgets_its_subnets_and_costs() {
    let mut sites = three_sites();
    sites.remove_site("lyon").unwrap();
    assert_eq!(sites.site_of(ip("10.1.5.9")), Some("paris"));
    assert_eq!(sites.cost("paris", "lyon"), UNKNOWN_COST);
    sites.remove_subnet("paris", net("10.1.0.0/16")).unwrap();
    assert_eq!(sites.site_of(ip("10.1.5.9")), Some("nyc"));
    assert_eq!(sites.names().collect::<Vec<_>>(), ["nyc", "paris"]);
    assert!(sites.remove_site("lyon").is_err());
}

#[test]
fn serde_round_trip() {
    let sites = three_sites();
    let json = serde_json::to_string(&sites).unwrap();
    assert!(json.contains("\"10.1.0.0/16\""));
    assert_eq!(serde_json::from_str::<Sites>(&json).unwrap(), sites);
}

/// Longest-prefix match by brute force over the bits.
fn reference_site_of(subnets: &[(String, Subnet)], ip: IpAddr) -> Option<(u8, Vec<String>)> {
    let bits = |a: IpAddr| -> (bool, u128) {
        match a.to_canonical() {
            IpAddr::V4(v4) => (true, u128::from(u32::from(v4)) << 96),
            IpAddr::V6(v6) => (false, u128::from(v6)),
        }
    };
    let (v4, addr) = bits(ip);
    let matching: Vec<(u8, &String)> = subnets
        .iter()
        .filter(|(_, s)| {
            let (net_v4, net) = bits(s.network());
            let len = u32::from(s.prefix_len());
            net_v4 == v4 && (0..len).all(|i| (net >> (127 - i)) & 1 == (addr >> (127 - i)) & 1)
        })
        .map(|(name, s)| (s.prefix_len(), name))
        .collect();
    let best = matching.iter().map(|(len, _)| *len).max()?;
    let names = matching
        .iter()
        .filter(|(l, _)| *l == best)
        .map(|(_, n)| (*n).clone());
    Some((best, names.collect()))
}

proptest! {
    #[test]
    fn subnet_parse_never_panics(s in "\\PC*") {
        let _ = Subnet::parse(&s);
    }

    #[test]
    fn subnet_parse_never_panics_on_cidr_like_input(s in "[0-9a-f:.]{0,20}/[0-9+-]{0,4}") {
        let _ = Subnet::parse(&s);
    }

    #[test]
    fn subnet_display_round_trips(a in any::<u32>(), b in any::<u128>(), l4 in 0u8..=32, l6 in 0u8..=128) {
        for (addr, len) in [(IpAddr::V4(Ipv4Addr::from(a)), l4), (IpAddr::V6(Ipv6Addr::from(b)), l6)] {
            if let Ok(subnet) = Subnet::parse(&format!("{addr}/{len}")) {
                prop_assert_eq!(Subnet::parse(&subnet.to_string()).unwrap(), subnet);
                prop_assert!(subnet.contains(addr));
            }
        }
    }

    #[test]
    fn site_of_is_the_longest_prefix(
        nets in proptest::collection::vec((0usize..3, any::<u8>(), any::<u8>(), 0u8..=24), 0..8),
        client in (any::<u8>(), any::<u8>(), any::<u8>()),
    ) {
        let mut sites = Sites::new();
        let names = ["a", "b", "c"];
        for name in names {
            sites.add_site(name).unwrap();
        }
        let mut added = Vec::new();
        for (site, x, y, len) in nets {
            // Keep addresses in 10/8 so that clients often match.
            let raw = u32::from_be_bytes([10, x, y, 0]);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            let subnet = net(&format!("{}/{}", Ipv4Addr::from(raw & mask), len));
            if sites.add_subnet(names[site], subnet).is_ok() {
                added.push((names[site].to_owned(), subnet));
            }
        }
        let addr = IpAddr::V4(Ipv4Addr::new(10, client.0, client.1, client.2));
        let expected = reference_site_of(&added, addr);
        match (sites.site_of(addr), expected) {
            (None, None) => {}
            (Some(got), Some((_, names))) => prop_assert!(names.iter().any(|n| n == got)),
            (got, want) => prop_assert!(false, "site_of {:?}, reference {:?}", got, want),
        }
    }
}
