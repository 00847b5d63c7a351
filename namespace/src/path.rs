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
mod tests;
