//! Progress of long operations (rebuild, scrub, resync) that other threads read while the
//! work goes on: bytes done out of a total, the rate, the time left, and a cancel flag.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A shared progress counter. The worker calls [`Progress::advance`]; anyone may call
/// [`Progress::snapshot`] or [`Progress::cancel`].
#[derive(Debug)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    cancelled: AtomicBool,
    finished: AtomicBool,
    started: Mutex<Option<Instant>>,
}

/// A reading of a [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProgressReport {
    /// Bytes processed so far.
    pub done: u64,
    /// Bytes to process in all.
    pub total: u64,
    /// Bytes per second since the start.
    pub rate: f64,
    /// Seconds left at the current rate, if known.
    pub eta_secs: Option<f64>,
    /// Whether the work has ended (completed or cancelled).
    pub finished: bool,
}

impl ProgressReport {
    /// Fraction done, from 0 to 1.
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Progress {
    /// Progress of a job of `total` bytes, not yet started.
    pub fn new(total: u64) -> Self {
        Progress {
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            started: Mutex::new(None),
        }
    }

    /// Sets the total and the amount already done (a resumed job), and starts the clock.
    pub fn start(&self, total: u64, done: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
        self.finished.store(false, Ordering::Relaxed);
        if let Ok(mut s) = self.started.lock() {
            *s = Some(Instant::now());
        }
    }

    /// Records `n` more bytes done.
    pub fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks the job as ended.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
    }

    /// Asks the worker to stop at its next step.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The time since [`Progress::start`].
    pub fn elapsed(&self) -> Duration {
        self.started
            .lock()
            .ok()
            .and_then(|s| s.map(|t| t.elapsed()))
            .unwrap_or_default()
    }

    /// Reads the current state.
    pub fn snapshot(&self) -> ProgressReport {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let secs = self.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta_secs = (rate > 0.0).then(|| total.saturating_sub(done) as f64 / rate);
        ProgressReport {
            done,
            total,
            rate,
            eta_secs,
            finished: self.finished.load(Ordering::Relaxed),
        }
    }
}

/// Limits a worker to a rate in bytes per second by sleeping between steps.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: u64,
    start: Instant,
    bytes: u64,
}

impl Throttle {
    /// A throttle at `bytes_per_sec`; 0 means unlimited.
    pub fn new(bytes_per_sec: u64) -> Self {
        Throttle {
            bytes_per_sec,
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// Accounts for `n` bytes and sleeps as long as needed to stay under the rate.
    pub fn pace(&mut self, n: u64) {
        if self.bytes_per_sec == 0 {
            return;
        }
        self.bytes += n;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bytes_per_sec as f64);
        let spent = self.start.elapsed();
        if due > spent {
            std::thread::sleep(due - spent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_and_estimates() {
        let p = Progress::new(0);
        p.start(1000, 100);
        std::thread::sleep(Duration::from_millis(20));
        p.advance(400);
        let r = p.snapshot();
        assert_eq!((r.done, r.total), (500, 1000));
        assert!(r.rate > 0.0);
        assert!(r.eta_secs.is_some());
        assert!((r.fraction() - 0.5).abs() < 1e-9);
        assert!(!r.finished);
        p.finish();
        assert!(p.snapshot().finished);
    }

    #[test]
    fn throttle_sleeps_to_hold_the_rate() {
        let mut t = Throttle::new(1_000_000);
        let start = Instant::now();
        t.pace(50_000);
        assert!(start.elapsed() >= Duration::from_millis(45));
        let mut free = Throttle::new(0);
        free.pace(u64::MAX / 2);
    }
}
