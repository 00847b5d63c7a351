//! [`Unit`]: one logical unit — the shared SPC machinery around a [`Device`].

use std::sync::Arc;

use parking_lot::Mutex;

use crate::{
    Command, Device, Identity, LogicalUnit, Nexus, Reset, Response, Sense, SenseKey, Status,
    UnitCtx,
};

use super::mode::{self, ModeState};
use super::pr::{self, PrState};
use super::pr_store::{self, PrStore, PrStoreError};
use super::prout::{self, ProutError};
use super::ua::{self, code, UnitAttentions};
use super::{inquiry, reserve, rsoc};
use crate::cdb::{self, byte, data_in};

/// How a [`Unit`] is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitOptions {
    /// The logical unit is read-only: writes fail with DATA PROTECT and MODE SENSE reports
    /// WP, whatever SWP says.
    pub read_only: bool,
    /// Keep persistent reservations loaded from the [`PrStore`] even when the initiator did
    /// not set APTPL (SPC-4 lets them vanish at power loss; a failover may want them kept).
    pub keep_pr_without_aptpl: bool,
}

/// Everything the unit keeps that commands change, behind one lock.
#[derive(Debug, Default)]
struct State {
    ua: UnitAttentions,
    mode: ModeState,
    /// The holder of a RESERVE(6)/(10) reservation.
    spc2: Option<Nexus>,
    pr: PrState,
}

/// A logical unit: unit attentions, reservations and the SPC-4 commands every device type
/// shares, in front of a [`Device`] that serves the rest.
///
/// [`LogicalUnit::execute`] works in this order: CDB length and control byte; the device's
/// overriding condition ([`Device::overriding_condition`]), then pending unit attentions
/// of the nexus (neither for INQUIRY, REPORT LUNS and REQUEST SENSE); reservation
/// conflicts (RESERVE(6)/(10) and persistent reservations); the SPC commands; then
/// [`Device::execute`].
#[derive(Debug)]
pub struct Unit<D: Device> {
    device: D,
    identity: Identity,
    options: UnitOptions,
    pr_store: Arc<dyn PrStore>,
    state: Mutex<State>,
}

impl<D: Device> Unit<D> {
    /// A unit serving `device` as `identity`, with persistent reservations kept in
    /// `pr_store` (loaded now; see [`PrStore`] for what survives and how it is encoded).
    pub fn new(
        device: D,
        identity: Identity,
        options: UnitOptions,
        pr_store: Arc<dyn PrStore>,
    ) -> Result<Self, PrStoreError> {
        let pr = match pr_store.load()? {
            Some(bytes) => {
                let mut st = pr_store::decode(&bytes)?;
                st.generation = 0;
                if st.aptpl || options.keep_pr_without_aptpl {
                    st
                } else {
                    PrState::default()
                }
            }
            None => PrState::default(),
        };
        let state = State {
            pr,
            ..State::default()
        };
        Ok(Self {
            device,
            identity,
            options,
            pr_store,
            state: Mutex::new(state),
        })
    }

    /// The device behind this unit.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The identity the unit reports.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn ctx(&self, mode: &ModeState) -> UnitCtx {
        UnitCtx {
            write_protected: self.options.read_only || mode.swp,
            descriptor_sense: mode.d_sense,
        }
    }

    /// The device's overriding condition, unit attentions and reservation conflicts;
    /// `Some` ends the command here.
    fn gate(&self, cmd: &Command<'_>) -> Option<Response> {
        let attention = self.device.pending_attention();
        let mut st = self.state.lock();
        st.ua.touch(cmd.nexus);
        if let Some(s) = attention {
            st.ua.raise_all(&s);
        }
        let op = byte(cmd.cdb, 0);
        if !matches!(op, cdb::INQUIRY | cdb::REPORT_LUNS | cdb::REQUEST_SENSE) {
            // Checked before unit attentions, which stay pending (SBC-4 4.11.2).
            if let Some(s) = self.device.overriding_condition() {
                return Some(Response::check(&s, st.mode.d_sense));
            }
            if let Some(s) = st.ua.take(cmd.nexus) {
                return Some(Response::check(&s, st.mode.d_sense));
            }
        }
        if reserve::spc2_conflict(st.spc2.as_ref(), cmd.nexus, cmd.cdb) {
            return Some(Response::status(Status::ReservationConflict));
        }
        if st.pr.res.is_some() {
            let class = reserve::class(&self.device, cmd.cdb);
            if st.pr.conflicts(cmd.nexus, class) {
                return Some(Response::status(Status::ReservationConflict));
            }
        }
        None
    }

    /// The SPC commands; `None` for commands the device serves.
    fn spc(&self, cmd: &Command<'_>) -> Option<Result<Response, Sense>> {
        let c = cmd.cdb;
        let r = match byte(c, 0) {
            cdb::TEST_UNIT_READY => self.device.ready().map(|()| Response::good()),
            cdb::REQUEST_SENSE => Ok(self.request_sense(cmd)),
            cdb::INQUIRY => inquiry::inquiry(&self.device, &self.identity, cmd.nexus, c),
            cdb::MODE_SENSE_6 => self.mode_sense(c, false),
            cdb::MODE_SENSE_10 => self.mode_sense(c, true),
            cdb::MODE_SELECT_6 => self.mode_select(cmd, false),
            cdb::MODE_SELECT_10 => self.mode_select(cmd, true),
            cdb::RESERVE_6 | cdb::RESERVE_10 => self.reserve(cmd),
            cdb::RELEASE_6 | cdb::RELEASE_10 => self.release(cmd),
            cdb::PERSISTENT_RESERVE_IN => pr::prin(&self.state.lock().pr, c),
            cdb::PERSISTENT_RESERVE_OUT => Ok(self.prout(cmd)),
            cdb::MAINTENANCE_IN => match byte(c, 1) & 0x1F {
                cdb::SA_REPORT_SUPPORTED_OPCODES => rsoc::report_opcodes(&self.device, c),
                cdb::SA_REPORT_SUPPORTED_TMFS => Ok(rsoc::report_tmfs(c)),
                _ => return None,
            },
            _ => return None,
        };
        Some(r)
    }

    /// REQUEST SENSE (SPC-4 6.39): the device's overriding condition (a sanitize in
    /// progress, with its progress indication; pending unit attentions stay pending),
    /// else a pending unit attention (cleared by being reported), else the not-ready
    /// state of the device, else NO SENSE.
    fn request_sense(&self, cmd: &Command<'_>) -> Response {
        let desc = byte(cmd.cdb, 1) & 0x01 != 0;
        let alloc = usize::from(byte(cmd.cdb, 4));
        let s = self
            .device
            .overriding_condition()
            .or_else(|| self.state.lock().ua.take(cmd.nexus))
            .or_else(|| self.device.ready().err())
            .unwrap_or_else(|| Sense::new(SenseKey::NoSense, 0, 0));
        data_in(s.encode(desc), alloc)
    }

    fn mode_sense(&self, c: &[u8], ten: bool) -> Result<Response, Sense> {
        let mode = self.state.lock().mode;
        let wp = self.ctx(&mode).write_protected;
        mode::sense(&self.device, &mode, wp, c, ten)
    }

    fn mode_select(&self, cmd: &Command<'_>, ten: bool) -> Result<Response, Sense> {
        let mut st = self.state.lock();
        let sel = mode::select(&self.device, &st.mode, cmd.cdb, cmd.data_out, ten)?;
        if let Some(h) = sel.header {
            self.device
                .select_mode_header(h.device_specific, h.descriptor)
                .map_err(|s| rebase_header(s, &h))?;
        }
        for (page, offset, bytes) in &sel.device_pages {
            self.device
                .mode_select(*page, bytes)
                .map_err(|s| rebase(s, *offset))?;
        }
        let changed = sel.state != st.mode || !sel.device_pages.is_empty() || sel.header.is_some();
        st.mode = sel.state;
        if changed {
            let s = ua::sense(code::MODE_PARAMETERS_CHANGED);
            st.ua.raise_where(&s, |n| n != cmd.nexus);
        }
        Ok(Response::good())
    }

    /// RESERVE(6)/(10): third-party and extent reservations are not supported.
    fn reserve(&self, cmd: &Command<'_>) -> Result<Response, Sense> {
        let c = cmd.cdb;
        if byte(c, 0) == cdb::RESERVE_6 && byte(c, 1) & 0x01 != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(0)));
        }
        if byte(c, 0) == cdb::RESERVE_10 && byte(c, 1) & 0x12 != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(4)));
        }
        let mut st = self.state.lock();
        if !st.pr.regs.is_empty() {
            return Ok(Response::status(Status::ReservationConflict));
        }
        match &st.spc2 {
            Some(h) if h != cmd.nexus => Ok(Response::status(Status::ReservationConflict)),
            _ => {
                st.spc2 = Some(cmd.nexus.clone());
                Ok(Response::good())
            }
        }
    }

    /// RELEASE(6)/(10): releases the nexus's own reservation; anything else is a no-op.
    fn release(&self, cmd: &Command<'_>) -> Result<Response, Sense> {
        let c = cmd.cdb;
        if byte(c, 0) == cdb::RELEASE_10 && byte(c, 1) & 0x12 != 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(4)));
        }
        let mut st = self.state.lock();
        if !st.pr.regs.is_empty() {
            return Ok(Response::status(Status::ReservationConflict));
        }
        if st.spc2.as_ref() == Some(cmd.nexus) {
            st.spc2 = None;
        }
        Ok(Response::good())
    }

    /// PERSISTENT RESERVE OUT: applied to a copy of the state, saved, then committed.
    fn prout(&self, cmd: &Command<'_>) -> Response {
        let mut st = self.state.lock();
        let desc = st.mode.d_sense;
        let mut new = st.pr.clone();
        let uas = match prout::apply(&mut new, cmd.nexus, cmd.cdb, cmd.data_out) {
            Ok(uas) => uas,
            Err(ProutError::Conflict) => return Response::status(Status::ReservationConflict),
            Err(ProutError::Check(s)) => return Response::check(&s, desc),
        };
        if new != st.pr {
            if let Err(e) = self.pr_store.save(&pr_store::encode(&new)) {
                tracing::error!(error = %e, "persistent reservation change not saved");
                return Response::check(&Sense::internal_failure(), desc);
            }
        }
        st.pr = new;
        for (reg, c) in uas {
            let s = ua::sense(c);
            st.ua.raise_where(&s, |n| n != cmd.nexus && reg.matches(n));
        }
        Response::good()
    }
}

/// Moves a device's parameter-list field pointer (relative to its page) to the offset of
/// the page in the MODE SELECT parameter list.
fn rebase(mut s: Sense, offset: usize) -> Sense {
    if let Some(f) = s.field.as_mut() {
        if !f.in_cdb {
            f.byte = f
                .byte
                .saturating_add(u16::try_from(offset).unwrap_or(u16::MAX));
        }
    }
    s
}

/// Places a device's MODE SELECT header error in the parameter list: `u16::MAX` is the
/// header's device-specific byte, anything else an offset within the block descriptor.
fn rebase_header(mut s: Sense, h: &mode::HeaderSelection) -> Sense {
    if let Some(f) = s.field.as_mut() {
        if !f.in_cdb {
            let at = if f.byte == u16::MAX {
                h.device_specific_at
            } else {
                h.descriptor_at + usize::from(f.byte)
            };
            f.byte = u16::try_from(at).unwrap_or(u16::MAX);
        }
    }
    s
}

/// The PARAMETER LIST LENGTH of commands with a parameter list this layer serves.
fn data_out_len(c: &[u8]) -> Option<u32> {
    match byte(c, 0) {
        cdb::MODE_SELECT_6 => Some(mode::param_len(c, false) as u32),
        cdb::MODE_SELECT_10 => Some(mode::param_len(c, true) as u32),
        cdb::PERSISTENT_RESERVE_OUT => Some(prout::param_len(c)),
        _ => None,
    }
}

impl<D: Device> LogicalUnit for Unit<D> {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        let desc = self.state.lock().mode.d_sense;
        if let Err(s) = cdb::check(cmd.cdb) {
            return Response::check(&s, desc);
        }
        if let Some(r) = self.gate(cmd) {
            return r;
        }
        if let Some(r) = self.spc(cmd) {
            let desc = self.state.lock().mode.d_sense;
            let mut r = r.unwrap_or_else(|s| Response::check(&s, desc));
            r.data_out_len = data_out_len(cmd.cdb);
            return r;
        }
        let ctx = self.ctx(&self.state.lock().mode);
        self.device
            .execute(cmd, &ctx)
            .unwrap_or_else(|| ctx.check(&Sense::invalid_opcode()))
    }

    fn try_execute(&self, cmd: &Command<'_>) -> Option<Response> {
        if !self.device.may_try(byte(cmd.cdb, 0)) {
            return None;
        }
        // As `execute`, up to the device: none of these steps has an effect that a retry
        // through `execute` would repeat (a unit attention reported here is final).
        let mode = self.state.lock().mode;
        if let Err(s) = cdb::check(cmd.cdb) {
            return Some(Response::check(&s, mode.d_sense));
        }
        if let Some(r) = self.gate(cmd) {
            return Some(r);
        }
        self.device.try_execute(cmd, &self.ctx(&mode))
    }

    fn sequential(&self) -> bool {
        self.device.sequential()
    }

    fn reset(&self, reset: Reset, from: &Nexus) {
        let _ = from;
        {
            let mut st = self.state.lock();
            st.spc2 = None;
            // No saved pages: current values go back to their defaults.
            st.mode = ModeState::default();
            let c = match reset {
                Reset::LogicalUnit | Reset::TargetWarm => code::BUS_DEVICE_RESET,
                Reset::TargetCold => code::POWER_ON,
            };
            st.ua.raise_all(&ua::sense(c));
        }
        self.device.reset();
    }

    fn tasks_cleared(&self, nexus: &Nexus, by: &Nexus) {
        if nexus != by {
            let s = ua::sense(code::COMMANDS_CLEARED_BY_ANOTHER);
            self.state.lock().ua.raise(nexus, &s);
        }
    }

    fn aborting(&self, nexus: &Nexus) {
        self.device.aborting(nexus);
    }

    fn nexus_lost(&self, nexus: &Nexus) {
        {
            let mut st = self.state.lock();
            if st.spc2.as_ref() == Some(nexus) {
                st.spc2 = None;
            }
            st.ua.forget(nexus);
        }
        self.device.nexus_lost(nexus);
    }
}
