//! MODE SENSE(6)/(10) and MODE SELECT(6)/(10) (SPC-4 6.11-6.14, 7.5).
//!
//! This layer owns the control mode page (0Ah) and the informational exceptions control
//! page (1Ch); other pages come from the device. Of the control page, D_SENSE and SWP are
//! changeable. Saved pages are not implemented (PS = 0): MODE SELECT with SP = 1 and MODE
//! SENSE of saved values fail, and a reset restores the default values.

use crate::{Device, PageControl, Response, Sense};

use super::cdb::{be16, be32, be64, byte, data_in};

const CONTROL: u8 = 0x0A;
const INFO_EXCEPTIONS: u8 = 0x1C;
const ALL_PAGES: u8 = 0x3F;

/// The current values of the pages this layer owns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ModeState {
    /// D_SENSE: sense data in descriptor format.
    pub(crate) d_sense: bool,
    /// SWP: software write protect.
    pub(crate) swp: bool,
}

impl ModeState {
    fn control(&self, pc: PageControl) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p[0] = CONTROL;
        p[1] = 0x0A;
        match pc {
            PageControl::Changeable => {
                p[2] = 0x04; // D_SENSE
                p[4] = 0x08; // SWP
            }
            PageControl::Current | PageControl::Default | PageControl::Saved => {
                let cur = if pc == PageControl::Current {
                    *self
                } else {
                    Self::default()
                };
                // TST 000b, QERR 00b, TAS 0; unrestricted reordering (QAM 1).
                p[2] = if cur.d_sense { 0x04 } else { 0 };
                p[3] = 0x10;
                p[4] = if cur.swp { 0x08 } else { 0 };
                // BUSY TIMEOUT PERIOD: unlimited.
                p[8] = 0xFF;
                p[9] = 0xFF;
            }
        }
        p
    }

    fn info_exceptions(pc: PageControl) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p[0] = INFO_EXCEPTIONS;
        p[1] = 0x0A;
        if pc != PageControl::Changeable {
            p[2] = 0x08; // DEXCPT: no informational exception reporting (MRIE 0)
        }
        p
    }

    fn own_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        match page {
            CONTROL => Some(self.control(pc)),
            INFO_EXCEPTIONS => Some(Self::info_exceptions(pc)),
            _ => None,
        }
    }
}

/// The page codes the unit has, ascending.
fn page_codes<D: Device>(dev: &D) -> Vec<u8> {
    let mut v = vec![CONTROL, INFO_EXCEPTIONS];
    v.extend(dev.mode_pages().iter().copied().filter(|&p| p < ALL_PAGES));
    v.sort_unstable();
    v.dedup();
    v
}

fn page<D: Device>(dev: &D, st: &ModeState, code: u8, pc: PageControl) -> Option<Vec<u8>> {
    st.own_page(code, pc).or_else(|| dev.mode_page(code, pc))
}

/// MODE SENSE(6) (`ten == false`) or MODE SENSE(10).
pub(crate) fn sense<D: Device>(
    dev: &D,
    st: &ModeState,
    write_protected: bool,
    cdb: &[u8],
    ten: bool,
) -> Result<Response, Sense> {
    let dbd = byte(cdb, 1) & 0x08 != 0;
    let llbaa = ten && byte(cdb, 1) & 0x10 != 0;
    let pc = match byte(cdb, 2) >> 6 {
        0 => PageControl::Current,
        1 => PageControl::Changeable,
        2 => PageControl::Default,
        _ => return Err(Sense::new(crate::SenseKey::IllegalRequest, 0x39, 0x00)),
    };
    let code = byte(cdb, 2) & 0x3F;
    let subpage = byte(cdb, 3);
    let alloc = if ten {
        usize::from(be16(cdb, 7))
    } else {
        usize::from(byte(cdb, 4))
    };
    if subpage != 0 && subpage != 0xFF {
        return Err(Sense::invalid_field_in_cdb(3, None));
    }
    let mut pages = Vec::new();
    if code == ALL_PAGES {
        for c in page_codes(dev) {
            pages.extend(page(dev, st, c, pc).unwrap_or_default());
        }
    } else {
        let p = page_codes(dev)
            .contains(&code)
            .then(|| page(dev, st, code, pc))
            .flatten()
            .ok_or_else(|| Sense::invalid_field_in_cdb(2, Some(5)))?;
        pages.extend(p);
    }
    let bd = if dbd {
        Vec::new()
    } else {
        block_descriptor(dev, pc, llbaa)
    };
    let dsp = dev.mode_device_specific(write_protected);
    Ok(data_in(assemble(ten, dsp, &bd, &pages), alloc))
}

fn block_descriptor<D: Device>(dev: &D, pc: PageControl, long: bool) -> Vec<u8> {
    let Some((blocks, len)) = dev.block_descriptor() else {
        return Vec::new();
    };
    let (blocks, len) = if pc == PageControl::Changeable {
        (0, 0)
    } else {
        (blocks, len)
    };
    if long {
        let mut d = vec![0u8; 16];
        d[0..8].copy_from_slice(&blocks.to_be_bytes());
        d[12..16].copy_from_slice(&len.to_be_bytes());
        return d;
    }
    let mut d = vec![0u8; 8];
    if dev.peripheral_type() == 0x00 {
        // Short LBA mode parameter block descriptor (SBC-4 6.5.2).
        let n = u32::try_from(blocks).unwrap_or(u32::MAX);
        d[0..4].copy_from_slice(&n.to_be_bytes());
    } else {
        // General mode parameter block descriptor, density code 0.
        let n = u32::try_from(blocks)
            .unwrap_or(0x00FF_FFFF)
            .min(0x00FF_FFFF);
        d[1..4].copy_from_slice(&n.to_be_bytes()[1..4]);
    }
    d[5..8].copy_from_slice(&len.to_be_bytes()[1..4]);
    d
}

/// Mode parameter header, block descriptor and pages.
fn assemble(ten: bool, dsp: u8, bd: &[u8], pages: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + bd.len() + pages.len());
    if ten {
        let total = 8 + bd.len() + pages.len();
        let mdl = u16::try_from(total - 2).unwrap_or(u16::MAX);
        d.extend_from_slice(&mdl.to_be_bytes());
        d.push(0); // medium type
        d.push(dsp);
        d.push(if bd.len() == 16 { 0x01 } else { 0 }); // LONGLBA
        d.push(0);
        d.extend_from_slice(&(bd.len() as u16).to_be_bytes());
    } else {
        let total = 4 + bd.len() + pages.len();
        d.push(u8::try_from(total - 1).unwrap_or(u8::MAX));
        d.push(0);
        d.push(dsp);
        d.push(bd.len() as u8);
    }
    d.extend_from_slice(bd);
    d.extend_from_slice(pages);
    d
}

/// What a MODE SELECT asks for, checked against the current state but not yet applied.
#[derive(Debug)]
pub(crate) struct Selection {
    /// The new values of this layer's pages (the current ones if none was sent).
    pub(crate) state: ModeState,
    /// Device pages to hand to [`Device::mode_select`]: (page code, offset of the page in
    /// the parameter list, page bytes).
    pub(crate) device_pages: Vec<(u8, usize, Vec<u8>)>,
}

/// Parses and checks a MODE SELECT(6)/(10) parameter list. Returns the parameter list
/// length from the CDB and the selection.
pub(crate) fn select<D: Device>(
    dev: &D,
    st: &ModeState,
    cdb: &[u8],
    data: &[u8],
    ten: bool,
) -> Result<Selection, Sense> {
    let pf = byte(cdb, 1) & 0x10 != 0;
    let sp = byte(cdb, 1) & 0x01 != 0;
    let len = param_len(cdb, ten);
    if sp {
        // Saved pages are not implemented.
        return Err(Sense::invalid_field_in_cdb(1, Some(0)));
    }
    if len == 0 {
        return Ok(Selection {
            state: *st,
            device_pages: Vec::new(),
        });
    }
    let hdr = if ten { 8 } else { 4 };
    let data = data.get(..len).ok_or_else(Sense::param_list_length_error)?;
    if len < hdr {
        return Err(Sense::param_list_length_error());
    }
    let bd_len = if ten {
        usize::from(be16(data, 6))
    } else {
        usize::from(byte(data, 3))
    };
    let len_field = if ten { 6 } else { 3 };
    let bd = data
        .get(hdr..hdr + bd_len)
        .ok_or_else(Sense::param_list_length_error)?;
    let long = ten && byte(data, 4) & 0x01 != 0;
    check_block_descriptor(dev, bd, long, hdr, len_field)?;
    let pages = data.get(hdr + bd_len..).unwrap_or_default();
    if !pages.is_empty() && !pf {
        return Err(Sense::invalid_field_in_cdb(1, Some(4)));
    }
    parse_pages(dev, st, pages, hdr + bd_len)
}

/// The PARAMETER LIST LENGTH of a MODE SELECT CDB.
pub(crate) fn param_len(cdb: &[u8], ten: bool) -> usize {
    if ten {
        usize::from(be16(cdb, 7))
    } else {
        usize::from(byte(cdb, 4))
    }
}

/// A block descriptor may be sent, but only to restate the current block length (a
/// NUMBER OF BLOCKS of zero, or the current one, means no change). `hdr` is the offset of
/// the descriptor in the parameter list, `len_field` that of its length field.
fn check_block_descriptor<D: Device>(
    dev: &D,
    bd: &[u8],
    long: bool,
    hdr: usize,
    len_field: usize,
) -> Result<(), Sense> {
    if bd.is_empty() {
        return Ok(());
    }
    let bad = |at: usize| Sense::invalid_field_in_param(at as u16, None);
    let Some((blocks, block_len)) = dev.block_descriptor() else {
        return Err(bad(len_field));
    };
    let (n, l, want, l_at) = match (long, bd.len()) {
        (true, 16) => (be64(bd, 0), be32(bd, 12), blocks, 12),
        (false, 8) if dev.peripheral_type() == 0x00 => (
            u64::from(be32(bd, 0)),
            be32(bd, 4) & 0x00FF_FFFF,
            blocks.min(u64::from(u32::MAX)),
            5,
        ),
        (false, 8) => (
            u64::from(be32(bd, 0) & 0x00FF_FFFF),
            be32(bd, 4) & 0x00FF_FFFF,
            blocks.min(0x00FF_FFFF),
            5,
        ),
        _ => return Err(bad(len_field)),
    };
    if n != 0 && n != want {
        return Err(bad(hdr));
    }
    if l != block_len {
        return Err(bad(hdr + l_at));
    }
    Ok(())
}

fn parse_pages<D: Device>(
    dev: &D,
    st: &ModeState,
    mut pages: &[u8],
    mut offset: usize,
) -> Result<Selection, Sense> {
    let mut sel = Selection {
        state: *st,
        device_pages: Vec::new(),
    };
    let codes = page_codes(dev);
    while !pages.is_empty() {
        let b0 = byte(pages, 0);
        let (code, spf) = (b0 & 0x3F, b0 & 0x40 != 0);
        let at = offset as u16;
        if b0 & 0x80 != 0 {
            // PS is reserved in MODE SELECT.
            return Err(Sense::invalid_field_in_param(at, Some(7)));
        }
        if spf || !codes.contains(&code) {
            return Err(Sense::invalid_field_in_param(at, Some(5)));
        }
        let total = 2 + usize::from(byte(pages, 1));
        let page = pages
            .get(..total)
            .ok_or_else(Sense::param_list_length_error)?;
        match code {
            CONTROL | INFO_EXCEPTIONS => apply_own(&mut sel.state, code, page, offset)?,
            _ => sel.device_pages.push((code, offset, page.to_vec())),
        }
        pages = pages.get(total..).unwrap_or_default();
        offset += total;
    }
    Ok(sel)
}

/// Checks one of this layer's pages against the current and changeable values and
/// records its changes in `new`.
fn apply_own(new: &mut ModeState, code: u8, page: &[u8], offset: usize) -> Result<(), Sense> {
    let cur = new.own_page(code, PageControl::Current).unwrap_or_default();
    let mask = new
        .own_page(code, PageControl::Changeable)
        .unwrap_or_default();
    if page.len() != cur.len() {
        return Err(Sense::invalid_field_in_param(offset as u16 + 1, None));
    }
    for (i, ((&got, &have), &m)) in page.iter().zip(&cur).zip(&mask).enumerate().skip(2) {
        if (got ^ have) & !m != 0 {
            return Err(Sense::invalid_field_in_param((offset + i) as u16, None));
        }
    }
    if code == CONTROL {
        new.d_sense = byte(page, 2) & 0x04 != 0;
        new.swp = byte(page, 4) & 0x08 != 0;
    }
    Ok(())
}
