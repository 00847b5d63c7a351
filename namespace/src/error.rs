//! The typed errors of the namespace, one enum per concern: [`PathError`] (a logical path),
//! [`TargetError`] (a link target's URL), [`SiteError`] (sites, subnets and costs),
//! [`NamespaceError`] (changes to the tree) and [`ResolveError`] (answering a referral).
//!
//! Every message says what is wrong and how to put it right, because the text reaches the
//! person who typed the path, URL or subnet.

use thiserror::Error;

/// A logical path inside a namespace was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PathError {
    /// Nothing but separators, or nothing at all.
    #[error("the path is empty; name a folder or link from the namespace root, e.g. eng/docs")]
    Empty,
    /// Two separators in a row.
    #[error("path '{path}' has an empty component (two separators in a row); write one separator between names, e.g. eng/docs")]
    EmptyComponent {
        /// The path as given.
        path: String,
    },
    /// A `.` or `..` component.
    #[error("path '{path}' has a '{component}' component; name folders from the namespace root, e.g. eng/docs")]
    DotComponent {
        /// The path as given.
        path: String,
        /// `.` or `..`.
        component: String,
    },
    /// A NUL or other control character.
    #[error(
        "path '{path}' contains the control character U+{code:04X}; use printable characters only"
    )]
    ControlCharacter {
        /// The path as given, control characters escaped.
        path: String,
        /// The offending character's code point.
        code: u32,
    },
    /// A component longer than [`crate::path::MAX_COMPONENT_BYTES`].
    #[error("path component '{prefix}...' is {bytes} bytes long; a folder or link name may be at most {max} bytes")]
    ComponentTooLong {
        /// The first characters of the component.
        prefix: String,
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A path longer than [`crate::path::MAX_PATH_BYTES`].
    #[error("the path is {bytes} bytes long; a path may be at most {max} bytes, so use shorter names or fewer levels")]
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// More components than [`crate::path::MAX_COMPONENTS`].
    #[error("the path has {count} components; a path may have at most {max}, so use fewer levels")]
    TooManyComponents {
        /// How many components it has (counted up to the first one over the limit).
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// A link target's URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not `smb://`, `nfs://`, `file://` or a UNC path.
    #[error("target '{target}' has no supported scheme; write smb://server/share[/path], nfs://server/export[/path] or file:///local/path")]
    Scheme {
        /// The target as given (shortened).
        target: String,
    },
    /// `smb://` or `nfs://` without a server.
    #[error("target '{target}' names no server; write {scheme}://server/...")]
    NoServer {
        /// The target as given (shortened).
        target: String,
        /// `smb` or `nfs`.
        scheme: &'static str,
    },
    /// A server name that is not a host name or an IP address.
    #[error("target '{target}' has a bad server name '{server}': {why}")]
    BadServer {
        /// The target as given (shortened).
        target: String,
        /// The server part.
        server: String,
        /// What is wrong with it and what to write instead.
        why: &'static str,
    },
    /// No share (SMB), export (NFS) or directory (file).
    #[error("target '{target}' names no {what}; write {example}")]
    NoShare {
        /// The target as given (shortened).
        target: String,
        /// `share`, `export` or `directory`.
        what: &'static str,
        /// A correct example.
        example: &'static str,
    },
    /// An empty, `.` or `..` component.
    #[error("target '{target}' has a '{component}' component; write the path from the share or export down, without '.', '..' or doubled '/'")]
    BadComponent {
        /// The target as given (shortened).
        target: String,
        /// The component (empty for `//`).
        component: String,
    },
    /// A character a file server would refuse.
    #[error("target '{target}' contains the character {shown}, which {scheme} targets may not use; remove it")]
    BadCharacter {
        /// The target as given (shortened, control characters escaped).
        target: String,
        /// The character, quoted or as U+XXXX.
        shown: String,
        /// `smb`, `nfs` or `file`.
        scheme: &'static str,
    },
    /// Longer than [`crate::target::MAX_TARGET_BYTES`].
    #[error("the target is {bytes} bytes long; a target may be at most {max} bytes")]
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

/// A site, subnet or cost was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SiteError {
    /// Not `address/prefix`.
    #[error("subnet '{subnet}' is not written as address/prefix-length; write e.g. 10.1.0.0/16 or 2001:db8::/32")]
    Syntax {
        /// The subnet as given (shortened).
        subnet: String,
    },
    /// The address part does not parse.
    #[error("subnet '{subnet}' has no valid IPv4 or IPv6 address before the '/'; write e.g. 10.1.0.0/16")]
    Address {
        /// The subnet as given (shortened).
        subnet: String,
    },
    /// The prefix length is not a number in range.
    #[error("subnet '{subnet}' has a bad prefix length; use 0 to {max} for an {family} address")]
    PrefixLength {
        /// The subnet as given (shortened).
        subnet: String,
        /// 32 or 128.
        max: u8,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// Bits set beyond the prefix.
    #[error("subnet '{subnet}' has host bits set; did you mean {network}?")]
    HostBits {
        /// The subnet as given.
        subnet: String,
        /// The network the prefix covers.
        network: String,
    },
    /// A site name that is empty, too long or has control characters.
    #[error("site name '{name}' is not allowed: {why}")]
    BadName {
        /// The name as given (shortened, escaped).
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A site that does not exist.
    #[error("there is no site '{0}'; add it first")]
    UnknownSite(String),
    /// A site that already exists.
    #[error("site '{0}' already exists; pick another name or change that site")]
    DuplicateSite(String),
    /// A subnet that already belongs to a site.
    #[error("subnet {subnet} already belongs to site '{site}'; remove it there first")]
    DuplicateSubnet {
        /// The subnet.
        subnet: String,
        /// The site it belongs to.
        site: String,
    },
    /// A cost from a site to itself, which is always 0.
    #[error("the cost from site '{0}' to itself is always 0 and cannot be set")]
    SameSite(String),
    /// A cost of 0 between two different sites.
    #[error("the cost between different sites '{0}' and '{1}' must be at least 1; cost 0 means the same site")]
    ZeroCost(String, String),
}

/// A change to the namespace tree was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// A path in the request was refused.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The root name is not a single valid name.
    #[error("root name '{name}' is not allowed: {why}")]
    BadRoot {
        /// The name as given (shortened).
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A link would sit inside or above another link, or on a folder.
    #[error("'{path}' overlaps the {kind} '{existing}': nothing may be inside a link, and a link may not be above a link or folder; pick a path beside it or remove '{existing}' first")]
    Overlap {
        /// The path asked for.
        path: String,
        /// `link` or `folder`.
        kind: &'static str,
        /// The link or folder in the way.
        existing: String,
    },
    /// A link or folder at that path exists already.
    #[error("a {kind} '{path}' exists already")]
    Exists {
        /// `link` or `folder`.
        kind: &'static str,
        /// Its path.
        path: String,
    },
    /// No link or folder at that path.
    #[error("there is no {kind} '{path}'")]
    NotFound {
        /// `link` or `folder`.
        kind: &'static str,
        /// The path asked for.
        path: String,
    },
    /// A folder that still has folders or links below it.
    #[error("folder '{0}' still has folders or links below it; remove them first")]
    NotEmpty(String),
    /// The same target twice on one link.
    #[error("link '{link}' already has the target '{target}'")]
    DuplicateTarget {
        /// The link.
        link: String,
        /// The target.
        target: String,
    },
    /// A target the link does not have.
    #[error("link '{link}' has no target '{target}'")]
    UnknownTarget {
        /// The link.
        link: String,
        /// The target.
        target: String,
    },
    /// A link with no targets.
    #[error("link '{0}' needs at least one target; to take it away, remove the link")]
    NoTargets(String),
    /// A stored namespace that does not hold together.
    #[error("stored namespace is inconsistent: {0}")]
    Corrupt(String),
}

/// A referral could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No link covers the path (it is a folder, or does not exist).
    #[error("no link covers '{0}'; it is a folder of the namespace or does not exist")]
    NoLink(String),
    /// Every target of the link is disabled, or none is in the client's site when the link
    /// refers in-site only.
    #[error("link '{link}' has no target to refer to ({why}); enable a target or add one")]
    NoTarget {
        /// The link.
        link: String,
        /// Why none is left.
        why: &'static str,
    },
}

/// Shortens user input for an error message and escapes control characters.
pub(crate) fn shown(input: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
