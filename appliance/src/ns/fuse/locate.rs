//! Where a path of the mount is: the namespace's own directory, or the same place in the
//! best reachable target of its link (a local directory, or an SMB share through the
//! mount's client), tried in referral order.

use super::fs::{Local, NsFs, Result};
use super::view::{self, Candidate, Place};
use fuser::Errno;
use std::path::Path;

impl NsFs {
    /// Where `path` is: the best reachable target's copy of it (its link directory
    /// exists), or EIO when no target of the link can be reached from here.
    pub(super) fn local(&self, path: &str) -> Result<Local> {
        let place = self
            .reader
            .with(&self.name, |ns, sites| view::place(ns, sites, path))
            .ok_or(Errno::EIO)?
            .ok_or(Errno::ENOENT)?;
        let Place::Inside { link, candidates } = place else {
            return Ok(Local::Synthetic);
        };
        let depth = link.split('/').count();
        let below = path.split('/').count() - depth;
        for c in candidates {
            match c {
                Candidate::Local(c) => {
                    // Something there: the target's directory is (one lstat, not two).
                    if below > 0 {
                        if let Ok(m) = std::fs::symlink_metadata(&c) {
                            return Ok(Local::Target {
                                root: false,
                                path: c,
                                meta: Some(Box::new(m)),
                            });
                        }
                    }
                    let mut root: &Path = &c;
                    for _ in 0..below {
                        root = root.parent().unwrap_or(root);
                    }
                    if root.is_dir() {
                        return Ok(Local::Target {
                            root: below == 0,
                            path: c,
                            meta: None,
                        });
                    }
                }
                Candidate::Smb {
                    server,
                    share,
                    dir,
                    rest,
                } => {
                    // The link's directory on the share (a server that does not answer
                    // or lost it: the next target).
                    // Looked at again once its answer is a second old, however busy.
                    let key = (server, share, dir);
                    let there = if self.roots.fresh(&key) && !self.smb.is_down(&key.0, &key.1) {
                        true
                    } else {
                        let answered = self
                            .smb
                            .stat(&key.0, &key.1, &key.2)
                            .is_ok_and(|i| i.is_directory);
                        if answered {
                            self.roots.answered(key.clone());
                        } else {
                            self.roots.failed(&key);
                        }
                        answered
                    };
                    let (server, share, dir) = key;
                    if there {
                        let root = rest.is_empty();
                        let mut path = dir;
                        path.extend(rest);
                        return Ok(Local::Smb {
                            server,
                            share,
                            path,
                            root,
                        });
                    }
                }
            }
        }
        // Each call would say it again: at debug level (the health probes report it).
        tracing::debug!(
            namespace = self.name,
            link,
            "no target of the link is reachable here"
        );
        Err(Errno::EIO)
    }
}
