//! A pool's health: the one place that says which states there are, when each applies,
//! and which one a pool shows when several do.
//!
//! | state | applies when |
//! | --- | --- |
//! | `failed` | more members are missing than the RAID level tolerates: data is unavailable |
//! | `degraded` | a member is faulty (or missing), or waits for a rebuild that is not running (one stopped by an error) |
//! | `rebuilding` | a rebuild runs (onto a spare or a replacement) |
//! | `full` | no chunk is free, or a write failed for lack of free chunks and none has been freed since: writes to unallocated chunks of thin volumes (and first writes after a snapshot) fail |
//! | `errors_found` | a member's blocks failed their checksums since the pool opened (repaired from redundancy or not), the last scrub found mismatches it did not repair, mismatches it could not attribute, or read errors, or an error stopped the last scrub |
//! | `low_space` | less than `[settings] low_space_percent` of the capacity is free (10% by default) |
//! | `scrubbing` | a scrub runs |
//! | `healthy` | none of the above |
//!
//! The precedence is the table's order: the `health` a pool shows is the first state that
//! applies, so a pool is never `healthy` at 0 bytes free, and a full pool that is also
//! degraded shows `degraded` (redundancy first: losing another member loses data).
//! `conditions` lists every state that applies, in this order, and the
//! `vsa_pool_health{pool, state}` metric is 1 for each of them (0 for the others), so an
//! alert on `low_space` fires also while the pool is degraded. `errors_found` is kept in
//! memory: a member's checksum errors count until the member is replaced or the daemon
//! restarts, a scrub's findings until the next clean scrub or a restart.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vsa_pool::raid::{MemberState, ScrubReport};
use vsa_pool::{PoolStatus, ProgressReport};

/// One state of a pool, most severe first: the order is the precedence.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// More members missing than the level tolerates.
    Failed,
    /// A member is faulty and nothing rebuilds it.
    Degraded,
    /// A member is being rebuilt.
    Rebuilding,
    /// No free space.
    Full,
    /// The last scrub found problems it did not fix.
    ErrorsFound,
    /// Free space below the threshold.
    LowSpace,
    /// A scrub runs.
    Scrubbing,
    /// Nothing else applies.
    Healthy,
}

impl Health {
    /// Every state, in precedence order.
    pub const ALL: [Health; 8] = [
        Health::Failed,
        Health::Degraded,
        Health::Rebuilding,
        Health::Full,
        Health::ErrorsFound,
        Health::LowSpace,
        Health::Scrubbing,
        Health::Healthy,
    ];

    /// The state as one word, as the API, the CLI and the metric's label write it.
    pub fn word(self) -> &'static str {
        match self {
            Health::Failed => "failed",
            Health::Degraded => "degraded",
            Health::Rebuilding => "rebuilding",
            Health::Full => "full",
            Health::ErrorsFound => "errors_found",
            Health::LowSpace => "low_space",
            Health::Scrubbing => "scrubbing",
            Health::Healthy => "healthy",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// Whether a scrub's report shows problems it left: mismatches not repaired (a scrub
/// without repair), mismatches it could not attribute, or read errors.
pub fn scrub_found_errors(r: &ScrubReport) -> bool {
    r.unrecoverable > 0
        || r.read_errors > 0
        || r.mismatches > r.repaired.saturating_add(r.repaired_unverified)
}

/// Every state that applies to a pool with this status, in precedence order; `[Healthy]`
/// when none does. The first is the pool's health.
pub fn conditions(st: &PoolStatus) -> Vec<Health> {
    let members = &st.raid.members;
    let any = |f: fn(&MemberState) -> bool| members.iter().any(|m| f(&m.state));
    let running = |p: Option<ProgressReport>| p.is_some_and(|p| !p.finished);
    let waiting = any(|s| matches!(s, MemberState::Rebuilding { .. }));
    let rebuilding = waiting && running(st.rebuild);
    let errors = members.iter().any(|m| m.checksum_errors > 0)
        || st.last_scrub.as_ref().is_some_and(scrub_found_errors)
        || st.scrub_failure.is_some();
    let found = [
        (Health::Failed, st.raid.failed),
        (
            Health::Degraded,
            any(|s| *s == MemberState::Faulty) || (waiting && !rebuilding),
        ),
        (Health::Rebuilding, rebuilding),
        (Health::Full, st.space.free == 0 || st.space.exhausted),
        (Health::ErrorsFound, errors),
        (Health::LowSpace, st.space.low),
        (Health::Scrubbing, running(st.scrub)),
    ];
    let mut out: Vec<Health> = found
        .into_iter()
        .filter_map(|(h, on)| on.then_some(h))
        .collect();
    if out.is_empty() {
        out.push(Health::Healthy);
    }
    out
}

/// The pool's health: the most severe state that applies.
pub fn health(st: &PoolStatus) -> Health {
    PoolHealth::of(st).health
}

/// A pool's health and every state that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolHealth {
    /// The most severe state that applies.
    pub health: Health,
    /// Every state that applies, most severe first.
    pub conditions: Vec<Health>,
}

impl PoolHealth {
    /// The health of a pool with this status.
    pub fn of(st: &PoolStatus) -> PoolHealth {
        let conditions = conditions(st);
        PoolHealth {
            health: conditions.first().copied().unwrap_or(Health::Healthy),
            conditions,
        }
    }

    /// The conditions as words, for views and logs.
    pub fn words(&self) -> Vec<String> {
        self.conditions
            .iter()
            .map(|h| h.word().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vsa_pool::raid::{MemberInfo, RaidLevel, RaidStatus};
    use vsa_pool::{PoolRecord, ReadCacheStats, SpaceInfo};

    fn status() -> PoolStatus {
        let member = |index| MemberInfo {
            index,
            name: format!("/m{index}"),
            state: MemberState::Active,
            checksum_errors: 0,
        };
        PoolStatus {
            record: PoolRecord {
                name: "p".into(),
                id: 1,
                uuid: "00".repeat(16),
                level: RaidLevel::Raid5,
                raid_chunk: 65536,
                chunk_size: 1 << 20,
                created: 0,
                log: None,
            },
            raid: RaidStatus {
                level: RaidLevel::Raid5,
                chunk_size: 65536,
                member_size: 64 << 20,
                capacity: 192 << 20,
                members: (0..3).map(member).collect(),
                spares: Vec::new(),
                degraded: false,
                failed: false,
                needs_rebuild: false,
                needs_resync: false,
                checksums: true,
            },
            space: SpaceInfo {
                capacity: 192 << 20,
                allocated: 0,
                free: 192 << 20,
                provisioned: 0,
                chunk_size: 1 << 20,
                low: false,
                exhausted: false,
            },
            rebuild: None,
            scrub: None,
            last_scrub: None,
            scrub_failure: None,
            read_cache: ReadCacheStats::default(),
            checksum_build: None,
            write_journal: None,
        }
    }

    fn running() -> ProgressReport {
        ProgressReport {
            done: 1,
            total: 2,
            rate: 0.0,
            eta_secs: None,
            finished: false,
        }
    }

    #[test]
    fn the_order_of_the_states_is_the_precedence() {
        let mut sorted = Health::ALL;
        sorted.sort();
        assert_eq!(sorted, Health::ALL);
        let doc = include_str!("health.rs");
        let table: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let words: Vec<&str> = Health::ALL.iter().map(|h| h.word()).collect();
        assert_eq!(table, words, "the module's table lists the states in order");
        for h in Health::ALL {
            let json = serde_json::to_value(h).unwrap();
            assert_eq!(json, h.word());
        }
    }

    #[test]
    fn each_state_applies_alone() {
        assert_eq!(conditions(&status()), [Health::Healthy]);
        /// A state and a change of a healthy status that makes it apply.
        type Case = (Health, fn(&mut PoolStatus));
        let cases: [Case; 12] = [
            (Health::Failed, |s| s.raid.failed = true),
            (Health::Degraded, |s| {
                s.raid.members[1].state = MemberState::Faulty
            }),
            (Health::Degraded, |s| {
                // Waits for a rebuild, and none runs (an error stopped it).
                s.raid.members[1].state = MemberState::Rebuilding { rebuilt: 0 };
                s.rebuild = Some(ProgressReport {
                    finished: true,
                    ..running()
                });
            }),
            (Health::Rebuilding, |s| {
                s.raid.members[1].state = MemberState::Rebuilding { rebuilt: 0 };
                s.rebuild = Some(running());
            }),
            (Health::Full, |s| s.space.free = 0),
            (Health::Full, |s| s.space.exhausted = true),
            (Health::ErrorsFound, |s| {
                s.last_scrub = Some(ScrubReport {
                    read_errors: 1,
                    ..ScrubReport::default()
                })
            }),
            (Health::ErrorsFound, |s| {
                s.raid.members[2].checksum_errors = 1
            }),
            (Health::ErrorsFound, |s| {
                s.scrub_failure = Some("member 0: input/output error".into())
            }),
            (Health::LowSpace, |s| s.space.low = true),
            (Health::Scrubbing, |s| s.scrub = Some(running())),
            (Health::Healthy, |s| {
                // Finished work and a clean scrub leave a pool healthy.
                s.rebuild = Some(ProgressReport {
                    finished: true,
                    ..running()
                });
                s.scrub = s.rebuild;
                s.last_scrub = Some(ScrubReport {
                    mismatches: 2,
                    repaired: 2,
                    ..ScrubReport::default()
                });
            }),
        ];
        for (want, change) in cases {
            let mut st = status();
            change(&mut st);
            assert_eq!(conditions(&st), [want], "{st:?}");
            assert_eq!(health(&st), want);
        }
    }

    #[test]
    fn the_most_severe_state_wins_and_all_are_listed() {
        let mut st = status();
        st.space.free = 0;
        st.space.low = true;
        st.scrub = Some(running());
        assert_eq!(health(&st), Health::Full, "never healthy at 0 bytes free");
        st.raid.members[0].state = MemberState::Faulty;
        st.raid.members[2].state = MemberState::Rebuilding { rebuilt: 0 };
        st.rebuild = Some(running());
        assert_eq!(
            conditions(&st),
            [
                Health::Degraded,
                Health::Rebuilding,
                Health::Full,
                Health::LowSpace,
                Health::Scrubbing
            ]
        );
        st.raid.failed = true;
        assert_eq!(health(&st), Health::Failed);
    }

    #[test]
    fn scrub_findings_that_count_as_errors() {
        let r =
            |mismatches, repaired, repaired_unverified, unrecoverable, read_errors| ScrubReport {
                bytes_checked: 1,
                mismatches,
                repaired,
                repaired_unverified,
                unrecoverable,
                read_errors,
                ..ScrubReport::default()
            };
        assert!(!scrub_found_errors(&r(0, 0, 0, 0, 0)));
        assert!(!scrub_found_errors(&r(3, 2, 1, 0, 0)), "all repaired");
        assert!(
            scrub_found_errors(&r(3, 0, 0, 0, 0)),
            "a scrub without repair"
        );
        assert!(scrub_found_errors(&r(1, 0, 1, 1, 0)), "unattributed");
        assert!(scrub_found_errors(&r(0, 0, 0, 0, 1)), "read errors");
    }
}
