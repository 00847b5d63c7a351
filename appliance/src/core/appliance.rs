//! [`Appliance`]: the core and its open components. Opening checks every component's
//! configuration, opens the data directory's metadata store with every component's column
//! families, then opens the components in the list's order; shutting down stops them in
//! the reverse order.

use super::claims::Claims;
use super::component::{Component, ComponentError, Running, Started};
use super::config::{ComponentConfig, ConfigError, ConfigFile};
use super::metrics::Metrics;
use super::private::{self, PrivateError};
use super::services::Core;
use super::unclean;
use super::volumes::Volumes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vsa_pool::{MetaError, MetaStore};

/// Why the appliance cannot open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file or directory in the data directory.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// The metadata store (e.g. locked by another daemon).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory cannot be made private.
    #[error(transparent)]
    Private(#[from] PrivateError),
    /// The metrics registry.
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A component.
    #[error("{0}")]
    Component(ComponentError),
}

/// How to open the appliance.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The configuration file.
    pub config: ConfigFile,
    /// `vsa serve`'s flags (parsed by [`super::serve::command`], defaults included).
    pub args: clap::ArgMatches,
}

/// The running appliance.
#[derive(Debug)]
pub struct Appliance {
    core: Arc<Core>,
    components: Vec<Box<dyn Component>>,
    running: Vec<Arc<dyn Running>>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |error| OpenError::Io {
        path: path.to_owned(),
        error,
    }
}

impl Appliance {
    /// Opens the data directory and every component; returns the lines the components
    /// reported (what they created).
    pub fn open(
        components: Vec<Box<dyn Component>>,
        opts: OpenOptions,
    ) -> Result<(Appliance, Vec<String>), OpenError> {
        let known: Vec<&str> = components
            .iter()
            .flat_map(|c| c.config_keys().iter().copied())
            .collect();
        opts.config.check_keys(&known)?;
        let config = ComponentConfig {
            file: opts.config,
            args: opts.args,
        };
        for c in &components {
            c.check(&config)?;
        }
        // Private before anything is opened in it (see `private`).
        let loose_dir = private::private_dir(&opts.data_dir)?;
        // Absolute, so that paths recorded under it do not depend on the working directory.
        let dir = std::fs::canonicalize(&opts.data_dir).map_err(io_err(&opts.data_dir))?;
        let cfs: Vec<&str> = components
            .iter()
            .flat_map(|c| c.column_families().iter().copied())
            .collect();
        let store = Arc::new(MetaStore::open(&dir.join("meta"), &cfs)?);
        // Locked by the store from here: the marker is this daemon's.
        let unclean_stop = unclean::begin(&dir).map_err(io_err(&unclean::path(&dir)))?;
        if unclean_stop {
            tracing::warn!(
                marker = %unclean::path(&dir).display(),
                "the previous run did not stop cleanly (killed, crashed or lost power); checking the components' state"
            );
        }
        let metrics = Metrics::new()?;
        let core = Arc::new(Core {
            data_dir: dir,
            store,
            volumes: Volumes::new(Some(metrics.io.clone())),
            claims: Claims::default(),
            targets: Default::default(),
            metrics,
            started: Instant::now(),
            unclean_stop,
        });
        let mut report = Vec::new();
        let mut running = Vec::new();
        for c in &components {
            match c.open(&core, &config, &mut report) {
                Ok(r) => running.push(r),
                Err(e) => {
                    let app = Appliance {
                        core,
                        components,
                        running,
                    };
                    app.abandon();
                    return Err(OpenError::Component(e));
                }
            }
        }
        let app = Appliance {
            core,
            components,
            running,
        };
        if let Err(e) = app.make_private(loose_dir) {
            app.abandon();
            return Err(e);
        }
        Ok((app, report))
    }

    /// Takes group and other permissions off everything in the data directory (what an
    /// earlier version or a copy left open, and what RocksDB created under a loose umask),
    /// saying what it changed.
    fn make_private(&self, loose_dir: Option<private::Tightened>) -> Result<(), OpenError> {
        let dir = self.core.data_dir();
        let mut fixed = private::tighten_tree(dir)?;
        if let Some(mut d) = loose_dir {
            // Tightened before the walk saw it: report it under its canonical name.
            d.path = dir.to_owned();
            fixed.insert(0, d);
        }
        if !fixed.is_empty() {
            tracing::warn!(
                data_dir = %dir.display(),
                "the data directory was readable by other users; made {} path(s) private to the daemon's user (group and other permissions removed): {}",
                fixed.len(),
                private::describe(dir, &fixed, 20)
            );
        }
        Ok(())
    }

    /// The core services.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The components of this build.
    pub fn components(&self) -> &[Box<dyn Component>] {
        &self.components
    }

    /// The open components, in the list's order.
    pub fn running(&self) -> &[Arc<dyn Running>] {
        &self.running
    }

    /// Starts every component's listeners and background work, in order.
    pub async fn start(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Started, ComponentError> {
        let mut all = Started::default();
        for r in &self.running {
            let s = r.start(stop.clone()).await?;
            all.lines.extend(s.lines);
            all.tasks.extend(s.tasks);
        }
        Ok(all)
    }

    /// Stops the components in the reverse order (each makes its state durable), then
    /// notes the clean shutdown in the data directory.
    pub fn shutdown(&self) {
        self.stop_components();
        let dir = self.core.data_dir();
        if let Err(e) = unclean::end(dir) {
            tracing::error!(
                "cannot remove {}: {e}; the next start will check the pools as after a crash",
                unclean::path(dir).display()
            );
        }
    }

    fn stop_components(&self) {
        for r in self.running.iter().rev() {
            r.stop();
        }
    }

    /// Stops what opened when opening failed. The marker of an unclean stop stays until
    /// a start gets as far as checking the state.
    fn abandon(&self) {
        if self.core.unclean_stop {
            self.stop_components();
        } else {
            self.shutdown();
        }
    }
}
