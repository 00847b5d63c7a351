//! Block-range locks: commands that must be atomic against other I/O to the same blocks
//! (COMPARE AND WRITE, ORWRITE, WRITE ATOMIC) hold one for their whole read-modify-write,
//! and every other read and write of the disk holds one for its transfer, so no command
//! ever sees another's half-done update. Disjoint ranges proceed in parallel.

use parking_lot::{Condvar, Mutex};

/// The set of block ranges currently held.
#[derive(Debug, Default)]
pub(crate) struct RangeLocks {
    held: Mutex<Vec<(u64, u64)>>,
    freed: Condvar,
}

/// A held range; released on drop.
#[derive(Debug)]
pub(crate) struct RangeGuard<'a> {
    locks: &'a RangeLocks,
    range: (u64, u64),
}

impl RangeLocks {
    /// Waits until no held range overlaps `[lba, lba + blocks)`, then holds it. An empty
    /// range is held as one block so that it still orders against writers.
    pub(crate) fn lock(&self, lba: u64, blocks: u64) -> RangeGuard<'_> {
        let range = (lba, lba.saturating_add(blocks.max(1)));
        let mut held = self.held.lock();
        while held.iter().any(|&(s, e)| s < range.1 && range.0 < e) {
            self.freed.wait(&mut held);
        }
        held.push(range);
        RangeGuard { locks: self, range }
    }

    /// Holds `[lba, lba + blocks)` if no held range overlaps it (and no other thread is
    /// changing the set just now); `None` otherwise.
    pub(crate) fn try_lock(&self, lba: u64, blocks: u64) -> Option<RangeGuard<'_>> {
        let range = (lba, lba.saturating_add(blocks.max(1)));
        let mut held = self.held.try_lock()?;
        if held.iter().any(|&(s, e)| s < range.1 && range.0 < e) {
            return None;
        }
        held.push(range);
        Some(RangeGuard { locks: self, range })
    }
}

impl Drop for RangeGuard<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock();
        if let Some(i) = held.iter().position(|&r| r == self.range) {
            held.swap_remove(i);
        }
        self.locks.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn overlapping_ranges_wait_and_disjoint_ones_do_not() {
        let locks = Arc::new(RangeLocks::default());
        let g = locks.lock(10, 10);
        let _other = locks.lock(20, 5);
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let (locks, done) = (locks.clone(), done.clone());
            std::thread::spawn(move || {
                let _g = locks.lock(15, 1);
                done.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!done.load(Ordering::SeqCst));
        drop(g);
        t.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    }
}
