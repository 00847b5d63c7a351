//! Referrals: which link covers a path, and the order in which a client should try the
//! link's targets.
//!
//! The order follows DFS-N's rules, applied as one sort key per target:
//!
//! 1. Disabled targets are left out. With `in_site_only`, and a client whose site is
//!    known, so is every target outside the client's site (global classes included).
//! 2. Unhealthy targets go after all healthy ones; unknown health counts as healthy.
//! 3. Priority class `GlobalHigh` first, then the site-cost classes, then `GlobalLow`.
//! 4. Inside the site-cost classes: by site cost from the client's site, cheapest first
//!    (the client's own site costs 0; a target with no site, a client with no site and a
//!    pair with no cost set cost [`UNKNOWN_COST`]); within one cost, `SiteCostHigh`, then
//!    `SiteCostNormal`, then `SiteCostLow`. The global classes ignore site cost.
//! 5. Within one class, lower rank first.
//! 6. Ties left after that: for [`TieOrder::Stable`], the configured order; for
//!    [`TieOrder::Shuffled`], an order drawn from the caller's seed (SplitMix64, so a seed
//!    gives the same order on every build; seed with the client's address to keep each
//!    client on one target).

use crate::error::ResolveError;
use crate::link::{Link, TieOrder};
use crate::path::LogicalPath;
use crate::site::{Sites, UNKNOWN_COST};
use crate::target::{Health, PriorityClass, Target};
use crate::tree::Namespace;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// The answer to a referral request.
#[derive(Debug, Clone, Serialize)]
pub struct Referral<'a> {
    /// The link that covers the path.
    pub link: &'a LogicalPath,
    /// The rest of the path below the link, if any.
    pub remainder: Option<LogicalPath>,
    /// How long the client may cache this answer, in seconds.
    pub ttl_secs: u32,
    /// Whether the client should go back to a better target when it returns.
    pub failback: bool,
    /// The client's site, if its address matched a subnet.
    pub client_site: Option<&'a str>,
    /// The targets, best first.
    pub targets: Vec<Ranked<'a>>,
}

/// One target of a referral and why it is where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked<'a> {
    /// The target.
    pub target: &'a Target,
    /// What placed it: its class, or its site cost from the client.
    pub reason: Reason,
    /// Whether it was moved after the healthy targets.
    pub unhealthy: bool,
}

/// What placed a target in a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Priority class `GlobalHigh`: before the others, whatever its site.
    GlobalHigh,
    /// In the client's site (cost 0).
    InSite,
    /// In another site, at this cost from the client's.
    SiteCost(u32),
    /// The client's or the target's site is not known, or no cost is set between them.
    CostUnknown,
    /// Priority class `GlobalLow`: after the others, whatever its site.
    GlobalLow,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::GlobalHigh => f.write_str("global high"),
            Reason::InSite => f.write_str("in-site"),
            Reason::SiteCost(cost) => write!(f, "site cost {cost}"),
            Reason::CostUnknown => f.write_str("site cost unknown"),
            Reason::GlobalLow => f.write_str("global low"),
        }
    }
}

impl fmt::Display for Ranked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        match self.target.priority.class {
            PriorityClass::SiteCostHigh => f.write_str(", class high")?,
            PriorityClass::SiteCostLow => f.write_str(", class low")?,
            _ => {}
        }
        if self.target.priority.rank > 0 {
            write!(f, ", rank {}", self.target.priority.rank)?;
        }
        if self.unhealthy {
            f.write_str(", unhealthy")?;
        }
        Ok(())
    }
}

/// Answers a referral for `path`: the covering link, the rest of the path and the link's
/// targets in the order a client at `client` should try them. `seed` orders ties of
/// [`TieOrder::Shuffled`] links.
pub fn resolve<'a>(
    ns: &'a Namespace,
    path: &LogicalPath,
    client: Option<IpAddr>,
    sites: &'a Sites,
    seed: u64,
) -> Result<Referral<'a>, ResolveError> {
    let link = ns
        .covering_link(path)
        .ok_or_else(|| ResolveError::NoLink(path.to_string()))?;
    let client_site = client.and_then(|ip| sites.site_of(ip));
    let targets = order_targets(link, client_site, sites, seed)?;
    Ok(Referral {
        link: link.path(),
        remainder: path.suffix(link.path().depth()),
        ttl_secs: link.settings().ttl_secs,
        failback: link.settings().failback,
        client_site,
        targets,
    })
}

/// Orders the targets of `link` for a client in `client_site` (see the module docs).
pub fn order_targets<'a>(
    link: &'a Link,
    client_site: Option<&str>,
    sites: &Sites,
    seed: u64,
) -> Result<Vec<Ranked<'a>>, ResolveError> {
    let settings = link.settings();
    let in_site_only = settings.in_site_only && client_site.is_some();
    let mut rng = SplitMix64(seed);
    let mut keyed: Vec<(SortKey, Ranked<'a>)> = Vec::with_capacity(link.targets().len());
    for (index, target) in link.targets().iter().enumerate() {
        if !target.enabled {
            continue;
        }
        let cost = site_cost(sites, client_site, target);
        if in_site_only && cost != 0 {
            continue;
        }
        let tie = match settings.ordering {
            TieOrder::Shuffled => rng.next(),
            TieOrder::Stable => 0,
        };
        keyed.push(rank(target, cost, tie, index));
    }
    if keyed.is_empty() {
        return Err(ResolveError::NoTarget {
            link: link.path().to_string(),
            why: if link.targets().iter().any(|t| t.enabled) {
                "it refers in-site only and no enabled target is in the client's site"
            } else {
                "every target is disabled"
            },
        });
    }
    keyed.sort_unstable_by_key(|(key, _)| *key);
    Ok(keyed.into_iter().map(|(_, ranked)| ranked).collect())
}

/// The sort key of a target, most significant first: unhealthy, class bucket (global
/// high, site-costed, global low), site cost, class within the cost, rank, tie-break,
/// configured position.
type SortKey = (bool, u8, u32, u8, u8, u64, usize);

fn rank(target: &Target, cost: u32, tie: u64, index: usize) -> (SortKey, Ranked<'_>) {
    let (bucket, cost, within, reason) = match target.priority.class {
        PriorityClass::GlobalHigh => (0, 0, 0, Reason::GlobalHigh),
        PriorityClass::SiteCostHigh => (1, cost, 0, cost_reason(cost)),
        PriorityClass::SiteCostNormal => (1, cost, 1, cost_reason(cost)),
        PriorityClass::SiteCostLow => (1, cost, 2, cost_reason(cost)),
        PriorityClass::GlobalLow => (2, 0, 0, Reason::GlobalLow),
    };
    let unhealthy = target.health == Health::Unhealthy;
    let key = (
        unhealthy,
        bucket,
        cost,
        within,
        target.priority.rank,
        tie,
        index,
    );
    let ranked = Ranked {
        target,
        reason,
        unhealthy,
    };
    (key, ranked)
}

fn cost_reason(cost: u32) -> Reason {
    match cost {
        0 => Reason::InSite,
        UNKNOWN_COST => Reason::CostUnknown,
        cost => Reason::SiteCost(cost),
    }
}

/// The cost of reaching `target` from a client in `client_site`.
fn site_cost(sites: &Sites, client_site: Option<&str>, target: &Target) -> u32 {
    match (client_site, target.site.as_deref()) {
        (Some(client), Some(site)) => sites.cost(client, site),
        _ => UNKNOWN_COST,
    }
}

/// SplitMix64 (Steele, Lea and Flood): a tiny generator whose output depends only on
/// the seed, which is all a tie-break needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
