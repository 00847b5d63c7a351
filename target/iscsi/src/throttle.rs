//! Slows down guessing of CHAP secrets: each failed CHAP answer from one initiator name at
//! one address makes the next answers to that pair wait longer.
//!
//! The wait after the n-th failure is `first_delay × 2^(n-1)`, at most `max_delay`
//! (100 ms, 200 ms, 400 ms, … 5 s by default). It is applied before the answer is sent, to
//! failures and, while failures are remembered, to a correct answer too (which then
//! forgets them): an answer that is not back after the short wait is not a hint that the
//! guess was wrong. Attempts of one pair on several connections at once wait in turn, not
//! side by side. A pair's failures are forgotten `forget_after` after its last one.
//!
//! The table holds at most `max_tracked` pairs; when it is full, expired pairs go first,
//! then the pair with the fewest failures (the oldest among equals), so a flood of new
//! names cannot push a persistent guesser out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The longest initiator name kept as a key (iSCSI names are at most 223 bytes).
const KEY_NAME_LEN: usize = 255;

/// How repeated CHAP failures are slowed down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapThrottleConfig {
    /// The wait after the first failure; each further failure doubles it. Zero turns
    /// the throttle off.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// A pair's failures are forgotten this long after its last one.
    pub forget_after: Duration,
    /// (initiator name, address) pairs remembered at most.
    pub max_tracked: usize,
}

impl Default for ChapThrottleConfig {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            forget_after: Duration::from_secs(60),
            max_tracked: 4096,
        }
    }
}

impl ChapThrottleConfig {
    /// The wait after `failures` failures in a row (zero for none).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

type Key = (String, IpAddr);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// When the latest answer to this pair goes out; the next one waits after it.
    busy_until: Instant,
}

impl Entry {
    fn expired(&self, now: Instant, forget_after: Duration) -> bool {
        now.saturating_duration_since(self.last_failure) >= forget_after && self.busy_until <= now
    }
}

/// The failures of recent (initiator name, address) pairs.
#[derive(Debug)]
pub struct ChapThrottle {
    config: ChapThrottleConfig,
    table: Mutex<HashMap<Key, Entry>>,
}

fn key(initiator: &str, addr: IpAddr) -> Key {
    let mut end = initiator.len().min(KEY_NAME_LEN);
    while !initiator.is_char_boundary(end) {
        end -= 1;
    }
    (initiator[..end].to_ascii_lowercase(), addr)
}

/// When an answer scheduled after `busy_until` with `delay` goes out, as a wait from
/// `now`; the new `busy_until`.
fn schedule(busy_until: Instant, now: Instant, delay: Duration) -> (Duration, Instant) {
    let start = busy_until.max(now);
    let at = start.checked_add(delay).unwrap_or(start);
    (at.saturating_duration_since(now), at)
}

impl ChapThrottle {
    /// An empty table.
    pub fn new(config: ChapThrottleConfig) -> Self {
        Self {
            config,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failed CHAP answer of `initiator` at `addr`; returns how long to wait
    /// before answering it and the pair's failures so far.
    pub fn failed(&self, initiator: &str, addr: IpAddr, now: Instant) -> (Duration, u32) {
        let k = key(initiator, addr);
        let mut table = self.table.lock();
        if !table.contains_key(&k) {
            self.make_room(&mut table, now);
        }
        let fresh = Entry {
            failures: 0,
            last_failure: now,
            busy_until: now,
        };
        let e = table.entry(k).or_insert(fresh);
        if e.expired(now, self.config.forget_after) {
            *e = fresh;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        let (wait, at) = schedule(e.busy_until, now, self.config.delay(e.failures));
        e.busy_until = at;
        (wait, e.failures)
    }

    /// A correct CHAP answer of `initiator` at `addr`: returns how long to wait before
    /// answering it (the current delay while failures are remembered), and forgets them.
    pub fn succeeded(&self, initiator: &str, addr: IpAddr, now: Instant) -> Duration {
        let Some(e) = self.table.lock().remove(&key(initiator, addr)) else {
            return Duration::ZERO;
        };
        if e.expired(now, self.config.forget_after) {
            return Duration::ZERO;
        }
        schedule(e.busy_until, now, self.config.delay(e.failures)).0
    }

    /// Pairs remembered now.
    pub fn tracked(&self) -> usize {
        self.table.lock().len()
    }

    /// Makes room for one more pair: expired pairs go, then the one with the fewest
    /// failures (the oldest among equals).
    fn make_room(&self, table: &mut HashMap<Key, Entry>, now: Instant) {
        let max = self.config.max_tracked.max(1);
        if table.len() < max {
            return;
        }
        let forget = self.config.forget_after;
        table.retain(|_, e| !e.expired(now, forget));
        while table.len() >= max {
            let victim = table
                .iter()
                .min_by_key(|(_, e)| (e.failures, e.last_failure))
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => table.remove(&k),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let c = ChapThrottleConfig::default();
        let d: Vec<u128> = (0..9).map(|n| c.delay(n).as_millis()).collect();
        assert_eq!(d, [0, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(c.delay(u32::MAX), c.max_delay);
        let off = ChapThrottleConfig {
            first_delay: Duration::ZERO,
            ..c
        };
        assert_eq!(off.delay(7), Duration::ZERO);
    }

    #[test]
    fn failures_of_a_pair_grow_and_are_forgotten_after_a_quiet_period() {
        let t = ChapThrottle::new(ChapThrottleConfig::default());
        let mut now = Instant::now();
        for n in 1..=4u32 {
            let (wait, failures) = t.failed("iqn.x", A, now);
            assert_eq!((wait, failures), (ms(100 << (n - 1)), n));
            now += wait;
        }
        // Another address, another name (case does not make a new name): their own counts.
        assert_eq!(t.failed("iqn.x", B, now), (ms(100), 1));
        assert_eq!(t.failed("IQN.X", A, now), (ms(1600), 5));
        now += ms(1600) + Duration::from_secs(60);
        assert_eq!(t.failed("iqn.x", A, now), (ms(100), 1));
    }

    #[test]
    fn a_correct_answer_waits_its_turn_then_forgets() {
        let t = ChapThrottle::new(ChapThrottleConfig::default());
        let now = Instant::now();
        assert_eq!(t.succeeded("iqn.x", A, now), Duration::ZERO);
        t.failed("iqn.x", A, now);
        let now = now + ms(100);
        t.failed("iqn.x", A, now);
        let now = now + ms(200);
        assert_eq!(t.succeeded("iqn.x", A, now), ms(200));
        assert_eq!(t.succeeded("iqn.x", A, now), Duration::ZERO);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn attempts_at_once_wait_in_turn() {
        let t = ChapThrottle::new(ChapThrottleConfig::default());
        let now = Instant::now();
        let waits: Vec<Duration> = (0..3).map(|_| t.failed("iqn.x", A, now).0).collect();
        assert_eq!(waits, [ms(100), ms(300), ms(700)]);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_persistent_guessers() {
        let t = ChapThrottle::new(ChapThrottleConfig {
            max_tracked: 8,
            ..Default::default()
        });
        let now = Instant::now();
        for _ in 0..5 {
            t.failed("iqn.guesser", A, now);
        }
        for i in 0..100 {
            t.failed(&format!("iqn.flood{i}"), B, now);
            assert!(t.tracked() <= 8);
        }
        assert_eq!(t.failed("iqn.guesser", A, now).1, 6);
        // Names longer than any iSCSI name share a key on their first 255 bytes.
        let long = "é".repeat(5000);
        t.failed(&long, A, now);
        assert_eq!(t.failed(&format!("{long}x"), A, now).1, 2);
    }
}
