//! A SCSI target device: its LUN map, REPORT LUNS (SPC-4 6.33) and the answers for
//! commands addressed to LUNs that do not exist (SPC-4 4.6.4).
//!
//! LUN numbers are 0..16383 and travel as 8-byte LUN fields in SAM-5's single-level
//! formats: peripheral device addressing below 256, flat space addressing above.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::cdb::{be16, be32, byte, data_in, INQUIRY, REPORT_LUNS, REQUEST_SENSE};
use crate::{Command, LogicalUnit, Nexus, Reset, Response, Sense};

/// The highest LUN number this target can address (flat space addressing, 14 bits).
pub const MAX_LUN: u64 = 0x3FFF;

/// Encodes a LUN number as the 8-byte LUN field.
pub fn lun_to_wire(lun: u64) -> [u8; 8] {
    let mut w = [0u8; 8];
    if lun < 256 {
        w[1] = lun as u8;
    } else {
        let l = (lun & MAX_LUN) as u16 | 0x4000;
        w[..2].copy_from_slice(&l.to_be_bytes());
    }
    w
}

/// Decodes an 8-byte LUN field; `None` for addressing methods or levels this target does
/// not use (the transport answers such LUNs as not supported).
pub fn lun_from_wire(w: [u8; 8]) -> Option<u64> {
    if w[2..].iter().any(|&b| b != 0) {
        return None;
    }
    match w[0] >> 6 {
        0b00 if w[0] == 0 => Some(u64::from(w[1])),
        0b01 => Some(u64::from(u16::from_be_bytes([w[0] & 0x3F, w[1]]))),
        _ => None,
    }
}

/// One SCSI target device: a set of logical units by LUN.
#[derive(Debug, Default)]
pub struct Target {
    luns: RwLock<BTreeMap<u64, Arc<dyn LogicalUnit>>>,
}

impl Target {
    /// A target with no LUNs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the unit at `lun`.
    pub fn insert(&self, lun: u64, unit: Arc<dyn LogicalUnit>) {
        self.luns.write().insert(lun, unit);
    }

    /// Removes the unit at `lun`.
    pub fn remove(&self, lun: u64) -> Option<Arc<dyn LogicalUnit>> {
        self.luns.write().remove(&lun)
    }

    /// The LUN numbers in use, ascending.
    pub fn luns(&self) -> Vec<u64> {
        self.luns.read().keys().copied().collect()
    }

    /// The unit at `lun`.
    pub fn unit(&self, lun: u64) -> Option<Arc<dyn LogicalUnit>> {
        self.luns.read().get(&lun).cloned()
    }

    /// Whether the unit at `lun` runs its commands one at a time in order
    /// ([`LogicalUnit::sequential`]); false for absent LUNs.
    pub fn sequential(&self, lun: Option<u64>) -> bool {
        lun.and_then(|l| self.luns.read().get(&l).map(|u| u.sequential()))
            .unwrap_or(false)
    }

    /// Executes a command addressed to `lun` (`None`: a LUN field this target cannot
    /// decode).
    pub fn execute(&self, lun: Option<u64>, cmd: &Command<'_>) -> Response {
        let opcode = cmd.cdb.first().copied().unwrap_or(0xFF);
        if opcode == REPORT_LUNS {
            // REPORT LUNS is answered by the target for any LUN, existing or not.
            return self.report_luns(cmd);
        }
        match lun.and_then(|l| self.unit(l)) {
            Some(unit) => unit.execute(cmd),
            None => self.absent_lun(cmd),
        }
    }

    /// [`LogicalUnit::try_execute`] for the unit at `lun`: `None` when it would wait (or
    /// for REPORT LUNS and absent LUNs, which [`execute`](Self::execute) answers).
    pub fn try_execute(&self, lun: Option<u64>, cmd: &Command<'_>) -> Option<Response> {
        if cmd.cdb.first() == Some(&REPORT_LUNS) {
            return None;
        }
        self.unit(lun?)?.try_execute(cmd)
    }

    /// Applies a reset to one LUN (`Some`) or all of them (`None`, target reset).
    pub fn reset(&self, lun: Option<u64>, reset: Reset, from: &Nexus) {
        let units: Vec<_> = match lun {
            Some(l) => self.unit(l).into_iter().collect(),
            None => self.luns.read().values().cloned().collect(),
        };
        for u in units {
            u.reset(reset, from);
        }
    }

    /// Tells one unit (`Some`) or all of them (`None`) that commands of `nexus` are being
    /// aborted (see [`LogicalUnit::aborting`]).
    pub fn aborting(&self, lun: Option<u64>, nexus: &Nexus) {
        let units: Vec<_> = match lun {
            Some(l) => self.unit(l).into_iter().collect(),
            None => self.luns.read().values().cloned().collect(),
        };
        for u in units {
            u.aborting(nexus);
        }
    }

    /// Tells every unit that `nexus` has gone.
    pub fn nexus_lost(&self, nexus: &Nexus) {
        let units: Vec<_> = self.luns.read().values().cloned().collect();
        for u in units {
            u.nexus_lost(nexus);
        }
    }

    fn report_luns(&self, cmd: &Command<'_>) -> Response {
        let cdb = cmd.cdb;
        if cdb.len() < 12 {
            return Response::check(&Sense::invalid_field_in_cdb(0, None), false);
        }
        let select = byte(cdb, 2);
        let alloc = be32(cdb, 6) as usize;
        if alloc < 16 {
            return Response::check(&Sense::invalid_field_in_cdb(6, None), false);
        }
        let luns: Vec<u64> = match select {
            // 0x00 all LUNs, 0x02 all; 0x01 well-known LUNs only (we have none);
            // 0x10/0x11/0x12 administrative-LUN scoped selections (none here either).
            0x00 | 0x02 => self.luns(),
            0x01 | 0x10 | 0x11 => Vec::new(),
            0x12 => Vec::new(),
            _ => return Response::check(&Sense::invalid_field_in_cdb(2, None), false),
        };
        let mut data = Vec::with_capacity(8 + 8 * luns.len().max(1));
        let list_len = (8 * luns.len()) as u32;
        data.extend_from_slice(&list_len.to_be_bytes());
        data.extend_from_slice(&[0; 4]);
        for l in luns {
            data.extend_from_slice(&lun_to_wire(l));
        }
        data_in(data, alloc)
    }

    fn absent_lun(&self, cmd: &Command<'_>) -> Response {
        match cmd.cdb.first() {
            Some(&INQUIRY) => {
                // Peripheral qualifier 011b, device type 1Fh: no unit at this LUN.
                let alloc = usize::from(be16(cmd.cdb, 3));
                let mut d = vec![0u8; 36];
                d[0] = 0x7F;
                d[2] = 0x06;
                d[3] = 0x02;
                d[4] = 31;
                data_in(d, alloc)
            }
            Some(&REQUEST_SENSE) => {
                let s = Sense::lun_not_supported().encode(false);
                data_in(s, usize::from(byte(cmd.cdb, 4)))
            }
            _ => Response::check(&Sense::lun_not_supported(), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lun_fields_round_trip() {
        for l in [0u64, 1, 255, 256, 1000, MAX_LUN] {
            assert_eq!(lun_from_wire(lun_to_wire(l)), Some(l));
        }
        assert_eq!(lun_from_wire([0x80, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(lun_from_wire([0, 1, 0, 0, 0, 0, 0, 1]), None);
    }

    /// A unit that counts the aborts it is told about.
    #[derive(Debug, Default)]
    struct Counting(parking_lot::Mutex<Vec<Nexus>>);

    impl LogicalUnit for Counting {
        fn execute(&self, _cmd: &Command<'_>) -> Response {
            Response::good()
        }
        fn reset(&self, _reset: Reset, _from: &Nexus) {}
        fn aborting(&self, nexus: &Nexus) {
            self.0.lock().push(nexus.clone());
        }
    }

    #[test]
    fn aborting_reaches_one_unit_or_all() {
        let t = Target::new();
        let (a, b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
        t.insert(0, a.clone());
        t.insert(1, b.clone());
        let nexus = Nexus {
            initiator: "iqn.i".into(),
            isid: 1,
            target: "iqn.t".into(),
            tpgt: 1,
        };
        t.aborting(Some(1), &nexus);
        t.aborting(Some(7), &nexus);
        assert_eq!((a.0.lock().len(), b.0.lock().len()), (0, 1));
        t.aborting(None, &nexus);
        assert_eq!((a.0.lock().len(), b.0.lock().len()), (1, 2));
        assert_eq!(a.0.lock()[0], nexus);
    }

    #[test]
    fn report_luns_lists_units_and_respects_allocation_length() {
        let t = Target::new();
        let nexus = Nexus {
            initiator: "iqn.i".into(),
            isid: 1,
            target: "iqn.t".into(),
            tpgt: 1,
        };
        let cdb = [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0];
        let cmd = Command {
            cdb: &cdb,
            data_out: &crate::Bytes::new(),
            expected_len: 16,
            nexus: &nexus,
            attr: Default::default(),
        };
        let r = t.execute(Some(5), &cmd);
        assert_eq!(r.data, vec![0u8; 8]);
        let bad = [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0];
        let cmd = Command { cdb: &bad, ..cmd };
        assert_eq!(
            t.execute(Some(0), &cmd).status,
            crate::Status::CheckCondition
        );
    }
}
