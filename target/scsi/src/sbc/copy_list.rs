//! The EXTENDED COPY (LID1) parameter list (SPC-4 6.4.3) as this copy manager takes it:
//! identification CSCD descriptors (E4h) and block-to-block segment descriptors (02h).
//!
//! ```text
//!  0  LIST IDENTIFIER   1  flags: LIST ID USAGE (bits 4-3)   2  CSCD DESCRIPTOR LIST LENGTH
//!  8  SEGMENT DESCRIPTOR LIST LENGTH   12  INLINE DATA LENGTH   16  CSCDs, segments
//!  CSCD E4h (32): 0 type, 1 NUL/PERIPHERAL DEVICE TYPE, 4 identification descriptor
//!       (5 DESIGNATOR TYPE, 7 DESIGNATOR LENGTH, 8 designator), 29 DISK BLOCK LENGTH
//!  segment 02h (28): 1 DC, 2 DESCRIPTOR LENGTH (18h), 4 source and 6 destination CSCD
//!       index, 10 NUMBER OF BLOCKS, 12 source LBA, 20 destination LBA
//! ```
//!
//! Every check of the list happens here, before anything is copied, in the order of the
//! list: lengths (PARAMETER LIST LENGTH ERROR), LIST ID USAGE and INLINE DATA LENGTH
//! (INVALID FIELD IN PARAMETER LIST), descriptor counts (TOO MANY TARGET/SEGMENT
//! DESCRIPTORS), descriptor types (UNSUPPORTED TARGET/SEGMENT DESCRIPTOR TYPE CODE).

use nom::bytes::complete::take;
use nom::multi::count;
use nom::number::complete::{be_u16, be_u32, be_u64, u8 as byte};
use nom::Parser;

use crate::param::{self, fail, field, offset, PResult};
use crate::Sense;

/// Limits reported in OPERATING PARAMETERS and the third-party copy VPD page.
pub(crate) const MAX_CSCD_DESCRIPTORS: u16 = 8;
pub(crate) const MAX_SEGMENT_DESCRIPTORS: u16 = 32;
pub(crate) const MAX_DESCRIPTOR_LIST: u32 = 1024;
/// Descriptor type codes this copy manager implements.
pub(crate) const IMPLEMENTED_DESCRIPTORS: [u8; 2] = [BLOCK_TO_BLOCK, IDENTIFICATION];

const HEADER: usize = 16;
const CSCD_LEN: usize = 32;
const SEGMENT_LEN: usize = 28;
const BLOCK_TO_BLOCK: u8 = 0x02;
const IDENTIFICATION: u8 = 0xE4;
/// The longest designator an identification CSCD descriptor carries.
const MAX_DESIGNATOR: usize = 20;

/// One identification CSCD descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cscd {
    pub(crate) designator_type: u8,
    pub(crate) designator: Vec<u8>,
    pub(crate) block_len: u32,
}

/// One block-to-block segment descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) src: usize,
    pub(crate) dst: usize,
    pub(crate) blocks: u64,
    pub(crate) src_lba: u64,
    pub(crate) dst_lba: u64,
    /// DC: NUMBER OF BLOCKS counts destination blocks.
    pub(crate) dc: bool,
}

/// A parsed EXTENDED COPY parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyList {
    pub(crate) list_id: u8,
    /// LIST ID USAGE 00b: keep the result for RECEIVE COPY RESULTS.
    pub(crate) hold: bool,
    pub(crate) cscds: Vec<Cscd>,
    pub(crate) segments: Vec<Segment>,
}

/// Parses and checks a whole parameter list; `len` is the PARAMETER LIST LENGTH of the
/// CDB and `data` what arrived of it (at most `len` bytes).
pub(crate) fn parse(data: &[u8], len: usize) -> Result<CopyList, Sense> {
    if len < HEADER {
        return Err(Sense::param_list_length_error());
    }
    param::run(|i| list(data, len, i), data)
}

fn list<'a>(data: &[u8], len: usize, input: &'a [u8]) -> PResult<'a, CopyList> {
    let mut header = (byte, byte, be_u16, take(4usize), be_u32, be_u32);
    let (rest, (list_id, flags, cscd_len, _, seg_len, inline_len)) = header.parse(input)?;
    let usage = (flags >> 3) & 0x03;
    if usage == 0x01 || (usage == 0x03 && list_id != 0) {
        return fail(field(1, Some(4)));
    }
    let (cscd_len, seg_len) = (usize::from(cscd_len), seg_len as usize);
    let needed = HEADER
        .saturating_add(cscd_len)
        .saturating_add(seg_len)
        .saturating_add(inline_len as usize);
    if needed > len || cscd_len.saturating_add(seg_len) > MAX_DESCRIPTOR_LIST as usize {
        return fail(Sense::param_list_length_error());
    }
    if inline_len != 0 {
        // No inline data is supported (MAXIMUM INLINE DATA LENGTH 0).
        return fail(field(12, None));
    }
    let (rest, cscd_bytes) = take(cscd_len).parse(rest)?;
    let (rest, seg_bytes) = take(seg_len).parse(rest)?;
    let (_, cscds) = cscds(data, cscd_bytes)?;
    let (_, segments) = segments(data, seg_bytes)?;
    let list = CopyList {
        list_id,
        hold: usage == 0x00,
        cscds,
        segments,
    };
    Ok((rest, list))
}

fn cscds<'a>(data: &[u8], input: &'a [u8]) -> PResult<'a, Vec<Cscd>> {
    if input.len() % CSCD_LEN != 0 {
        return fail(Sense::param_list_length_error());
    }
    let n = input.len() / CSCD_LEN;
    if n > usize::from(MAX_CSCD_DESCRIPTORS) {
        return fail(Sense::too_many_cscd_descriptors());
    }
    count(|i| cscd(data, i), n).parse(input)
}

fn cscd<'a>(data: &[u8], input: &'a [u8]) -> PResult<'a, Cscd> {
    let at = offset(data, input);
    let (rest, (kind, device)) = (byte, byte).parse(input)?;
    if kind != IDENTIFICATION {
        return fail(Sense::unsupported_cscd_type(
            u16::try_from(at).unwrap_or(u16::MAX),
        ));
    }
    if device & 0x20 != 0 {
        // NUL (a null device) is not supported.
        return fail(field(at + 1, Some(5)));
    }
    if device & 0x1F != 0x00 {
        // Only block devices (peripheral device type 00h) take block segments.
        return fail(field(at + 1, Some(4)));
    }
    let mut id = (take(3usize), byte, take(1usize), byte, take(MAX_DESIGNATOR));
    let (rest, (_, designator_type, _, designator_len, designator)) = id.parse(rest)?;
    let (rest, (_, block_len)) = (byte, be_u24).parse(rest)?;
    let n = usize::from(designator_len).min(MAX_DESIGNATOR);
    let cscd = Cscd {
        designator_type: designator_type & 0x0F,
        designator: designator.get(..n).unwrap_or_default().to_vec(),
        block_len,
    };
    Ok((rest, cscd))
}

fn segments<'a>(data: &[u8], mut input: &'a [u8]) -> PResult<'a, Vec<Segment>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        if out.len() == usize::from(MAX_SEGMENT_DESCRIPTORS) {
            return fail(Sense::too_many_segment_descriptors());
        }
        let (rest, s) = segment(data, input)?;
        out.push(s);
        input = rest;
    }
    Ok((input, out))
}

fn segment<'a>(data: &[u8], input: &'a [u8]) -> PResult<'a, Segment> {
    let at = offset(data, input);
    let (rest, kind) = byte(input)?;
    if kind != BLOCK_TO_BLOCK {
        return fail(Sense::unsupported_segment_type(
            u16::try_from(at).unwrap_or(u16::MAX),
        ));
    }
    if input.len() < SEGMENT_LEN {
        return fail(field(at + 2, None));
    }
    let (rest, (flags, len, src, dst, _)) =
        (byte, be_u16, be_u16, be_u16, take(2usize)).parse(rest)?;
    if len != 0x18 {
        return fail(field(at + 2, None));
    }
    let (rest, (blocks, src_lba, dst_lba)) = (be_u16, be_u64, be_u64).parse(rest)?;
    let s = Segment {
        src: usize::from(src),
        dst: usize::from(dst),
        blocks: u64::from(blocks),
        src_lba,
        dst_lba,
        dc: flags & 0x02 != 0,
    };
    Ok((rest, s))
}

fn be_u24(input: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u24(input)
}

/// The parameter list of `list` (LIST ID USAGE 00b when held, else 10b).
pub(crate) fn encode(list: &CopyList) -> Vec<u8> {
    let mut d = vec![0u8; HEADER];
    d[0] = list.list_id;
    d[1] = if list.hold { 0 } else { 0x02 << 3 };
    d[2..4].copy_from_slice(&((CSCD_LEN * list.cscds.len()) as u16).to_be_bytes());
    let seg_len = (SEGMENT_LEN * list.segments.len()) as u32;
    d[8..12].copy_from_slice(&seg_len.to_be_bytes());
    for c in &list.cscds {
        let mut e = vec![0u8; CSCD_LEN];
        e[0] = IDENTIFICATION;
        e[4] = 0x01; // CODE SET: binary
        e[5] = c.designator_type & 0x0F;
        let n = c.designator.len().min(MAX_DESIGNATOR);
        e[7] = n as u8;
        e[8..8 + n].copy_from_slice(&c.designator[..n]);
        e[29..32].copy_from_slice(&c.block_len.to_be_bytes()[1..]);
        d.extend_from_slice(&e);
    }
    for s in &list.segments {
        d.extend_from_slice(&[BLOCK_TO_BLOCK, if s.dc { 0x02 } else { 0 }, 0, 0x18]);
        d.extend_from_slice(&(s.src as u16).to_be_bytes());
        d.extend_from_slice(&(s.dst as u16).to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(&(s.blocks as u16).to_be_bytes());
        d.extend_from_slice(&s.src_lba.to_be_bytes());
        d.extend_from_slice(&s.dst_lba.to_be_bytes());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cscd() -> impl Strategy<Value = Cscd> {
        let designator = prop::collection::vec(any::<u8>(), 0..=MAX_DESIGNATOR);
        (0u8..16, designator, 0u32..0x0100_0000).prop_map(|(t, d, b)| Cscd {
            designator_type: t,
            designator: d,
            block_len: b,
        })
    }

    fn segment() -> impl Strategy<Value = Segment> {
        let ends = (any::<u16>(), any::<u16>(), any::<u16>());
        (ends, any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|((s, d, n), a, b, dc)| {
            Segment {
                src: usize::from(s),
                dst: usize::from(d),
                blocks: u64::from(n),
                src_lba: a,
                dst_lba: b,
                dc,
            }
        })
    }

    fn copy_list() -> impl Strategy<Value = CopyList> {
        let cscds = prop::collection::vec(cscd(), 0..=usize::from(MAX_CSCD_DESCRIPTORS));
        // The CSCDs and segments together fit MAXIMUM DESCRIPTOR LIST LENGTH.
        let segments = prop::collection::vec(segment(), 0..=27);
        (any::<u8>(), any::<bool>(), cscds, segments).prop_map(|(id, hold, cscds, segments)| {
            let room = (MAX_DESCRIPTOR_LIST as usize - CSCD_LEN * cscds.len()) / SEGMENT_LEN;
            let segments = segments.into_iter().take(room).collect();
            CopyList {
                list_id: id,
                hold,
                cscds,
                segments,
            }
        })
    }

    proptest! {
        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..400), len in 0usize..500) {
            let _ = parse(&data, len);
        }

        #[test]
        fn never_panics_on_lists_with_sound_lengths(
            list in copy_list(),
            at in any::<prop::sample::Index>(),
            b in any::<u8>(),
        ) {
            let mut d = encode(&list);
            let i = at.index(d.len());
            d[i] = b;
            let _ = parse(&d, d.len());
        }

        #[test]
        fn round_trips(list in copy_list()) {
            let d = encode(&list);
            prop_assert_eq!(parse(&d, d.len()), Ok(list));
        }
    }
}
