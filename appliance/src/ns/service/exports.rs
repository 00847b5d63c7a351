//! Samba exports of namespaces: the msdfs tree written on request
//! (`vsa ns export-samba`), for every namespace when the daemon runs smbd, and again
//! after every change.

use super::*;

impl Namespaces {
    /// Writes namespace `name`'s msdfs tree into `b.dir` for Samba, and keeps it current
    /// after every later change (health included).
    pub fn export_samba(&self, name: &str, b: ExportSambaBody) -> Result<ExportView> {
        let key = ns_key_of(name)?;
        if !std::path::Path::new(&b.dir).is_absolute() {
            return Err(NsError::Export(format!(
                "export directory '{}' is not an absolute path; give one on the appliance, \
                 e.g. /srv/dfs/{key}",
                b.dir
            )));
        }
        let mut state = self.state.write();
        let ns = state
            .namespaces
            .get(&key)
            .ok_or_else(|| NsError::NoSuchNamespace(name.to_owned()))?;
        let share = b.share.unwrap_or_else(|| ns.root().to_owned());
        let share_ok = !share.is_empty()
            && share.len() <= 80
            && share
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.$".contains(&c));
        if !share_ok {
            return Err(NsError::Export(format!(
                "share name '{share}' must be 1 to 80 letters, digits, '-', '_', '.' or '$'"
            )));
        }
        let tree = msdfs::tree(ns, &state.sites);
        let w = samba::write_tree(std::path::Path::new(&b.dir), &tree)?;
        let rec = SambaExport {
            dir: b.dir.clone(),
            share: share.clone(),
        };
        self.persist(&[(samba_key(&key), MetaStore::encode(&rec))], &[])?;
        let view = ExportView {
            namespace: ns.root().to_owned(),
            dir: b.dir,
            smb_conf: msdfs::share_section(&share, &rec.dir),
            share,
            folders: w.folders,
            links: w.links,
            changed: w.changed,
            removed: w.removed,
            left_out: tree.left_out,
            skipped: tree.skipped,
        };
        if state.exports.insert(key, rec.clone()) != Some(rec) {
            self.samba_changed.notify_one();
        }
        Ok(view)
    }

    /// The daemon runs smbd: every namespace without a Samba export gets one under
    /// `root` (`root/<name>`), now and when created.
    pub fn serve_samba(&self, root: std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        // Samba's guests list the trees: the directory is open to reading whatever the
        // daemon's umask.
        let open = std::fs::create_dir_all(&root)
            .and_then(|()| std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)));
        if let Err(e) = open {
            tracing::error!(dir = %root.display(), "cannot make the msdfs trees' directory: {e}");
        }
        *self.samba_root.lock() = Some(root.clone());
        let missing: Vec<String> = {
            let state = self.state.read();
            state
                .namespaces
                .keys()
                .filter(|k| !state.exports.contains_key(*k))
                .cloned()
                .collect()
        };
        for key in missing {
            self.export_to(&key, &root);
        }
    }

    /// Each Samba export: (share, directory).
    pub fn samba_shares(&self) -> Vec<(String, String)> {
        let state = self.state.read();
        state
            .exports
            .values()
            .map(|e| (e.share.clone(), e.dir.clone()))
            .collect()
    }

    /// Notified when the Samba exports change.
    pub fn samba_changed(&self) -> &tokio::sync::Notify {
        &self.samba_changed
    }
}
