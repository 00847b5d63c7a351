//! iSCSI TransportIDs (SPC-4 7.6.4.6): how PERSISTENT RESERVE names initiator ports.
//!
//! Format 00b carries an iSCSI name (an initiator device, any ISID); format 01b carries an
//! initiator port name `name,i,0xISID`. Both are null-terminated UTF-8, padded so the
//! ADDITIONAL LENGTH is a multiple of four and at least 20.

use super::cdb::be16;

/// The iSCSI protocol identifier.
const ISCSI: u8 = 0x5;

/// An initiator named by a TransportID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitiatorId {
    pub(crate) name: String,
    /// `None`: format 00b, every port of the initiator device.
    pub(crate) isid: Option<u64>,
}

/// Parses one TransportID at the start of `b`; returns it and its length.
pub(crate) fn parse(b: &[u8]) -> Option<(InitiatorId, usize)> {
    let b0 = *b.first()?;
    if b0 & 0x0F != ISCSI {
        return None;
    }
    let total = 4 + usize::from(be16(b, 2));
    let body = b.get(4..total)?;
    let end = body.iter().position(|&c| c == 0).unwrap_or(body.len());
    let text = std::str::from_utf8(body.get(..end)?).ok()?;
    let id = match b0 >> 6 {
        0b00 if !text.is_empty() && !text.contains(",i,") => InitiatorId {
            name: text.to_string(),
            isid: None,
        },
        0b01 => {
            let (name, isid) = split_port_name(text)?;
            InitiatorId {
                name: name.to_string(),
                isid: Some(isid),
            }
        }
        _ => return None,
    };
    Some((id, total))
}

/// Splits `name,i,0xISID` (the separator's letters in either case).
fn split_port_name(text: &str) -> Option<(&str, u64)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(",i,0x")?;
    let name = text.get(..at)?;
    let hex = text.get(at + 5..)?;
    if name.is_empty() || hex.is_empty() || hex.len() > 12 {
        return None;
    }
    let isid = u64::from_str_radix(hex, 16).ok()?;
    Some((name, isid))
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
}
