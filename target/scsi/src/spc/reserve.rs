//! Reservation conflicts: how each command is classed for the persistent reservation
//! table of SPC-4 (5.13.1), and the RESERVE(6)/(10) / RELEASE(6)/(10) reservations of
//! SPC-2 (7.21-7.24 there), which this unit still serves.
//!
//! While an SPC-2 reservation is held, other nexuses may only send INQUIRY, REQUEST
//! SENSE, REPORT LUNS, LOG SENSE, PREVENT ALLOW MEDIUM REMOVAL with PREVENT 00b and
//! RELEASE (which then does nothing); PERSISTENT RESERVE IN/OUT conflict for every nexus
//! (SPC-4 5.13.3). While persistent registrations exist, RESERVE and RELEASE conflict.

use crate::{Access, Device, Nexus};

use crate::cdb::{self, byte};

/// How a command stands in the presence of a persistent reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Allowed under every reservation.
    Allowed,
    /// Allowed through Write Exclusive reservations (reads and the ALLOW COMMANDS 011b
    /// list: MODE SENSE, REPORT SUPPORTED OPERATION CODES, ...).
    Read,
    /// Conflicts for nexuses without write access.
    Write,
}

/// The class of a CDB: SPC commands by this table, the rest as the device says.
pub(crate) fn class<D: Device>(dev: &D, c: &[u8]) -> Class {
    match byte(c, 0) {
        cdb::INQUIRY
        | cdb::REQUEST_SENSE
        | cdb::TEST_UNIT_READY
        | cdb::REPORT_LUNS
        | cdb::PERSISTENT_RESERVE_IN
        | cdb::PERSISTENT_RESERVE_OUT
        | cdb::RESERVE_6
        | cdb::RESERVE_10
        | cdb::RELEASE_6
        | cdb::RELEASE_10
        | cdb::LOG_SENSE => Class::Allowed,
        cdb::MODE_SENSE_6 | cdb::MODE_SENSE_10 => Class::Read,
        cdb::MODE_SELECT_6 | cdb::MODE_SELECT_10 => Class::Write,
        cdb::MAINTENANCE_IN => match byte(c, 1) & 0x1F {
            cdb::SA_REPORT_TARGET_PORT_GROUPS => Class::Allowed,
            cdb::SA_REPORT_SUPPORTED_OPCODES | cdb::SA_REPORT_SUPPORTED_TMFS => Class::Read,
            _ => device_class(dev, c),
        },
        _ => device_class(dev, c),
    }
}

fn device_class<D: Device>(dev: &D, c: &[u8]) -> Class {
    match dev.access(c) {
        Access::None => Class::Allowed,
        Access::Read => Class::Read,
        Access::Write => Class::Write,
    }
}

/// Whether a command from a nexus that does not hold an SPC-2 reservation may proceed.
pub(crate) fn allowed_by_non_holder(c: &[u8]) -> bool {
    match byte(c, 0) {
        cdb::INQUIRY
        | cdb::REQUEST_SENSE
        | cdb::REPORT_LUNS
        | cdb::LOG_SENSE
        | cdb::RELEASE_6
        | cdb::RELEASE_10 => true,
        cdb::PREVENT_ALLOW => byte(c, 4) & 0x03 == 0,
        _ => false,
    }
}

/// Whether a command conflicts with an SPC-2 reservation held by `holder`.
pub(crate) fn spc2_conflict(holder: Option<&Nexus>, n: &Nexus, c: &[u8]) -> bool {
    let Some(h) = holder else {
        return false;
    };
    let op = byte(c, 0);
    if op == cdb::PERSISTENT_RESERVE_IN || op == cdb::PERSISTENT_RESERVE_OUT {
        return true;
    }
    h != n && !allowed_by_non_holder(c)
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
    fn spc2_reservation_blocks_other_nexuses() {
        let (a, b) = (nexus(1), nexus(2));
        let tur = [0u8; 6];
        assert!(!spc2_conflict(None, &b, &tur));
        assert!(!spc2_conflict(Some(&a), &a, &tur));
        assert!(spc2_conflict(Some(&a), &b, &tur));
        assert!(!spc2_conflict(Some(&a), &b, &[0x12, 0, 0, 0, 36, 0]));
        assert!(!spc2_conflict(Some(&a), &b, &[0x1E, 0, 0, 0, 0, 0]));
        assert!(spc2_conflict(Some(&a), &b, &[0x1E, 0, 0, 0, 1, 0]));
        assert!(spc2_conflict(
            Some(&a),
            &a,
            &[0x5E, 0, 0, 0, 0, 0, 0, 0, 8, 0]
        ));
    }
}
