//! `key=value` text in Login and Text data segments (RFC 7143 6.1), and the kinds of
//! value keys carry (RFC 7143 5.1 and 6.1).
//!
//! ```text
//! text    = *NUL *(pair 1*NUL) [pair]      empty items between NULs are padding
//! pair    = key "=" value
//! key     = 1*63 (printable ASCII but "=")
//! value   = *(any byte but NUL), UTF-8, at most 8192 bytes
//! ```
//!
//! RFC 7143 draws key names from a narrower set (letters, digits, `.-+@_`); any printable
//! key is accepted here so that the target can answer an unknown key `NotUnderstood`
//! rather than fail the login. The whole list may be carried across PDUs with the C bit;
//! the caller joins the pieces. Values are parsed by kind with [`number`], [`boolean`],
//! [`list`] and [`binary`]; [`encode_hex`] and [`encode_base64`] write binary values.

use std::collections::HashSet;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_till1, take_while, take_while1, take_while_m_n};
use nom::character::complete::{digit1, hex_digit1};
use nom::combinator::{all_consuming, cut, rest, value};
use nom::error::{ErrorKind, ParseError};
use nom::multi::{many0, separated_list1};
use nom::sequence::{preceded, separated_pair, terminated};
use nom::{IResult, Parser};
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

/// Where to cut `data` so that its first part fits in one PDU of at most `max` bytes:
/// after the last NUL within `max` bytes, so each PDU carries whole `key=value` pairs, or
/// at `max` when a single pair is longer (RFC 7143 lets a pair continue in the next PDU
/// of a C-bit sequence); `data.len()` when it all fits.
pub fn split_point(data: &[u8], max: usize) -> usize {
    if data.len() <= max {
        return data.len();
    }
    let max = max.max(1);
    match data[..max].iter().rposition(|&b| b == 0) {
        Some(i) => i + 1,
        None => max,
    }
}

/// Parses a data segment into `(key, value)` pairs, in order. A missing final NUL is
/// tolerated; empty strings between NULs (padding) are skipped. A key may appear once
/// (RFC 7143 6.1); see [`parse_list`] for answers that repeat keys (SendTargets).
pub fn parse(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    let pairs = parse_list(data)?;
    let mut seen = HashSet::with_capacity(pairs.len());
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(TextError::Duplicate(k.clone()));
    }
    Ok(pairs)
}

/// Like [`parse`] but keeps repeated keys (`TargetName`/`TargetAddress` lists).
pub fn parse_list(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    if data.len() > MAX_TEXT_LEN {
        return Err(TextError::TooLong);
    }
    let nuls = || take_while(|b| b == 0);
    let item = take_till1(|b| b == 0).and_then(cut(pair));
    let mut text = all_consuming(preceded(nuls(), many0(terminated(item, nuls()))));
    match text.parse(data) {
        Ok((_, pairs)) => Ok(pairs),
        Err(nom::Err::Error(Refused(e)) | nom::Err::Failure(Refused(e))) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(TextError::NoEquals),
    }
}

/// Encodes pairs as `key=value\0...`. Keys must not hold `=` or NUL, values not NUL,
/// for the text to parse back.
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

/// Why the text grammar refused the input. nom's own errors can only come from an item
/// without its `=`; the key and value checks fail with their reason.
#[derive(Debug)]
struct Refused(TextError);

impl<I> ParseError<I> for Refused {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        Refused(TextError::NoEquals)
    }

    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// One `key=value` item (the bytes between two NULs).
fn pair(i: &[u8]) -> IResult<&[u8], (String, String), Refused> {
    let (i, (k, v)) = separated_pair(take_till(|b| b == b'='), tag(&b"="[..]), rest).parse(i)?;
    Ok((i, (key(k)?, text_value(v)?)))
}

/// A key: 1 to [`MAX_KEY_LEN`] bytes of printable ASCII.
fn key(k: &[u8]) -> Result<String, nom::Err<Refused>> {
    let printable = take_while_m_n(1, MAX_KEY_LEN, |b: u8| b.is_ascii_graphic());
    let parsed: IResult<&[u8], &[u8], Refused> = all_consuming(printable).parse(k);
    parsed
        .ok()
        .and_then(|(_, k)| std::str::from_utf8(k).ok())
        .map(str::to_owned)
        .ok_or(refuse(TextError::BadKey))
}

/// A value: at most [`MAX_VALUE_LEN`] bytes of UTF-8.
fn text_value(v: &[u8]) -> Result<String, nom::Err<Refused>> {
    if v.len() > MAX_VALUE_LEN {
        return Err(refuse(TextError::BadValue));
    }
    std::str::from_utf8(v)
        .map(str::to_owned)
        .map_err(|_| refuse(TextError::BadValue))
}

fn refuse(e: TextError) -> nom::Err<Refused> {
    nom::Err::Failure(Refused(e))
}

/// A numerical value (RFC 7143 6.1): decimal, or hex after `0x`/`0X`, below 2^64.
pub fn number(v: &str) -> Option<u64> {
    let hex = preceded(alt((tag("0x"), tag("0X"))), hex_digit1)
        .map_opt(|h: &str| u64::from_str_radix(h, 16).ok());
    let decimal = digit1.map_opt(|d: &str| d.parse::<u64>().ok());
    whole(alt((hex, decimal)), v)
}

/// A boolean value: `Yes` or `No`.
pub fn boolean(v: &str) -> Option<bool> {
    whole(alt((value(true, tag("Yes")), value(false, tag("No")))), v)
}

/// The items of a list value (`a,b,c`), in order; an item may be empty.
pub fn list(v: &str) -> Vec<&str> {
    let item = take_till(|c| c == ',');
    whole(separated_list1(tag(","), item), v).unwrap_or_default()
}

/// A binary value (RFC 7143 5.1, as `CHAP_C` and `CHAP_R` carry): hex after `0x`/`0X`
/// (an odd number of digits has an implied leading zero) or base64 after `0b`/`0B`
/// (padding optional). `None` when malformed or empty.
pub fn binary(v: &str) -> Option<Vec<u8>> {
    let hex = preceded(alt((tag("0x"), tag("0X"))), hex_digit1).map_opt(decode_hex);
    let b64 = preceded(alt((tag("0b"), tag("0B"))), take_while1(is_base64))
        .map_opt(|b: &str| BASE64.decode(b).ok());
    whole(alt((hex, b64)), v).filter(|b| !b.is_empty())
}

/// Writes binary as a `0x` hex constant (lower case).
pub fn encode_hex(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// Writes binary as a `0b` base64 constant (padded).
pub fn encode_base64(b: &[u8]) -> String {
    format!("0b{}", BASE64.encode(b))
}

/// Base64 (RFC 4648 section 4) as RFC 7143 values use it; padding is written, and
/// optional (with non-zero trailing bits tolerated) when read.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')
}

/// Hex digits to bytes; an odd count has an implied leading zero.
fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    if digits.len() % 2 == 1 {
        hex::decode(format!("0{digits}")).ok()
    } else {
        hex::decode(digits).ok()
    }
}

/// Runs `p` over all of `v`.
fn whole<'a, O>(
    p: impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
    v: &'a str,
) -> Option<O> {
    all_consuming(p).parse(v).ok().map(|(_, o)| o)
}

#[cfg(test)]
mod tests;
