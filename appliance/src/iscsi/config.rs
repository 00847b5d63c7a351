//! The iSCSI component's part of the configuration file: `[iscsi]`, the portal's limits
//! against hostile or broken initiators. Every key is optional; these are the defaults:
//!
//! ```toml
//! [iscsi]
//! max_sessions = 1024              # sessions logged in at once (normal and discovery)
//! max_sessions_per_initiator = 64  # sessions of one initiator name, over all targets
//! max_login_connections = 64       # connections still logging in (not yet authenticated)
//! chap_failure_delay_ms = 100      # wait after a wrong CHAP answer, doubling per failure
//! chap_failure_delay_max_ms = 5000 # the longest such wait
//! nop_interval_secs = 30           # a connection silent this long gets a NOP-In ping
//! nop_timeout_secs = 30            # and is dropped if the ping is not answered in time
//! ```

use crate::core::config::{invalid, ConfigError};
use serde::Deserialize;
use std::time::Duration;

/// The largest `max_sessions` (a session is named by a 16-bit TSIH).
const MAX_SESSIONS: u64 = 65_535;
/// The largest `max_login_connections`.
const MAX_LOGINS: u64 = 4096;
/// The largest CHAP delay, in milliseconds.
const MAX_DELAY_MS: u64 = 60_000;
/// The longest NOP interval or timeout, in seconds (an hour).
const MAX_NOP_SECS: u64 = 3600;

/// `[iscsi]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IscsiSettings {
    /// Sessions logged in at once (default 1024).
    pub max_sessions: Option<u64>,
    /// Sessions of one initiator name at once (default 64).
    pub max_sessions_per_initiator: Option<u64>,
    /// Connections in the login phase at once (default 64).
    pub max_login_connections: Option<u64>,
    /// Wait after the first wrong CHAP answer of an initiator at an address, doubled by
    /// each further one (default 100; 0 turns the delay off).
    pub chap_failure_delay_ms: Option<u64>,
    /// The longest wait (default 5000).
    pub chap_failure_delay_max_ms: Option<u64>,
    /// Seconds of silence on a connection before the target pings it with a NOP-In
    /// (default 30).
    pub nop_interval_secs: Option<u64>,
    /// Seconds the initiator has to answer that ping before the connection is dropped
    /// (default 30).
    pub nop_timeout_secs: Option<u64>,
}

/// The iSCSI component's keys of the configuration file (the other keys are other
/// components').
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct IscsiConfig {
    /// `[iscsi]`.
    #[serde(default)]
    pub iscsi: IscsiSettings,
}

fn in_range(field: &str, v: Option<u64>, lo: u64, hi: u64) -> Result<(), ConfigError> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => Err(invalid(
            format!("iscsi.{field}"),
            format!("{n} is out of range; use {lo} to {hi}"),
        )),
        _ => Ok(()),
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl IscsiSettings {
    /// Checks the values: each in its range, the per-initiator limit within the total,
    /// the first CHAP delay within the longest.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("max_sessions", self.max_sessions, 1, MAX_SESSIONS)?;
        let default_total = vsa_iscsi::ServerConfig::default().max_sessions as u64;
        let total = self.max_sessions.unwrap_or(default_total);
        let per = self.max_sessions_per_initiator;
        in_range("max_sessions_per_initiator", per, 1, total)?;
        in_range(
            "max_login_connections",
            self.max_login_connections,
            1,
            MAX_LOGINS,
        )?;
        let first = self.chap_failure_delay_ms;
        in_range("chap_failure_delay_ms", first, 0, MAX_DELAY_MS)?;
        let longest = self.chap_failure_delay_max_ms;
        in_range("chap_failure_delay_max_ms", longest, 0, MAX_DELAY_MS)?;
        in_range("nop_interval_secs", self.nop_interval_secs, 1, MAX_NOP_SECS)?;
        in_range("nop_timeout_secs", self.nop_timeout_secs, 1, MAX_NOP_SECS)?;
        let defaults = vsa_iscsi::throttle::ChapThrottleConfig::default();
        let first = first.map_or(defaults.first_delay, Duration::from_millis);
        let longest = longest.map_or(defaults.max_delay, Duration::from_millis);
        if first > longest {
            return Err(invalid(
                "iscsi.chap_failure_delay_max_ms",
                format!(
                    "{} ms is less than chap_failure_delay_ms ({} ms); the longest wait \
                     cannot be shorter than the first",
                    longest.as_millis(),
                    first.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// Sets the configured values in `config` (call after [`IscsiSettings::validate`]).
    pub fn apply(&self, config: &mut vsa_iscsi::ServerConfig) {
        if let Some(n) = self.max_sessions {
            config.max_sessions = to_usize(n);
        }
        if let Some(n) = self.max_sessions_per_initiator {
            config.max_sessions_per_initiator = to_usize(n);
        }
        if let Some(n) = self.max_login_connections {
            config.max_login_connections = to_usize(n);
        }
        if let Some(ms) = self.chap_failure_delay_ms {
            config.chap_throttle.first_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = self.chap_failure_delay_max_ms {
            config.chap_throttle.max_delay = Duration::from_millis(ms);
        }
        if let Some(s) = self.nop_interval_secs {
            config.nop_interval = Duration::from_secs(s);
        }
        if let Some(s) = self.nop_timeout_secs {
            config.nop_timeout = Duration::from_secs(s);
        }
    }

    /// The server configuration these settings make.
    pub fn server_config(&self) -> vsa_iscsi::ServerConfig {
        let mut config = vsa_iscsi::ServerConfig::default();
        self.apply(&mut config);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IscsiSettings, ConfigError> {
        let file = crate::core::ConfigFile::from_text(text);
        file.check_keys(&["iscsi", "settings", "pool"])?;
        let cfg: IscsiConfig = crate::core::ComponentConfig {
            file,
            args: clap::ArgMatches::default(),
        }
        .parse()?;
        cfg.iscsi.validate()?;
        Ok(cfg.iscsi)
    }

    fn block_after(text: &str, start: &str) -> String {
        text.lines()
            .skip_while(|l| !l.contains(start))
            .skip(1)
            .take_while(|l| !l.contains("```"))
            .map(|l| l.strip_prefix("//! ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Checks that `text` sets every key of `[iscsi]` to the server's default.
    fn assert_sets_the_defaults(text: &str) {
        let s = parse(text).unwrap();
        let every = [
            s.max_sessions,
            s.max_sessions_per_initiator,
            s.max_login_connections,
            s.chap_failure_delay_ms,
            s.chap_failure_delay_max_ms,
            s.nop_interval_secs,
            s.nop_timeout_secs,
        ];
        assert!(every.iter().all(Option::is_some), "{s:?}");
        let got = s.server_config();
        let want = vsa_iscsi::ServerConfig::default();
        assert_eq!(got.max_sessions, want.max_sessions);
        assert_eq!(
            got.max_sessions_per_initiator,
            want.max_sessions_per_initiator
        );
        assert_eq!(got.max_login_connections, want.max_login_connections);
        assert_eq!(got.chap_throttle, want.chap_throttle);
        assert_eq!(
            (got.nop_interval, got.nop_timeout),
            (want.nop_interval, want.nop_timeout)
        );
    }

    #[test]
    fn the_documented_defaults_are_the_servers() {
        assert_sets_the_defaults(&block_after(include_str!("config.rs"), "//! ```toml"));
    }

    #[test]
    fn the_readme_shows_the_defaults() {
        let readme = include_str!("../../../README.md");
        let at = readme.find("[iscsi]\n").unwrap();
        let text = &readme[at..];
        assert_sets_the_defaults(&text[..text.find("```").unwrap()]);
    }

    #[test]
    fn values_apply_and_an_empty_file_keeps_the_defaults() {
        assert_eq!(parse("").unwrap(), IscsiSettings::default());
        let s = parse("[iscsi]\nmax_sessions = 4\nmax_sessions_per_initiator = 2\nmax_login_connections = 1\nchap_failure_delay_ms = 0\nnop_interval_secs = 5\nnop_timeout_secs = 120").unwrap();
        let c = s.server_config();
        assert_eq!((c.max_sessions, c.max_sessions_per_initiator), (4, 2));
        assert_eq!(c.max_login_connections, 1);
        assert_eq!(c.chap_throttle.first_delay, Duration::ZERO);
        assert_eq!(c.nop_interval, Duration::from_secs(5));
        assert_eq!(c.nop_timeout, Duration::from_secs(120));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("max_sessions = 0", "iscsi.max_sessions"),
            ("max_sessions = 70000", "iscsi.max_sessions"),
            ("max_sessions = -1", "max_sessions"),
            ("max_sessions = \"many\"", "max_sessions"),
            (
                "max_sessions = 8\nmax_sessions_per_initiator = 9",
                "iscsi.max_sessions_per_initiator",
            ),
            ("max_login_connections = 0", "iscsi.max_login_connections"),
            (
                "chap_failure_delay_ms = 60001",
                "iscsi.chap_failure_delay_ms",
            ),
            (
                "chap_failure_delay_ms = 300\nchap_failure_delay_max_ms = 200",
                "iscsi.chap_failure_delay_max_ms",
            ),
            ("nop_interval_secs = 0", "iscsi.nop_interval_secs"),
            ("nop_timeout_secs = 3601", "iscsi.nop_timeout_secs"),
            ("max_session = 3", "max_session"),
        ];
        for (body, field) in cases {
            let e = parse(&format!("[iscsi]\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{body:?}: {e}");
        }
    }
}
