//! Parsing parameter lists (the data-out of MODE SELECT, PERSISTENT RESERVE OUT, UNMAP,
//! EXTENDED COPY) with nom: the parsers work on the list as a byte slice and fail with
//! the [`Sense`] to report.
//!
//! Running out of bytes in a nom combinator ([`be_u16`](nom::number::complete::be_u16),
//! [`take`](nom::bytes::complete::take), ...) becomes PARAMETER LIST LENGTH ERROR; a field
//! that is present but wrong becomes the sense the parser names with [`fail`], usually
//! INVALID FIELD IN PARAMETER LIST pointing at the field ([`field`]), whose offset in the
//! list [`offset`] computes from the slice the parser started with.

use nom::error::{ErrorKind, ParseError};
use nom::{Err, IResult, Parser};

use crate::Sense;

/// Why a parameter list was refused: the sense to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid(pub(crate) Sense);

impl<I> ParseError<I> for Invalid {
    /// nom's own combinators fail here only when the list ends too early.
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        Self(Sense::param_list_length_error())
    }

    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// The result of a parameter-list parser.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, Invalid>;

/// Ends the parse with `sense` (a failure: nothing else is tried).
pub(crate) fn fail<T>(sense: Sense) -> Result<T, Err<Invalid>> {
    Err(Err::Failure(Invalid(sense)))
}

/// INVALID FIELD IN PARAMETER LIST at byte `at` (and `bit`).
pub(crate) fn field(at: usize, bit: Option<u8>) -> Sense {
    Sense::invalid_field_in_param(u16::try_from(at).unwrap_or(u16::MAX), bit)
}

/// Where `part` starts within `whole` (`part` a sub-slice of `whole`, as nom's parsers
/// hand them out; zero otherwise).
pub(crate) fn offset(whole: &[u8], part: &[u8]) -> usize {
    let at = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    if at <= whole.len() {
        at
    } else {
        0
    }
}

/// Runs `parser` over `input`: the value, or the sense to report.
pub(crate) fn run<'a, O>(
    mut parser: impl Parser<&'a [u8], Output = O, Error = Invalid>,
    input: &'a [u8],
) -> Result<O, Sense> {
    match parser.parse(input) {
        Ok((_, o)) => Ok(o),
        Err(Err::Error(e) | Err::Failure(e)) => Err(e.0),
        Err(Err::Incomplete(_)) => Err(Sense::param_list_length_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom::number::complete::be_u32;

    #[test]
    fn short_lists_are_length_errors_and_fields_name_their_byte() {
        let e = run(be_u32, &[1, 2]).unwrap_err();
        assert_eq!((e.asc, e.ascq), (0x1A, 0x00));
        let list = [0u8; 9];
        let bad = |i: &[u8]| -> PResult<'_, ()> { fail(field(offset(&list, i), Some(3))) };
        let e = run(bad, &list[5..7]).unwrap_err();
        assert_eq!(
            (e.asc, e.field.map(|f| (f.byte, f.bit))),
            (0x26, Some((5, Some(3))))
        );
        assert_eq!(offset(&list, &[1, 2]), 0, "not a part of the list");
    }
}
