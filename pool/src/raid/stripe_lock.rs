//! Per-stripe locks: a fixed table of mutexes indexed by stripe number, so two writers of
//! one stripe (or a writer and a rebuild, scrub or degraded read) never interleave their
//! read-compute-write of its parity or mirror copies.

use parking_lot::{Mutex, MutexGuard};

/// Locks in the table. Consecutive stripes use different locks, so one request never
/// waits on itself and unrelated stripes rarely share a lock.
const LOCKS: u64 = 1024;

/// The lock table.
#[derive(Debug)]
pub(crate) struct StripeLocks {
    table: Vec<Mutex<()>>,
}

/// Held locks of a range of stripes; dropping it unlocks them.
#[derive(Debug)]
pub(crate) struct StripeGuard<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl Default for StripeLocks {
    fn default() -> Self {
        StripeLocks {
            table: (0..LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl StripeLocks {
    /// The most stripes one [`StripeLocks::lock`] call may cover.
    pub const MAX_SPAN: u64 = LOCKS;

    /// Locks stripes `first..=last` (at most [`StripeLocks::MAX_SPAN`] of them), always in
    /// table order so that two multi-stripe lockers cannot deadlock.
    pub fn lock(&self, first: u64, last: u64) -> StripeGuard<'_> {
        let count = (last - first + 1).min(LOCKS);
        let mut idx: Vec<u64> = (first..first + count).map(|s| s % LOCKS).collect();
        idx.sort_unstable();
        let guards = idx
            .into_iter()
            .map(|i| self.table[i as usize].lock())
            .collect();
        StripeGuard { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_ranges_do_not_deadlock() {
        let locks = StripeLocks::default();
        let g = locks.lock(LOCKS - 2, LOCKS + 5);
        drop(g);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let locks = &locks;
                s.spawn(move || {
                    for i in 0..200u64 {
                        let first = (i * 37 + t * 11) % (LOCKS * 2);
                        let _g = locks.lock(first, first + 40);
                    }
                });
            }
        });
    }
}
