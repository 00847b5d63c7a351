//! Health probes: every target of every namespace is checked (`probe.rs`) once per
//! interval by a task of the component (`mod.rs`), each check on a thread of its own so a
//! server that never answers costs its own check the timeout and delays no other; a target
//! still being checked is not checked again until its check ends. This module holds the
//! rest: the settings, the hysteresis and the event log. A target becomes unhealthy after
//! `unhealthy_after` failed checks in a row and healthy after `healthy_after` good ones
//! (its health stays as it was in between, `unknown` until the first verdict); only a
//! change is stored (`Namespaces::record_probe`), logged, counted and kept as an event.
//!
//! The settings are `[namespace]` of the configuration file; every key is optional, and
//! these are the defaults:
//!
//! ```toml
//! [namespace]
//! probe_interval_ms = 10000  # how often each target is checked, 50 to 86400000
//! probe_timeout_ms = 2000    # how long one check may take, 50 to 60000
//! unhealthy_after = 2        # failed checks in a row that make a target unhealthy, 1 to 100
//! healthy_after = 2          # good checks in a row that make it healthy again, 1 to 100
//!
//! [[namespace.mount]]        # none by default: FUSE mounts made when the daemon starts
//! namespace = "corp"
//! path = "/mnt/corp"         # an empty directory (absolute)
//! ```

use super::types::HealthEventView;
use crate::core::config::{invalid, ConfigError};
use serde::Deserialize;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use vsa_namespace::Health;

/// How many health changes are kept for `vsa ns events`.
pub const EVENTS_KEPT: usize = 1000;

/// `[namespace]` of the configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSettings {
    /// How often each target is checked, in milliseconds (default 10000).
    pub probe_interval_ms: Option<u64>,
    /// How long one check may take, in milliseconds (default 2000).
    pub probe_timeout_ms: Option<u64>,
    /// Failed checks in a row that make a target unhealthy (default 2).
    pub unhealthy_after: Option<u32>,
    /// Good checks in a row that make a target healthy (default 2).
    pub healthy_after: Option<u32>,
    /// `[namespace.samba]`: run smbd as the namespaces' DFS root (`smbd.rs`).
    pub samba: Option<SambaKeys>,
    /// `[[namespace.mount]]`: namespaces mounted over FUSE when the daemon starts.
    #[serde(default)]
    pub mount: Vec<MountKeys>,
}

/// One `[[namespace.mount]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountKeys {
    /// The namespace.
    pub namespace: String,
    /// Where (an empty directory, absolute).
    pub path: String,
}

/// `[namespace.samba]` as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SambaKeys {
    pub listen: Option<String>,
    pub trees: Option<String>,
    pub smbd: Option<String>,
}

/// `[namespace.samba]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SambaSettings {
    pub listen: IpAddr,
    pub trees: PathBuf,
    pub smbd: String,
}

impl SambaKeys {
    pub fn settings(&self) -> Result<SambaSettings, ConfigError> {
        let listen = self.listen.as_deref().ok_or_else(|| {
            invalid(
                "namespace.samba.listen",
                "missing: name the address smbd serves on, e.g. listen = \"127.0.0.1\"",
            )
        })?;
        let listen = listen.parse().map_err(|_| {
            invalid(
                "namespace.samba.listen",
                format!("'{listen}' is not an IP address; write e.g. \"10.0.0.5\""),
            )
        })?;
        let trees = match self.trees.as_deref().map(PathBuf::from) {
            Some(t) if t.is_absolute() => t,
            Some(t) => {
                return Err(invalid(
                    "namespace.samba.trees",
                    format!("'{}' is not an absolute path", t.display()),
                ))
            }
            None => {
                return Err(invalid(
                    "namespace.samba.trees",
                    "missing: name a directory for the msdfs trees, outside the data \
                     directory (Samba's guests must reach it), e.g. trees = \"/srv/dfs\"",
                ))
            }
        };
        Ok(SambaSettings {
            listen,
            trees,
            smbd: self.smbd.clone().unwrap_or_else(|| "smbd".into()),
        })
    }
}

/// The namespace component's keys of the configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct NsConfig {
    /// `[namespace]`.
    #[serde(default)]
    pub namespace: NamespaceSettings,
}

/// How many checks in a row decide a target's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Failed checks in a row before a target is unhealthy.
    pub unhealthy_after: u32,
    /// Good checks in a row before a target is healthy.
    pub healthy_after: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            unhealthy_after: 2,
            healthy_after: 2,
        }
    }
}

/// The probes' settings, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// How often each target is checked.
    pub interval: Duration,
    /// How long one check may take.
    pub timeout: Duration,
    /// How many checks in a row decide.
    pub thresholds: Thresholds,
}

impl Default for ProbeSettings {
    fn default() -> ProbeSettings {
        ProbeSettings {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            thresholds: Thresholds::default(),
        }
    }
}

fn in_range<T: Copy + PartialOrd + std::fmt::Display>(
    field: &str,
    v: Option<T>,
    lo: T,
    hi: T,
    default: T,
) -> Result<T, ConfigError> {
    match v {
        Some(n) if !(lo <= n && n <= hi) => Err(invalid(
            format!("namespace.{field}"),
            format!("{n} is out of range; use {lo} to {hi}"),
        )),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

impl NamespaceSettings {
    /// The settings these keys give, or the key that cannot work.
    pub fn probe_settings(&self) -> Result<ProbeSettings, ConfigError> {
        let d = ProbeSettings::default();
        let ms = |d: Duration| d.as_millis() as u64;
        let interval = in_range(
            "probe_interval_ms",
            self.probe_interval_ms,
            50,
            86_400_000,
            ms(d.interval),
        )?;
        let timeout = in_range(
            "probe_timeout_ms",
            self.probe_timeout_ms,
            50,
            60_000,
            ms(d.timeout),
        )?;
        let th = d.thresholds;
        Ok(ProbeSettings {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
            thresholds: Thresholds {
                unhealthy_after: in_range(
                    "unhealthy_after",
                    self.unhealthy_after,
                    1,
                    100,
                    th.unhealthy_after,
                )?,
                healthy_after: in_range(
                    "healthy_after",
                    self.healthy_after,
                    1,
                    100,
                    th.healthy_after,
                )?,
            },
        })
    }
}

/// A target's run of equal check results: the hysteresis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    /// Good checks in a row.
    pub good: u32,
    /// Failed checks in a row.
    pub failed: u32,
}

impl Streak {
    /// Counts one check of a target whose health is `now`; the new health if this check
    /// decides a change.
    pub fn observe(&mut self, now: Health, ok: bool, th: Thresholds) -> Option<Health> {
        if ok {
            self.good = self.good.saturating_add(1);
            self.failed = 0;
            (now != Health::Healthy && self.good >= th.healthy_after).then_some(Health::Healthy)
        } else {
            self.failed = self.failed.saturating_add(1);
            self.good = 0;
            (now != Health::Unhealthy && self.failed >= th.unhealthy_after)
                .then_some(Health::Unhealthy)
        }
    }
}

/// The last [`EVENTS_KEPT`] health changes, oldest first.
#[derive(Debug, Default)]
pub struct EventLog {
    next: u64,
    events: VecDeque<HealthEventView>,
}

impl EventLog {
    /// Keeps `e` (numbered), dropping the oldest beyond [`EVENTS_KEPT`].
    pub fn push(&mut self, mut e: HealthEventView) -> HealthEventView {
        self.next += 1;
        e.seq = self.next;
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(e.clone());
        e
    }

    /// The events kept that `keep` keeps, oldest first.
    pub fn list(&self, keep: impl Fn(&HealthEventView) -> bool) -> Vec<HealthEventView> {
        self.events.iter().filter(|e| keep(e)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{ComponentConfig, ConfigFile};

    const TH: Thresholds = Thresholds {
        unhealthy_after: 2,
        healthy_after: 3,
    };

    /// Feeds `checks` (true = good) to a streak starting at `health`; the health after each.
    fn run(mut health: Health, checks: &[bool]) -> Vec<Health> {
        let mut s = Streak::default();
        checks
            .iter()
            .map(|&ok| {
                if let Some(h) = s.observe(health, ok, TH) {
                    health = h;
                }
                health
            })
            .collect()
    }

    #[test]
    fn health_changes_only_after_enough_checks_in_a_row() {
        use Health::*;
        assert_eq!(
            run(Unknown, &[false, true, false, false, false]),
            [Unknown, Unknown, Unknown, Unhealthy, Unhealthy]
        );
        assert_eq!(
            run(Unhealthy, &[true, true, false, true, true, true, true]),
            [Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Healthy, Healthy]
        );
        assert_eq!(
            run(Unknown, &[true, true, true]),
            [Unknown, Unknown, Healthy]
        );
        assert_eq!(
            run(Healthy, &[false, true, false, false]),
            [Healthy, Healthy, Healthy, Unhealthy]
        );
        let mut s = Streak::default();
        let one = Thresholds {
            unhealthy_after: 1,
            healthy_after: 1,
        };
        assert_eq!(s.observe(Healthy, false, one), Some(Unhealthy));
        assert_eq!(
            s.observe(Unhealthy, false, one),
            None,
            "no change, no verdict"
        );
        assert_eq!(s.observe(Unhealthy, true, one), Some(Healthy));
    }

    fn settings(text: &str) -> Result<ProbeSettings, ConfigError> {
        let components: Vec<Box<dyn crate::core::Component>> =
            vec![Box::new(super::super::NsComponent)];
        let args = crate::core::serve::command(&components)
            .try_get_matches_from(["serve"])
            .unwrap();
        let c = ComponentConfig {
            file: ConfigFile::from_text(text),
            args,
        };
        c.parse::<NsConfig>()?.namespace.probe_settings()
    }

    #[test]
    fn settings_have_defaults_and_ranges() {
        assert_eq!(settings("").unwrap(), ProbeSettings::default());
        let s = settings(
            "[namespace]\nprobe_interval_ms = 200\nprobe_timeout_ms = 500\n\
             unhealthy_after = 3\nhealthy_after = 1\n",
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_millis(200));
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(
            s.thresholds,
            Thresholds {
                unhealthy_after: 3,
                healthy_after: 1
            }
        );
        let e = settings("[namespace]\nunhealthy_after = 0\n").unwrap_err();
        assert!(
            e.to_string().contains("namespace.unhealthy_after")
                && e.to_string().contains("1 to 100"),
            "{e}"
        );
        let e = settings("[namespace]\nprobe_interval = 5\n").unwrap_err();
        assert!(e.to_string().contains("probe_interval"), "{e}");
    }

    #[test]
    fn the_event_log_keeps_the_last_thousand() {
        let mut log = EventLog::default();
        for i in 0..(EVENTS_KEPT + 5) {
            log.push(HealthEventView {
                seq: 0,
                at: i as u64,
                namespace: if i % 2 == 0 { "Corp" } else { "lab" }.into(),
                link: "eng/docs".into(),
                target: "file:///srv".into(),
                from: "healthy".into(),
                to: "unhealthy".into(),
                reason: "gone".into(),
            });
        }
        let all = log.list(|_| true);
        assert_eq!(all.len(), EVENTS_KEPT);
        assert_eq!(all[0].seq, 6, "the oldest went");
        assert_eq!(all[EVENTS_KEPT - 1].seq, EVENTS_KEPT as u64 + 5);
        let corp = log.list(|e| e.namespace == "Corp");
        assert_eq!(corp.len(), EVENTS_KEPT / 2);
    }

    #[test]
    fn settings_need_an_address() {
        let k = SambaKeys {
            listen: Some("127.0.0.9".into()),
            trees: Some("/srv/dfs".into()),
            smbd: None,
        };
        let s = k.settings().unwrap();
        assert_eq!(
            (s.listen.to_string(), s.smbd.as_str()),
            ("127.0.0.9".into(), "smbd")
        );
        assert!(SambaKeys::default().settings().is_err());
        let bad = SambaKeys {
            listen: Some("here".into()),
            ..k.clone()
        };
        assert!(bad
            .settings()
            .unwrap_err()
            .to_string()
            .contains("not an IP address"));
        let relative = SambaKeys {
            trees: Some("dfs".into()),
            ..k.clone()
        };
        assert!(relative.settings().is_err());
        let none = SambaKeys { trees: None, ..k };
        assert!(none.settings().unwrap_err().to_string().contains("trees"));
    }
}
