//! Sites: named sets of client subnets, and the cost of reaching one site from another.
//!
//! A referral puts the targets nearest the client first. The client's site is the site
//! whose subnet matches its address most specifically (longest prefix, as IP routing
//! does); a target's site is configured on the target. The cost between two sites is what
//! was set for that pair (set one way, it holds both ways unless the other way is set
//! too); a site costs 0 to itself, and a pair with no cost set costs [`UNKNOWN_COST`].
//! Site names compare exactly.

use crate::error::{shown, SiteError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The cost of a pair of sites with no cost set, and of a client or target whose site is
/// not known: larger than any cost a person would set, with room to add to it.
pub const UNKNOWN_COST: u32 = u32::MAX / 2;

/// The longest site name, in bytes.
pub const MAX_SITE_NAME_BYTES: usize = 64;

/// An IPv4 or IPv6 network: an address with no bits set beyond its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: IpAddr,
    prefix: u8,
}

impl Subnet {
    /// Parses `10.1.0.0/16` or `2001:db8::/32`.
    pub fn parse(input: &str) -> Result<Subnet, SiteError> {
        let Some((address, prefix)) = input.split_once('/') else {
            return Err(SiteError::Syntax {
                subnet: shown(input),
            });
        };
        let network = IpAddr::from_str(address).map_err(|_| SiteError::Address {
            subnet: shown(input),
        })?;
        let (max, family) = match network {
            IpAddr::V4(_) => (32, "IPv4"),
            IpAddr::V6(_) => (128, "IPv6"),
        };
        let prefix = match prefix.parse::<u8>() {
            Ok(n) if n <= max && prefix.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(SiteError::PrefixLength {
                    subnet: shown(input),
                    max,
                    family,
                })
            }
        };
        let subnet = Subnet { network, prefix };
        let masked = subnet.masked(network);
        if masked != network {
            return Err(SiteError::HostBits {
                subnet: shown(input),
                network: Subnet {
                    network: masked,
                    prefix,
                }
                .to_string(),
            });
        }
        Ok(subnet)
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this subnet (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                self.masked(ip) == self.network
            }
            _ => false,
        }
    }

    /// `ip` with the bits beyond this subnet's prefix cleared.
    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = SiteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Subnet::parse(s)
    }
}

impl TryFrom<String> for Subnet {
    type Error = SiteError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Subnet::parse(&s)
    }
}

impl From<Subnet> for String {
    fn from(subnet: Subnet) -> String {
        subnet.to_string()
    }
}

/// The sites of an organisation: each a name with client subnets, and costs between them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sites {
    /// Subnets by site name.
    sites: BTreeMap<String, Vec<Subnet>>,
    /// `costs[from][to]`: the cost set from one site to another.
    costs: BTreeMap<String, BTreeMap<String, u32>>,
}

impl Sites {
    /// No sites.
    pub fn new() -> Sites {
        Sites::default()
    }

    /// Adds a site with no subnets.
    pub fn add_site(&mut self, name: &str) -> Result<(), SiteError> {
        check_name(name)?;
        if self.sites.contains_key(name) {
            return Err(SiteError::DuplicateSite(name.to_owned()));
        }
        self.sites.insert(name.to_owned(), Vec::new());
        Ok(())
    }

    /// Removes a site, its subnets and its costs.
    pub fn remove_site(&mut self, name: &str) -> Result<(), SiteError> {
        self.sites
            .remove(name)
            .ok_or_else(|| SiteError::UnknownSite(shown(name)))?;
        self.costs.remove(name);
        for to in self.costs.values_mut() {
            to.remove(name);
        }
        Ok(())
    }

    /// Puts `subnet` in `site`; a subnet belongs to one site only.
    pub fn add_subnet(&mut self, site: &str, subnet: Subnet) -> Result<(), SiteError> {
        if let Some((owner, _)) = self.sites.iter().find(|(_, s)| s.contains(&subnet)) {
            return Err(SiteError::DuplicateSubnet {
                subnet: subnet.to_string(),
                site: owner.clone(),
            });
        }
        self.subnets_mut(site)?.push(subnet);
        Ok(())
    }

    /// Takes `subnet` out of `site` (nothing happens if it was not there).
    pub fn remove_subnet(&mut self, site: &str, subnet: Subnet) -> Result<(), SiteError> {
        self.subnets_mut(site)?.retain(|s| *s != subnet);
        Ok(())
    }

    fn subnets_mut(&mut self, site: &str) -> Result<&mut Vec<Subnet>, SiteError> {
        self.sites
            .get_mut(site)
            .ok_or_else(|| SiteError::UnknownSite(shown(site)))
    }

    /// Sets the cost from `from` to `to` (and from `to` to `from`, unless that is set too).
    pub fn set_cost(&mut self, from: &str, to: &str, cost: u32) -> Result<(), SiteError> {
        for site in [from, to] {
            if !self.sites.contains_key(site) {
                return Err(SiteError::UnknownSite(shown(site)));
            }
        }
        if from == to {
            return Err(SiteError::SameSite(from.to_owned()));
        }
        if cost == 0 {
            return Err(SiteError::ZeroCost(from.to_owned(), to.to_owned()));
        }
        self.costs
            .entry(from.to_owned())
            .or_default()
            .insert(to.to_owned(), cost);
        Ok(())
    }

    /// The cost of reaching site `to` from site `from`: 0 for the same site, what was set
    /// (either way round, this way first), else [`UNKNOWN_COST`]. Never 0 for two
    /// different sites.
    pub fn cost(&self, from: &str, to: &str) -> u32 {
        if from == to {
            return 0;
        }
        let set = |a: &str, b: &str| self.costs.get(a).and_then(|m| m.get(b)).copied();
        set(from, to)
            .or_else(|| set(to, from))
            .unwrap_or(UNKNOWN_COST)
            .max(1)
    }

    /// The site of a client at `ip`: the one with the longest matching subnet.
    pub fn site_of(&self, ip: IpAddr) -> Option<&str> {
        self.sites
            .iter()
            .flat_map(|(name, subnets)| subnets.iter().map(move |s| (name, s)))
            .filter(|(_, subnet)| subnet.contains(ip))
            .max_by_key(|(_, subnet)| subnet.prefix)
            .map(|(name, _)| name.as_str())
    }

    /// The site names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.sites.keys().map(String::as_str)
    }

    /// The subnets of `site`, if it exists.
    pub fn subnets(&self, site: &str) -> Option<&[Subnet]> {
        self.sites.get(site).map(Vec::as_slice)
    }
}

fn check_name(name: &str) -> Result<(), SiteError> {
    let why = if name.trim().is_empty() {
        "it is empty; give the site a name, e.g. paris"
    } else if name.len() > MAX_SITE_NAME_BYTES {
        "it is longer than 64 bytes"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else if name != name.trim() {
        "it starts or ends with a space"
    } else {
        return Ok(());
    };
    Err(SiteError::BadName {
        name: shown(name),
        why,
    })
}

#[cfg(test)]
mod tests;
