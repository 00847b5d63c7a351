//! Persistent reservations (SPC-4 5.13): the registration and reservation state, the
//! access rules of the six reservation types, and PERSISTENT RESERVE IN (SPC-4 6.16).
//! PERSISTENT RESERVE OUT lives in [`super::prout`], persistence in [`super::pr_store`].
//!
//! A registration belongs to an I_T nexus. Two extensions of that name come from the
//! PERSISTENT RESERVE OUT parameters this unit supports: ALL_TG_PT (the registration holds
//! for every target port, `tpgt == None`) and format-00b TransportIDs in REGISTER AND MOVE
//! (every port of the initiator device, `isid == None`).

use crate::{Nexus, Response, Sense};

use super::reserve::Class;
use super::transport_id;
use crate::cdb::{be16, byte, data_in};

/// Reservation types (SPC-4 table 187).
pub(crate) const WE: u8 = 0x1;
pub(crate) const EA: u8 = 0x3;
pub(crate) const WE_RO: u8 = 0x5;
pub(crate) const EA_RO: u8 = 0x6;
pub(crate) const WE_AR: u8 = 0x7;
pub(crate) const EA_AR: u8 = 0x8;

/// Whether `t` is a reservation type this unit supports (all six).
pub(crate) fn valid_type(t: u8) -> bool {
    matches!(t, WE | EA | WE_RO | EA_RO | WE_AR | EA_AR)
}

/// All-registrants types: every registrant is a reservation holder.
pub(crate) fn all_registrants(t: u8) -> bool {
    matches!(t, WE_AR | EA_AR)
}

/// One registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registration {
    pub(crate) key: u64,
    pub(crate) initiator: String,
    /// `None`: every ISID of the initiator.
    pub(crate) isid: Option<u64>,
    pub(crate) target: String,
    /// `None`: every target port (ALL_TG_PT).
    pub(crate) tpgt: Option<u16>,
    /// This registration's I_T nexus holds the reservation (types other than
    /// all-registrants).
    pub(crate) holder: bool,
}

impl Registration {
    /// A registration for exactly `n`, or for all its target ports.
    pub(crate) fn for_nexus(n: &Nexus, key: u64, all_tg_pt: bool) -> Self {
        Self {
            key,
            initiator: n.initiator.clone(),
            isid: Some(n.isid),
            target: n.target.clone(),
            tpgt: (!all_tg_pt).then_some(n.tpgt),
            holder: false,
        }
    }

    /// Whether this registration covers nexus `n`.
    pub(crate) fn matches(&self, n: &Nexus) -> bool {
        self.initiator.eq_ignore_ascii_case(&n.initiator)
            && self.isid.is_none_or(|i| i == n.isid)
            && self.target.eq_ignore_ascii_case(&n.target)
            && self.tpgt.is_none_or(|t| t == n.tpgt)
    }
}

/// Registrations and the reservation of one logical unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrState {
    pub(crate) generation: u32,
    /// APTPL of the last REGISTER / REGISTER AND IGNORE EXISTING KEY / REGISTER AND MOVE.
    pub(crate) aptpl: bool,
    pub(crate) regs: Vec<Registration>,
    /// The reservation type, if a persistent reservation exists (scope is always LU).
    pub(crate) res: Option<u8>,
}

impl PrState {
    /// The index of the registration covering `n`.
    pub(crate) fn find(&self, n: &Nexus) -> Option<usize> {
        self.regs.iter().position(|r| r.matches(n))
    }

    /// Whether `n` holds the reservation.
    pub(crate) fn is_holder(&self, n: &Nexus) -> bool {
        match (self.res, self.find(n)) {
            (Some(t), Some(i)) => all_registrants(t) || self.regs.get(i).is_some_and(|r| r.holder),
            _ => false,
        }
    }

    /// The holder's registration (types other than all-registrants).
    pub(crate) fn holder(&self) -> Option<&Registration> {
        self.regs.iter().find(|r| r.holder)
    }

    /// Whether a command of `class` from `n` conflicts with the reservation (SPC-4 table
    /// "SPC commands that are allowed in the presence of various reservations").
    pub(crate) fn conflicts(&self, n: &Nexus, class: Class) -> bool {
        let Some(t) = self.res else {
            return false;
        };
        if class == Class::Allowed || self.is_holder(n) {
            return false;
        }
        let registered = self.find(n).is_some();
        match t {
            WE => class == Class::Write,
            EA => true,
            WE_RO | WE_AR => class == Class::Write && !registered,
            EA_RO | EA_AR => !registered,
            _ => false,
        }
    }
}

/// PERSISTENT RESERVE IN.
pub(crate) fn prin(st: &PrState, cdb: &[u8]) -> Result<Response, Sense> {
    let alloc = usize::from(be16(cdb, 7));
    let data = match byte(cdb, 1) & 0x1F {
        0x00 => read_keys(st),
        0x01 => read_reservation(st),
        0x02 => report_capabilities(st),
        0x03 => read_full_status(st),
        _ => return Err(Sense::invalid_field_in_cdb(1, Some(4))),
    };
    Ok(data_in(data, alloc))
}

fn header(st: &PrState, body: Vec<u8>) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + body.len());
    d.extend_from_slice(&st.generation.to_be_bytes());
    d.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    d.extend_from_slice(&body);
    d
}

fn read_keys(st: &PrState) -> Vec<u8> {
    let body: Vec<u8> = st.regs.iter().flat_map(|r| r.key.to_be_bytes()).collect();
    header(st, body)
}

fn read_reservation(st: &PrState) -> Vec<u8> {
    let Some(t) = st.res else {
        return header(st, Vec::new());
    };
    let mut body = vec![0u8; 16];
    // All-registrants reservations report a key of zero.
    if !all_registrants(t) {
        let key = st.holder().map_or(0, |r| r.key);
        body[0..8].copy_from_slice(&key.to_be_bytes());
    }
    body[13] = t; // SCOPE 0h (logical unit), TYPE
    header(st, body)
}

/// REPORT CAPABILITIES: ALL_TG_PT and PTPL supported, SPEC_I_PT not; all six types;
/// ALLOW COMMANDS 011b (TEST UNIT READY through every type, MODE SENSE and the like
/// through Write Exclusive types).
fn report_capabilities(st: &PrState) -> Vec<u8> {
    let mut d = vec![0u8; 8];
    d[1] = 8;
    d[2] = 0x04 | 0x01; // ATP_C, PTPL_C
    d[3] = 0x80 | (0x3 << 4) | u8::from(st.aptpl); // TMV, ALLOW COMMANDS, PTPL_A
    d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
    d[5] = 0x01; // EX_AC_AR
    d
}

fn read_full_status(st: &PrState) -> Vec<u8> {
    let mut body = Vec::new();
    for r in &st.regs {
        let holder = st.res.is_some_and(|t| all_registrants(t) || r.holder);
        let tid = transport_id::encode(&r.initiator, r.isid);
        let mut d = vec![0u8; 24];
        d[0..8].copy_from_slice(&r.key.to_be_bytes());
        d[12] = (if r.tpgt.is_none() { 0x02 } else { 0 }) | u8::from(holder);
        if holder {
            d[13] = st.res.unwrap_or(0);
        }
        d[18..20].copy_from_slice(&r.tpgt.unwrap_or(0).to_be_bytes());
        d[20..24].copy_from_slice(&(tid.len() as u32).to_be_bytes());
        d.extend_from_slice(&tid);
        body.extend_from_slice(&d);
    }
    header(st, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nexus(name: &str, isid: u64, tpgt: u16) -> Nexus {
        Nexus {
            initiator: name.into(),
            isid,
            target: "iqn.t".into(),
            tpgt,
        }
    }

    #[test]
    fn access_rules_of_each_type() {
        let a = nexus("iqn.a", 1, 1);
        let b = nexus("iqn.b", 1, 1);
        let c = nexus("iqn.c", 1, 1);
        let mut st = PrState::default();
        let mut ra = Registration::for_nexus(&a, 1, false);
        ra.holder = true;
        st.regs = vec![ra, Registration::for_nexus(&b, 2, false)];
        // (type, registered read, registered write, unregistered read, unregistered write)
        let table = [
            (WE, true, false, true, false),
            (EA, false, false, false, false),
            (WE_RO, true, true, true, false),
            (EA_RO, true, true, false, false),
            (WE_AR, true, true, true, false),
            (EA_AR, true, true, false, false),
        ];
        for (t, rr, rw, ur, uw) in table {
            st.res = Some(t);
            assert!(!st.conflicts(&a, Class::Write));
            assert_eq!(!st.conflicts(&b, Class::Read), rr, "type {t}");
            assert_eq!(!st.conflicts(&b, Class::Write), rw, "type {t}");
            assert_eq!(!st.conflicts(&c, Class::Read), ur, "type {t}");
            assert_eq!(!st.conflicts(&c, Class::Write), uw, "type {t}");
            assert!(!st.conflicts(&c, Class::Allowed));
        }
    }

    #[test]
    fn all_target_ports_registration_matches_every_port() {
        let a1 = nexus("iqn.a", 1, 1);
        let a2 = nexus("iqn.a", 1, 2);
        let r = Registration::for_nexus(&a1, 1, true);
        assert!(r.matches(&a2));
        assert!(!Registration::for_nexus(&a1, 1, false).matches(&a2));
        assert!(!r.matches(&nexus("iqn.a", 2, 1)));
    }
}
