//! The pool component's background watcher: every [`INTERVAL`] it reads each pool's
//! health ([`super::health`]) and logs every change at WARN, a pool's return to `healthy`
//! included (so a log filtered at WARN shows where each episode ends). A pool that is not
//! healthy when the daemon starts is logged at its first look. It runs as a task of the
//! component's `start` and ends on the daemon's stop signal.
//!
//! A state that comes and goes between two looks (a scrub of a few hundred milliseconds)
//! is not logged; the `vsa_pool_health` metric and the API show the state at the moment
//! they are read.

use super::health::{Health, PoolHealth};
use super::service::PoolService;
use crate::core::size::human;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vsa_pool::raid::MemberState;
use vsa_pool::PoolStatus;

/// How often the watcher looks.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// One look at a pool: its health and the facts behind it, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// The pool.
    pub pool: String,
    /// Its health.
    pub health: PoolHealth,
    /// The facts behind it: space, members that are not active, checksum errors.
    pub detail: String,
}

impl Look {
    /// The look at a pool with this status.
    pub fn of(st: &PoolStatus) -> Look {
        let sp = &st.space;
        let mut facts = vec![format!("{} free of {}", human(sp.free), human(sp.capacity))];
        if sp.exhausted {
            facts.push("a write found too few free chunks".into());
        }
        for m in &st.raid.members {
            match m.state {
                MemberState::Active => {}
                s => facts.push(format!(
                    "member {} ({}) {}",
                    m.index,
                    m.name,
                    super::types::state_word(s)
                )),
            }
            if m.checksum_errors > 0 {
                facts.push(format!(
                    "member {} ({}) {} checksum errors",
                    m.index, m.name, m.checksum_errors
                ));
            }
        }
        if let Some(why) = &st.scrub_failure {
            facts.push(format!("the last scrub stopped: {why}"));
        }
        Look {
            pool: st.record.name.clone(),
            health: PoolHealth::of(st),
            detail: facts.join("; "),
        }
    }
}

/// A change of a pool's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What it was at the last look (`None`: the first look).
    pub was: Option<PoolHealth>,
    /// The look that saw the change.
    pub now: Look,
}

impl Change {
    /// The log line.
    pub fn message(&self) -> String {
        let now = &self.now.health;
        let was = self
            .was
            .as_ref()
            .map(|w| w.words().join(", "))
            .unwrap_or_else(|| "not watched yet".into());
        let pool = &self.now.pool;
        let detail = &self.now.detail;
        if now.health == Health::Healthy {
            format!("pool '{pool}' is healthy again (was {was}; {detail})")
        } else {
            let all = now.words().join(", ");
            format!(
                "pool '{pool}' is {} (conditions: {all}; was {was}; {detail})",
                now.health
            )
        }
    }

    fn log(&self) {
        let (pool, health) = (self.now.pool.as_str(), self.now.health.health.word());
        tracing::warn!(pool, health, "{}", self.message());
    }
}

/// What the watcher last saw of each pool.
#[derive(Debug, Default)]
pub struct Seen(BTreeMap<String, PoolHealth>);

impl Seen {
    /// Remembers the pools' health now; returns what changed since the last look. A
    /// pool's first look is a change only if it is not healthy; a pool no longer there is
    /// forgotten.
    pub fn update(&mut self, now: Vec<Look>) -> Vec<Change> {
        self.0
            .retain(|pool, _| now.iter().any(|look| look.pool == *pool));
        let mut changes = Vec::new();
        for look in now {
            let was = self.0.insert(look.pool.clone(), look.health.clone());
            let changed = match &was {
                Some(w) => *w != look.health,
                None => look.health.health != Health::Healthy,
            };
            if changed {
                changes.push(Change { was, now: look });
            }
        }
        changes
    }
}

/// Every pool's health now.
fn look(svc: &PoolService) -> Vec<Look> {
    svc.pools().iter().map(|p| Look::of(&p.status())).collect()
}

/// Watches until `stop` turns true.
pub async fn run(svc: Arc<PoolService>, mut stop: watch::Receiver<bool>) {
    let mut seen = Seen::default();
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        // Reading a pool's status takes its locks: off the async threads.
        let s = svc.clone();
        match tokio::task::spawn_blocking(move || look(&s)).await {
            Ok(now) => seen.update(now).iter().for_each(Change::log),
            Err(e) => tracing::error!("the pool health watcher's look failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(pool: &str, conditions: &[Health]) -> Look {
        Look {
            pool: pool.into(),
            health: PoolHealth {
                health: conditions[0],
                conditions: conditions.to_vec(),
            },
            detail: "1 MiB free of 64 MiB".into(),
        }
    }

    #[test]
    fn logs_changes_only() {
        use Health::*;
        let mut seen = Seen::default();
        let c = seen.update(vec![look("a", &[Healthy]), look("b", &[LowSpace])]);
        assert_eq!(c.len(), 1, "a healthy pool's first look is quiet");
        assert_eq!(
            c[0].message(),
            "pool 'b' is low_space (conditions: low_space; was not watched yet; \
             1 MiB free of 64 MiB)"
        );
        assert!(seen
            .update(vec![look("a", &[Healthy]), look("b", &[LowSpace])])
            .is_empty());
        let c = seen.update(vec![look("a", &[Healthy]), look("b", &[Full, LowSpace])]);
        assert_eq!(
            c[0].message(),
            "pool 'b' is full (conditions: full, low_space; was low_space; 1 MiB free of 64 MiB)"
        );
        let c = seen.update(vec![look("a", &[LowSpace]), look("b", &[Healthy])]);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[1].message(),
            "pool 'b' is healthy again (was full, low_space; 1 MiB free of 64 MiB)"
        );
        // A pool deleted and made again under its name is new.
        assert!(seen.update(vec![look("a", &[LowSpace])]).is_empty());
        let c = seen.update(vec![look("a", &[LowSpace]), look("b", &[Degraded])]);
        assert_eq!(c[0].was, None);
    }
}
