//! START STOP UNIT (SBC-4 5.25) and PREVENT ALLOW MEDIUM REMOVAL (5.13): loading and
//! ejecting a removable disk's medium, and locking it in.
//!
//! A virtual disk does not spin, so START = 0 without LOEJ only flushes (unless
//! NO_FLUSH), and power conditions are accepted without changing anything.

use super::disk::Disk;
use crate::cdb::{byte, need};
use crate::{Command, Response, Sense};

impl Disk {
    /// START STOP UNIT.
    pub(crate) fn start_stop(&self, cdb: &[u8]) -> Result<Response, Sense> {
        need(cdb, 6)?;
        let b4 = byte(cdb, 4);
        let (power_condition, no_flush, loej, start) =
            (b4 >> 4, b4 & 0x04 != 0, b4 & 0x02 != 0, b4 & 0x01 != 0);
        if power_condition != 0 {
            // START and LOEJ are ignored with a power condition.
            return Ok(Response::good());
        }
        if !start && !no_flush && !self.medium.lock().ejected {
            self.flush(0)?;
        }
        if !loej {
            return Ok(Response::good());
        }
        if !self.opts.removable {
            return Err(Sense::invalid_field_in_cdb(4, Some(1)));
        }
        let mut medium = self.medium.lock();
        if !medium.preventing.is_empty() {
            return Err(Sense::removal_prevented());
        }
        medium.ejected = !start;
        Ok(Response::good())
    }

    /// PREVENT ALLOW MEDIUM REMOVAL: PREVENT 01b locks the medium for this nexus, 00b
    /// unlocks it again.
    pub(crate) fn prevent_allow(&self, c: &Command<'_>) -> Result<Response, Sense> {
        need(c.cdb, 6)?;
        let mut medium = self.medium.lock();
        match byte(c.cdb, 4) & 0x03 {
            0x00 => {
                medium.preventing.remove(c.nexus);
            }
            0x01 => {
                medium.preventing.insert(c.nexus.clone());
            }
            _ => return Err(Sense::invalid_field_in_cdb(4, Some(1))),
        }
        Ok(Response::good())
    }
}
