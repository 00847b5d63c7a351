//! The sanitize operation itself (SBC-4 4.11): [`Sanitizer`] tracks where it stands and
//! how far it has come, [`Job`] performs it on a thread of its own, so that it goes on
//! after the SANITIZE command returned (IMMED), after resets and after the I_T nexus that
//! started it is gone, while INQUIRY, REQUEST SENSE and TEST UNIT READY are answered.
//!
//! The job only takes the tracker's lock for a moment per piece and the range lock of
//! the piece it writes, so it never holds up commands that do not touch the medium.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use vsa_blockdev::BlockDevice;

use super::lock::RangeLocks;
use crate::{Nexus, Sense};

/// Bytes per write while overwriting.
const PIECE: usize = 1 << 20;

/// How many outcomes of ended operations are kept for commands still waiting on them.
const KEPT_OUTCOMES: usize = 4;

/// Where a SANITIZE stands (SBC-4 4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SanitizeState {
    Idle,
    Running,
    /// A sanitize failed; medium access fails until SANITIZE EXIT FAILURE MODE or a
    /// successful sanitize.
    Failed,
}

#[derive(Debug)]
struct Track {
    state: SanitizeState,
    /// Units of work done and to do (blocks, times passes for OVERWRITE).
    done: u64,
    total: u64,
    /// Number of the latest operation, and the outcomes of the last few that ended.
    seq: u64,
    ended: Vec<(u64, Result<(), Sense>)>,
    /// The command waiting for the running operation (SANITIZE without IMMED): the
    /// operation's number, the nexus it came from, and whether it was told to stop
    /// waiting (its task is being aborted).
    waiter: Option<(u64, Nexus, bool)>,
}

impl Track {
    fn record(&mut self, seq: u64, result: Result<(), Sense>) {
        if self.ended.len() >= KEPT_OUTCOMES {
            let _forgotten = self.ended.remove(0);
        }
        self.ended.push((seq, result));
    }
}

/// The sanitize state of one disk, shared with the thread that performs the operation.
#[derive(Debug)]
pub(crate) struct Sanitizer {
    track: Mutex<Track>,
    ended: Condvar,
    /// Set when the disk goes away: a running job stops at the next piece.
    stop: AtomicBool,
}

impl Default for Sanitizer {
    fn default() -> Self {
        Self {
            track: Mutex::new(Track {
                state: SanitizeState::Idle,
                done: 0,
                total: 0,
                seq: 0,
                ended: Vec::new(),
                waiter: None,
            }),
            ended: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }
}

impl Sanitizer {
    pub(crate) fn state(&self) -> SanitizeState {
        self.track.lock().state
    }

    /// Sets the state outright (EXIT FAILURE MODE; tests).
    pub(crate) fn set_state(&self, state: SanitizeState) {
        self.track.lock().state = state;
    }

    /// NOT READY, SANITIZE IN PROGRESS with the progress so far, while one runs.
    pub(crate) fn in_progress(&self) -> Option<Sense> {
        let t = self.track.lock();
        if t.state != SanitizeState::Running {
            return None;
        }
        let fraction = t.done.min(t.total) as u128 * 65536 / u128::from(t.total.max(1));
        let progress = u16::try_from(fraction).unwrap_or(u16::MAX);
        Some(Sense::sanitize_in_progress().with_progress(progress))
    }

    /// Starts an operation of `total` units unless one is running; returns its number.
    /// `waiter` is the nexus of a command that will wait for it (registered now, so a
    /// release that comes before the command waits is not lost).
    fn begin(&self, total: u64, waiter: Option<&Nexus>) -> Option<u64> {
        let mut t = self.track.lock();
        if t.state == SanitizeState::Running {
            return None;
        }
        t.state = SanitizeState::Running;
        t.seq += 1;
        t.done = 0;
        t.total = total;
        t.waiter = waiter.map(|n| (t.seq, n.clone(), false));
        Some(t.seq)
    }

    /// Records `n` more units done.
    fn advance(&self, n: u64) {
        let mut t = self.track.lock();
        t.done = t.done.saturating_add(n);
    }

    /// Ends operation `seq` with `result`: Idle after success, Failed after an error.
    fn finish(&self, seq: u64, result: Result<(), Sense>) {
        let mut t = self.track.lock();
        t.state = match result {
            Ok(()) => SanitizeState::Idle,
            Err(_) => SanitizeState::Failed,
        };
        t.record(seq, result);
        self.ended.notify_all();
    }

    /// Forgets operation `seq`, which never started (its thread could not be created).
    fn abandon(&self, seq: u64) {
        let mut t = self.track.lock();
        if t.seq == seq && t.state == SanitizeState::Running {
            t.state = SanitizeState::Idle;
        }
        t.record(seq, Err(Sense::internal_failure()));
        self.ended.notify_all();
    }

    /// Waits until operation `seq` has ended and returns its outcome, or until
    /// [`Sanitizer::release`] names `nexus` (then NOT READY, SANITIZE IN PROGRESS: the
    /// operation goes on without anyone waiting for it).
    pub(crate) fn wait(&self, seq: u64, nexus: &Nexus) -> Result<(), Sense> {
        let mut t = self.track.lock();
        if !matches!(&t.waiter, Some((s, _, _)) if *s == seq) {
            t.waiter = Some((seq, nexus.clone(), false));
        }
        let outcome = loop {
            if let Some((_, r)) = t.ended.iter().find(|(s, _)| *s == seq) {
                break r.clone();
            }
            if seq > t.seq || t.ended.first().is_some_and(|(s, _)| *s > seq) {
                // Never started, or ended so long ago that its outcome is gone.
                break Err(Sense::internal_failure());
            }
            if matches!(&t.waiter, Some((s, _, true)) if *s == seq) {
                break Err(Sense::sanitize_in_progress());
            }
            self.ended.wait(&mut t);
        };
        if t.waiter.as_ref().is_some_and(|(s, _, _)| *s == seq) {
            t.waiter = None;
        }
        outcome
    }

    /// Lets a command of `nexus` that waits for the operation return now.
    pub(crate) fn release(&self, nexus: &Nexus) {
        let mut t = self.track.lock();
        if let Some((_, n, released)) = t.waiter.as_mut() {
            if n == nexus {
                *released = true;
                self.ended.notify_all();
            }
        }
    }

    /// Makes a running job stop at its next piece (the disk is going away).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// How the medium is sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    /// OVERWRITE: the pattern over every block, `passes` times, inverted between passes
    /// with `invert`.
    Overwrite {
        invert: bool,
        passes: u8,
        pattern: Vec<u8>,
    },
    /// BLOCK ERASE and CRYPTOGRAPHIC ERASE: every block released to the pool.
    Erase,
}

/// One sanitize operation with everything it needs to run without the disk.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) dev: Arc<dyn BlockDevice>,
    pub(crate) locks: Arc<RangeLocks>,
    pub(crate) tracker: Arc<Sanitizer>,
    pub(crate) bs: u32,
    pub(crate) blocks: u64,
    /// Bytes per second for OVERWRITE (0: unlimited).
    pub(crate) rate: u64,
    pub(crate) method: Method,
}

impl Job {
    /// Starts the operation on its own thread; returns its number for
    /// [`Sanitizer::wait`], which the command from `waiter` is going to call. Fails with
    /// SANITIZE IN PROGRESS while another one runs.
    pub(crate) fn start(self, waiter: Option<&Nexus>) -> Result<u64, Sense> {
        let tracker = self.tracker.clone();
        let seq = tracker
            .begin(self.units(), waiter)
            .ok_or_else(Sense::sanitize_in_progress)?;
        let spawned = std::thread::Builder::new()
            .name("vsa-sanitize".into())
            .spawn(move || {
                let result = self.run();
                if let Err(s) = &result {
                    tracing::warn!(sense = ?s, "sanitize failed");
                }
                self.tracker.finish(seq, result);
            });
        match spawned {
            Ok(_) => Ok(seq),
            Err(e) => {
                tracing::error!(error = %e, "sanitize thread not started");
                tracker.abandon(seq);
                Err(Sense::internal_failure())
            }
        }
    }

    fn units(&self) -> u64 {
        match &self.method {
            Method::Overwrite { passes, .. } => self.blocks.saturating_mul(u64::from(*passes)),
            Method::Erase => self.blocks,
        }
    }

    fn run(&self) -> Result<(), Sense> {
        match &self.method {
            Method::Overwrite {
                invert,
                passes,
                pattern,
            } => self.overwrite(*invert, *passes, pattern)?,
            Method::Erase => self.erase()?,
        }
        self.dev
            .flush()
            .map_err(|e| Sense::from_block_error(&e, 0, true))
    }

    fn erase(&self) -> Result<(), Sense> {
        if self.blocks == 0 {
            return Ok(());
        }
        let _guard = self.locks.lock(0, self.blocks);
        self.dev
            .unmap(0, self.blocks.saturating_mul(u64::from(self.bs)))
            .map_err(|e| Sense::from_block_error(&e, 0, true))?;
        self.tracker.advance(self.blocks);
        Ok(())
    }

    /// Writes the pattern over the whole medium, `passes` times, at most at the rate.
    fn overwrite(&self, invert: bool, passes: u8, pattern: &[u8]) -> Result<(), Sense> {
        let started = Instant::now();
        let mut written = 0u64;
        let bs = self.bs as usize;
        let mut block: Vec<u8> = pattern.iter().copied().cycle().take(bs).collect();
        let per_piece = (PIECE / bs.max(1)).max(1) as u64;
        for pass in 0..passes {
            if pass > 0 && invert {
                block.iter_mut().for_each(|b| *b = !*b);
            }
            let buf = block.repeat(per_piece as usize);
            let mut lba = 0u64;
            while lba < self.blocks {
                if self.tracker.stopped() {
                    return Err(Sense::internal_failure());
                }
                let n = per_piece.min(self.blocks - lba);
                let len = usize::try_from(n * u64::from(self.bs)).unwrap_or(buf.len());
                self.write_piece(buf.get(..len).unwrap_or(&buf), lba, n)?;
                lba += n;
                written += len as u64;
                self.tracker.advance(n);
                throttle(self.rate, started, written);
            }
        }
        Ok(())
    }

    fn write_piece(&self, piece: &[u8], lba: u64, n: u64) -> Result<(), Sense> {
        let _guard = self.locks.lock(lba, n);
        self.dev
            .write_at(piece, lba.saturating_mul(u64::from(self.bs)))
            .map_err(|e| Sense::from_block_error(&e, lba, true))
    }
}

/// Sleeps until `written` bytes since `started` are within `rate` bytes per second.
fn throttle(rate: u64, started: Instant, written: u64) {
    if rate == 0 {
        return;
    }
    let due = Duration::from_secs_f64(written as f64 / rate as f64);
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nexus(isid: u64) -> Nexus {
        Nexus {
            initiator: "iqn.2026-01.test:i".into(),
            isid,
            target: "iqn.2026-01.test:t".into(),
            tpgt: 1,
        }
    }

    #[test]
    fn an_aborting_nexus_stops_waiting_while_the_operation_goes_on() {
        let s = Arc::new(Sanitizer::default());
        let seq = s.begin(1, None).expect("idle");
        let waiter = {
            let s = s.clone();
            std::thread::spawn(move || s.wait(seq, &nexus(1)))
        };
        while s.track.lock().waiter.is_none() {
            std::thread::yield_now();
        }
        s.release(&nexus(2));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished(), "another nexus does not release it");
        s.release(&nexus(1));
        let r = waiter.join().expect("waiter");
        assert_eq!(r.map_err(|e| (e.asc, e.ascq)), Err((0x04, 0x1B)));
        assert_eq!(s.state(), SanitizeState::Running);
        s.finish(seq, Ok(()));
        assert_eq!(s.wait(seq, &nexus(1)), Ok(()));
    }

    #[test]
    fn progress_is_reported_in_65536ths_while_running() {
        let s = Sanitizer::default();
        assert_eq!(s.in_progress(), None);
        let seq = s.begin(4, None).expect("idle");
        assert_eq!(s.begin(4, None), None, "one at a time");
        s.advance(1);
        assert_eq!(s.in_progress().and_then(|p| p.progress), Some(0x4000));
        s.advance(10);
        assert_eq!(s.in_progress().and_then(|p| p.progress), Some(u16::MAX));
        s.finish(seq, Ok(()));
        assert_eq!((s.state(), s.in_progress()), (SanitizeState::Idle, None));
        assert_eq!(s.wait(seq, &nexus(1)), Ok(()));
    }

    #[test]
    fn a_failed_operation_leaves_failure_mode_and_its_sense() {
        let s = Sanitizer::default();
        let seq = s.begin(1, None).expect("idle");
        s.finish(seq, Err(Sense::write_error(3)));
        assert_eq!(s.state(), SanitizeState::Failed);
        assert_eq!(s.wait(seq, &nexus(1)), Err(Sense::write_error(3)));
        let next = s
            .begin(1, Some(&nexus(1)))
            .expect("a new sanitize may start after a failure");
        // A release that comes before the command waits is not lost.
        s.release(&nexus(1));
        assert_eq!(s.wait(next, &nexus(1)).map_err(|e| e.ascq), Err(0x1B));
        s.abandon(next);
        assert_eq!(s.state(), SanitizeState::Idle);
    }
}
