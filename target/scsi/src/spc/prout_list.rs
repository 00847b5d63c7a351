//! The PERSISTENT RESERVE OUT parameter list (SPC-4 6.17.3, 6.17.4).
//!
//! ```text
//!  basic (24 bytes):      0 RESERVATION KEY   8 SERVICE ACTION RESERVATION KEY
//!                         20 SPEC_I_PT (bit 3), ALL_TG_PT (bit 2), APTPL (bit 0)
//!  REGISTER AND MOVE:     0 RESERVATION KEY   8 SERVICE ACTION RESERVATION KEY
//!                         17 UNREG (bit 1), APTPL (bit 0)   18 RELATIVE TARGET PORT ID
//!                         20 TRANSPORTID PARAMETER DATA LENGTH   24 TransportID
//! ```
//!
//! The basic list is exactly 24 bytes; SPEC_I_PT is refused (SIP_C = 0). The TransportID
//! of REGISTER AND MOVE is handed on as bytes: whether it names an initiator is checked
//! (by [`super::transport_id`]) after the reservation checks, as SPC-4 orders them.

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32, be_u64, u8 as byte};
use nom::Parser;

use crate::param::{self, fail, field, PResult};
use crate::Sense;

/// A decoded parameter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParamList<'a> {
    pub(crate) key: u64,
    pub(crate) sark: u64,
    pub(crate) rest: Rest<'a>,
}

/// The part of the list after the two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rest<'a> {
    /// Every service action but REGISTER AND MOVE.
    Basic { all_tg_pt: bool, aptpl: bool },
    /// REGISTER AND MOVE.
    Move {
        unreg: bool,
        aptpl: bool,
        relative_port: u16,
        transport_id: &'a [u8],
    },
}

/// The length of the basic list.
const BASIC: usize = 24;

/// Parses the first `len` bytes of `data` (PARAMETER LIST LENGTH `len`) as the list of
/// REGISTER AND MOVE (`register_and_move`) or of the other service actions.
pub(crate) fn parse(
    data: &[u8],
    len: usize,
    register_and_move: bool,
) -> Result<ParamList<'_>, Sense> {
    let data = data.get(..len).ok_or_else(Sense::param_list_length_error)?;
    param::run(|i| list(i, register_and_move), data)
}

fn list(input: &[u8], register_and_move: bool) -> PResult<'_, ParamList<'_>> {
    let (rest, (key, sark)) = (be_u64, be_u64).parse(input)?;
    let (rest, tail) = if register_and_move {
        move_rest(rest)?
    } else {
        basic_rest(rest)?
    };
    Ok((
        rest,
        ParamList {
            key,
            sark,
            rest: tail,
        },
    ))
}

fn basic_rest(input: &[u8]) -> PResult<'_, Rest<'_>> {
    let (rest, (_, flags, _, _)) = (take(4usize), byte, byte, be_u16).parse(input)?;
    if flags & 0x08 != 0 {
        // SPEC_I_PT is not supported (REPORT CAPABILITIES says SIP_C = 0).
        return fail(field(20, Some(3)));
    }
    if !rest.is_empty() {
        return fail(Sense::param_list_length_error());
    }
    let basic = Rest::Basic {
        all_tg_pt: flags & 0x04 != 0,
        aptpl: flags & 0x01 != 0,
    };
    Ok((rest, basic))
}

fn move_rest(input: &[u8]) -> PResult<'_, Rest<'_>> {
    let (rest, (_, flags, relative_port, len)) = (byte, byte, be_u16, be_u32).parse(input)?;
    let (rest, transport_id) = take(len).parse(rest)?;
    let m = Rest::Move {
        unreg: flags & 0x02 != 0,
        aptpl: flags & 0x01 != 0,
        relative_port,
        transport_id,
    };
    Ok((rest, m))
}

/// The parameter list of `p`.
pub(crate) fn encode(p: &ParamList<'_>) -> Vec<u8> {
    let mut d = Vec::with_capacity(BASIC);
    d.extend_from_slice(&p.key.to_be_bytes());
    d.extend_from_slice(&p.sark.to_be_bytes());
    match p.rest {
        Rest::Basic { all_tg_pt, aptpl } => {
            let flags = u8::from(all_tg_pt) << 2 | u8::from(aptpl);
            d.extend_from_slice(&[0, 0, 0, 0, flags, 0, 0, 0]);
        }
        Rest::Move {
            unreg,
            aptpl,
            relative_port,
            transport_id,
        } => {
            d.extend_from_slice(&[0, u8::from(unreg) << 1 | u8::from(aptpl)]);
            d.extend_from_slice(&relative_port.to_be_bytes());
            d.extend_from_slice(&(transport_id.len() as u32).to_be_bytes());
            d.extend_from_slice(transport_id);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_and_spec_i_pt() {
        let basic = ParamList {
            key: 1,
            sark: 2,
            rest: Rest::Basic {
                all_tg_pt: true,
                aptpl: false,
            },
        };
        let d = encode(&basic);
        assert_eq!(d.len(), BASIC);
        assert_eq!(parse(&d, 24, false), Ok(basic));
        assert_eq!(
            parse(&d, 25, false).unwrap_err().asc,
            0x1A,
            "data-out short"
        );
        assert_eq!(parse(&d, 23, false).unwrap_err().asc, 0x1A);
        let mut long = d.clone();
        long.push(0);
        assert_eq!(parse(&long, 25, false).unwrap_err().asc, 0x1A);
        let mut sip = d.clone();
        sip[20] |= 0x08;
        let e = parse(&sip, 24, false).unwrap_err();
        assert_eq!(e.field.map(|f| (f.byte, f.bit)), Some((20, Some(3))));
        let mut m = d.clone();
        m[23] = 4;
        assert_eq!(
            parse(&m, 24, true).unwrap_err().asc,
            0x1A,
            "TransportID missing"
        );
    }

    proptest! {
        #[test]
        fn never_panics(
            d in prop::collection::vec(any::<u8>(), 0..100),
            len in 0usize..120,
            ram in any::<bool>(),
        ) {
            let _ = parse(&d, len, ram);
        }

        #[test]
        fn round_trips(
            (key, sark) in (any::<u64>(), any::<u64>()),
            mv in prop::option::of((any::<bool>(), any::<bool>(), any::<u16>())),
            (a, b) in (any::<bool>(), any::<bool>()),
            tid in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let rest = match mv {
                Some((unreg, aptpl, relative_port)) => Rest::Move {
                    unreg,
                    aptpl,
                    relative_port,
                    transport_id: &tid,
                },
                None => Rest::Basic { all_tg_pt: a, aptpl: b },
            };
            let p = ParamList { key, sark, rest };
            let d = encode(&p);
            prop_assert_eq!(parse(&d, d.len(), mv.is_some()), Ok(p));
        }
    }
}
