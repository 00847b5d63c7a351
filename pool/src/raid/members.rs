//! The member table: each slot's device and state, the spares, and what happens when a
//! member fails (it is marked faulty, a spare takes its slot, the state is saved).

use super::{MemberState, RaidJournal, RaidLevel, RaidMember, RaidState};
use parking_lot::RwLock;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use vsa_blockdev::{BlockDevice, BlockError};

/// One slot as seen by an operation (a snapshot; the table may change meanwhile).
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub name: Arc<str>,
    pub dev: Arc<dyn BlockDevice>,
    pub state: MemberState,
    /// Blocks of this slot's device that failed their checksums since the set opened.
    pub errors: Arc<AtomicU64>,
}

impl View {
    /// Whether this member holds valid data up to member offset `end`.
    pub fn readable(&self, end: u64) -> bool {
        match self.state {
            MemberState::Active => true,
            MemberState::Rebuilding { rebuilt } => rebuilt >= end,
            MemberState::Faulty | MemberState::Spare => false,
        }
    }

    /// Whether writes go to this member.
    pub fn writable(&self) -> bool {
        matches!(
            self.state,
            MemberState::Active | MemberState::Rebuilding { .. }
        )
    }
}

fn same_dev(a: &Arc<dyn BlockDevice>, b: &Arc<dyn BlockDevice>) -> bool {
    std::ptr::eq(Arc::as_ptr(a).cast::<()>(), Arc::as_ptr(b).cast::<()>())
}

#[derive(Debug)]
struct Inner {
    slots: Vec<View>,
    spares: Vec<RaidMember>,
}

/// The member table.
#[derive(Debug)]
pub(crate) struct Members {
    inner: RwLock<Inner>,
}

impl Members {
    pub fn new(slots: Vec<(RaidMember, MemberState)>, spares: Vec<RaidMember>) -> Self {
        let slots = slots
            .into_iter()
            .map(|(m, state)| View {
                name: m.name.into(),
                dev: m.dev,
                state,
                errors: Arc::default(),
            })
            .collect();
        Members {
            inner: RwLock::new(Inner { slots, spares }),
        }
    }

    /// A snapshot of every slot.
    pub fn view(&self) -> Vec<View> {
        self.inner.read().slots.clone()
    }

    /// Names of the spares.
    pub fn spare_names(&self) -> Vec<String> {
        self.inner
            .read()
            .spares
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// What the journal persists.
    pub fn state(&self) -> RaidState {
        let g = self.inner.read();
        Self::state_of(&g)
    }

    fn state_of(g: &Inner) -> RaidState {
        RaidState {
            members: g
                .slots
                .iter()
                .map(|v| (v.name.to_string(), v.state))
                .collect(),
            spares: g.spares.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Marks slot `index` faulty if it still holds `dev`, swaps in a spare if there is one,
    /// and saves the state. Returns whether anything changed.
    pub fn fail(
        &self,
        journal: &dyn RaidJournal,
        index: usize,
        dev: Option<&Arc<dyn BlockDevice>>,
        why: &str,
    ) -> Result<bool, BlockError> {
        let mut g = self.inner.write();
        let Some(slot) = g.slots.get(index) else {
            return Ok(false);
        };
        if slot.state == MemberState::Faulty || dev.is_some_and(|d| !same_dev(d, &slot.dev)) {
            return Ok(false);
        }
        tracing::warn!(member = %slot.name, index, "RAID member failed: {why}");
        g.slots[index].state = MemberState::Faulty;
        Self::take_spare(&mut g, index);
        journal.save_state(&Self::state_of(&g)).map(|()| true)
    }

    fn take_spare(g: &mut Inner, index: usize) {
        if g.slots[index].state != MemberState::Faulty || g.spares.is_empty() {
            return;
        }
        let spare = g.spares.remove(0);
        tracing::info!(member = %spare.name, index, "spare takes the place of a failed member");
        g.slots[index] = View {
            name: spare.name.into(),
            dev: spare.dev,
            state: MemberState::Rebuilding { rebuilt: 0 },
            errors: Arc::default(),
        };
    }

    /// Puts `new` into slot `index` as a member to rebuild; saves the state.
    pub fn replace(
        &self,
        journal: &dyn RaidJournal,
        index: usize,
        new: RaidMember,
    ) -> Result<(), BlockError> {
        let mut g = self.inner.write();
        g.slots[index] = View {
            name: new.name.into(),
            dev: new.dev,
            state: MemberState::Rebuilding { rebuilt: 0 },
            errors: Arc::default(),
        };
        journal.save_state(&Self::state_of(&g))
    }

    /// Adds a spare; it goes straight into the first faulty slot if there is one.
    pub fn add_spare(
        &self,
        journal: &dyn RaidJournal,
        spare: RaidMember,
    ) -> Result<(), BlockError> {
        let mut g = self.inner.write();
        g.spares.push(spare);
        if let Some(i) = g.slots.iter().position(|v| v.state == MemberState::Faulty) {
            Self::take_spare(&mut g, i);
        }
        journal.save_state(&Self::state_of(&g))
    }

    /// Records rebuild progress of slot `index` (if it still holds `dev`); a member
    /// rebuilt to `member_size` becomes active. Saves the state when `save` is set.
    pub fn set_rebuilt(
        &self,
        journal: &dyn RaidJournal,
        index: usize,
        dev: &Arc<dyn BlockDevice>,
        rebuilt: u64,
        member_size: u64,
        save: bool,
    ) -> Result<(), BlockError> {
        let mut g = self.inner.write();
        let slot = &mut g.slots[index];
        if !same_dev(dev, &slot.dev) || !matches!(slot.state, MemberState::Rebuilding { .. }) {
            return Ok(());
        }
        slot.state = if rebuilt >= member_size {
            MemberState::Active
        } else {
            MemberState::Rebuilding { rebuilt }
        };
        if save || rebuilt >= member_size {
            journal.save_state(&Self::state_of(&g))?;
        }
        Ok(())
    }
}

/// Whether a set of `level` with `members` slots survives without the members in `missing`.
pub(crate) fn tolerates(level: RaidLevel, members: usize, missing: &[usize]) -> bool {
    match level {
        RaidLevel::Raid0 => missing.is_empty(),
        RaidLevel::Raid1 => missing.len() < members,
        RaidLevel::Raid5 => missing.len() <= 1,
        RaidLevel::Raid6 => missing.len() <= 2,
        RaidLevel::Raid10 => !missing.iter().any(|&m| missing.contains(&(m ^ 1))),
    }
}
