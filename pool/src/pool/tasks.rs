//! A pool's background work: rebuilds, scrubs and checksum builds, each on a thread of its
//! own with progress callers can read.

use super::{Checked, Pool, PoolError};
use crate::raid::ScrubReport;
use crate::Progress;
use std::sync::Arc;
use vsa_blockdev::BlockDevice;

#[derive(Debug, Default)]
pub(super) struct Tasks {
    pub(super) rebuild: Option<Arc<Progress>>,
    pub(super) scrub: Option<Arc<Progress>>,
    pub(super) checksum_build: Option<Arc<Progress>>,
    pub(super) last_scrub: Option<ScrubReport>,
    pub(super) scrub_failure: Option<String>,
    pub(super) threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    /// Starts building, in the background, the checksums of members that have none yet
    /// (members of pools made before checksums); reads of what is not built yet are not
    /// verified. Resumes where it stopped after a restart.
    pub fn start_checksum_build(&self) -> Option<Arc<Progress>> {
        let todo: Vec<Arc<Checked>> = self
            .checked
            .lock()
            .iter()
            .map(|(_, d)| d.clone())
            .filter(|d| d.built() < d.size())
            .collect();
        if todo.is_empty() {
            return None;
        }
        let mut t = self.tasks.lock();
        if let Some(p) = &t.checksum_build {
            if !p.snapshot().finished {
                return Some(p.clone());
            }
        }
        let progress = Arc::new(Progress::default());
        t.checksum_build = Some(progress.clone());
        let (p, rate, name) = (progress.clone(), self.rate_limit, self.name().to_owned());
        tracing::warn!(
            pool = name.as_str(),
            members = todo.len(),
            "this pool's members have no checksums yet (made before checksums existed); building them in the background"
        );
        t.threads.push(std::thread::spawn(move || {
            let total = todo.iter().map(|d| d.size()).sum();
            let done = todo.iter().map(|d| d.built()).sum();
            p.start(total, done);
            let mut throttle = crate::progress::Throttle::new(rate);
            for dev in &todo {
                while dev.built() < dev.size() && !p.is_cancelled() {
                    let before = dev.built();
                    match dev.build_step(64 << 20) {
                        Ok(after) => {
                            p.advance(after - before);
                            throttle.pace(after - before);
                        }
                        Err(e) => {
                            tracing::error!(pool = name.as_str(), "checksum build stopped: {e}");
                            p.finish();
                            return;
                        }
                    }
                }
            }
            if !p.is_cancelled() {
                tracing::info!(pool = name.as_str(), "checksums of every member are built");
            }
            p.finish();
        }));
        Some(progress)
    }

    /// Starts a background rebuild if a member needs one and none runs.
    pub fn start_rebuild(&self) -> Option<Arc<Progress>> {
        if !self.raid.needs_rebuild() {
            return None;
        }
        let mut t = self.tasks.lock();
        if let Some(p) = &t.rebuild {
            if !p.snapshot().finished {
                return Some(p.clone());
            }
        }
        let progress = Arc::new(Progress::default());
        t.rebuild = Some(progress.clone());
        let (raid, cache, p, rate, name) = (
            self.raid.clone(),
            self.cache.clone(),
            progress.clone(),
            self.rate_limit,
            self.name().to_owned(),
        );
        t.threads.push(std::thread::spawn(move || {
            if let Err(e) = raid.rebuild(&p, rate) {
                tracing::error!(pool = name, "rebuild stopped: {e}");
            }
            // A mirror copy that silently differed may now be the one reads use.
            cache.invalidate_all();
            p.finish();
        }));
        Some(progress)
    }

    /// Starts a background scrub (`repair` fixes what it finds).
    pub fn start_scrub(&self, repair: bool) -> Result<Arc<Progress>, PoolError> {
        let mut t = self.tasks.lock();
        if t.scrub.as_ref().is_some_and(|p| !p.snapshot().finished) {
            return Err(PoolError::Busy {
                pool: self.name().to_owned(),
                task: "scrub",
            });
        }
        let progress = Arc::new(Progress::default());
        t.scrub = Some(progress.clone());
        let (raid, cache, p, rate, tasks) = (
            self.raid.clone(),
            self.cache.clone(),
            progress.clone(),
            self.rate_limit,
            self.tasks.clone(),
        );
        let name = self.name().to_owned();
        t.threads.push(std::thread::spawn(move || {
            match raid.scrub(repair, &p, rate) {
                Ok(report) => {
                    let mut t = tasks.lock();
                    t.last_scrub = Some(report);
                    t.scrub_failure = None;
                }
                Err(e) => {
                    tracing::error!(pool = name, "scrub stopped: {e}");
                    tasks.lock().scrub_failure = Some(e.to_string());
                }
            }
            if repair {
                // Repair may have kept another mirror copy than the one cached.
                cache.invalidate_all();
            }
            p.finish();
        }));
        Ok(progress)
    }

    /// Waits for background tasks to end (cancelling them first if `cancel`).
    pub fn join_tasks(&self, cancel: bool) {
        let threads = {
            let mut t = self.tasks.lock();
            if cancel {
                for p in t
                    .rebuild
                    .iter()
                    .chain(t.scrub.iter())
                    .chain(t.checksum_build.iter())
                {
                    p.cancel();
                }
            }
            std::mem::take(&mut t.threads)
        };
        for th in threads {
            let _ = th.join();
        }
    }

    /// The last scrub's report.
    pub fn last_scrub(&self) -> Option<ScrubReport> {
        self.tasks.lock().last_scrub.clone()
    }
}
