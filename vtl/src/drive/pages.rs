//! The drive's parameters: mode pages (data compression 0Fh, device configuration 10h,
//! medium partition 11h, SSC-4 8.3), log pages (SSC-4 8.2 and the tape capacity page LTO
//! drives have), REPORT DENSITY SUPPORT and READ BLOCK LIMITS.

use super::{ready, State, TapeDrive, MAX_BLOCK};
use crate::media::Generation;
use vsa_scsi::cdb::{be16, byte, data_in, put};
use vsa_scsi::{Command, PageControl, Response, Sense};

/// The device's own mode pages.
pub const MODE_PAGES: [u8; 3] = [0x0F, 0x10, 0x11];

/// A mode page in `pc`'s view.
pub fn mode_page(st: &State, page: u8, pc: PageControl) -> Option<Vec<u8>> {
    let changeable = pc == PageControl::Changeable;
    match page {
        0x0F => {
            let mut p = vec![0u8; 16];
            p[0] = 0x0F;
            p[1] = 0x0E;
            if changeable {
                p[2] = 0x80; // DCE
                return Some(p);
            }
            let dce = match pc {
                PageControl::Default => false,
                _ => st.compression,
            };
            p[2] = 0x40 | (u8::from(dce) << 7); // DCC: the drive compresses
            p[3] = 0x80; // DDE
            put(&mut p, 4, 1u32.to_be_bytes());
            put(&mut p, 8, 1u32.to_be_bytes());
            Some(p)
        }
        0x10 => {
            let mut p = vec![0u8; 16];
            p[0] = 0x10;
            p[1] = 0x0E;
            if !changeable {
                p[10] = 0x08; // SEW: the buffer is written at early warning
                p[14] = u8::from(st.compression);
            }
            Some(p)
        }
        0x11 => {
            let mut p = vec![0u8; 10];
            p[0] = 0x11;
            p[1] = 0x08;
            if !changeable {
                p[5] = 0x03; // format and partition recognition
                put(&mut p, 8, 0xFFFFu16.to_be_bytes());
            }
            Some(p)
        }
        _ => None,
    }
}

/// MODE SELECT of one of the device's pages: DCE may change; the rest must restate the
/// current values (the medium partition page is read-only).
pub fn mode_select(st: &mut State, page: u8, data: &[u8]) -> Result<(), Sense> {
    let cur = mode_page(st, page, PageControl::Current)
        .ok_or_else(|| Sense::invalid_field_in_param(0, None))?;
    let mask = mode_page(st, page, PageControl::Changeable).unwrap_or_default();
    if data.len() != cur.len() {
        return Err(Sense::invalid_field_in_param(1, None));
    }
    for (i, ((&got, &have), &m)) in data.iter().zip(&cur).zip(&mask).enumerate().skip(2) {
        if (got ^ have) & !m != 0 {
            return Err(Sense::invalid_field_in_param(i as u16, None));
        }
    }
    if page == 0x0F {
        st.compression = data[2] & 0x80 != 0;
    }
    Ok(())
}

/// READ BLOCK LIMITS.
pub fn read_block_limits(cmd: &Command<'_>) -> Result<Response, Sense> {
    if byte(cmd.cdb, 1) & 0x01 != 0 {
        // MLOC: the maximum logical object identifier form is not supported.
        return Err(Sense::invalid_field_in_cdb(1, Some(0)));
    }
    let mut v = vec![0u8; 6];
    put(&mut v, 0, MAX_BLOCK.to_be_bytes());
    v[0] = 0; // granularity
    put(&mut v, 4, 1u16.to_be_bytes());
    Ok(Response::with_data(v))
}

/// Density name, tracks, bits per mm and description of a generation's format.
fn density_facts(g: Generation) -> (&'static str, u16, u32, &'static str) {
    match g {
        Generation::Lto5 => ("U-516", 1280, 15142, "Ultrium 5/16T"),
        Generation::Lto6 => ("U-616", 2176, 15143, "Ultrium 6/16T"),
        Generation::Lto7 => ("U-732", 3584, 19107, "Ultrium 7/32T"),
        Generation::Lto8 => ("U-832", 6656, 20669, "Ultrium 8/32T"),
        Generation::Lto9 => ("U-932", 8960, 20669, "Ultrium 9/32T"),
    }
}

/// REPORT DENSITY SUPPORT (SSC-4 6.22): the densities the drive reads (MEDIA 0) or the
/// mounted cartridge's (MEDIA 1).
pub fn report_density(d: &TapeDrive, st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let c = cmd.cdb;
    if byte(c, 1) & 0x02 != 0 {
        // MEDIUM TYPE: medium type descriptors are not supported.
        return Err(Sense::invalid_field_in_cdb(1, Some(1)));
    }
    let gens = if byte(c, 1) & 0x01 != 0 {
        vec![ready(&d.model, &mut st.media)?.info.generation]
    } else {
        d.model.readable()
    };
    let mut v = vec![0u8; 4];
    for g in gens {
        let (name, tracks, bpmm, desc) = density_facts(g);
        let mut e = vec![0u8; 52];
        e[0] = g.density_code();
        e[1] = g.density_code();
        let wrtok = d.model.generation.writes(g);
        e[2] = (u8::from(wrtok) << 7) | (u8::from(g == d.model.generation) << 5);
        put(
            &mut e,
            5,
            bpmm.to_be_bytes()[1..4].try_into().unwrap_or([0; 3]),
        );
        put(&mut e, 8, 127u16.to_be_bytes());
        put(&mut e, 10, tracks.to_be_bytes());
        put(
            &mut e,
            12,
            ((g.native_capacity() / 1_000_000) as u32).to_be_bytes(),
        );
        e[16..24].copy_from_slice(&vsa_scsi::cdb::ascii_field("LTO-CVE", 8));
        e[24..32].copy_from_slice(&vsa_scsi::cdb::ascii_field(name, 8));
        e[32..52].copy_from_slice(&vsa_scsi::cdb::ascii_field(desc, 20));
        v.extend(e);
    }
    let len = (v.len() - 2) as u16;
    put(&mut v, 0, len.to_be_bytes());
    Ok(data_in(v, usize::from(be16(c, 7))))
}

/// The log pages the drive has.
const LOG_PAGES: [u8; 7] = [0x00, 0x02, 0x03, 0x0C, 0x1B, 0x2E, 0x31];

fn param(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    out.push(0x00);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

/// LOG SENSE (SPC-4 6.6 with the SSC-4 pages).
pub fn log_sense(st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let c = cmd.cdb;
    if byte(c, 1) & 0x01 != 0 {
        // SP: saving log parameters is not supported.
        return Err(Sense::invalid_field_in_cdb(1, Some(0)));
    }
    let page = byte(c, 2) & 0x3F;
    if byte(c, 3) != 0 {
        return Err(Sense::invalid_field_in_cdb(3, None));
    }
    let pointer = be16(c, 5);
    let k = st.counters;
    let tape = st
        .media
        .as_ref()
        .and_then(|m| m.tape.as_ref())
        .map(|t| t.stats());
    let capacity = st.media.as_ref().map_or(0, |m| m.info.capacity);
    let mut body = Vec::new();
    match page {
        0x00 => body.extend_from_slice(&LOG_PAGES),
        0x02 | 0x03 => {
            let (bytes, errors) = if page == 0x02 {
                (k.bytes_written, k.write_errors)
            } else {
                (k.bytes_read, k.read_errors)
            };
            for code in 0..=6u16 {
                let v = match code {
                    5 => bytes,
                    6 => errors,
                    _ => 0,
                };
                param(&mut body, code, &v.to_be_bytes());
            }
        }
        0x0C => {
            let stored = tape.map_or(0, |t| t.stored_bytes);
            param(&mut body, 0, &k.bytes_written.to_be_bytes());
            param(&mut body, 1, &stored.to_be_bytes());
            param(&mut body, 2, &k.bytes_read.to_be_bytes());
            param(&mut body, 3, &k.bytes_read.to_be_bytes());
            param(&mut body, 0x0100, &[0]);
        }
        0x1B => {
            let (l, s) = tape.map_or((0, 0), |t| (t.logical_bytes, t.stored_bytes));
            let ratio = (l * 100)
                .checked_div(s)
                .map_or(100, |r| r.min(0xFFFF) as u16);
            param(&mut body, 0, &ratio.to_be_bytes());
            param(&mut body, 1, &ratio.to_be_bytes());
            let mb = |b: u64| ((b / 1_000_000) as u32, (b % 1_000_000) as u32);
            for (i, b) in [k.bytes_written, s, k.bytes_read, k.bytes_read]
                .into_iter()
                .enumerate()
            {
                let (m, r) = mb(b);
                param(&mut body, 2 + 2 * i as u16, &m.to_be_bytes());
                param(&mut body, 3 + 2 * i as u16, &r.to_be_bytes());
            }
        }
        0x2E => {
            // TapeAlert (SSC-4 8.2.3): flag 20 CLEAN NOW and 21 CLEAN PERIODIC while the
            // drive wants cleaning; they stay set until a cleaning cartridge is loaded.
            let due = st.cleaning.due();
            for code in 1..=64u16 {
                let set = due && (code == 20 || code == 21);
                param(&mut body, code, &[u8::from(set)]);
            }
        }
        0x31 => {
            let used = tape.map_or(0, |t| t.used);
            let mb = |b: u64| ((b / 1_000_000).min(u64::from(u32::MAX)) as u32).to_be_bytes();
            param(&mut body, 1, &mb(capacity.saturating_sub(used)));
            param(&mut body, 2, &[0; 4]);
            param(&mut body, 3, &mb(capacity));
            param(&mut body, 4, &[0; 4]);
        }
        _ => return Err(Sense::invalid_field_in_cdb(2, Some(5))),
    }
    if pointer != 0 && page != 0x00 {
        body = filter_from(&body, pointer);
    }
    let mut v = vec![page, 0];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend(body);
    Ok(data_in(v, usize::from(be16(c, 7))))
}

/// The parameters of `body` whose code is at least `pointer`.
fn filter_from(body: &[u8], pointer: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= body.len() {
        let len = 4 + usize::from(body[at + 3]);
        let Some(p) = body.get(at..at + len) else {
            break;
        };
        if be16(p, 0) >= pointer {
            out.extend_from_slice(p);
        }
        at += len;
    }
    out
}

/// LOG SELECT: PCR resets the counters; parameter data is not taken.
pub fn log_select(st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let c = cmd.cdb;
    if be16(c, 7) != 0 {
        return Err(Sense::invalid_field_in_cdb(7, None));
    }
    if byte(c, 1) & 0x02 != 0 {
        let mounts = st.counters.mounts;
        st.counters = super::DriveCounters {
            mounts,
            ..Default::default()
        };
    }
    Ok(Response::good())
}
