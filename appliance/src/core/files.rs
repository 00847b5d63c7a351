//! Files of the data directory the daemon writes for the CLI and other programs.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The file the daemon writes its API address to, for the CLI.
pub fn addr_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api.addr")
}

/// Writes `text` to `path` through a temporary file, so readers never see half of it.
pub fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}
