//! Logical paths inside a namespace: `eng/docs/specs`, relative to the namespace root.
//!
//! A path is parsed once from user input (`/` or `\` between names, one leading and one
//! trailing separator tolerated) and keeps the spelling it was given, for display. Paths
//! compare like SMB names do, ignoring case: each path also carries a folded (lowercase)
//! key, and equality, hashing and lookups use that key. The folded key of the first `n`
//! components is a slice of it ([`LogicalPath::prefix_key`]), so the namespace can probe a
//! hash map for each prefix of a path without allocating.

use crate::error::{shown, PathError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The longest name of one folder or link, in bytes (as most file systems allow).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// The longest path, in bytes, written with `/` between names.
pub const MAX_PATH_BYTES: usize = 4096;
/// The most names a path may have.
pub const MAX_COMPONENTS: usize = 64;

/// A path inside a namespace: one or more names, compared without regard to case.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogicalPath {
    /// The names as given, joined by `/`.
    text: String,
    /// `text` folded to lowercase.
    folded: String,
    /// Byte offset in `text` where each component ends.
    ends: Vec<u32>,
    /// Byte offset in `folded` where each component ends.
    folded_ends: Vec<u32>,
}

impl LogicalPath {
    /// Parses a path such as `eng/docs`, `\eng\docs\` or `/eng/docs`.
    pub fn parse(input: &str) -> Result<LogicalPath, PathError> {
        // Reject huge input before looking at it closely (two separators tolerated).
        if input.len() > MAX_PATH_BYTES + 2 {
            return Err(PathError::TooLong {
                bytes: input.len(),
                max: MAX_PATH_BYTES,
            });
        }
        let body = strip_one_separator(input);
        if body.is_empty() {
            return Err(PathError::Empty);
        }
        let mut path = LogicalPath {
            text: String::with_capacity(body.len()),
            folded: String::with_capacity(body.len()),
            ends: Vec::new(),
            folded_ends: Vec::new(),
        };
        for component in body.split(is_separator) {
            check_component(input, component)?;
            if path.ends.len() == MAX_COMPONENTS {
                return Err(PathError::TooManyComponents {
                    count: MAX_COMPONENTS + 1,
                    max: MAX_COMPONENTS,
                });
            }
            path.push(component);
        }
        if path.text.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong {
                bytes: path.text.len(),
                max: MAX_PATH_BYTES,
            });
        }
        Ok(path)
    }

    /// Appends one already checked component.
    fn push(&mut self, component: &str) {
        if !self.ends.is_empty() {
            self.text.push('/');
            self.folded.push('/');
        }
        self.text.push_str(component);
        self.folded.push_str(&fold(component));
        // Both fit in u32: the text is at most a few times MAX_PATH_BYTES long.
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        self.folded_ends
            .push(u32::try_from(self.folded.len()).unwrap_or(u32::MAX));
    }

    /// The path as given, with `/` between names.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The folded key that comparisons use (lowercase, `/` between names).
    pub fn key(&self) -> &str {
        &self.folded
    }

    /// How many names the path has (at least one).
    pub fn depth(&self) -> usize {
        self.ends.len()
    }

    /// The names, as given.
    pub fn components(&self) -> impl Iterator<Item = &str> + '_ {
        self.text.split('/')
    }

    /// The last name.
    pub fn name(&self) -> &str {
        self.text.rsplit('/').next().unwrap_or(&self.text)
    }

    /// The folded key of the first `n` names (`n` from 1 to [`depth`](Self::depth));
    /// the whole key when `n` is larger.
    pub fn prefix_key(&self, n: usize) -> &str {
        match n.checked_sub(1).and_then(|i| self.folded_ends.get(i)) {
            Some(&end) => self.folded.get(..end as usize).unwrap_or(&self.folded),
            None if n == 0 => "",
            None => &self.folded,
        }
    }

    /// The first `n` names as a path, or `None` when `n` is 0 or beyond the depth.
    pub fn prefix(&self, n: usize) -> Option<LogicalPath> {
        let i = n.checked_sub(1)?;
        let end = *self.ends.get(i)? as usize;
        let folded_end = *self.folded_ends.get(i)? as usize;
        Some(LogicalPath {
            text: self.text.get(..end)?.to_owned(),
            folded: self.folded.get(..folded_end)?.to_owned(),
            ends: self.ends.get(..n)?.to_vec(),
            folded_ends: self.folded_ends.get(..n)?.to_vec(),
        })
    }

    /// The names after the first `n`, or `None` when nothing is left.
    pub fn suffix(&self, n: usize) -> Option<LogicalPath> {
        if n >= self.depth() {
            return None;
        }
        let mut rest = LogicalPath {
            text: String::new(),
            folded: String::new(),
            ends: Vec::new(),
            folded_ends: Vec::new(),
        };
        for component in self.components().skip(n) {
            rest.push(component);
        }
        Some(rest)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &LogicalPath) -> bool {
        other.depth() <= self.depth() && self.prefix_key(other.depth()) == other.key()
    }
}

fn is_separator(c: char) -> bool {
    c == '/' || c == '\\'
}

fn strip_one_separator(input: &str) -> &str {
    let s = input.strip_prefix(is_separator).unwrap_or(input);
    s.strip_suffix(is_separator).unwrap_or(s)
}

fn check_component(input: &str, component: &str) -> Result<(), PathError> {
    if component.is_empty() {
        return Err(PathError::EmptyComponent { path: shown(input) });
    }
    if component == "." || component == ".." {
        return Err(PathError::DotComponent {
            path: shown(input),
            component: component.to_owned(),
        });
    }
    if let Some(c) = component.chars().find(|c| c.is_control()) {
        return Err(PathError::ControlCharacter {
            path: shown(input),
            code: c as u32,
        });
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::ComponentTooLong {
            prefix: component.chars().take(32).collect(),
            bytes: component.len(),
            max: MAX_COMPONENT_BYTES,
        });
    }
    Ok(())
}

/// Folds a name for comparison: Unicode lowercase, as SMB compares names without case.
pub(crate) fn fold(name: &str) -> String {
    if name
        .bytes()
        .all(|b| !b.is_ascii_uppercase() && b.is_ascii())
    {
        name.to_owned()
    } else {
        name.to_lowercase()
    }
}

impl PartialEq for LogicalPath {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for LogicalPath {}

impl Hash for LogicalPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded.hash(state);
    }
}

impl PartialOrd for LogicalPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LogicalPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded.cmp(&other.folded)
    }
}

impl fmt::Display for LogicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for LogicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogicalPath({:?})", self.text)
    }
}

impl FromStr for LogicalPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogicalPath::parse(s)
    }
}

impl TryFrom<String> for LogicalPath {
    type Error = PathError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        LogicalPath::parse(&s)
    }
}

impl From<LogicalPath> for String {
    fn from(path: LogicalPath) -> String {
        path.text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> LogicalPath {
        LogicalPath::parse(s).unwrap()
    }

    #[test]
    fn parses_both_separators_and_keeps_spelling() {
        let path = p("\\Eng\\Docs/Specs/");
        assert_eq!(path.as_str(), "Eng/Docs/Specs");
        assert_eq!(path.key(), "eng/docs/specs");
        assert_eq!(path.depth(), 3);
        assert_eq!(
            path.components().collect::<Vec<_>>(),
            ["Eng", "Docs", "Specs"]
        );
        assert_eq!(path.name(), "Specs");
        assert_eq!(path, p("eng/DOCS/specs"));
    }

    #[test]
    fn prefixes_and_suffixes() {
        let path = p("Eng/Docs/Specs");
        assert_eq!(path.prefix_key(0), "");
        assert_eq!(path.prefix_key(2), "eng/docs");
        assert_eq!(path.prefix_key(9), "eng/docs/specs");
        assert_eq!(path.prefix(2).unwrap().as_str(), "Eng/Docs");
        assert!(path.prefix(0).is_none());
        assert_eq!(path.suffix(1).unwrap().as_str(), "Docs/Specs");
        assert!(path.suffix(3).is_none());
        assert!(path.starts_with(&p("eng/docs")));
        assert!(!path.starts_with(&p("eng/doc")));
        assert!(!p("eng").starts_with(&path));
    }

    #[test]
    fn unicode_names_fold() {
        assert_eq!(p("ÄRGER/Straße"), p("ärger/STRAßE"));
        assert_eq!(p("ÄRGER").key(), "ärger");
        assert_eq!(p("ÄRGER").as_str(), "ÄRGER");
    }

    #[test]
    fn refuses_bad_paths_with_reasons() {
        assert_eq!(LogicalPath::parse(""), Err(PathError::Empty));
        assert_eq!(LogicalPath::parse("/"), Err(PathError::Empty));
        assert!(matches!(
            LogicalPath::parse("a//b"),
            Err(PathError::EmptyComponent { .. })
        ));
        assert!(matches!(
            LogicalPath::parse("//a"),
            Err(PathError::EmptyComponent { .. })
        ));
        let err = LogicalPath::parse("a/../b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "path 'a/../b' has a '..' component; name folders from the namespace root, e.g. eng/docs"
        );
        assert!(matches!(
            LogicalPath::parse("./a"),
            Err(PathError::DotComponent { .. })
        ));
        let err = LogicalPath::parse("a\0b").unwrap_err();
        assert_eq!(
            err,
            PathError::ControlCharacter {
                path: "a\\u{0}b".into(),
                code: 0
            }
        );
        let long = "x".repeat(256);
        assert!(matches!(
            LogicalPath::parse(&long),
            Err(PathError::ComponentTooLong { bytes: 256, .. })
        ));
        assert!(LogicalPath::parse(&"x".repeat(255)).is_ok());
        let many = vec!["a"; 65].join("/");
        assert!(matches!(
            LogicalPath::parse(&many),
            Err(PathError::TooManyComponents { .. })
        ));
        assert!(LogicalPath::parse(&vec!["a"; 64].join("/")).is_ok());
        let big = vec!["y".repeat(200); 30].join("/");
        assert!(matches!(
            LogicalPath::parse(&big),
            Err(PathError::TooLong { .. })
        ));
    }

    #[test]
    fn serde_is_the_string() {
        let path = p("Eng/Docs");
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, "\"Eng/Docs\"");
        assert_eq!(serde_json::from_str::<LogicalPath>(&json).unwrap(), path);
        assert!(serde_json::from_str::<LogicalPath>("\"a/../b\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = LogicalPath::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_path_like_input(s in "[/\\\\.a-zA-Z\u{0}\u{e4}\u{c4}\u{130}]{0,40}") {
            let _ = LogicalPath::parse(&s);
        }

        #[test]
        fn display_reparses_to_itself(s in "[/\\\\]?([a-zA-Z0-9 ._\u{e4}\u{c4}\u{130}-]{1,12}[/\\\\]){0,6}[a-zA-Z0-9\u{c4}]{1,5}[/\\\\]?") {
            if let Ok(path) = LogicalPath::parse(&s) {
                let again = LogicalPath::parse(&path.to_string()).unwrap();
                prop_assert_eq!(again.as_str(), path.as_str());
                prop_assert_eq!(again.key(), path.key());
                prop_assert_eq!(&again, &path);
            }
        }

        #[test]
        fn prefix_keys_are_prefixes(s in "([a-zA-Z\u{130}\u{c4}]{1,6}/){0,6}[a-z]{1,4}") {
            let path = LogicalPath::parse(&s).unwrap();
            for n in 1..=path.depth() {
                let prefix = path.prefix(n).unwrap();
                prop_assert_eq!(prefix.key(), path.prefix_key(n));
                prop_assert!(path.starts_with(&prefix));
                match path.suffix(n) {
                    Some(rest) => prop_assert_eq!(format!("{}/{}", prefix, rest), path.to_string()),
                    None => prop_assert_eq!(n, path.depth()),
                }
            }
        }
    }
}
