//! The UNMAP parameter list (SBC-4 5.31.2): an 8-byte header, then 16-byte block
//! descriptors.
//!
//! ```text
//!  0  UNMAP DATA LENGTH (n - 2)      2  UNMAP BLOCK DESCRIPTOR DATA LENGTH     4  reserved
//!  8  descriptor: LBA (8), NUMBER OF LOGICAL BLOCKS (4), reserved (4); 16 bytes each
//! ```
//!
//! Both lengths must lie within the list (else PARAMETER LIST LENGTH ERROR); a trailing
//! partial descriptor is ignored; more descriptors than the disk takes is an INVALID
//! FIELD IN PARAMETER LIST at byte 2.

use nom::bytes::complete::take;
use nom::multi::count;
use nom::number::complete::{be_u16, be_u32, be_u64};
use nom::Parser;

use crate::param::{self, fail, field, PResult};
use crate::Sense;

/// Bytes before the first descriptor.
pub(crate) const HEADER: usize = 8;
/// Bytes per block descriptor.
pub(crate) const DESCRIPTOR: usize = 16;

/// One UNMAP block descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub(crate) lba: u64,
    pub(crate) blocks: u32,
}

/// Parses an UNMAP parameter list of at most `max_descriptors` descriptors.
pub(crate) fn parse(list: &[u8], max_descriptors: u32) -> Result<Vec<Extent>, Sense> {
    param::run(|i| descriptors(list, i, max_descriptors), list)
}

fn descriptors<'a>(list: &[u8], input: &'a [u8], max: u32) -> PResult<'a, Vec<Extent>> {
    let (rest, (data_len, bd_len, _)) = (be_u16, be_u16, take(4usize)).parse(input)?;
    let within = |n: u16, header: usize| usize::from(n) + header <= list.len();
    if !within(data_len, 2) || !within(bd_len, HEADER) {
        return fail(Sense::param_list_length_error());
    }
    let n = usize::from(bd_len) / DESCRIPTOR;
    if u32::try_from(n).map_or(true, |n| n > max) {
        return fail(field(2, None));
    }
    count(descriptor, n).parse(rest)
}

fn descriptor(input: &[u8]) -> PResult<'_, Extent> {
    let (rest, (lba, blocks, _)) = (be_u64, be_u32, take(4usize)).parse(input)?;
    Ok((rest, Extent { lba, blocks }))
}

/// The parameter list that unmaps `extents`.
pub(crate) fn encode(extents: &[Extent]) -> Vec<u8> {
    let bd_len = DESCRIPTOR * extents.len();
    let mut l = Vec::with_capacity(HEADER + bd_len);
    l.extend_from_slice(&((HEADER - 2 + bd_len) as u16).to_be_bytes());
    l.extend_from_slice(&(bd_len as u16).to_be_bytes());
    l.extend_from_slice(&[0; 4]);
    for e in extents {
        l.extend_from_slice(&e.lba.to_be_bytes());
        l.extend_from_slice(&e.blocks.to_be_bytes());
        l.extend_from_slice(&[0; 4]);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn extent() -> impl Strategy<Value = Extent> {
        (any::<u64>(), any::<u32>()).prop_map(|(lba, blocks)| Extent { lba, blocks })
    }

    #[test]
    fn lengths_and_limits() {
        let two = encode(&[Extent { lba: 1, blocks: 2 }, Extent { lba: 3, blocks: 4 }]);
        assert_eq!(parse(&two, 2).map(|v| v.len()), Ok(2));
        assert_eq!(parse(&two, 1).unwrap_err().field.map(|f| f.byte), Some(2));
        assert_eq!(parse(&two[..20], 2).unwrap_err().asc, 0x1A);
        assert_eq!(parse(&[0; 7], 2).unwrap_err().asc, 0x1A);
        // A trailing partial descriptor is ignored.
        let mut partial = two.clone();
        partial[3] = 40;
        partial.extend_from_slice(&[0; 8]);
        assert_eq!(parse(&partial, 9).map(|v| v.len()), Ok(2));
    }

    proptest! {
        #[test]
        fn never_panics(list in prop::collection::vec(any::<u8>(), 0..200), max in any::<u32>()) {
            let _ = parse(&list, max);
        }

        #[test]
        fn round_trips(extents in prop::collection::vec(extent(), 0..40)) {
            let list = encode(&extents);
            prop_assert_eq!(parse(&list, u32::MAX), Ok(extents));
        }
    }
}
