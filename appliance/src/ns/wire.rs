//! The bytes of the two protocol checks a health probe makes, and the parsers of their
//! answers. Pure: no I/O, and the parsers never panic on any bytes (a server, or whatever
//! listens on its port, may send anything).
//!
//! - SMB: an SMB2 NEGOTIATE request (MS-SMB2 2.2.1.2 header, 2.2.3 NEGOTIATE) offering
//!   dialects 2.0.2, 2.1, 3.0 and 3.0.2 (3.1.1 would need negotiate contexts), behind the
//!   4-byte Direct TCP transport header (a zero byte and a 24-bit big-endian length,
//!   MS-SMB2 2.1). The answer must be a well-formed SMB2 header: magic `\xFESMB`,
//!   structure size 64, command NEGOTIATE (0), the server-to-client flag. Its status is not
//!   judged: a server that answers NEGOTIATE at all is alive, even one that wants only
//!   dialects we did not offer.
//! - NFS: an ONC RPC call (RFC 5531) of procedure 0 (NULL) of program 100003 (NFS) version
//!   3, with AUTH_NONE, in one record-marking fragment (RFC 5531 section 11). The answer
//!   must be a reply with our transaction id, accepted, with status SUCCESS, or
//!   PROG_MISMATCH (the server serves NFS, only not version 3, e.g. an NFSv4-only server).

use std::fmt;

/// The SMB2 protocol id, `\xFESMB`.
pub const SMB2_MAGIC: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// The SMB1 protocol id, `\xFFSMB`.
const SMB1_MAGIC: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// The length of an SMB2 header.
pub const SMB2_HEADER_LEN: usize = 64;
/// SMB2_FLAGS_SERVER_TO_REDIR: set in every response.
const SMB2_FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
/// The dialects offered: 2.0.2, 2.1, 3.0, 3.0.2.
const SMB2_DIALECTS: [u16; 4] = [0x0202, 0x0210, 0x0300, 0x0302];

/// The NFS program number.
pub const NFS_PROGRAM: u32 = 100_003;
/// The NFS version asked for.
pub const NFS_VERSION: u32 = 3;
/// The most of an RPC reply a probe reads (the NULL reply is 24 bytes plus a verifier of
/// at most 400).
pub const RPC_REPLY_MAX: usize = 512;

/// Why an answer is not the one expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    #[error("the answer ended after {0} bytes, too short for a reply")]
    Short(usize),
    #[error("the answer is not an SMB2 message (its first bytes are {0})")]
    NotSmb2(String),
    #[error("the server speaks only SMB1")]
    Smb1,
    #[error("the SMB2 header is malformed ({0})")]
    BadHeader(&'static str),
    #[error("the answer is SMB2 command {0:#06x}, not NEGOTIATE")]
    WrongCommand(u16),
    #[error("the answer is not an ONC RPC reply to our call ({0})")]
    NotRpcReply(String),
    #[error("the RPC call was denied ({0})")]
    Denied(&'static str),
    #[error("the server has no NFS service (RPC status {0})")]
    Unavailable(&'static str),
}

/// What an accepted NFS NULL reply said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsAnswer {
    /// NFS version 3 answered.
    Served,
    /// NFS answered, but serves only versions `low` to `high`.
    OtherVersions { low: u32, high: u32 },
}

impl fmt::Display for NfsAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NfsAnswer::Served => f.write_str("NFS version 3 answered a NULL call"),
            NfsAnswer::OtherVersions { low, high } => {
                write!(f, "NFS answered (versions {low} to {high}, not 3)")
            }
        }
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn first_bytes(b: &[u8]) -> String {
    let shown: Vec<String> = b.iter().take(4).map(|x| format!("{x:02x}")).collect();
    if shown.is_empty() {
        "none".into()
    } else {
        shown.join(" ")
    }
}

/// An SMB2 NEGOTIATE request with its Direct TCP transport header.
pub fn smb2_negotiate_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(SMB2_HEADER_LEN + 36 + 2 * SMB2_DIALECTS.len());
    // SMB2 header (sync).
    m.extend_from_slice(&SMB2_MAGIC);
    m.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&0u16.to_le_bytes()); // CreditCharge
    m.extend_from_slice(&0u32.to_le_bytes()); // Status
    m.extend_from_slice(&0u16.to_le_bytes()); // Command: NEGOTIATE
    m.extend_from_slice(&1u16.to_le_bytes()); // CreditRequest
    m.extend_from_slice(&0u32.to_le_bytes()); // Flags
    m.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
    m.extend_from_slice(&0u64.to_le_bytes()); // MessageId
    m.extend_from_slice(&0u32.to_le_bytes()); // Reserved (ProcessId)
    m.extend_from_slice(&0u32.to_le_bytes()); // TreeId
    m.extend_from_slice(&0u64.to_le_bytes()); // SessionId
    m.extend_from_slice(&[0; 16]); // Signature
                                   // NEGOTIATE request.
    m.extend_from_slice(&36u16.to_le_bytes()); // StructureSize
    m.extend_from_slice(&(SMB2_DIALECTS.len() as u16).to_le_bytes()); // DialectCount
    m.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    m.extend_from_slice(&0u16.to_le_bytes()); // Reserved
    m.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    m.extend_from_slice(b"vsa-ns-probe\0\0\0\x01"); // ClientGuid
    m.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime (no 3.1.1)
    for d in SMB2_DIALECTS {
        m.extend_from_slice(&d.to_le_bytes());
    }
    let len = (m.len() as u32).to_be_bytes();
    let mut out = vec![0, len[1], len[2], len[3]];
    out.extend_from_slice(&m);
    out
}

/// The length of the SMB message after a Direct TCP transport header.
pub fn smb2_frame_len(prefix: [u8; 4]) -> usize {
    u32::from_be_bytes([0, prefix[1], prefix[2], prefix[3]]) as usize
}

/// Checks the answer to [`smb2_negotiate_request`]: the transport header and at least the
/// SMB2 header that follows it.
pub fn check_smb2_negotiate_reply(b: &[u8]) -> Result<(), ReplyError> {
    let Some((prefix, msg)) = b.split_first_chunk::<4>() else {
        return Err(ReplyError::Short(b.len()));
    };
    if msg.starts_with(&SMB1_MAGIC) {
        return Err(ReplyError::Smb1);
    }
    if prefix[0] != 0 {
        return Err(ReplyError::NotSmb2(first_bytes(b)));
    }
    if !msg.starts_with(&SMB2_MAGIC) && msg.len() >= 4 {
        return Err(ReplyError::NotSmb2(first_bytes(msg)));
    }
    if msg.len() < SMB2_HEADER_LEN {
        return Err(ReplyError::Short(b.len()));
    }
    if smb2_frame_len(*prefix) < SMB2_HEADER_LEN {
        return Err(ReplyError::BadHeader(
            "the message is shorter than its header",
        ));
    }
    if u16_le(msg, 4) != Some(64) {
        return Err(ReplyError::BadHeader("structure size is not 64"));
    }
    let command = u16_le(msg, 12).unwrap_or(u16::MAX);
    if command != 0 {
        return Err(ReplyError::WrongCommand(command));
    }
    match u32_le(msg, 16) {
        Some(flags) if flags & SMB2_FLAGS_SERVER_TO_REDIR != 0 => Ok(()),
        _ => Err(ReplyError::BadHeader("it is not marked as a response")),
    }
}

/// An ONC RPC call of NFS version 3's NULL procedure, in one record-marking fragment.
pub fn rpc_null_call(xid: u32) -> Vec<u8> {
    let words: [u32; 10] = [
        xid,
        0, // CALL
        2, // RPC version
        NFS_PROGRAM,
        NFS_VERSION,
        0, // NULL
        0, // credential: AUTH_NONE
        0, // of length 0
        0, // verifier: AUTH_NONE
        0, // of length 0
    ];
    let mut out = Vec::with_capacity(4 + 4 * words.len());
    out.extend_from_slice(&(0x8000_0000u32 | (4 * words.len()) as u32).to_be_bytes());
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out
}

/// The length of an RPC record fragment after its record mark.
pub fn rpc_fragment_len(mark: [u8; 4]) -> usize {
    (u32::from_be_bytes(mark) & 0x7FFF_FFFF) as usize
}

/// Checks the answer to [`rpc_null_call`]`(xid)`: the record mark and the reply that
/// follows it (or its first [`RPC_REPLY_MAX`] bytes).
pub fn check_rpc_null_reply(b: &[u8], xid: u32) -> Result<NfsAnswer, ReplyError> {
    let bad = |why: &str| ReplyError::NotRpcReply(why.to_owned());
    let Some((mark, msg)) = b.split_first_chunk::<4>() else {
        return Err(ReplyError::Short(b.len()));
    };
    let word = |i: usize| u32_be(msg, i.saturating_mul(4)).ok_or(ReplyError::Short(b.len()));
    if rpc_fragment_len(*mark) < 12 {
        return Err(bad("its record is too short"));
    }
    if word(0)? != xid {
        return Err(bad("another transaction id"));
    }
    if word(1)? != 1 {
        return Err(bad("not a REPLY"));
    }
    match word(2)? {
        0 => {}
        1 => {
            return Err(ReplyError::Denied(match word(3)? {
                0 => "RPC version mismatch",
                1 => "authentication error",
                _ => "unknown reason",
            }))
        }
        _ => return Err(bad("unknown reply status")),
    }
    let verf_len = word(4)?;
    if verf_len > 400 {
        return Err(bad("verifier longer than 400 bytes"));
    }
    // The verifier's body, padded to a multiple of 4 bytes, comes before the status.
    let at = 5 + (verf_len as usize).div_ceil(4);
    match word(at)? {
        0 => Ok(NfsAnswer::Served),
        1 => Err(ReplyError::Unavailable("PROG_UNAVAIL")),
        2 => Ok(NfsAnswer::OtherVersions {
            low: word(at + 1)?,
            high: word(at + 2)?,
        }),
        3 => Err(ReplyError::Unavailable("PROC_UNAVAIL")),
        4 => Err(ReplyError::Unavailable("GARBAGE_ARGS")),
        5 => Err(ReplyError::Unavailable("SYSTEM_ERR")),
        _ => Err(bad("unknown accept status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A NEGOTIATE response header as a server sends it, with its transport header.
    fn smb2_reply(command: u16, flags: u32) -> Vec<u8> {
        let mut m = vec![0u8; SMB2_HEADER_LEN + 65];
        m[..4].copy_from_slice(&SMB2_MAGIC);
        m[4..6].copy_from_slice(&64u16.to_le_bytes());
        m[12..14].copy_from_slice(&command.to_le_bytes());
        m[16..20].copy_from_slice(&flags.to_le_bytes());
        let len = (m.len() as u32).to_be_bytes();
        let mut out = vec![0, len[1], len[2], len[3]];
        out.extend_from_slice(&m);
        out
    }

    fn rpc_reply(xid: u32, words: &[u32]) -> Vec<u8> {
        let mut body = xid.to_be_bytes().to_vec();
        for w in words {
            body.extend_from_slice(&w.to_be_bytes());
        }
        let mut out = (0x8000_0000u32 | body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn the_negotiate_request_follows_the_spec() {
        let r = smb2_negotiate_request();
        assert_eq!(r.len(), 4 + 64 + 36 + 8);
        assert_eq!(smb2_frame_len([r[0], r[1], r[2], r[3]]), r.len() - 4);
        assert_eq!(r[0], 0, "a session message");
        assert_eq!(&r[4..8], &SMB2_MAGIC);
        assert_eq!(u16_le(&r, 4 + 64), Some(36), "NEGOTIATE structure size");
        assert_eq!(u16_le(&r, 4 + 66), Some(4), "dialect count");
        let dialects: Vec<u16> = (0..4)
            .map(|i| u16_le(&r, 4 + 64 + 36 + 2 * i).unwrap())
            .collect();
        assert_eq!(dialects, [0x0202, 0x0210, 0x0300, 0x0302]);
    }

    #[test]
    fn negotiate_replies_are_judged() {
        assert_eq!(check_smb2_negotiate_reply(&smb2_reply(0, 1)), Ok(()));
        // Only the header is read.
        let r = smb2_reply(0, 1);
        assert_eq!(check_smb2_negotiate_reply(&r[..4 + 64]), Ok(()));
        assert_eq!(
            check_smb2_negotiate_reply(&smb2_reply(1, 1)),
            Err(ReplyError::WrongCommand(1))
        );
        assert!(matches!(
            check_smb2_negotiate_reply(&smb2_reply(0, 0)),
            Err(ReplyError::BadHeader(_))
        ));
        let mut smb1 = vec![0, 0, 0, 40];
        smb1.extend_from_slice(&SMB1_MAGIC);
        smb1.resize(44, 0);
        assert_eq!(check_smb2_negotiate_reply(&smb1), Err(ReplyError::Smb1));
        let http = b"HTTP/1.1 400 Bad Request\r\n";
        let e = check_smb2_negotiate_reply(http).unwrap_err();
        assert!(e.to_string().contains("48 54 54 50"), "{e}");
        assert_eq!(
            check_smb2_negotiate_reply(&r[..30]),
            Err(ReplyError::Short(30))
        );
    }

    #[test]
    fn the_null_call_follows_the_spec() {
        let c = rpc_null_call(7);
        assert_eq!(c.len(), 44);
        assert_eq!(
            u32_be(&c, 0),
            Some(0x8000_0000 | 40),
            "last fragment, 40 bytes"
        );
        let words: Vec<u32> = (1..11).map(|i| u32_be(&c, 4 * i).unwrap()).collect();
        assert_eq!(words, [7, 0, 2, 100_003, 3, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn null_replies_are_judged() {
        let ok = rpc_reply(7, &[1, 0, 0, 0, 0]);
        assert_eq!(check_rpc_null_reply(&ok, 7), Ok(NfsAnswer::Served));
        let verf = rpc_reply(7, &[1, 0, 1, 5, 0xAAAA_AAAA, 0xBB00_0000, 0]);
        assert_eq!(check_rpc_null_reply(&verf, 7), Ok(NfsAnswer::Served));
        let v4 = rpc_reply(7, &[1, 0, 0, 0, 2, 4, 4]);
        assert_eq!(
            check_rpc_null_reply(&v4, 7),
            Ok(NfsAnswer::OtherVersions { low: 4, high: 4 })
        );
        assert!(matches!(
            check_rpc_null_reply(&ok, 8),
            Err(ReplyError::NotRpcReply(_))
        ));
        assert_eq!(
            check_rpc_null_reply(&rpc_reply(7, &[1, 1, 1]), 7),
            Err(ReplyError::Denied("authentication error"))
        );
        assert_eq!(
            check_rpc_null_reply(&rpc_reply(7, &[1, 0, 0, 0, 1]), 7),
            Err(ReplyError::Unavailable("PROG_UNAVAIL"))
        );
        assert!(matches!(
            check_rpc_null_reply(&ok[..20], 7),
            Err(ReplyError::Short(20))
        ));
        assert!(check_rpc_null_reply(&rpc_reply(7, &[0, 0, 0, 0, 0]), 7).is_err());
    }

    proptest! {
        #[test]
        fn smb2_parser_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = check_smb2_negotiate_reply(&b);
        }

        #[test]
        fn smb2_parser_never_panics_on_near_replies(
            flips in proptest::collection::vec((0usize..133, any::<u8>()), 0..8),
            cut in 0usize..133,
        ) {
            let mut b = smb2_reply(0, 1);
            for (i, v) in flips {
                b[i] = v;
            }
            b.truncate(cut);
            let _ = check_smb2_negotiate_reply(&b);
        }

        #[test]
        fn rpc_parser_never_panics(
            b in proptest::collection::vec(any::<u8>(), 0..200),
            xid in any::<u32>(),
        ) {
            let _ = check_rpc_null_reply(&b, xid);
        }

        #[test]
        fn rpc_parser_never_panics_on_near_replies(
            words in proptest::collection::vec(0u32..6, 0..10),
            verf_len in any::<u32>(),
        ) {
            let mut w = vec![1, 0, 0];
            w.push(verf_len);
            w.extend(words);
            let _ = check_rpc_null_reply(&rpc_reply(9, &w), 9);
        }
    }
}
