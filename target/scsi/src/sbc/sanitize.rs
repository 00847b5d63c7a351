//! SANITIZE (SBC-4 5.24): OVERWRITE writes the initialization pattern over every block
//! (OVERWRITE COUNT passes, inverted between passes with INVERT); BLOCK ERASE and
//! CRYPTOGRAPHIC ERASE release every block to the pool, after which the blocks read as
//! zeros and the old data cannot be reached; EXIT FAILURE MODE leaves the failure mode a
//! failed sanitize leaves behind.
//!
//! The operation runs on a thread of its own (see [`super::sanitizer`]): with IMMED the
//! command returns GOOD as soon as the CDB and parameter list are checked, without it
//! the command returns when the operation has ended. Meanwhile every command but
//! INQUIRY, REPORT LUNS and REQUEST SENSE gets NOT READY, SANITIZE IN PROGRESS (through
//! [`crate::Device::overriding_condition`]), and REQUEST SENSE reports the progress.
//! Resets and the loss of the I_T nexus that sent the command do not stop it; when the
//! transport aborts the command ([`crate::Device::aborting`]) it stops waiting and the
//! operation goes on.

use super::disk::Disk;
use super::sanitizer::{Job, Method, SanitizeState};
use crate::cdb::{be16, byte, need};
use crate::{Command, Response, Sense, UnitCtx};

const OVERWRITE: u8 = 0x01;
const BLOCK_ERASE: u8 = 0x02;
const CRYPTO_ERASE: u8 = 0x03;
const EXIT_FAILURE_MODE: u8 = 0x1F;
const IMMED: u8 = 0x80;

impl Disk {
    /// SANITIZE.
    pub(crate) fn sanitize(&self, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        let cdb = c.cdb;
        need(cdb, 10)?;
        let sa = byte(cdb, 1) & 0x1F;
        check_sanitize_cdb(cdb, sa)?;
        let len = usize::from(be16(cdb, 7));
        let method = match sa {
            OVERWRITE => Some(self.overwrite_params(c.data_out, len)?),
            _ if len != 0 => return Err(Sense::invalid_field_in_cdb(7, None)),
            EXIT_FAILURE_MODE => None,
            _ => Some(Method::Erase),
        };
        if ctx.write_protected {
            return Err(Sense::write_protected());
        }
        let Some(method) = method else {
            if self.sanitize.state() == SanitizeState::Failed {
                self.sanitize.set_state(SanitizeState::Idle);
            }
            return Ok(Response::good());
        };
        let immed = byte(cdb, 1) & IMMED != 0;
        let seq = self
            .sanitize_job(method)
            .start((!immed).then_some(c.nexus))?;
        if !immed {
            self.sanitize.wait(seq, c.nexus)?;
        }
        Ok(Response::good())
    }

    fn sanitize_job(&self, method: Method) -> Job {
        Job {
            dev: self.dev.clone(),
            locks: self.locks.clone(),
            tracker: self.sanitize.clone(),
            bs: self.bs,
            blocks: self.blocks(),
            rate: self.tuning.sanitize_bytes_per_sec,
            method,
        }
    }

    /// Checks the OVERWRITE parameter list (SBC-4 5.24.3).
    fn overwrite_params(&self, data: &[u8], len: usize) -> Result<Method, Sense> {
        let bs = self.bs as usize;
        if len < 5 || len > bs + 4 {
            return Err(Sense::invalid_field_in_cdb(7, None));
        }
        let list = data.get(..len).ok_or_else(Sense::param_list_length_error)?;
        let b0 = byte(list, 0);
        if b0 & 0x60 != 0 {
            // TEST: only 00b (no vendor test mode).
            return Err(Sense::invalid_field_in_param(0, Some(6)));
        }
        let passes = b0 & 0x1F;
        if passes == 0 {
            return Err(Sense::invalid_field_in_param(0, Some(4)));
        }
        let pattern_len = usize::from(be16(list, 2));
        if pattern_len == 0 || pattern_len > bs || pattern_len + 4 != len {
            return Err(Sense::invalid_field_in_param(2, None));
        }
        Ok(Method::Overwrite {
            invert: b0 & 0x80 != 0,
            passes,
            pattern: list.get(4..).unwrap_or_default().to_vec(),
        })
    }
}

/// Service action and reserved fields of the SANITIZE CDB.
fn check_sanitize_cdb(cdb: &[u8], sa: u8) -> Result<(), Sense> {
    if !matches!(
        sa,
        OVERWRITE | BLOCK_ERASE | CRYPTO_ERASE | EXIT_FAILURE_MODE
    ) {
        return Err(Sense::invalid_field_in_cdb(1, Some(4)));
    }
    if byte(cdb, 1) & 0x40 != 0 {
        return Err(Sense::invalid_field_in_cdb(1, Some(6)));
    }
    if let Some(at) = (2..7).find(|&i| byte(cdb, i) != 0) {
        return Err(Sense::invalid_field_in_cdb(at as u16, None));
    }
    Ok(())
}
