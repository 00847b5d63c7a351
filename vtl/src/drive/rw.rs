//! READ(6), WRITE(6) and WRITE FILEMARKS(6/16) (SSC-4 7.2, 7.6, 7.7, 6.8, 6.9): records
//! in fixed- or variable-block mode, with the residuals and sense bits SSC-4 gives each
//! way a transfer can stop early.

use super::{check_with_data, good, ready, Loaded, State, TapeDrive, MAX_BLOCK};
use super::{security, sense};
use crate::error::VtlError;
use crate::media::MediaKind;
use crate::store::record::HEADER_LEN;
use crate::store::tape::QUEUE_BYTES;
use vsa_scsi::cdb::{be24, byte};
use vsa_scsi::{Bytes, Command, Response, Sense, UnitCtx};

/// Where early warning starts on a cartridge of `capacity` bytes: 1/64 of it before the
/// end, between 1 MiB and 4 GiB (never more than half).
pub fn early_warning(capacity: u64) -> u64 {
    let margin = (capacity / 64).clamp(1 << 20, 4 << 30).min(capacity / 2);
    capacity - margin
}

/// Whether the loaded cartridge may be written at its position.
fn writable(d: &TapeDrive, ctx: &UnitCtx, l: &Loaded<'_>) -> Result<(), Sense> {
    if ctx.write_protected || l.info.write_protected {
        return Err(sense::write_protected());
    }
    if !d.model.generation.writes(l.info.generation) {
        return Err(sense::cannot_write_format());
    }
    if l.info.kind == MediaKind::Worm && *l.pos < l.tape.objects() {
        return Err(sense::worm_overwrite());
    }
    Ok(())
}

/// Makes the end of data the position: everything after it is gone (a write before the
/// end of data, SSC-4 4.2.8).
fn cut(l: &mut Loaded<'_>, residual: i64) -> Result<(), Sense> {
    match l.tape.truncate(*l.pos) {
        Ok(()) => Ok(()),
        Err(e) => Err(store_error(l, &e, residual)),
    }
}

fn store_error(l: &mut Loaded<'_>, e: &VtlError, residual: i64) -> Sense {
    if let VtlError::Deferred { lost, .. } = e {
        return super::deferred(l, e, *lost);
    }
    tracing::error!(
        barcode = l.tape.barcode(),
        "cannot write the cartridge: {e}"
    );
    sense::write_error(residual)
}

/// WRITE(6).
pub(super) fn write(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let fixed = byte(c, 1) & 0x01 != 0;
    let n = be24(c, 2);
    let (count, rec_len) = if fixed {
        if st.block_len == 0 {
            return Err(Sense::invalid_field_in_cdb(1, Some(0)));
        }
        (u64::from(n), st.block_len)
    } else {
        if n > MAX_BLOCK {
            return Err(Sense::invalid_field_in_cdb(2, None));
        }
        (1, n)
    };
    let bytes = count * u64::from(rec_len);
    let bytes32 = u32::try_from(bytes).map_err(|_| Sense::invalid_field_in_cdb(2, None))?;
    let with_len = |r: Response| Response {
        data_out_len: Some(bytes32),
        ..r
    };
    if n == 0 {
        return Ok(with_len(good()));
    }
    // Nothing written: the residual is the whole transfer (blocks or bytes).
    let residual_all = i64::from(n);
    let compress = st.compression;
    let seal = st.crypt.seal_key(cmd.nexus)?;
    let mut l = ready(&d.model, &mut st.media)?;
    writable(d, ctx, &l)?;
    if cmd.data_out.len() < bytes as usize {
        return Err(Sense::invalid_field_in_cdb(2, None));
    }
    let data = cmd.data_out.slice(..bytes as usize);
    if *l.pos < l.tape.objects() {
        cut(&mut l, residual_all)?;
    }
    let capacity = l.info.capacity;
    let per = HEADER_LEN + u64::from(rec_len) + security::overhead(seal.is_some());
    // Near early warning what counts against the capacity must be exact (a queued record
    // counts its length until it is placed, and may take less): there, writes are placed
    // before they complete, so early warning and the end come where they would without
    // write-behind.
    let near_end = l.tape.used() + count * per + QUEUE_BYTES >= early_warning(capacity);
    if near_end {
        if let Err(e) = l.tape.settle(true) {
            st.counters.write_errors += 1;
            return Err(store_error(&mut l, &e, residual_all));
        }
    }
    let room = capacity.saturating_sub(l.tape.used()) / per;
    let fit = if fixed { room.min(count) } else { room.min(1) };
    if fit > 0 {
        let data = data.slice(..(fit * u64::from(rec_len)) as usize);
        // Buffered mode takes the write once it is queued (holding its data-out, not a
        // copy); unbuffered mode places it (and makes it durable, below) before it
        // completes.
        let taken = if st.buffered && !near_end {
            l.tape.append_behind(data, rec_len as usize, compress, seal)
        } else {
            let records: Vec<&[u8]> = data.chunks(rec_len.max(1) as usize).collect();
            l.tape.append_sealed(&records, compress, seal)
        };
        if let Err(e) = taken {
            st.counters.write_errors += 1;
            return Err(store_error(&mut l, &e, residual_all));
        }
    }
    *l.pos = l.tape.objects();
    let unbuffered_sync = if st.buffered { Ok(()) } else { l.tape.sync() };
    let used = l.tape.used();
    st.counters.bytes_written += fit * u64::from(rec_len);
    if let Err(e) = unbuffered_sync {
        st.counters.write_errors += 1;
        tracing::error!("cannot make a write durable: {e}");
        return Ok(with_len(ctx.check(&sense::write_error(0))));
    }
    if fit < count {
        let residual = if fixed {
            (count - fit) as i64
        } else {
            i64::from(n)
        };
        return Ok(with_len(ctx.check(&sense::overflow(residual))));
    }
    if used > early_warning(capacity) {
        return Ok(with_len(ctx.check(&sense::early_warning(0))));
    }
    Ok(with_len(good()))
}

/// WRITE FILEMARKS(6) and (16).
pub(super) fn write_filemarks(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let sixteen = byte(c, 0) == super::opcodes::WRITE_FILEMARKS_16;
    let immed = byte(c, 1) & 0x01 != 0;
    if byte(c, 1) & 0x02 != 0 {
        // WSMK: LTO has no setmarks.
        return Err(Sense::invalid_field_in_cdb(1, Some(1)));
    }
    let count = u64::from(if sixteen { be24(c, 12) } else { be24(c, 2) });
    let mut l = ready(&d.model, &mut st.media)?;
    if sixteen {
        sense::check_position_16(c, *l.pos)?;
    }
    if count > 0 {
        writable(d, ctx, &l)?;
        if *l.pos < l.tape.objects() {
            cut(&mut l, count as i64)?;
        }
        let room = l.info.capacity.saturating_sub(l.tape.used()) / HEADER_LEN;
        let fit = room.min(count);
        l.tape
            .append_filemarks(fit)
            .map_err(|e| store_error(&mut l, &e, count as i64))?;
        *l.pos = l.tape.objects();
        if fit < count {
            return Ok(ctx.check(&sense::overflow((count - fit) as i64)));
        }
    }
    if !immed {
        l.tape.sync().map_err(|e| store_error(&mut l, &e, 0))?;
    }
    if count > 0 && l.tape.used() > early_warning(l.info.capacity) {
        return Ok(ctx.check(&sense::early_warning(0)));
    }
    Ok(good())
}

/// READ(6).
pub(super) fn read(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let fixed = byte(c, 1) & 0x01 != 0;
    let sili = byte(c, 1) & 0x02 != 0;
    if fixed && sili {
        return Err(Sense::invalid_field_in_cdb(1, Some(1)));
    }
    let n = be24(c, 2);
    if fixed && st.block_len == 0 {
        return Err(Sense::invalid_field_in_cdb(1, Some(0)));
    }
    let block_len = st.block_len;
    if n == 0 {
        return Ok(good());
    }
    let key = st.crypt.read_key(cmd.nexus)?;
    let l = ready(&d.model, &mut st.media)?.decrypting(key);
    let (resp, bytes) = if fixed {
        read_fixed(l, ctx, n, block_len)
    } else {
        read_variable(l, ctx, n, sili)
    };
    st.counters.bytes_read += bytes;
    if medium_error(&resp) {
        st.counters.read_errors += 1;
    }
    Ok(resp)
}

/// Whether a response reports MEDIUM ERROR (fixed or descriptor format sense).
fn medium_error(r: &Response) -> bool {
    let key = r.sense.as_ref().and_then(|s| match s.first()? & 0x7F {
        0x70 | 0x71 => s.get(2).map(|k| k & 0x0F),
        _ => s.get(1).map(|k| k & 0x0F),
    });
    key == Some(0x03)
}

/// One record at the position: `Ok(None)` at the end of data, `Ok(Some(None))` for a
/// filemark, `Ok(Some(Some(bytes)))` for data.
fn next(l: &mut Loaded<'_>) -> Result<Option<Option<Bytes>>, crate::store::ReadError> {
    let Some(obj) = l.tape.index().get(*l.pos) else {
        return Ok(None);
    };
    let data = match obj.data {
        Some(_) => Some(l.read(&obj)?),
        None => None,
    };
    *l.pos += 1;
    Ok(Some(data))
}

fn read_variable(mut l: Loaded<'_>, ctx: &UnitCtx, n: u32, sili: bool) -> (Response, u64) {
    let want = i64::from(n);
    match next(&mut l) {
        Err(e) => {
            tracing::error!(barcode = l.tape.barcode(), "read failed: {e}");
            (ctx.check(&security::read_failed(&e, want)), 0)
        }
        Ok(None) => (ctx.check(&sense::end_of_data(want)), 0),
        Ok(Some(None)) => (ctx.check(&sense::filemark(want)), 0),
        Ok(Some(Some(mut data))) => {
            let len = data.len() as i64;
            let bytes = data.len().min(n as usize) as u64;
            if len == want || (len < want && sili) {
                // The record as read (a slice of the read-ahead window, often): not copied.
                (Response::with_shared(vec![data]), bytes)
            } else {
                data.truncate(n as usize);
                let s = sense::incorrect_length(want - len);
                (check_with_data(ctx, &s, data.into()), bytes)
            }
        }
    }
}

fn read_fixed(mut l: Loaded<'_>, ctx: &UnitCtx, n: u32, block_len: u32) -> (Response, u64) {
    let mut out = Vec::with_capacity(n as usize * block_len as usize);
    for i in 0..n {
        let left = i64::from(n - i);
        let stop = match next(&mut l) {
            Err(e) => {
                tracing::error!(barcode = l.tape.barcode(), "read failed: {e}");
                security::read_failed(&e, left)
            }
            Ok(None) => sense::end_of_data(left),
            Ok(Some(None)) => sense::filemark(left),
            Ok(Some(Some(data))) if data.len() == block_len as usize => {
                out.extend_from_slice(&data);
                continue;
            }
            Ok(Some(Some(_))) => sense::incorrect_length(left),
        };
        let bytes = out.len() as u64;
        return (check_with_data(ctx, &stop, out), bytes);
    }
    let bytes = out.len() as u64;
    (Response::with_data(out), bytes)
}
