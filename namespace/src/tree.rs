//! A namespace: a root name, folders and links, and a version that counts changes.
//!
//! Folders only give the tree its shape (the ancestors of a link are folders even when not
//! added as such; adding one makes an empty folder visible). Links are where the tree
//! leaves the namespace for a file server, so nothing may be inside a link, and a link may
//! not be above another link or a folder: `eng/docs` and `eng/docs/old` cannot both be
//! links, while a folder `eng` above the link `eng/docs` is fine.
//!
//! Links are kept in a hash map by their folded path. Finding the link that covers a path
//! probes the map with each prefix of the path's folded key, shortest first, so it costs
//! at most one probe per component and does not depend on the number of links. A second
//! map counts the links and folders below each prefix, which makes the overlap checks of
//! a change just as cheap.

use crate::error::NamespaceError;
use crate::link::{Link, LinkSettings};
use crate::path::LogicalPath;
use crate::target::{Health, Target, TargetUrl};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;

/// A namespace: folders and links under one root name.
#[derive(Debug, Clone)]
pub struct Namespace {
    root: LogicalPath,
    version: u64,
    /// Links by folded path.
    links: HashMap<String, Link>,
    /// Folders added explicitly, by folded path.
    folders: HashMap<String, LogicalPath>,
    /// For each folded path, how many links and folders lie strictly below it.
    below: HashMap<String, usize>,
}

impl Namespace {
    /// An empty namespace named `root` (one name, such as `corp`), at version 0.
    pub fn new(root: &str) -> Result<Namespace, NamespaceError> {
        let bad = |why: String| NamespaceError::BadRoot {
            name: crate::error::shown(root),
            why,
        };
        let root = LogicalPath::parse(root).map_err(|e| bad(e.to_string()))?;
        if root.depth() != 1 {
            return Err(bad("a root is one name, without '/' or '\\'".into()));
        }
        Ok(Namespace {
            root,
            version: 0,
            links: HashMap::new(),
            folders: HashMap::new(),
            below: HashMap::new(),
        })
    }

    /// The root name.
    pub fn root(&self) -> &str {
        self.root.as_str()
    }

    /// The number of changes made so far; a call that changes nothing leaves it alone.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How many links there are.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// The links, in no particular order.
    pub fn links(&self) -> impl Iterator<Item = &Link> + '_ {
        self.links.values()
    }

    /// The folders added explicitly, in no particular order.
    pub fn folders(&self) -> impl Iterator<Item = &LogicalPath> + '_ {
        self.folders.values()
    }

    /// The link at exactly `path`.
    pub fn link(&self, path: &LogicalPath) -> Option<&Link> {
        self.links.get(path.key())
    }

    /// The link at `path` or above it: for `eng/docs/sub/file`, the link `eng/docs`. The
    /// rest of the path is `path.suffix(link.path().depth())`.
    pub fn covering_link(&self, path: &LogicalPath) -> Option<&Link> {
        (1..=path.depth()).find_map(|n| self.links.get(path.prefix_key(n)))
    }

    /// Adds an empty folder. It may not be inside a link.
    pub fn add_folder(&mut self, path: &LogicalPath) -> Result<(), NamespaceError> {
        if self.folders.contains_key(path.key()) {
            return Err(exists("folder", path));
        }
        if self.links.contains_key(path.key()) {
            return Err(exists("link", path));
        }
        self.check_no_link_above(path)?;
        self.count_below(path, true);
        self.folders.insert(path.key().to_owned(), path.clone());
        self.version += 1;
        Ok(())
    }

    /// Removes an explicitly added folder that has nothing below it.
    pub fn remove_folder(&mut self, path: &LogicalPath) -> Result<(), NamespaceError> {
        if !self.folders.contains_key(path.key()) {
            return Err(not_found("folder", path));
        }
        if self.below.get(path.key()).is_some_and(|&n| n > 0) {
            return Err(NamespaceError::NotEmpty(path.to_string()));
        }
        self.folders.remove(path.key());
        self.count_below(path, false);
        self.version += 1;
        Ok(())
    }

    /// Adds a link at `path` to `targets` (at least one, none twice).
    pub fn add_link(
        &mut self,
        path: &LogicalPath,
        targets: Vec<Target>,
        settings: LinkSettings,
    ) -> Result<(), NamespaceError> {
        self.check_link_fits(path)?;
        let link = Link::new(path.clone(), targets, settings)?;
        self.count_below(path, true);
        self.links.insert(path.key().to_owned(), link);
        self.version += 1;
        Ok(())
    }

    /// Removes the link at `path` and gives it back.
    pub fn remove_link(&mut self, path: &LogicalPath) -> Result<Link, NamespaceError> {
        let link = self
            .links
            .remove(path.key())
            .ok_or_else(|| not_found("link", path))?;
        self.count_below(path, false);
        self.version += 1;
        Ok(link)
    }

    /// Replaces a link's settings.
    pub fn set_settings(
        &mut self,
        link: &LogicalPath,
        settings: LinkSettings,
    ) -> Result<(), NamespaceError> {
        let changed = self.link_mut(link)?.set_settings(settings);
        self.bump(changed);
        Ok(())
    }

    /// Adds a target to a link, after its other targets.
    pub fn add_target(&mut self, link: &LogicalPath, target: Target) -> Result<(), NamespaceError> {
        self.link_mut(link)?.add_target(target)?;
        self.bump(true);
        Ok(())
    }

    /// Removes a target from a link; the last target cannot go (remove the link instead).
    pub fn remove_target(
        &mut self,
        link: &LogicalPath,
        url: &TargetUrl,
    ) -> Result<Target, NamespaceError> {
        let target = self.link_mut(link)?.remove_target(url)?;
        self.bump(true);
        Ok(target)
    }

    /// Enables or disables a target; referrals leave disabled targets out.
    pub fn set_enabled(
        &mut self,
        link: &LogicalPath,
        url: &TargetUrl,
        enabled: bool,
    ) -> Result<(), NamespaceError> {
        self.update_target(link, url, |t| t.enabled = enabled)
    }

    /// Records a target's health, as a health check found it.
    pub fn set_health(
        &mut self,
        link: &LogicalPath,
        url: &TargetUrl,
        health: Health,
    ) -> Result<(), NamespaceError> {
        self.update_target(link, url, |t| t.health = health)
    }

    /// Changes a target's priority, site or other fields (not its URL).
    pub fn update_target(
        &mut self,
        link: &LogicalPath,
        url: &TargetUrl,
        change: impl FnOnce(&mut Target),
    ) -> Result<(), NamespaceError> {
        let keep = url.clone();
        let changed = self.link_mut(link)?.update_target(url, |t| {
            change(t);
            t.url = keep;
        })?;
        self.bump(changed);
        Ok(())
    }

    fn bump(&mut self, changed: bool) {
        if changed {
            self.version += 1;
        }
    }

    fn link_mut(&mut self, path: &LogicalPath) -> Result<&mut Link, NamespaceError> {
        self.links
            .get_mut(path.key())
            .ok_or_else(|| not_found("link", path))
    }

    /// Refuses a link at `path` if anything is at, above (a link) or below it.
    fn check_link_fits(&self, path: &LogicalPath) -> Result<(), NamespaceError> {
        if self.links.contains_key(path.key()) {
            return Err(exists("link", path));
        }
        if let Some(folder) = self.folders.get(path.key()) {
            return Err(overlap(path, "folder", folder));
        }
        self.check_no_link_above(path)?;
        if self.below.get(path.key()).is_some_and(|&n| n > 0) {
            // Rare (a refused change), so a scan to name what is in the way is fine.
            let link = self
                .links
                .values()
                .map(Link::path)
                .find(|p| p.starts_with(path));
            let found = match link {
                Some(p) => ("link", p),
                None => match self.folders.values().find(|p| p.starts_with(path)) {
                    Some(p) => ("folder", p),
                    None => return Err(NamespaceError::Corrupt("count below is off".into())),
                },
            };
            return Err(overlap(path, found.0, found.1));
        }
        Ok(())
    }

    fn check_no_link_above(&self, path: &LogicalPath) -> Result<(), NamespaceError> {
        let above = (1..path.depth()).find_map(|n| self.links.get(path.prefix_key(n)));
        match above {
            Some(link) => Err(overlap(path, "link", link.path())),
            None => Ok(()),
        }
    }

    /// Counts a link or folder at `path` in (or out of) each of its ancestors.
    fn count_below(&mut self, path: &LogicalPath, add: bool) {
        for n in 1..path.depth() {
            let key = path.prefix_key(n);
            if add {
                *self.below.entry(key.to_owned()).or_insert(0) += 1;
            } else if let Some(count) = self.below.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.below.remove(key);
                }
            }
        }
    }
}

fn exists(kind: &'static str, path: &LogicalPath) -> NamespaceError {
    NamespaceError::Exists {
        kind,
        path: path.to_string(),
    }
}

fn not_found(kind: &'static str, path: &LogicalPath) -> NamespaceError {
    NamespaceError::NotFound {
        kind,
        path: path.to_string(),
    }
}

fn overlap(path: &LogicalPath, kind: &'static str, existing: &LogicalPath) -> NamespaceError {
    NamespaceError::Overlap {
        path: path.to_string(),
        kind,
        existing: existing.to_string(),
    }
}

/// A namespace as stored: folders and links sorted by path, so the JSON is stable.
#[derive(Serialize)]
struct RecordRef<'a> {
    root: &'a str,
    version: u64,
    folders: Vec<&'a LogicalPath>,
    links: Vec<&'a Link>,
}

/// A namespace as read back, checked by rebuilding it.
#[derive(Deserialize)]
struct Record {
    root: String,
    version: u64,
    #[serde(default)]
    folders: Vec<LogicalPath>,
    #[serde(default)]
    links: Vec<Link>,
}

impl Serialize for Namespace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut folders: Vec<&LogicalPath> = self.folders.values().collect();
        folders.sort();
        let mut links: Vec<&Link> = self.links.values().collect();
        links.sort_by(|a, b| a.path().cmp(b.path()));
        RecordRef {
            root: self.root(),
            version: self.version,
            folders,
            links,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Namespace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = Record::deserialize(deserializer)?;
        let rebuild = || -> Result<Namespace, NamespaceError> {
            let mut ns = Namespace::new(&record.root)?;
            for folder in &record.folders {
                ns.add_folder(folder)?;
            }
            for link in record.links {
                let (path, settings) = (link.path().clone(), *link.settings());
                ns.add_link(&path, link.targets().to_vec(), settings)?;
            }
            ns.version = record.version;
            Ok(ns)
        };
        rebuild().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
