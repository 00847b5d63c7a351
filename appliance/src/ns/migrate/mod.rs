//! Transparent migration (`vsa ns migrate NS PATH --to TARGET`), as StorageX does it: a
//! link's data is copied from its current target to a new one while clients keep using
//! the old; what changed meanwhile is copied again, pass after pass, until a pass finds
//! nothing to do (at most [`MAX_PASSES`]); then the referral switches in one stored change
//! (the new target takes the old one's priority and site, the old one drops to
//! `global-low`, a fallback); one more pass catches what clients wrote to the old target
//! just before. The old target stays until `vsa ns migration confirm` removes it;
//! `vsa ns migration cancel` puts it back first.
//!
//! What is copied: regular files and directories (anything else, such as a symbolic link,
//! is passed over and listed). A file is copied again when its size or modification time
//! differs from what the last pass saw of it, so a file written during its own copy is
//! copied again; a file or directory the source lost since a pass is removed from the
//! destination if a pass put it there. A migration that stopped with the daemon is run
//! again by the same command: files whose copy is as large and not older than the
//! source's are not copied again.

pub mod cli;
pub mod side;

use crate::ns::fuse::smb::SmbClients;
use crate::ns::types::MigrationView;
use parking_lot::Mutex;
use side::{Entry, Side};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The most copy passes before the switch (the first copy, then re-syncs).
pub const MAX_PASSES: u32 = 5;

/// What a pass saw of an entry: a directory, or a file's size and modification time.
type Seen = (bool, u64, Option<SystemTime>);

fn seen(e: &Entry) -> Seen {
    if e.dir {
        (true, 0, None)
    } else {
        (false, e.size, e.mtime)
    }
}

/// A running migration: its ends, the client for SMB ends, its view, the cancel flag.
pub struct Job {
    pub from: Side,
    pub to: Side,
    pub smb: SmbClients,
    pub view: Arc<Mutex<MigrationView>>,
    pub cancel: Arc<AtomicBool>,
    /// Bytes moved over all passes, and since when (for the rate).
    moved: u64,
    started: Instant,
    /// What each pass copied or created, by path.
    manifest: HashMap<Vec<String>, Seen>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// A migration stopped by `vsa ns migration cancel`.
pub const CANCELLED: &str = "cancelled";

impl Job {
    pub fn new(
        from: Side,
        to: Side,
        smb: SmbClients,
        view: Arc<Mutex<MigrationView>>,
        cancel: Arc<AtomicBool>,
    ) -> Job {
        Job {
            from,
            to,
            smb,
            view,
            cancel,
            moved: 0,
            started: Instant::now(),
            manifest: HashMap::new(),
        }
    }

    /// Copies, re-syncs, calls `switch`, catches up. `Err(CANCELLED)` when cancelled
    /// before the switch.
    pub fn run(&mut self, switch: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        self.to
            .mkdir(&[], &self.smb)
            .map_err(|e| format!("cannot make the destination directory: {e}"))?;
        let mut pass = 1;
        loop {
            let changed = self.pass(pass, if pass == 1 { "copying" } else { "syncing" })?;
            if (pass > 1 && changed == 0) || pass == MAX_PASSES {
                break;
            }
            pass += 1;
        }
        self.check_cancel()?;
        switch()?;
        self.view.lock().report.push(format!(
            "switched the referral after {pass} pass{}",
            if pass == 1 { "" } else { "es" }
        ));
        self.pass(pass + 1, "catching-up")?;
        self.view.lock().state = "switched".into();
        Ok(())
    }

    /// One pass: what differs from the last pass (or, on the first, from the
    /// destination) is copied, what the source lost is removed. How many changes it made.
    fn pass(&mut self, pass: u32, state: &str) -> Result<usize, String> {
        {
            let mut v = self.view.lock();
            v.state = state.into();
            v.pass = pass;
            v.current = "(listing the source)".into();
        }
        let (entries, skipped) = self
            .from
            .walk(&self.smb)
            .map_err(|e| format!("cannot list the source: {e}"))?;
        let there = if pass == 1 {
            Some(self.destination()?)
        } else {
            None
        };
        let (todo, same): (Vec<&Entry>, Vec<&Entry>) = entries
            .iter()
            .partition(|e| self.differs(e, there.as_ref()));
        // What the destination holds already counts as put there by this migration.
        for e in same {
            self.manifest.insert(e.rel.clone(), seen(e));
        }
        let live: HashSet<&Vec<String>> = entries.iter().map(|e| &e.rel).collect();
        let mut gone: Vec<Vec<String>> = self
            .manifest
            .keys()
            .filter(|k| !live.contains(k))
            .cloned()
            .collect();
        // Deepest first, so a directory is empty when its turn comes.
        gone.sort_by(|a, b| b.len().cmp(&a.len()).then(b.cmp(a)));
        {
            let mut v = self.view.lock();
            v.files_total = todo.iter().filter(|e| !e.dir).count() as u64;
            v.bytes_total = todo.iter().map(|e| e.size).sum();
            v.files_done = 0;
            v.bytes_done = 0;
            v.skipped = skipped;
        }
        for e in &todo {
            self.check_cancel()?;
            self.view.lock().current = e.rel.join("/");
            if e.dir {
                self.to.mkdir(&e.rel, &self.smb)?;
            } else {
                self.copy(e)?;
            }
            self.manifest.insert(e.rel.clone(), seen(e));
        }
        for rel in &gone {
            self.check_cancel()?;
            let dir = self.manifest.get(rel).is_some_and(|s| s.0);
            let e = Entry {
                rel: rel.clone(),
                dir,
                size: 0,
                mtime: None,
            };
            match self.to.remove(&e, &self.smb) {
                Ok(()) => {}
                Err(_) if self.to.stat(rel, &self.smb)?.is_none() => {}
                Err(err) => return Err(format!("cannot remove from the destination: {err}")),
            }
            self.manifest.remove(rel);
        }
        let changed = todo.len() + gone.len();
        let mut v = self.view.lock();
        v.current.clear();
        let line = format!(
            "pass {pass} ({state}): {} files ({} bytes) copied, {} directories made, {} removed",
            v.files_done,
            v.bytes_done,
            todo.iter().filter(|e| e.dir).count(),
            gone.len()
        );
        v.report.push(line);
        Ok(changed)
    }

    /// The destination as it is (empty if it is new), for the first pass.
    fn destination(&self) -> Result<HashMap<Vec<String>, Entry>, String> {
        let (entries, _) = self
            .to
            .walk(&self.smb)
            .map_err(|e| format!("cannot list the destination: {e}"))?;
        Ok(entries.into_iter().map(|e| (e.rel.clone(), e)).collect())
    }

    /// Whether `e` must be copied (or made): the last pass saw it otherwise (or not at
    /// all); or, on the first, the destination lacks it or holds an older or
    /// different-sized copy.
    fn differs(&self, e: &Entry, there: Option<&HashMap<Vec<String>, Entry>>) -> bool {
        let Some(there) = there else {
            return self.manifest.get(&e.rel) != Some(&seen(e));
        };
        match there.get(&e.rel) {
            None => true,
            Some(d) if e.dir => !d.dir,
            Some(d) => d.dir || d.size != e.size || e.mtime > d.mtime,
        }
    }

    fn copy(&mut self, e: &Entry) -> Result<(), String> {
        let (view, cancel) = (self.view.clone(), self.cancel.clone());
        let started = self.started;
        let mut moved = self.moved;
        let r = self.from.copy(&self.to, e, &self.smb, &mut |n| {
            if cancel.load(Ordering::Relaxed) {
                return Err(CANCELLED.into());
            }
            moved += n;
            let mut v = view.lock();
            v.bytes_done += n;
            let secs = started.elapsed().as_secs_f64().max(0.001);
            v.rate_bytes_per_sec = (moved as f64 / secs) as u64;
            let left = v.bytes_total.saturating_sub(v.bytes_done);
            v.eta_secs = left.checked_div(v.rate_bytes_per_sec.max(1));
            Ok(())
        });
        self.moved = moved;
        match r {
            Err(err) if err.ends_with(CANCELLED) => Err(CANCELLED.into()),
            Err(err) => Err(format!("cannot copy {err}")),
            Ok(()) => {
                self.view.lock().files_done += 1;
                Ok(())
            }
        }
    }

    fn check_cancel(&self) -> Result<(), String> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(CANCELLED.into())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
