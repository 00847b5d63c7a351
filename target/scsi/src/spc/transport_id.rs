//! iSCSI TransportIDs (SPC-4 7.6.4.6): how PERSISTENT RESERVE names initiator ports.
//!
//! Format 00b carries an iSCSI name (an initiator device, any ISID); format 01b carries an
//! initiator port name `name,i,0xISID`. Both are null-terminated UTF-8, padded so the
//! ADDITIONAL LENGTH is a multiple of four and at least 20.
//!
//! ```text
//!  0  FORMAT CODE (bits 7-6), PROTOCOL IDENTIFIER (bits 3-0: 5h iSCSI)
//!  2  ADDITIONAL LENGTH   4  ISCSI NAME, or name ",i,0x" ISID (12 hex digits at most)
//! ```

use nom::bytes::complete::{tag_no_case, take, take_till, take_while_m_n};
use nom::character::complete::anychar;
use nom::combinator::{eof, map_res, peek, recognize, rest, verify};
use nom::multi::many_till;
use nom::number::complete::{be_u16, u8 as byte};
use nom::{Err, IResult, Parser};

/// The iSCSI protocol identifier.
const ISCSI: u8 = 0x5;
/// Between the name and the ISID of an initiator port name (letters in either case).
const SEPARATOR: &str = ",i,0x";

/// An initiator named by a TransportID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitiatorId {
    pub(crate) name: String,
    /// `None`: format 00b, every port of the initiator device.
    pub(crate) isid: Option<u64>,
}

/// Parses one TransportID at the start of `b`; returns it and its length.
pub(crate) fn parse(b: &[u8]) -> Option<(InitiatorId, usize)> {
    let (rest, id) = transport_id(b).ok()?;
    Some((id, b.len() - rest.len()))
}

fn transport_id(input: &[u8]) -> IResult<&[u8], InitiatorId, ()> {
    let (rest, (b0, _, len)) = (byte, byte, be_u16).parse(input)?;
    if b0 & 0x0F != ISCSI {
        return Err(Err::Error(()));
    }
    let (rest, body) = take(len).parse(rest)?;
    let (_, text) = map_res(take_till(|c| c == 0), std::str::from_utf8).parse(body)?;
    let (_, id) = match b0 >> 6 {
        0b00 => device_name(text)?,
        0b01 => port_name(text)?,
        _ => return Err(Err::Error(())),
    };
    Ok((rest, id))
}

/// Format 00b: an iSCSI name, not an initiator port name.
fn device_name(text: &str) -> IResult<&str, InitiatorId, ()> {
    let name = verify(rest, |t: &str| !t.is_empty() && !t.contains(",i,"));
    name.map(|name: &str| InitiatorId {
        name: name.to_string(),
        isid: None,
    })
    .parse(text)
}

/// Format 01b: `name,i,0xISID`, split at the first separator.
fn port_name(text: &str) -> IResult<&str, InitiatorId, ()> {
    let name = recognize(many_till(anychar, peek(tag_no_case(SEPARATOR))));
    let name = verify(name, |n: &str| !n.is_empty());
    let hex = take_while_m_n(1, 12, |c: char| c.is_ascii_hexdigit());
    let isid = map_res(hex, |h| u64::from_str_radix(h, 16));
    let (rest, (name, _, isid, _)) = (name, tag_no_case(SEPARATOR), isid, eof).parse(text)?;
    let id = InitiatorId {
        name: name.to_string(),
        isid: Some(isid),
    };
    Ok((rest, id))
}

/// Encodes a TransportID for an initiator port (format 01b) or device (format 00b).
pub(crate) fn encode(name: &str, isid: Option<u64>) -> Vec<u8> {
    let (format, text) = match isid {
        Some(i) => (0x40, format!("{name},i,0x{i:012x}")),
        None => (0x00, name.to_string()),
    };
    let mut body: Vec<u8> = text.into_bytes();
    body.truncate(250);
    body.push(0);
    while body.len() % 4 != 0 || body.len() < 20 {
        body.push(0);
    }
    let mut d = vec![format | ISCSI, 0];
    d.extend_from_slice(&(body.len() as u16).to_be_bytes());
    d.extend_from_slice(&body);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_both_formats() {
        for isid in [None, Some(0x0002_3D00_0001)] {
            let b = encode("iqn.2020-01.org.example:host", isid);
            assert_eq!(b.len() % 4, 0);
            let (id, n) = parse(&b).unwrap();
            assert_eq!(n, b.len());
            assert_eq!(id.name, "iqn.2020-01.org.example:host");
            assert_eq!(id.isid, isid);
        }
    }

    #[test]
    fn rejects_other_protocols_and_garbage() {
        assert!(parse(&[0x00, 0, 0, 4, b'a', 0, 0, 0]).is_none());
        assert!(parse(&[0x45, 0, 0, 4, b'a', b',', b'i', 0]).is_none());
        assert!(parse(&[0x05, 0, 0, 40]).is_none());
    }

    #[test]
    fn port_names_split_at_the_first_separator_in_either_case() {
        let id = |t: &str| {
            let mut b = vec![0x45, 0, 0, t.len() as u8];
            b.extend_from_slice(t.as_bytes());
            parse(&b).map(|(id, _)| (id.name, id.isid))
        };
        assert_eq!(id("iqn.a,I,0X00AbC"), Some(("iqn.a".into(), Some(0xABC))));
        assert_eq!(id("iqn.a,i,0x1,i,0x2"), None);
        assert_eq!(id(",i,0x1"), None);
        assert_eq!(id("iqn.a,i,0x"), None);
        assert_eq!(id("iqn.a,i,0x+1"), None);
        assert_eq!(id("iqn.a,i,0x1234567890abc"), None, "more than 48 bits");
        assert_eq!(
            id("iqn.a,i,0x123456789abc"),
            Some(("iqn.a".into(), Some(0x1234_5678_9ABC)))
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Some((_, n)) = parse(&b) {
                prop_assert!(n <= b.len());
            }
        }

        #[test]
        fn round_trips(
            name in "[a-zA-Z0-9.:-]{1,200}",
            isid in prop::option::of(0u64..1 << 48),
        ) {
            let b = encode(&name, isid);
            let (id, n) = parse(&b).unwrap();
            prop_assert_eq!(n, b.len());
            prop_assert_eq!(id, InitiatorId { name, isid });
        }
    }
}
