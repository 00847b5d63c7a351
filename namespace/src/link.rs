//! Links: a path in the namespace whose contents live at one or more targets, with the
//! settings that shape its referrals.

use crate::error::NamespaceError;
use crate::path::LogicalPath;
use crate::target::{Target, TargetUrl};
use serde::{Deserialize, Serialize};

/// The referral time-to-live a link gets unless set otherwise, in seconds (DFS-N's default).
pub const DEFAULT_TTL_SECS: u32 = 300;

/// How a referral orders targets that tie on every rule (same health, class, site cost and
/// rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieOrder {
    /// In an order drawn from the referral's seed, spreading clients over equal targets.
    #[default]
    Shuffled,
    /// In the order the targets were configured.
    Stable,
}

/// Per-link settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkSettings {
    /// How ties are ordered.
    pub ordering: TieOrder,
    /// How long a client may cache the referral, in seconds.
    pub ttl_secs: u32,
    /// Refer clients of a known site only to targets in that site.
    pub in_site_only: bool,
    /// Tell clients to go back to a better target when it returns.
    pub failback: bool,
}

impl Default for LinkSettings {
    fn default() -> LinkSettings {
        LinkSettings {
            ordering: TieOrder::Shuffled,
            ttl_secs: DEFAULT_TTL_SECS,
            in_site_only: false,
            failback: false,
        }
    }
}

/// A link: a namespace path, its targets in configured order, and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    path: LogicalPath,
    targets: Vec<Target>,
    #[serde(default)]
    settings: LinkSettings,
}

impl Link {
    /// A link at `path` to `targets`; at least one target, no target twice.
    pub fn new(
        path: LogicalPath,
        targets: Vec<Target>,
        settings: LinkSettings,
    ) -> Result<Link, NamespaceError> {
        if targets.is_empty() {
            return Err(NamespaceError::NoTargets(path.to_string()));
        }
        let mut link = Link {
            path,
            targets: Vec::with_capacity(targets.len()),
            settings,
        };
        for target in targets {
            link.add_target(target)?;
        }
        Ok(link)
    }

    /// Where the link is.
    pub fn path(&self) -> &LogicalPath {
        &self.path
    }

    /// The targets, in configured order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The settings.
    pub fn settings(&self) -> &LinkSettings {
        &self.settings
    }

    pub(crate) fn set_settings(&mut self, settings: LinkSettings) -> bool {
        let changed = self.settings != settings;
        self.settings = settings;
        changed
    }

    /// The target with `url` (compared by [`TargetUrl::key`]).
    pub fn target(&self, url: &TargetUrl) -> Option<&Target> {
        self.position(url).and_then(|i| self.targets.get(i))
    }

    fn position(&self, url: &TargetUrl) -> Option<usize> {
        let key = url.key();
        self.targets.iter().position(|t| t.url.key() == key)
    }

    pub(crate) fn add_target(&mut self, target: Target) -> Result<(), NamespaceError> {
        if self.position(&target.url).is_some() {
            return Err(NamespaceError::DuplicateTarget {
                link: self.path.to_string(),
                target: target.url.to_string(),
            });
        }
        self.targets.push(target);
        Ok(())
    }

    pub(crate) fn remove_target(&mut self, url: &TargetUrl) -> Result<Target, NamespaceError> {
        let i = self.position(url).ok_or_else(|| self.unknown(url))?;
        if self.targets.len() == 1 {
            return Err(NamespaceError::NoTargets(self.path.to_string()));
        }
        Ok(self.targets.remove(i))
    }

    /// Applies `change` to the target with `url`; says whether the target changed.
    pub(crate) fn update_target(
        &mut self,
        url: &TargetUrl,
        change: impl FnOnce(&mut Target),
    ) -> Result<bool, NamespaceError> {
        let key = url.key();
        match self.targets.iter_mut().find(|t| t.url.key() == key) {
            Some(target) => {
                let before = target.clone();
                change(target);
                Ok(*target != before)
            }
            None => Err(self.unknown(url)),
        }
    }

    fn unknown(&self, url: &TargetUrl) -> NamespaceError {
        NamespaceError::UnknownTarget {
            link: self.path.to_string(),
            target: url.to_string(),
        }
    }
}
