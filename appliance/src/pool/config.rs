//! The pool component's part of the configuration file: `[settings]` and the `[[pool]]`
//! declarations (created at start if missing, opened otherwise).
//!
//! ```toml
//! [settings]
//! low_space_percent = 10      # warn when less than this much of a pool is free
//! rate_limit = "200M"         # bytes per second for rebuilds and scrubs (0 = unlimited)
//! read_cache = "1G"           # RAM read cache per pool (0 = off, else at least 8M)
//! write_journal = "256M"      # write journal per pool for small writes (0 = off)
//!
//! [[pool]]
//! name = "fast"
//! raid = "10"                 # 0, 1, 5, 6 or 10
//! members = ["/dev/disk/by-id/nvme-a", "/dev/disk/by-id/nvme-b",
//!            "/dev/disk/by-id/nvme-c", "/dev/disk/by-id/nvme-d"]
//! spares = ["/dev/disk/by-id/nvme-e"]
//! raid_chunk = "64K"          # stripe unit
//! chunk_size = "1M"           # thin-provisioning allocation chunk
//! create_size = "8G"          # create missing member files as sparse files of this size
//! # log = "/dev/disk/by-id/nvme-slog"  # write journal log device, at creation
//! ```

use crate::core::config::{invalid, ConfigError};
use crate::core::size::Size;
use serde::Deserialize;
use std::path::PathBuf;
use vsa_pool::raid::RaidLevel;
use vsa_pool::PoolSpec;

/// Appliance-wide settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A pool counts as low on space below this percentage free (default 10).
    pub low_space_percent: Option<u64>,
    /// Rebuild and scrub rate limit in bytes per second (default 0: unlimited).
    pub rate_limit: Option<Size>,
    /// Bytes of RAM each pool may use to cache what its volumes read and write (default
    /// 1 GiB, allocated only as it fills; 0 turns the cache off; at least 8 MiB otherwise).
    pub read_cache: Option<Size>,
    /// Bytes of write journal each pool keeps for small writes (default 256 MiB;
    /// as much RAM holds the journaled blocks until they are home; 0 turns it off).
    pub write_journal: Option<Size>,
}

/// A pool declared in the configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// The pool's name.
    pub name: String,
    /// RAID level: 0, 1, 5, 6 or 10.
    pub raid: String,
    /// Member devices or files, in order.
    pub members: Vec<PathBuf>,
    /// Hot spares.
    #[serde(default)]
    pub spares: Vec<PathBuf>,
    /// RAID chunk (stripe unit).
    pub raid_chunk: Option<Size>,
    /// Volume allocation chunk.
    pub chunk_size: Option<Size>,
    /// Create missing member files as sparse files of this size.
    pub create_size: Option<Size>,
    /// A log device for the pool's write journal, at creation (later:
    /// `vsa pool log add|remove`).
    pub log: Option<PathBuf>,
}

/// The pool component's keys of the configuration file (the other keys are other
/// components').
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PoolsConfig {
    /// Settings.
    #[serde(default)]
    pub settings: Settings,
    /// Declared pools: created at start if missing, opened otherwise.
    #[serde(default, rename = "pool")]
    pub pools: Vec<PoolConfig>,
}

impl PoolsConfig {
    /// Checks values the types cannot: names, levels, member counts, chunk sizes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(p) = self.settings.low_space_percent {
            if p > 100 {
                return Err(invalid(
                    "settings.low_space_percent",
                    format!("{p} is not a percentage; use 0 to 100"),
                ));
            }
        }
        if let Some(Size(n)) = self.settings.read_cache {
            let min = vsa_pool::MIN_READ_CACHE_BYTES;
            if n != 0 && n < min {
                return Err(invalid(
                    "settings.read_cache",
                    format!(
                        "{n} bytes is below the smallest read cache, {} MiB; use 0 to turn \
                         the cache off or at least \"{}M\"",
                        min >> 20,
                        min >> 20
                    ),
                ));
            }
        }
        for (i, p) in self.pools.iter().enumerate() {
            let f = |name: &str| format!("pool[{i}].{name}");
            vsa_pool::volume::check_name(&p.name).map_err(|e| invalid(f("name"), e.to_string()))?;
            if self.pools[..i].iter().any(|q| q.name == p.name) {
                return Err(invalid(
                    f("name"),
                    format!(
                        "pool '{}' is declared twice; pool names must be unique",
                        p.name
                    ),
                ));
            }
            let level: RaidLevel =
                p.raid
                    .parse()
                    .map_err(|e: vsa_pool::raid::ParseRaidLevelError| {
                        invalid(f("raid"), e.to_string())
                    })?;
            if p.members.len() < level.min_members() {
                return Err(invalid(
                    f("members"),
                    format!(
                        "{} needs at least {} members but {} are listed",
                        level.name(),
                        level.min_members(),
                        p.members.len()
                    ),
                ));
            }
            if level == RaidLevel::Raid10 && p.members.len() % 2 != 0 {
                return Err(invalid(
                    f("members"),
                    "RAID 10 needs an even number of members",
                ));
            }
            if let Some(Size(c)) = p.raid_chunk {
                if !c.is_power_of_two() || !(4096..=16 << 20).contains(&c) {
                    return Err(invalid(
                        f("raid_chunk"),
                        format!("{c} bytes is not a power of two from 4K to 16M; e.g. \"64K\""),
                    ));
                }
            }
            if let Some(Size(c)) = p.chunk_size {
                if !c.is_power_of_two() || c < 4096 {
                    return Err(invalid(
                        f("chunk_size"),
                        format!("{c} bytes is not a power of two of at least 4K; e.g. \"1M\""),
                    ));
                }
            }
            if let Some(Size(c)) = p.create_size {
                if c < 4 << 20 {
                    return Err(invalid(
                        f("create_size"),
                        format!("{c} bytes is too small for a member; use at least \"4M\""),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl PoolConfig {
    /// The pool spec this declaration describes (call after [`PoolsConfig::validate`]).
    pub fn spec(&self) -> Result<PoolSpec, ConfigError> {
        let level: RaidLevel =
            self.raid
                .parse()
                .map_err(|e: vsa_pool::raid::ParseRaidLevelError| {
                    invalid(format!("pool {}.raid", self.name), e.to_string())
                })?;
        let mut spec = PoolSpec::new(&self.name, level, self.members.clone());
        spec.spares = self.spares.clone();
        if let Some(Size(c)) = self.raid_chunk {
            spec.raid_chunk = u32::try_from(c).unwrap_or(u32::MAX);
        }
        if let Some(Size(c)) = self.chunk_size {
            spec.chunk_size = c;
        }
        spec.create_size = self.create_size.map(|s| s.0);
        spec.log = self.log.clone();
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PoolsConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vsa.toml");
        std::fs::write(&p, text).unwrap();
        let file = crate::core::ConfigFile::load(&p)?;
        file.check_keys(&["settings", "pool"])?;
        let cfg: PoolsConfig = crate::core::ComponentConfig {
            file,
            args: clap::ArgMatches::default(),
        }
        .parse()?;
        cfg.validate()?;
        Ok(cfg)
    }

    #[test]
    fn reads_the_documented_example() {
        let doc = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.strip_prefix("//! ").unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = parse(&doc).unwrap();
        assert_eq!(cfg.settings.rate_limit, Some(Size(200 << 20)));
        assert_eq!(cfg.settings.read_cache, Some(Size(1 << 30)));
        let spec = cfg.pools[0].spec().unwrap();
        assert_eq!(spec.level, RaidLevel::Raid10);
        assert_eq!(spec.members.len(), 4);
        assert_eq!(spec.spares.len(), 1);
        assert_eq!(spec.raid_chunk, 64 << 10);
        assert_eq!(spec.create_size, Some(8 << 30));
    }

    #[test]
    fn reads_the_readme_example() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let text = &readme[start..];
        let cfg = parse(&text[..text.find("```").unwrap()]).unwrap();
        assert_eq!(cfg.pools.len(), 2);
        assert_eq!(cfg.pools[1].spec().unwrap().create_size, Some(100 << 30));
    }

    #[test]
    fn empty_file_is_fine() {
        assert_eq!(parse("").unwrap(), PoolsConfig::default());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[[pool]]\nname = \"p\"\nraid = \"7\"\nmembers = [\"a\",\"b\",\"c\"]", "pool[0].raid"),
            ("[[pool]]\nname = \"p\"\nraid = \"5\"\nmembers = [\"a\",\"b\"]", "pool[0].members"),
            ("[[pool]]\nname = \"bad name\"\nraid = \"1\"\nmembers = [\"a\",\"b\"]", "pool[0].name"),
            (
                "[[pool]]\nname = \"p\"\nraid = \"1\"\nmembers = [\"a\",\"b\"]\nraid_chunk = \"3K\"",
                "pool[0].raid_chunk",
            ),
            ("[settings]\nlow_space_percent = 300", "settings.low_space_percent"),
            ("[settings]\nrate_limit = \"fast\"", "rate_limit"),
            ("[settings]\nread_cache = \"1M\"", "settings.read_cache"),
            ("[settings]\ncolour = 1", "colour"),
            ("[[pool]]\nname = \"p\"\nmembers = [\"a\",\"b\"]", "raid"),
        ];
        for (text, field) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(field), "{text:?}: {e}");
        }
    }
}
