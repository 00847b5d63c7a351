//! The MODE SELECT(6)/(10) parameter list (SPC-4 7.5.4): mode parameter header, block
//! descriptors, mode pages (page_0 format), and the block descriptor formats (SPC-4
//! 7.5.5, SBC-4 6.5.2 and 6.5.3).
//!
//! ```text
//!  (6)  0 MODE DATA LENGTH  1 MEDIUM TYPE  2 DEVICE-SPECIFIC PARAMETER  3 BLOCK DESCRIPTOR LENGTH
//!  (10) 0 MODE DATA LENGTH (2)  2 MEDIUM TYPE  3 DEVICE-SPECIFIC  4 LONGLBA (bit 0)
//!       6 BLOCK DESCRIPTOR LENGTH (2)
//!  then the block descriptors, then pages: 0 PS (bit 7), SPF (bit 6), PAGE CODE; 1 PAGE LENGTH
//! ```
//!
//! The header and the block descriptors are parsed first ([`parse`]) and the pages
//! after them ([`pages`]), so that a wrong block descriptor is reported before anything
//! about the pages, as the list reads.

use nom::bytes::complete::take;
use nom::combinator::all_consuming;
use nom::number::complete::{be_u16, be_u24, be_u32, be_u64, u8 as byte};
use nom::Parser;

use crate::param::{self, fail, field, offset, PResult};
use crate::{BlockDescriptorFormat, Sense};

/// A MODE SELECT parameter list up to its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModeList<'a> {
    pub(crate) medium_type: u8,
    pub(crate) device_specific: u8,
    /// LONGLBA (MODE SELECT(10) only): the block descriptors are 16-byte long LBA ones.
    pub(crate) long_lba: bool,
    /// The block descriptors as sent.
    pub(crate) block_descriptors: &'a [u8],
    /// The mode pages, unparsed (see [`pages`]).
    pub(crate) pages: &'a [u8],
}

/// One mode page as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page<'a> {
    pub(crate) code: u8,
    /// Offset of the page in the parameter list.
    pub(crate) at: usize,
    /// The whole page, PAGE CODE and PAGE LENGTH bytes included.
    pub(crate) bytes: &'a [u8],
}

/// The length of the mode parameter header.
pub(crate) fn header_len(ten: bool) -> usize {
    if ten {
        8
    } else {
        4
    }
}

/// The offset of BLOCK DESCRIPTOR LENGTH in the header.
pub(crate) fn bd_len_at(ten: bool) -> usize {
    if ten {
        6
    } else {
        3
    }
}

/// Parses the header and block descriptors of `list`, a MODE SELECT(6) (`ten == false`)
/// or MODE SELECT(10) parameter list.
pub(crate) fn parse(list: &[u8], ten: bool) -> Result<ModeList<'_>, Sense> {
    param::run(|i| mode_list(i, ten), list)
}

fn mode_list(input: &[u8], ten: bool) -> PResult<'_, ModeList<'_>> {
    let (rest, (medium_type, device_specific, long_lba, bd_len)) = if ten {
        let mut h = (be_u16, byte, byte, byte, byte, be_u16);
        let (rest, (_, m, d, l, _, n)) = h.parse(input)?;
        (rest, (m, d, l & 0x01 != 0, n))
    } else {
        let (rest, (_, m, d, n)) = (byte, byte, byte, byte).parse(input)?;
        (rest, (m, d, false, u16::from(n)))
    };
    let (pages, block_descriptors) = take(bd_len).parse(rest)?;
    let list = ModeList {
        medium_type,
        device_specific,
        long_lba,
        block_descriptors,
        pages,
    };
    Ok((pages, list))
}

/// Parses the pages of `list` (`pages`, the tail of it [`parse`] left), each of which must
/// have one of `codes` and no PS or SPF bit.
pub(crate) fn pages<'a>(
    list: &[u8],
    mut pages: &'a [u8],
    codes: &[u8],
) -> Result<Vec<Page<'a>>, Sense> {
    let mut out = Vec::new();
    while !pages.is_empty() {
        let (p, rest) = next_page(list, pages, codes)?;
        out.push(p);
        pages = rest;
    }
    Ok(out)
}

/// Parses the first page of `pages` (a tail of `list`), as [`pages`] does; returns it and
/// the pages after it. A caller that acts on each page before it looks at the next goes
/// through the list in order, errors included.
pub(crate) fn next_page<'a>(
    list: &[u8],
    pages: &'a [u8],
    codes: &[u8],
) -> Result<(Page<'a>, &'a [u8]), Sense> {
    param::run(
        |i| page(list, i, codes).map(|(rest, p)| (rest, (p, rest))),
        pages,
    )
}

fn page<'a>(list: &[u8], input: &'a [u8], codes: &[u8]) -> PResult<'a, Page<'a>> {
    let at = offset(list, input);
    let (rest, b0) = byte(input)?;
    if b0 & 0x80 != 0 {
        // PS is reserved in MODE SELECT.
        return fail(field(at, Some(7)));
    }
    let code = b0 & 0x3F;
    if b0 & 0x40 != 0 || !codes.contains(&code) {
        // Sub-page format pages: none is supported.
        return fail(field(at, Some(5)));
    }
    let (rest, len) = byte(rest)?;
    let (rest, _) = take(len).parse(rest)?;
    let page = Page {
        code,
        at,
        bytes: input.get(..2 + usize::from(len)).unwrap_or_default(),
    };
    Ok((rest, page))
}

/// The fields of a block descriptor and where they sit in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// DENSITY CODE (the general format only).
    pub(crate) density: Option<u8>,
    pub(crate) blocks: u64,
    pub(crate) block_len: u32,
    /// Offset of the field to point at when NUMBER OF BLOCKS is wrong.
    pub(crate) blocks_at: usize,
    /// Offset of the BLOCK LENGTH field.
    pub(crate) len_at: usize,
}

/// Decodes one block descriptor of `format` (16 bytes if `long`, else 8); `None` for
/// any other length.
pub(crate) fn descriptor(
    format: BlockDescriptorFormat,
    long: bool,
    bd: &[u8],
) -> Option<Descriptor> {
    let long_lba = (be_u64, take(4usize), be_u32).map(|(blocks, _, block_len)| Descriptor {
        density: None,
        blocks,
        block_len,
        blocks_at: 0,
        len_at: 12,
    });
    let short_lba = (be_u32, byte, be_u24).map(|(blocks, _, block_len)| Descriptor {
        density: None,
        blocks: u64::from(blocks),
        block_len,
        blocks_at: 0,
        len_at: 5,
    });
    let general = (byte, be_u24, byte, be_u24).map(|(density, blocks, _, block_len)| Descriptor {
        density: Some(density),
        blocks: u64::from(blocks),
        block_len,
        blocks_at: 1,
        len_at: 5,
    });
    let r: PResult<'_, Descriptor> = match (long, format) {
        (true, _) => all_consuming(long_lba).parse(bd),
        (false, BlockDescriptorFormat::ShortLba) => all_consuming(short_lba).parse(bd),
        (false, BlockDescriptorFormat::General) => all_consuming(general).parse(bd),
    };
    r.ok().map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pages of distinct codes 01h-3Eh with bodies of any length.
    fn pages_strategy() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
        let page = (1u8..0x3F, prop::collection::vec(any::<u8>(), 0..40));
        prop::collection::vec(page, 0..6).prop_map(|mut v| {
            v.sort_by_key(|p| p.0);
            v.dedup_by_key(|p| p.0);
            v
        })
    }

    #[test]
    fn descriptors_of_each_format() {
        let general = [0x58, 0xFF, 0xFF, 0xFF, 0, 0x01, 0, 0];
        let d = descriptor(BlockDescriptorFormat::General, false, &general).unwrap();
        assert_eq!(
            (d.density, d.blocks, d.block_len),
            (Some(0x58), 0xFF_FFFF, 0x1_0000)
        );
        let d = descriptor(BlockDescriptorFormat::ShortLba, false, &general).unwrap();
        assert_eq!((d.density, d.blocks), (None, 0x58FF_FFFF));
        assert!(descriptor(BlockDescriptorFormat::ShortLba, true, &general).is_none());
        assert!(descriptor(BlockDescriptorFormat::General, false, &general[..7]).is_none());
        let mut long = [0u8; 16];
        long[7] = 9;
        long[15] = 2;
        let d = descriptor(BlockDescriptorFormat::ShortLba, true, &long).unwrap();
        assert_eq!((d.blocks, d.block_len, d.len_at), (9, 2, 12));
    }

    #[test]
    fn page_errors_name_their_byte() {
        let list = [0u8, 0, 0, 0, 0x08, 2, 0, 0, 0x8A, 0];
        let l = parse(&list, false).unwrap();
        assert_eq!(
            pages(&list, l.pages, &[0x08])
                .unwrap_err()
                .field
                .map(|f| f.byte),
            Some(8)
        );
        let e = pages(&list, l.pages, &[0x08, 0x0A]).unwrap_err();
        assert_eq!(e.field.map(|f| (f.byte, f.bit)), Some((8, Some(7))));
        assert_eq!(pages(&list, &list[4..7], &[0x08]).unwrap_err().asc, 0x1A);
        assert_eq!(parse(&list[..3], false).unwrap_err().asc, 0x1A);
        assert_eq!(parse(&[0, 0, 0, 9, 0], false).unwrap_err().asc, 0x1A);
    }

    proptest! {
        #[test]
        fn never_panics(
            list in prop::collection::vec(any::<u8>(), 0..120),
            ten in any::<bool>(),
            codes in prop::collection::vec(any::<u8>(), 0..4),
        ) {
            if let Ok(l) = parse(&list, ten) {
                let _ = pages(&list, l.pages, &codes);
                for format in [BlockDescriptorFormat::ShortLba, BlockDescriptorFormat::General] {
                    let _ = descriptor(format, l.long_lba, l.block_descriptors);
                }
            }
        }

        #[test]
        fn round_trips(
            ten in any::<bool>(),
            header in (any::<u8>(), any::<u8>()),
            bd in prop::sample::select(vec![0usize, 8, 16, 24]),
            bd_byte in any::<u8>(),
            sent in pages_strategy(),
        ) {
            let bd = vec![bd_byte; bd];
            let mut raw = Vec::new();
            for (code, body) in &sent {
                raw.push(*code);
                raw.push(body.len() as u8);
                raw.extend_from_slice(body);
            }
            let list = super::super::mode::assemble(ten, header, &bd, &raw);
            let l = parse(&list, ten).unwrap();
            let want = ModeList {
                medium_type: header.0,
                device_specific: header.1,
                long_lba: ten && bd.len() == 16,
                block_descriptors: &bd,
                pages: &raw,
            };
            prop_assert_eq!(l, want);
            let codes: Vec<u8> = sent.iter().map(|p| p.0).collect();
            let got = pages(&list, l.pages, &codes).unwrap();
            let mut at = header_len(ten) + bd.len();
            for p in &got {
                prop_assert_eq!(p.at, at);
                at += p.bytes.len();
            }
            let got: Vec<(u8, Vec<u8>)> =
                got.iter().map(|p| (p.code, p.bytes[2..].to_vec())).collect();
            prop_assert_eq!(got, sent);
        }
    }
}
