//! PERSISTENT RESERVE OUT (SPC-4 6.17, 5.13.5-5.13.11): the eight service actions as pure
//! state transitions on a [`PrState`], returning the unit attentions they establish.
//! The caller persists the new state before GOOD status goes back.

use crate::{Nexus, Sense, SenseKey};

use super::pr::{all_registrants, valid_type, PrState, Registration, EA, WE};
use super::prout_list::{self, Rest};
use super::transport_id;
use super::ua::code;
use crate::cdb::{be32, byte};

/// Why a PERSISTENT RESERVE OUT failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProutError {
    /// RESERVATION CONFLICT status.
    Conflict,
    /// CHECK CONDITION with this sense.
    Check(Sense),
}

impl From<Sense> for ProutError {
    fn from(s: Sense) -> Self {
        Self::Check(s)
    }
}

/// A unit attention to establish for every nexus a registration covers (never for the
/// nexus that sent the command).
pub(crate) type Attention = (Registration, (u8, u8));

/// The parameter list length in the CDB.
pub(crate) fn param_len(cdb: &[u8]) -> u32 {
    be32(cdb, 5)
}

/// The decoded CDB and parameter list.
struct Request<'a> {
    sa: u8,
    scope: u8,
    kind: u8,
    key: u64,
    sark: u64,
    rest: Rest<'a>,
}

impl Request<'_> {
    /// ALL_TG_PT and APTPL of the basic parameter list.
    fn basic_flags(&self) -> (bool, bool) {
        match self.rest {
            Rest::Basic { all_tg_pt, aptpl } => (all_tg_pt, aptpl),
            Rest::Move { aptpl, .. } => (false, aptpl),
        }
    }
}

const REGISTER: u8 = 0;
const RESERVE: u8 = 1;
const RELEASE: u8 = 2;
const CLEAR: u8 = 3;
const PREEMPT: u8 = 4;
const PREEMPT_AND_ABORT: u8 = 5;
const REGISTER_AND_IGNORE: u8 = 6;
const REGISTER_AND_MOVE: u8 = 7;

fn parse<'a>(cdb: &[u8], data: &'a [u8]) -> Result<Request<'a>, ProutError> {
    let sa = byte(cdb, 1) & 0x1F;
    if sa > REGISTER_AND_MOVE {
        return Err(Sense::invalid_field_in_cdb(1, Some(4)).into());
    }
    let len = param_len(cdb) as usize;
    let list = prout_list::parse(data, len, sa == REGISTER_AND_MOVE)?;
    Ok(Request {
        sa,
        scope: byte(cdb, 2) >> 4,
        kind: byte(cdb, 2) & 0x0F,
        key: list.key,
        sark: list.sark,
        rest: list.rest,
    })
}

/// Applies one PERSISTENT RESERVE OUT to `st`.
pub(crate) fn apply(
    st: &mut PrState,
    n: &Nexus,
    cdb: &[u8],
    data: &[u8],
) -> Result<Vec<Attention>, ProutError> {
    let req = parse(cdb, data)?;
    match req.sa {
        REGISTER | REGISTER_AND_IGNORE => register(st, n, &req),
        RESERVE => reserve(st, n, &req),
        RELEASE => release(st, n, &req),
        CLEAR => clear(st, n, &req),
        PREEMPT | PREEMPT_AND_ABORT => preempt(st, n, &req),
        _ => register_and_move(st, n, &req),
    }
}

/// The sender's registration index, checking its reservation key.
fn registered(st: &PrState, n: &Nexus, key: u64) -> Result<usize, ProutError> {
    match st.find(n) {
        Some(i) if st.regs.get(i).is_some_and(|r| r.key == key) => Ok(i),
        _ => Err(ProutError::Conflict),
    }
}

fn check_scope_type(req: &Request<'_>) -> Result<(), ProutError> {
    if req.scope != 0 {
        return Err(Sense::invalid_field_in_cdb(2, Some(7)).into());
    }
    if !valid_type(req.kind) {
        return Err(Sense::invalid_field_in_cdb(2, Some(3)).into());
    }
    Ok(())
}

fn register(st: &mut PrState, n: &Nexus, req: &Request<'_>) -> Result<Vec<Attention>, ProutError> {
    let ignore = req.sa == REGISTER_AND_IGNORE;
    let (all_tg_pt, aptpl) = req.basic_flags();
    let mut ua = Vec::new();
    match st.find(n) {
        None if !ignore && req.key != 0 => return Err(ProutError::Conflict),
        None if req.sark == 0 => return Ok(ua),
        None => st
            .regs
            .push(Registration::for_nexus(n, req.sark, all_tg_pt)),
        Some(i) => {
            if !ignore && st.regs.get(i).is_some_and(|r| r.key != req.key) {
                return Err(ProutError::Conflict);
            }
            if req.sark == 0 {
                ua = unregister(st, i, n);
            } else if let Some(r) = st.regs.get_mut(i) {
                r.key = req.sark;
            }
        }
    }
    st.aptpl = aptpl;
    st.generation = st.generation.wrapping_add(1);
    Ok(ua)
}

/// Removes registration `i` with the reservation consequences of SPC-4 5.13.11.3.
fn unregister(st: &mut PrState, i: usize, sender: &Nexus) -> Vec<Attention> {
    let removed = st.regs.remove(i);
    let mut ua = Vec::new();
    match st.res {
        Some(t) if all_registrants(t) && st.regs.is_empty() => st.res = None,
        Some(t) if all_registrants(t) => {}
        Some(t) if removed.holder => {
            st.res = None;
            if t != WE && t != EA {
                ua = others(st, sender, code::RESERVATIONS_RELEASED);
            }
        }
        _ => {}
    }
    ua
}

/// An attention for every registration except the sender's.
fn others(st: &PrState, sender: &Nexus, c: (u8, u8)) -> Vec<Attention> {
    st.regs
        .iter()
        .filter(|r| !r.matches(sender))
        .map(|r| (r.clone(), c))
        .collect()
}

fn reserve(st: &mut PrState, n: &Nexus, req: &Request<'_>) -> Result<Vec<Attention>, ProutError> {
    let i = registered(st, n, req.key)?;
    check_scope_type(req)?;
    match st.res {
        None => {
            st.res = Some(req.kind);
            if let Some(r) = st.regs.get_mut(i) {
                r.holder = !all_registrants(req.kind);
            }
            Ok(Vec::new())
        }
        Some(t) if t == req.kind && st.is_holder(n) => Ok(Vec::new()),
        Some(_) => Err(ProutError::Conflict),
    }
}

fn release(st: &mut PrState, n: &Nexus, req: &Request<'_>) -> Result<Vec<Attention>, ProutError> {
    registered(st, n, req.key)?;
    let Some(t) = st.res else {
        return Ok(Vec::new());
    };
    if !st.is_holder(n) {
        return Ok(Vec::new());
    }
    if req.scope != 0 || req.kind != t {
        // INVALID RELEASE OF PERSISTENT RESERVATION.
        return Err(Sense::new(SenseKey::IllegalRequest, 0x26, 0x04).into());
    }
    st.res = None;
    for r in &mut st.regs {
        r.holder = false;
    }
    if t == WE || t == EA {
        return Ok(Vec::new());
    }
    Ok(others(st, n, code::RESERVATIONS_RELEASED))
}

fn clear(st: &mut PrState, n: &Nexus, req: &Request<'_>) -> Result<Vec<Attention>, ProutError> {
    registered(st, n, req.key)?;
    let ua = others(st, n, code::RESERVATIONS_PREEMPTED);
    st.regs.clear();
    st.res = None;
    st.generation = st.generation.wrapping_add(1);
    Ok(ua)
}

/// Removes every registration with key `sark` except the sender's; conflict if none.
fn remove_key(st: &mut PrState, n: &Nexus, sark: u64) -> Result<Vec<Attention>, ProutError> {
    let (gone, kept): (Vec<Registration>, Vec<Registration>) = std::mem::take(&mut st.regs)
        .into_iter()
        .partition(|r| r.key == sark && !r.matches(n));
    st.regs = kept;
    if gone.is_empty() {
        return Err(ProutError::Conflict);
    }
    Ok(gone
        .into_iter()
        .map(|r| (r, code::REGISTRATIONS_PREEMPTED))
        .collect())
}

fn preempt(st: &mut PrState, n: &Nexus, req: &Request<'_>) -> Result<Vec<Attention>, ProutError> {
    registered(st, n, req.key)?;
    let holder_key = st.holder().map(|r| r.key);
    let ua = match st.res {
        Some(t) if all_registrants(t) && req.sark == 0 => {
            check_scope_type(req)?;
            let ua = preempt_all_others(st, n);
            take_reservation(st, n, req.kind);
            ua
        }
        Some(t) if !all_registrants(t) && holder_key == Some(req.sark) => {
            check_scope_type(req)?;
            let mut ua = remove_key(st, n, req.sark).unwrap_or_default();
            if t != req.kind {
                // The remaining registrants hear that the reservation changed.
                ua.extend(others(st, n, code::RESERVATIONS_RELEASED));
            }
            take_reservation(st, n, req.kind);
            ua
        }
        _ if req.sark == 0 => return Err(Sense::invalid_field_in_param(8, None).into()),
        _ => remove_key(st, n, req.sark)?,
    };
    st.generation = st.generation.wrapping_add(1);
    Ok(ua)
}

fn preempt_all_others(st: &mut PrState, n: &Nexus) -> Vec<Attention> {
    let (kept, gone): (Vec<Registration>, Vec<Registration>) = std::mem::take(&mut st.regs)
        .into_iter()
        .partition(|r| r.matches(n));
    st.regs = kept;
    gone.into_iter()
        .map(|r| (r, code::REGISTRATIONS_PREEMPTED))
        .collect()
}

/// Makes `n` the holder of a new reservation of type `kind`.
fn take_reservation(st: &mut PrState, n: &Nexus, kind: u8) {
    st.res = Some(kind);
    let ar = all_registrants(kind);
    for r in &mut st.regs {
        r.holder = !ar && r.matches(n);
    }
}

fn register_and_move(
    st: &mut PrState,
    n: &Nexus,
    req: &Request<'_>,
) -> Result<Vec<Attention>, ProutError> {
    let i = registered(st, n, req.key)?;
    match st.res {
        Some(t) if !all_registrants(t) && st.is_holder(n) => {}
        _ => return Err(ProutError::Conflict),
    }
    if req.sark == 0 {
        return Err(Sense::invalid_field_in_param(8, None).into());
    }
    let Rest::Move {
        unreg,
        aptpl,
        relative_port: tpgt,
        transport_id: tid,
    } = req.rest
    else {
        return Err(Sense::param_list_length_error().into());
    };
    let bad_tid = || ProutError::from(Sense::invalid_field_in_param(24, None));
    let (dest, _) = transport_id::parse(tid).ok_or_else(bad_tid)?;
    let sender_port = dest.name.eq_ignore_ascii_case(&n.initiator)
        && dest.isid.is_none_or(|i| i == n.isid)
        && tpgt == n.tpgt;
    if sender_port {
        return Err(bad_tid());
    }
    let dest_reg = Registration {
        key: req.sark,
        initiator: dest.name,
        isid: dest.isid,
        target: n.target.clone(),
        tpgt: Some(tpgt),
        holder: false,
    };
    let same = |r: &Registration| {
        r.initiator.eq_ignore_ascii_case(&dest_reg.initiator)
            && r.isid == dest_reg.isid
            && r.tpgt.is_none_or(|t| t == tpgt)
    };
    if !st.regs.iter().any(same) {
        st.regs.push(dest_reg.clone());
    }
    for r in &mut st.regs {
        r.holder = same(r);
    }
    if unreg && i < st.regs.len() {
        st.regs.remove(i);
    }
    st.aptpl = aptpl;
    st.generation = st.generation.wrapping_add(1);
    Ok(Vec::new())
}
