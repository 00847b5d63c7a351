//! `key=value` text in Login and Text data segments (RFC 7143 6.1).
//!
//! Each pair is `key=value` followed by a NUL byte. Keys are at most 63 bytes of
//! `[A-Za-z0-9.:+-_]`-ish text; values are at most 255 bytes (8192 for a few), and
//! the whole list is carried across PDUs with the C bit by the caller.

use thiserror::Error;

/// Longest key (RFC 7143 6.1).
pub const MAX_KEY_LEN: usize = 63;
/// Longest value accepted (the largest any key allows, CHAP responses in base64).
pub const MAX_VALUE_LEN: usize = 8192;
/// Longest text a login or text request may accumulate across continuations.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

/// Malformed text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TextError {
    #[error("a text pair has no '='")]
    NoEquals,
    #[error("a key is empty, too long or not printable")]
    BadKey,
    #[error("a value is too long or not UTF-8")]
    BadValue,
    #[error("key {0} appears twice")]
    Duplicate(String),
    #[error("the text is too long")]
    TooLong,
}

/// Parses a data segment into `(key, value)` pairs, in order. A missing final NUL is
/// tolerated; empty strings between NULs (padding) are skipped. A key may appear once
/// (RFC 7143 6.1); see [`parse_list`] for answers that repeat keys (SendTargets).
pub fn parse(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    let pairs = parse_list(data)?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(x, _)| x == k) {
            return Err(TextError::Duplicate(k.clone()));
        }
    }
    Ok(pairs)
}

/// Like [`parse`] but keeps repeated keys (`TargetName`/`TargetAddress` lists).
pub fn parse_list(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    if data.len() > MAX_TEXT_LEN {
        return Err(TextError::TooLong);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for item in data.split(|&b| b == 0) {
        if item.is_empty() {
            continue;
        }
        let eq = item
            .iter()
            .position(|&b| b == b'=')
            .ok_or(TextError::NoEquals)?;
        let (k, v) = (&item[..eq], &item[eq + 1..]);
        if k.is_empty() || k.len() > MAX_KEY_LEN || !k.iter().all(|b| b.is_ascii_graphic()) {
            return Err(TextError::BadKey);
        }
        if v.len() > MAX_VALUE_LEN {
            return Err(TextError::BadValue);
        }
        let k = String::from_utf8(k.to_vec()).map_err(|_| TextError::BadKey)?;
        let v = String::from_utf8(v.to_vec()).map_err(|_| TextError::BadValue)?;
        out.push((k, v));
    }
    Ok(out)
}

/// Encodes pairs as `key=value\0...`.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref().as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_ref().as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_pairs() {
        let t = parse(b"InitiatorName=iqn.x\0SessionType=Normal\0\0").unwrap();
        assert_eq!(t[0], ("InitiatorName".into(), "iqn.x".into()));
        assert_eq!(t[1].1, "Normal");
        assert_eq!(parse(b"A=1"), Ok(vec![("A".into(), "1".into())]));
        assert_eq!(parse(b"A=\0").unwrap()[0].1, "");
        assert_eq!(parse(b"A\0"), Err(TextError::NoEquals));
        assert!(matches!(parse(b"A=1\0A=2\0"), Err(TextError::Duplicate(_))));
        assert_eq!(parse(b"=1\0"), Err(TextError::BadKey));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&data);
        }

        #[test]
        fn round_trips(pairs in proptest::collection::btree_map("[A-Za-z][A-Za-z0-9.]{0,20}", "[ -~]{0,40}", 0..8)) {
            let pairs: Vec<(String, String)> = pairs.into_iter().collect();
            prop_assert_eq!(parse(&encode(&pairs)).unwrap(), pairs);
        }
    }
}
