//! MODE SENSE(6)/(10) and MODE SELECT(6)/(10) (SPC-4 6.11-6.14, 7.5).
//!
//! This layer owns the control mode page (0Ah) and the informational exceptions control
//! page (1Ch); other pages come from the device. Of the control page, D_SENSE and SWP are
//! changeable. Saved pages are not implemented (PS = 0): MODE SELECT with SP = 1 and MODE
//! SENSE of saved values fail, and a reset restores the default values.

use super::mode_list;
use crate::cdb::{be16, byte, data_in, put};
use crate::{BlockDescriptorFormat, Device, PageControl, Response, Sense};

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
    let header = (dev.medium_type(), dev.mode_device_specific(write_protected));
    Ok(data_in(assemble(ten, header, &bd, &pages), alloc))
}

fn block_descriptor<D: Device>(dev: &D, pc: PageControl, llbaa: bool) -> Vec<u8> {
    let Some((blocks, len)) = dev.block_descriptor() else {
        return Vec::new();
    };
    let format = dev.block_descriptor_format();
    let long = llbaa && format == BlockDescriptorFormat::ShortLba;
    if pc == PageControl::Changeable {
        // Nothing in the descriptor is changeable.
        return encode_descriptor(format, long, 0, 0, 0);
    }
    encode_descriptor(format, long, dev.density_code(), blocks, len)
}

/// A block descriptor in `format` (the 16-byte long LBA one if `long`); fields too large
/// for the format saturate.
fn encode_descriptor(
    format: BlockDescriptorFormat,
    long: bool,
    density: u8,
    blocks: u64,
    len: u32,
) -> Vec<u8> {
    if long {
        let mut d = vec![0u8; 16];
        put(&mut d, 0, blocks.to_be_bytes());
        put(&mut d, 12, len.to_be_bytes());
        return d;
    }
    let mut d = vec![0u8; 8];
    match format {
        BlockDescriptorFormat::ShortLba => {
            let n = u32::try_from(blocks).unwrap_or(u32::MAX);
            put(&mut d, 0, n.to_be_bytes());
        }
        BlockDescriptorFormat::General => {
            let n = blocks.min(0x00FF_FFFF) as u32;
            put(&mut d, 0, n.to_be_bytes());
            put(&mut d, 0, [density]);
        }
    }
    put(&mut d, 5, [(len >> 16) as u8, (len >> 8) as u8, len as u8]);
    d
}

/// Mode parameter header, block descriptor and pages; `header` is the MEDIUM TYPE and the
/// DEVICE-SPECIFIC PARAMETER. (MODE SELECT takes the same format, see [`mode_list`].)
pub(crate) fn assemble(ten: bool, header: (u8, u8), bd: &[u8], pages: &[u8]) -> Vec<u8> {
    let (medium_type, dsp) = header;
    let mut d = Vec::with_capacity(8 + bd.len() + pages.len());
    if ten {
        let total = 8 + bd.len() + pages.len();
        let mdl = u16::try_from(total - 2).unwrap_or(u16::MAX);
        d.extend_from_slice(&mdl.to_be_bytes());
        d.push(medium_type);
        d.push(dsp);
        d.push(if bd.len() == 16 { 0x01 } else { 0 }); // LONGLBA
        d.push(0);
        d.extend_from_slice(&(bd.len() as u16).to_be_bytes());
    } else {
        let total = 4 + bd.len() + pages.len();
        d.push(u8::try_from(total - 1).unwrap_or(u8::MAX));
        d.push(medium_type);
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
    /// For a device whose header is settable ([`Device::mode_header_settable`]): the
    /// device-specific parameter, the (density, block length) of the block descriptor if
    /// one was sent, and the offsets of the header byte and of the descriptor.
    pub(crate) header: Option<HeaderSelection>,
}

/// MODE SELECT's header and block descriptor, for [`Device::select_mode_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderSelection {
    pub(crate) device_specific: u8,
    pub(crate) descriptor: Option<(u8, u32)>,
    /// Offset of the device-specific parameter in the parameter list.
    pub(crate) device_specific_at: usize,
    /// Offset of the block descriptor in the parameter list.
    pub(crate) descriptor_at: usize,
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
            header: None,
        });
    }
    let data = data.get(..len).ok_or_else(Sense::param_list_length_error)?;
    let list = mode_list::parse(data, ten)?;
    let hdr = mode_list::header_len(ten);
    let bd = list.block_descriptors;
    let header = if dev.mode_header_settable() {
        Some(settable_header(dev, &list, ten)?)
    } else {
        check_block_descriptor(dev, bd, list.long_lba, hdr, mode_list::bd_len_at(ten))?;
        None
    };
    if !list.pages.is_empty() && !pf {
        return Err(Sense::invalid_field_in_cdb(1, Some(4)));
    }
    let codes = page_codes(dev);
    let mut sel = Selection {
        state: *st,
        device_pages: Vec::new(),
        header,
    };
    let mut pages = list.pages;
    while !pages.is_empty() {
        let (p, rest) = mode_list::next_page(data, pages, &codes)?;
        match p.code {
            CONTROL | INFO_EXCEPTIONS => apply_own(&mut sel.state, p.code, p.bytes, p.at)?,
            _ => sel.device_pages.push((p.code, p.at, p.bytes.to_vec())),
        }
        pages = rest;
    }
    Ok(sel)
}

/// The PARAMETER LIST LENGTH of a MODE SELECT CDB.
pub(crate) fn param_len(cdb: &[u8], ten: bool) -> usize {
    if ten {
        usize::from(be16(cdb, 7))
    } else {
        usize::from(byte(cdb, 4))
    }
}

/// The header and block descriptor of a device that takes them (a tape drive): one
/// general block descriptor or none.
fn settable_header<D: Device>(
    dev: &D,
    list: &mode_list::ModeList<'_>,
    ten: bool,
) -> Result<HeaderSelection, Sense> {
    let hdr = mode_list::header_len(ten);
    let bd = list.block_descriptors;
    if list.long_lba {
        return Err(Sense::invalid_field_in_param(4, Some(0)));
    }
    let descriptor = match bd.len() {
        0 => None,
        8 => {
            let d = mode_list::descriptor(dev.block_descriptor_format(), false, bd).ok_or_else(
                || Sense::invalid_field_in_param(mode_list::bd_len_at(ten) as u16, None),
            )?;
            Some((d.density.unwrap_or(0), d.block_len))
        }
        _ => {
            return Err(Sense::invalid_field_in_param(
                mode_list::bd_len_at(ten) as u16,
                None,
            ))
        }
    };
    Ok(HeaderSelection {
        device_specific: list.device_specific,
        descriptor,
        device_specific_at: if ten { 3 } else { 2 },
        descriptor_at: hdr,
    })
}

/// A block descriptor may be sent, but only to restate the current one: the current
/// block length, a NUMBER OF BLOCKS of zero or the current one (as MODE SENSE reports it),
/// and in the general format a DENSITY CODE of zero or the current one. `hdr` is the
/// offset of the descriptor in the parameter list, `len_field` that of its length field.
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
    let format = dev.block_descriptor_format();
    if long && format != BlockDescriptorFormat::ShortLba {
        // LONGLBA: there is no long form of the general block descriptor.
        return Err(Sense::invalid_field_in_param(4, Some(0)));
    }
    let current = encode_descriptor(format, long, dev.density_code(), blocks, block_len);
    let (Some(sent), Some(want)) = (
        mode_list::descriptor(format, long, bd),
        mode_list::descriptor(format, long, &current),
    ) else {
        return Err(bad(len_field));
    };
    if let (Some(d), Some(w)) = (sent.density, want.density) {
        if d != 0 && d != w {
            return Err(bad(hdr));
        }
    }
    if sent.blocks != 0 && sent.blocks != want.blocks {
        return Err(bad(hdr + sent.blocks_at));
    }
    if sent.block_len != want.block_len {
        return Err(bad(hdr + sent.len_at));
    }
    Ok(())
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
