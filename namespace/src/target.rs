//! Link targets: where a link's data really lives, and how a referral should rank it.
//!
//! A target is a URL, parsed by [`TargetUrl::parse`]:
//!
//! | form | meaning |
//! | --- | --- |
//! | `smb://server/share[/path]` (or UNC `\\server\share\path`) | an SMB share, or a directory in one |
//! | `nfs://server/export[/path]` | an NFS export, or a directory in one |
//! | `file:///local/path` | a directory on the appliance itself |
//!
//! A URL carries no port, user or percent-escapes: a DFS referral has no room for them.
//! Besides the URL, a [`Target`] says whether it is enabled, its last known [`Health`], its
//! [`Priority`] (a DFS-N priority class and a rank inside it) and the site its server is in.

use crate::error::{shown, TargetError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The longest target URL, in bytes.
pub const MAX_TARGET_BYTES: usize = 4096;

/// Characters an SMB server refuses in share and file names (`/` separates them).
const SMB_FORBIDDEN: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];

/// How a target is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// An SMB share.
    Smb,
    /// An NFS export.
    Nfs,
    /// A local directory.
    File,
}

impl Scheme {
    /// The URL scheme (`smb`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Smb => "smb",
            Scheme::Nfs => "nfs",
            Scheme::File => "file",
        }
    }
}

/// A parsed target URL: a scheme, a server (not for `file`) and at least one path name
/// (the share, the export's first name, or the local directory's first name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetUrl {
    scheme: Scheme,
    server: Option<String>,
    path: Vec<String>,
}

impl TargetUrl {
    /// Parses `smb://server/share/dir`, `\\server\share\dir`, `nfs://server/export` or
    /// `file:///srv/data`.
    pub fn parse(input: &str) -> Result<TargetUrl, TargetError> {
        if input.len() > MAX_TARGET_BYTES {
            return Err(TargetError::TooLong {
                bytes: input.len(),
                max: MAX_TARGET_BYTES,
            });
        }
        if let Some(unc) = input.strip_prefix("\\\\") {
            return parse_remote(input, Scheme::Smb, unc, &['\\', '/']);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(scheme_error(input));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "smb" => parse_remote(input, Scheme::Smb, rest, &['/']),
            "nfs" => parse_remote(input, Scheme::Nfs, rest, &['/']),
            "file" => parse_file(input, rest),
            _ => Err(scheme_error(input)),
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The server's host name or address (`None` for a `file` target).
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The names after the server: share (or export) first, then directories.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// The key that tells two targets apart: SMB names and all host names compare without
    /// case; NFS and local paths with case.
    pub fn key(&self) -> String {
        match self.scheme {
            Scheme::Smb => self.to_string().to_lowercase(),
            Scheme::Nfs | Scheme::File => {
                let server = self.server.as_deref().unwrap_or("").to_ascii_lowercase();
                format!(
                    "{}://{}/{}",
                    self.scheme.as_str(),
                    server,
                    self.path.join("/")
                )
            }
        }
    }
}

fn scheme_error(input: &str) -> TargetError {
    TargetError::Scheme {
        target: shown(input),
    }
}

/// Parses `server/name/...` after `smb://`, `nfs://` or `\\`.
fn parse_remote(
    input: &str,
    scheme: Scheme,
    rest: &str,
    separators: &[char],
) -> Result<TargetUrl, TargetError> {
    check_characters(input, scheme)?;
    let (server, names) = match rest.find(separators) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, ""),
    };
    let server = check_server(input, scheme, server)?;
    let path = split_names(input, scheme, names, separators)?;
    Ok(TargetUrl {
        scheme,
        server: Some(server),
        path,
    })
}

/// Parses `/local/path` after `file://`.
fn parse_file(input: &str, rest: &str) -> Result<TargetUrl, TargetError> {
    check_characters(input, Scheme::File)?;
    let Some(names) = rest.strip_prefix('/') else {
        return Err(TargetError::BadServer {
            target: shown(input),
            server: shown(rest.split('/').next().unwrap_or(rest)),
            why: "a file target is a directory on the appliance; write file:///local/path",
        });
    };
    let path = split_names(input, Scheme::File, names, &['/'])?;
    Ok(TargetUrl {
        scheme: Scheme::File,
        server: None,
        path,
    })
}

fn check_characters(input: &str, scheme: Scheme) -> Result<(), TargetError> {
    match input.chars().find(|c| c.is_control()) {
        Some(c) => Err(TargetError::BadCharacter {
            target: shown(input),
            shown: format!("U+{:04X}", c as u32),
            scheme: scheme.as_str(),
        }),
        None => Ok(()),
    }
}

fn check_server(input: &str, scheme: Scheme, server: &str) -> Result<String, TargetError> {
    let bad = |why| TargetError::BadServer {
        target: shown(input),
        server: shown(server),
        why,
    };
    if server.is_empty() {
        return Err(TargetError::NoServer {
            target: shown(input),
            scheme: scheme.as_str(),
        });
    }
    if let Some(inner) = server.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return match Ipv6Addr::from_str(inner) {
            Ok(_) => Ok(server.to_owned()),
            Err(_) => Err(bad("the address in [ ] is not an IPv6 address")),
        };
    }
    if server.contains('@') {
        return Err(bad(
            "a target carries no user name; set credentials separately",
        ));
    }
    if server.contains(':') {
        return Err(bad(
            "a target carries no port (a DFS referral has none); write an IPv6 address in [ ]",
        ));
    }
    if Ipv4Addr::from_str(server).is_ok() || is_host_name(server) {
        Ok(server.to_owned())
    } else {
        Err(bad(
            "use a host name (letters, digits, '-', '_' and '.') or an IP address",
        ))
    }
}

fn is_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn split_names(
    input: &str,
    scheme: Scheme,
    names: &str,
    separators: &[char],
) -> Result<Vec<String>, TargetError> {
    let names = names.strip_suffix(separators).unwrap_or(names);
    if names.is_empty() {
        let (what, example) = match scheme {
            Scheme::Smb => ("share", "smb://server/share"),
            Scheme::Nfs => ("export", "nfs://server/export"),
            Scheme::File => ("directory", "file:///srv/data"),
        };
        return Err(TargetError::NoShare {
            target: shown(input),
            what,
            example,
        });
    }
    let mut path = Vec::new();
    for name in names.split(separators) {
        if name.is_empty() || name == "." || name == ".." {
            return Err(TargetError::BadComponent {
                target: shown(input),
                component: name.to_owned(),
            });
        }
        if scheme == Scheme::Smb {
            if let Some(c) = name.chars().find(|c| SMB_FORBIDDEN.contains(c)) {
                return Err(TargetError::BadCharacter {
                    target: shown(input),
                    shown: format!("'{c}'"),
                    scheme: scheme.as_str(),
                });
            }
        }
        path.push(name.to_owned());
    }
    Ok(path)
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(server) = &self.server {
            f.write_str(server)?;
        }
        for name in &self.path {
            write!(f, "/{name}")?;
        }
        Ok(())
    }
}

impl FromStr for TargetUrl {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetUrl::parse(s)
    }
}

impl TryFrom<String> for TargetUrl {
    type Error = TargetError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        TargetUrl::parse(&s)
    }
}

impl From<TargetUrl> for String {
    fn from(url: TargetUrl) -> String {
        url.to_string()
    }
}

/// The last known state of a target, as health checks report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// Answering.
    Healthy,
    /// Not answering; referrals list it after every healthy target.
    Unhealthy,
    /// Not checked yet; referrals treat it as healthy.
    #[default]
    Unknown,
}

/// The DFS-N target priority classes, best first. Global classes ignore site cost; the
/// site-cost classes order targets inside one site-cost group.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PriorityClass {
    /// Before every other target, whatever its site.
    GlobalHigh,
    /// First within its site-cost group.
    SiteCostHigh,
    /// Ordered by site cost alone (the default).
    #[default]
    SiteCostNormal,
    /// Last within its site-cost group.
    SiteCostLow,
    /// After every other target, whatever its site.
    GlobalLow,
}

/// A target's priority: its class, and its rank inside the class (0 is best).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Priority {
    /// The priority class.
    pub class: PriorityClass,
    /// The rank within the class; lower comes first.
    pub rank: u8,
}

/// One target of a link: where, whether it may be used, and how to rank it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Where the data lives.
    pub url: TargetUrl,
    /// Disabled targets are never referred to.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The last known health.
    #[serde(default)]
    pub health: Health,
    /// The priority class and rank.
    #[serde(default)]
    pub priority: Priority,
    /// The site the target's server is in; `None` when not known (ranked as farthest).
    #[serde(default)]
    pub site: Option<String>,
}

fn yes() -> bool {
    true
}

impl Target {
    /// An enabled target of unknown health, default priority and no site.
    pub fn new(url: TargetUrl) -> Target {
        Target {
            url,
            enabled: true,
            health: Health::Unknown,
            priority: Priority::default(),
            site: None,
        }
    }

    /// Parses the URL and makes a [`Target::new`].
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        TargetUrl::parse(url).map(Target::new)
    }

    /// The same target in `site`.
    pub fn in_site(mut self, site: impl Into<String>) -> Target {
        self.site = Some(site.into());
        self
    }

    /// The same target with priority `class` and `rank`.
    pub fn with_priority(mut self, class: PriorityClass, rank: u8) -> Target {
        self.priority = Priority { class, rank };
        self
    }

    /// The host of an `smb` or `nfs` target; `None` for `file`.
    pub fn server(&self) -> Option<&str> {
        self.url.server()
    }
}

#[cfg(test)]
mod tests;
