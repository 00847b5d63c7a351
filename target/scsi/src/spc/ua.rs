//! Unit attention conditions (SAM-5 5.14, SPC-4 4.4.2), kept per I_T nexus.
//!
//! A nexus the unit has not seen before starts with POWER ON, RESET, OR BUS DEVICE RESET
//! OCCURRED; events (resets, MODE SELECT, persistent reservation changes, device events)
//! add conditions to the nexuses they concern. The oldest condition is reported first and
//! cleared when reported (UA_INTLCK_CTRL = 00b).

use std::collections::{HashMap, VecDeque};

use crate::{Nexus, Sense, SenseKey};

/// At most this many conditions wait per nexus; older ones are kept, newer dropped (the
/// first condition is the one that matters most, SAM-5 5.14).
const MAX_PENDING: usize = 8;

/// Named unit attention conditions (SPC-4 table D.2).
pub(crate) mod code {
    pub const POWER_ON_RESET: (u8, u8) = (0x29, 0x00);
    pub const POWER_ON: (u8, u8) = (0x29, 0x01);
    pub const BUS_DEVICE_RESET: (u8, u8) = (0x29, 0x03);
    pub const MODE_PARAMETERS_CHANGED: (u8, u8) = (0x2A, 0x01);
    pub const RESERVATIONS_PREEMPTED: (u8, u8) = (0x2A, 0x03);
    pub const RESERVATIONS_RELEASED: (u8, u8) = (0x2A, 0x04);
    pub const REGISTRATIONS_PREEMPTED: (u8, u8) = (0x2A, 0x05);
    pub const COMMANDS_CLEARED_BY_ANOTHER: (u8, u8) = (0x2F, 0x00);
}

/// UNIT ATTENTION sense with `(asc, ascq)`.
pub(crate) fn sense((asc, ascq): (u8, u8)) -> Sense {
    Sense::new(SenseKey::UnitAttention, asc, ascq)
}

/// Pending unit attentions of every nexus the unit knows.
#[derive(Debug, Default)]
pub(crate) struct UnitAttentions {
    pending: HashMap<Nexus, VecDeque<Sense>>,
}

impl UnitAttentions {
    /// Makes sure `nexus` is known; a new nexus gets POWER ON, RESET, OR BUS DEVICE RESET
    /// OCCURRED.
    pub(crate) fn touch(&mut self, nexus: &Nexus) {
        if !self.pending.contains_key(nexus) {
            let mut q = VecDeque::new();
            q.push_back(sense(code::POWER_ON_RESET));
            self.pending.insert(nexus.clone(), q);
        }
    }

    /// Takes the oldest pending condition of `nexus`.
    pub(crate) fn take(&mut self, nexus: &Nexus) -> Option<Sense> {
        self.pending.get_mut(nexus)?.pop_front()
    }

    /// Whether `nexus` has a condition waiting.
    #[cfg(test)]
    pub(crate) fn has(&self, nexus: &Nexus) -> bool {
        self.pending.get(nexus).is_some_and(|q| !q.is_empty())
    }

    /// Adds `s` for one known nexus.
    pub(crate) fn raise(&mut self, nexus: &Nexus, s: &Sense) {
        if let Some(q) = self.pending.get_mut(nexus) {
            if !q.contains(s) && q.len() < MAX_PENDING {
                q.push_back(s.clone());
            }
        }
    }

    /// Adds `s` for every known nexus for which `pred` holds.
    pub(crate) fn raise_where(&mut self, s: &Sense, mut pred: impl FnMut(&Nexus) -> bool) {
        let targets: Vec<Nexus> = self.pending.keys().filter(|n| pred(n)).cloned().collect();
        for n in targets {
            self.raise(&n, s);
        }
    }

    /// Adds `s` for every known nexus.
    pub(crate) fn raise_all(&mut self, s: &Sense) {
        self.raise_where(s, |_| true);
    }

    /// Forgets a nexus that has gone; if it comes back it starts afresh.
    pub(crate) fn forget(&mut self, nexus: &Nexus) {
        self.pending.remove(nexus);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nexus(isid: u64) -> Nexus {
        Nexus {
            initiator: "iqn.i".into(),
            isid,
            target: "iqn.t".into(),
            tpgt: 1,
        }
    }

    #[test]
    fn new_nexus_gets_power_on_then_events_in_order() {
        let mut ua = UnitAttentions::default();
        let a = nexus(1);
        ua.touch(&a);
        ua.raise(&a, &sense(code::MODE_PARAMETERS_CHANGED));
        ua.raise(&a, &sense(code::MODE_PARAMETERS_CHANGED));
        assert_eq!(ua.take(&a).map(|s| s.asc), Some(0x29));
        assert_eq!(ua.take(&a).map(|s| (s.asc, s.ascq)), Some((0x2A, 0x01)));
        assert_eq!(ua.take(&a), None);
        ua.touch(&a);
        assert!(!ua.has(&a));
        ua.forget(&a);
        ua.touch(&a);
        assert!(ua.has(&a));
    }
}
