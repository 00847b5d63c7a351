//! Keeps a flood of logins from flooding the log: a [`LogGate`] lets one kind of message
//! through a few times per window and counts the rest, so the next message that passes
//! can say how many were left out.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::admission::Limit;

#[derive(Debug, Default)]
struct GateState {
    window_start: Option<Instant>,
    passed: u32,
    suppressed: u64,
}

/// Lets a kind of message through at most `burst` times per `window`.
#[derive(Debug)]
pub struct LogGate {
    window: Duration,
    burst: u32,
    state: Mutex<GateState>,
}

impl LogGate {
    /// A gate for `burst` messages per `window`.
    pub fn new(window: Duration, burst: u32) -> Self {
        Self {
            window,
            burst,
            state: Mutex::new(GateState::default()),
        }
    }

    /// Whether a message may be logged at `now`: `Some(n)` with the number of messages
    /// left out since the last one that passed, `None` to leave this one out.
    pub fn pass(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock();
        let new_window = s
            .window_start
            .is_none_or(|t| now.saturating_duration_since(t) >= self.window);
        if new_window {
            s.window_start = Some(now);
            s.passed = 0;
        }
        if s.passed < self.burst {
            s.passed += 1;
            Some(std::mem::take(&mut s.suppressed))
        } else {
            s.suppressed += 1;
            None
        }
    }
}

/// The gates of a server's login warnings, one per kind of message.
#[derive(Debug)]
pub struct LoginLogGates {
    /// Logins refused at a limit, by [`Limit`].
    pub limits: [LogGate; Limit::COUNT],
    /// Failed CHAP answers.
    pub chap: LogGate,
    /// Other failed logins (logged at INFO).
    pub failures: LogGate,
}

impl Default for LoginLogGates {
    fn default() -> Self {
        let gate = || LogGate::new(Duration::from_secs(10), 5);
        Self {
            limits: std::array::from_fn(|_| gate()),
            chap: LogGate::new(Duration::from_secs(10), 10),
            failures: LogGate::new(Duration::from_secs(10), 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rest_is_counted_until_the_next_window() {
        let g = LogGate::new(Duration::from_secs(10), 2);
        let t = Instant::now();
        assert_eq!(g.pass(t), Some(0));
        assert_eq!(g.pass(t), Some(0));
        assert_eq!(g.pass(t), None);
        assert_eq!(g.pass(t + Duration::from_secs(9)), None);
        assert_eq!(g.pass(t + Duration::from_secs(10)), Some(2));
        assert_eq!(g.pass(t + Duration::from_secs(10)), Some(0));
        assert_eq!(g.pass(t + Duration::from_secs(11)), None);
    }
}
