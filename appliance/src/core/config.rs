//! The daemon's configuration: a TOML file (`vsa serve --config FILE`) whose top-level
//! keys belong to components (each declares its keys, e.g. the pool component owns
//! `settings` and `pool`), and the flags of `vsa serve`. A component reads its part with
//! [`ComponentConfig::parse`] into its own types; an unknown top-level key is refused
//! here, naming the known ones.

use std::path::{Path, PathBuf};

/// A configuration problem; the message names the file and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// The file is not valid TOML, or a field has the wrong type or is unknown.
    #[error("the configuration file {} is invalid: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and the field.
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("the configuration is invalid: field `{field}`: {why}")]
    Invalid {
        /// The field, e.g. `pool[1].raid`.
        field: String,
        /// What is wrong, and what would be right.
        why: String,
    },
}

/// A field that cannot work.
pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        why: why.into(),
    }
}

/// The configuration file's text (empty without `--config`).
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    path: Option<PathBuf>,
    text: String,
}

impl ConfigFile {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        Ok(ConfigFile {
            path: Some(path.to_owned()),
            text,
        })
    }

    /// A configuration given as text (tests, and no file at all).
    pub fn from_text(text: &str) -> ConfigFile {
        ConfigFile {
            path: None,
            text: text.to_owned(),
        }
    }

    fn path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| "<none>".into())
    }

    /// Fails unless every top-level key is one of `known`.
    pub fn check_keys(&self, known: &[&str]) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(&self.text).map_err(|e| self.parse_error(&e))?;
        match table.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(invalid(
                k.clone(),
                format!("unknown section; this build knows {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn parse_error(&self, e: &toml::de::Error) -> ConfigError {
        ConfigError::Parse {
            path: self.path(),
            message: e.to_string().trim_end().to_owned(),
        }
    }
}

/// What a component sees of the configuration: the file and `vsa serve`'s flags.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// The file.
    pub file: ConfigFile,
    /// `vsa serve`'s flags (with their defaults).
    pub args: clap::ArgMatches,
}

impl ComponentConfig {
    /// Reads the component's keys of the file into `T`, a struct of those keys (without
    /// `deny_unknown_fields` at its top level: the other keys are other components'; its
    /// nested tables should deny unknown fields).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.file.text).map_err(|e| self.file.parse_error(&e))
    }

    /// The value of flag `id` of `vsa serve`, if it has one of type `T`.
    pub fn arg<T: Clone + Send + Sync + 'static>(&self, id: &str) -> Option<T> {
        self.args.try_get_one::<T>(id).ok().flatten().cloned()
    }

    /// Every value of flag `id` (one that may be given more than once), in order.
    pub fn args<T: Clone + Send + Sync + 'static>(&self, id: &str) -> Vec<T> {
        self.args
            .try_get_many::<T>(id)
            .ok()
            .flatten()
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sections_are_named() {
        let f = ConfigFile::from_text("[settings]\n[colours]\n");
        let e = f.check_keys(&["settings", "pool"]).unwrap_err().to_string();
        assert!(e.contains("colours") && e.contains("settings, pool"), "{e}");
        assert!(ConfigFile::from_text("").check_keys(&[]).is_ok());
        let e = ConfigFile::from_text("[x").check_keys(&[]).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
    }
}
