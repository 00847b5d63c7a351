//! Positioning: SPACE(6/16), LOCATE(10/16), REWIND, LOAD UNLOAD, ERASE(6/16) and READ
//! POSITION (SSC-4 6.3-6.7, 7.1-7.5). Every move is a lookup in the cartridge's index,
//! never a scan of its records.

use super::rw::early_warning;
use super::sense;
use super::{good, ready, Loaded, State, TapeDrive};
use crate::media::MediaKind;
use vsa_scsi::cdb::{be16, be24, be32, be64, byte, put, truncate};
use vsa_scsi::{Command, Response, Sense, SenseKey, UnitCtx};

/// SPACE codes (SSC-4 table 41).
const BLOCKS: u8 = 0;
const FILEMARKS: u8 = 1;
const END_OF_DATA: u8 = 3;

/// Sign-extends a 24-bit count.
fn signed24(v: u32) -> i64 {
    i64::from(((v << 8) as i32) >> 8)
}

/// SPACE(6) and SPACE(16).
pub(super) fn space(d: &TapeDrive, st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let code = byte(c, 1) & 0x0F;
    let count = if byte(c, 0) == super::opcodes::SPACE_16 {
        if be16(c, 12) != 0 {
            // PARAMETER LENGTH: no parameter data is defined.
            return Err(Sense::invalid_field_in_cdb(12, None));
        }
        be64(c, 4) as i64
    } else {
        signed24(be24(c, 2))
    };
    if !matches!(code, BLOCKS | FILEMARKS | END_OF_DATA) {
        return Err(Sense::invalid_field_in_cdb(1, Some(3)));
    }
    st.counters.positioning += 1;
    let mut l = ready(&d.model, &mut st.media)?;
    match code {
        BLOCKS => space_blocks(&mut l, count)?,
        FILEMARKS => space_filemarks(&mut l, count)?,
        _ => *l.pos = l.tape.index().objects(),
    }
    Ok(good())
}

fn space_blocks(l: &mut Loaded<'_>, count: i64) -> Result<(), Sense> {
    let ix = l.tape.index();
    let p = *l.pos;
    let n = count.unsigned_abs();
    if count > 0 {
        let eod = ix.objects();
        let fm = ix.next_filemark(p).filter(|&f| f < eod);
        let limit = fm.unwrap_or(eod);
        let can = limit - p;
        if can >= n {
            *l.pos = p + n;
            return Ok(());
        }
        let residual = (n - can) as i64;
        if let Some(f) = fm {
            *l.pos = f + 1;
            return Err(sense::filemark(residual));
        }
        *l.pos = eod;
        return Err(sense::end_of_data(residual));
    }
    if count < 0 {
        let fm = ix.prev_filemark(p);
        let floor = fm.map_or(0, |f| f + 1);
        let can = p - floor;
        if can >= n {
            *l.pos = p - n;
            return Ok(());
        }
        let residual = (n - can) as i64;
        if let Some(f) = fm {
            *l.pos = f;
            return Err(sense::filemark(residual));
        }
        *l.pos = 0;
        return Err(sense::beginning(residual));
    }
    Ok(())
}

fn space_filemarks(l: &mut Loaded<'_>, count: i64) -> Result<(), Sense> {
    let ix = l.tape.index();
    let p = *l.pos;
    let n = count.unsigned_abs();
    if count > 0 {
        if let Some(f) = ix.nth_filemark_from(p, n - 1) {
            *l.pos = f + 1;
            return Ok(());
        }
        let ahead = ix.filemarks_before(u64::MAX) - ix.filemarks_before(p);
        *l.pos = ix.objects();
        return Err(sense::end_of_data((n - ahead) as i64));
    }
    if count < 0 {
        if let Some(f) = ix.nth_filemark_back(p, n - 1) {
            *l.pos = f;
            return Ok(());
        }
        let behind = ix.filemarks_before(p);
        *l.pos = 0;
        return Err(sense::beginning((n - behind) as i64));
    }
    Ok(())
}

/// LOCATE(10) and LOCATE(16).
pub(super) fn locate(d: &TapeDrive, st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let sixteen = byte(c, 0) == super::opcodes::LOCATE_16;
    let cp = byte(c, 1) & 0x02 != 0;
    let (partition_at, dest_type, id) = if sixteen {
        (3, (byte(c, 1) >> 3) & 0x07, be64(c, 4))
    } else {
        (8, 0, u64::from(be32(c, 3)))
    };
    if cp && byte(c, partition_at) != 0 {
        return Err(sense::no_such_partition(partition_at as u16));
    }
    if !matches!(dest_type, 0 | 1 | 3) {
        return Err(Sense::invalid_field_in_cdb(1, Some(5)));
    }
    st.counters.positioning += 1;
    let l = ready(&d.model, &mut st.media)?;
    let ix = l.tape.index();
    let eod = ix.objects();
    let target = match dest_type {
        0 => Some(id),
        // File N starts after the N-th filemark.
        1 if id == 0 => Some(0),
        1 => ix.nth_filemark_from(0, id - 1).map(|f| f + 1),
        _ => Some(eod),
    };
    match target {
        Some(t) if t <= eod => {
            *l.pos = t;
            Ok(good())
        }
        _ => {
            *l.pos = eod;
            Err(Sense::new(SenseKey::BlankCheck, 0x00, 0x05))
        }
    }
}

/// REWIND: a flush point (everything written is durable when it completes).
pub(super) fn rewind(d: &TapeDrive, st: &mut State) -> Result<Response, Sense> {
    st.counters.positioning += 1;
    let l = ready(&d.model, &mut st.media)?;
    sync(l.tape)?;
    *l.pos = 0;
    Ok(good())
}

fn sync(t: &mut crate::store::Tape) -> Result<(), Sense> {
    t.sync().map_err(|e| {
        tracing::error!(barcode = t.barcode(), "cannot save the cartridge: {e}");
        sense::write_error(0)
    })
}

/// LOAD UNLOAD.
pub(super) fn load_unload(st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let b4 = byte(cmd.cdb, 4);
    let (load, eot) = (b4 & 0x01 != 0, b4 & 0x04 != 0);
    if eot && !load {
        return Err(Sense::invalid_field_in_cdb(4, Some(2)));
    }
    let prevented = !st.prevent.is_empty();
    let m = st.media.as_mut().ok_or_else(sense::no_medium)?;
    if load {
        m.loaded = true;
        m.pos = 0;
        if eot {
            m.pos = m.tape.as_ref().map_or(0, |t| t.index().objects());
        }
        return Ok(good());
    }
    if prevented {
        return Err(sense::removal_prevented());
    }
    if let Some(t) = m.tape.as_mut() {
        sync(t)?;
    }
    m.loaded = false;
    m.pos = 0;
    Ok(good())
}

/// ERASE(6) and ERASE(16): the end of data moves to the position; the space after it goes
/// back to the pool at once.
pub(super) fn erase(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let sixteen = byte(c, 0) == super::opcodes::ERASE_16;
    let l = ready(&d.model, &mut st.media)?;
    if sixteen {
        sense::check_position_16(c, *l.pos)?;
    }
    if ctx.write_protected || l.info.write_protected {
        return Err(sense::write_protected());
    }
    if l.info.kind == MediaKind::Worm {
        return Err(sense::worm_overwrite());
    }
    if !d.model.generation.writes(l.info.generation) {
        return Err(sense::cannot_write_format());
    }
    l.tape.truncate(*l.pos).map_err(|e| {
        tracing::error!(barcode = l.tape.barcode(), "cannot erase: {e}");
        sense::write_error(0)
    })?;
    Ok(good())
}

/// READ POSITION: short (service actions 0 and 1), long (6) and extended (8) forms.
pub(super) fn read_position(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let sa = byte(c, 1) & 0x1F;
    if !matches!(sa, 0 | 1 | 6 | 8) {
        return Err(Sense::invalid_field_in_cdb(1, Some(4)));
    }
    let l = ready(&d.model, &mut st.media)?;
    let ix = l.tape.index();
    let pos = *l.pos;
    let bop = pos == 0;
    let eop = pos == ix.objects() && l.tape.used() > early_warning(l.info.capacity);
    let flags = (u8::from(bop) << 7) | (u8::from(eop) << 6);
    let data = match sa {
        0 | 1 => {
            let mut v = vec![0u8; 20];
            match u32::try_from(pos) {
                Ok(p) => {
                    v[0] = flags;
                    put(&mut v, 4, p.to_be_bytes());
                    put(&mut v, 8, p.to_be_bytes());
                }
                // BPU: the position does not fit the short form.
                Err(_) => v[0] = flags | 0x04,
            }
            v
        }
        6 => {
            let mut v = vec![0u8; 32];
            v[0] = flags;
            put(&mut v, 8, pos.to_be_bytes());
            put(&mut v, 16, ix.filemarks_before(pos).to_be_bytes());
            v
        }
        _ => {
            let mut v = vec![0u8; 32];
            v[0] = flags;
            put(&mut v, 2, 0x1Cu16.to_be_bytes());
            put(&mut v, 8, pos.to_be_bytes());
            put(&mut v, 16, pos.to_be_bytes());
            return Ok(Response::with_data(truncate(v, usize::from(be16(c, 7)))));
        }
    };
    Ok(Response::with_data(data))
}
