//! iSCSI names (RFC 7143 4.2.7, RFC 3720 3.2.6, RFC 3722): the three formats, checked
//! the way the appliance accepts names from its users.
//!
//! ```text
//! iqn.YYYY-MM.reversed.domain[:unique]    iqn.2026-01.com.example:storage.db
//! eui.<16 hex digits>                     eui.02004567a425678d
//! naa.<16 or 32 hex digits>               naa.52004567ba64678d
//! ```
//!
//! A name is 1 to 223 bytes. RFC 3722's stringprep profile folds names to lower case and
//! allows more of Unicode; configured names are held to the result of that folding in
//! plain ASCII: `a-z`, `0-9`, `-`, `.` and `:`. An upper-case name is refused with its
//! lower-case spelling as the hint, so what is stored is what initiators will send.
//!
//! The checks run in a fixed order and the first that fails is reported: length, case,
//! characters, then the format of the type.

use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while_m_n};
use nom::combinator::{all_consuming, opt, recognize, rest, verify};
use nom::error::Error;
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

/// Longest iSCSI name in bytes (RFC 7143 4.2.7).
pub const MAX_NAME_LEN: usize = 223;

/// An example of a well-formed name, used in error messages.
pub const EXAMPLE: &str = "iqn.2026-01.com.example:storage.db";

/// A well-formed iSCSI name, split into its parts. `Display` writes the name back
/// exactly as parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IscsiName<'a> {
    /// `iqn.` + date + `.` + naming authority, optionally `:` + a unique part.
    Iqn {
        /// `YYYY-MM`, when the naming authority owned its domain.
        date: &'a str,
        /// The reversed domain name (everything up to the first `:`).
        authority: &'a str,
        /// What follows the first `:`, if there is one.
        unique: Option<&'a str>,
    },
    /// `eui.` + 16 hex digits (an IEEE EUI-64).
    Eui(&'a str),
    /// `naa.` + 16 or 32 hex digits (a T11 Network Address Authority identifier).
    Naa(&'a str),
}

/// Why a string is not an iSCSI name. Every message names the string, says what is
/// wrong and shows a name that would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty, or longer than [`MAX_NAME_LEN`] bytes.
    #[error(
        "'{name}' is not an iSCSI name: it must be 1 to 223 bytes, not {len} (e.g. {EXAMPLE})"
    )]
    Length {
        /// The string given.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Upper-case letters (stringprep folds them; the stored name must be folded).
    #[error("'{name}' is not an iSCSI name: iSCSI names are lower case; use '{lower}'")]
    UpperCase {
        /// The string given.
        name: String,
        /// The same name in lower case.
        lower: String,
    },
    /// A character outside `a-z`, `0-9`, `-`, `.` and `:`.
    #[error("'{name}' is not an iSCSI name: {found:?} is not allowed; use only a-z, 0-9, '-', '.' and ':' (e.g. {EXAMPLE})")]
    Character {
        /// The string given.
        name: String,
        /// The first character not allowed.
        found: char,
    },
    /// Neither `iqn.`, `eui.` nor `naa.`.
    #[error("'{name}' is not an iSCSI name; write iqn.YYYY-MM.reversed.domain[:name] (e.g. {EXAMPLE}), eui.<16 hex> or naa.<16 or 32 hex>")]
    UnknownType {
        /// The string given.
        name: String,
    },
    /// `iqn.` without a `YYYY-MM.` date and a naming authority.
    #[error("'{name}' is not an iSCSI name: after 'iqn.' come a date YYYY-MM, a '.' and the reversed domain name; write iqn.YYYY-MM.reversed.domain[:name] (e.g. {EXAMPLE})")]
    Iqn {
        /// The string given.
        name: String,
    },
    /// `eui.` not followed by exactly 16 hex digits.
    #[error("'{name}' is not an iSCSI name: 'eui.' must be followed by exactly 16 hex digits (e.g. eui.02004567a425678d)")]
    Eui {
        /// The string given.
        name: String,
    },
    /// `naa.` not followed by 16 or 32 hex digits.
    #[error("'{name}' is not an iSCSI name: 'naa.' must be followed by 16 or 32 hex digits (e.g. naa.52004567ba64678d)")]
    Naa {
        /// The string given.
        name: String,
    },
}

/// Checks `name`; `Ok` when it is a well-formed iSCSI name.
pub fn check(name: &str) -> Result<(), NameError> {
    parse(name).map(|_| ())
}

/// Parses `name` into its parts, or says what is wrong with it.
pub fn parse(name: &str) -> Result<IscsiName<'_>, NameError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(NameError::Length {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(NameError::UpperCase {
            name: name.to_owned(),
            lower: name.to_ascii_lowercase(),
        });
    }
    if let Some(found) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameError::Character {
            name: name.to_owned(),
            found,
        });
    }
    let Ok((body, kind)) = name_type(name) else {
        return Err(NameError::UnknownType {
            name: name.to_owned(),
        });
    };
    let (format, error): (Format, fn(String) -> NameError) = match kind {
        "iqn." => (iqn, |name| NameError::Iqn { name }),
        "eui." => (eui, |name| NameError::Eui { name }),
        _ => (naa, |name| NameError::Naa { name }),
    };
    match all_consuming(format).parse(body) {
        Ok((_, parsed)) => Ok(parsed),
        Err(_) => Err(error(name.to_owned())),
    }
}

impl fmt::Display for IscsiName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Iqn {
                date,
                authority,
                unique,
            } => {
                write!(f, "iqn.{date}.{authority}")?;
                match unique {
                    Some(u) => write!(f, ":{u}"),
                    None => Ok(()),
                }
            }
            Self::Eui(hex) => write!(f, "eui.{hex}"),
            Self::Naa(hex) => write!(f, "naa.{hex}"),
        }
    }
}

/// A parser for what follows the type prefix.
type Format = for<'a> fn(&'a str) -> IResult<&'a str, IscsiName<'a>>;

/// The characters a name may hold.
fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':')
}

/// The type prefix: `iqn.`, `eui.` or `naa.`.
fn name_type(i: &str) -> IResult<&str, &str> {
    alt((tag("iqn."), tag("eui."), tag("naa."))).parse(i)
}

/// `YYYY-MM.authority[:unique]`, with at least one character after the date's `.`.
fn iqn(i: &str) -> IResult<&str, IscsiName<'_>> {
    let digits = |n| take_while_m_n(n, n, |c: char| c.is_ascii_digit());
    let date = recognize((digits(4), tag("-"), digits(2)));
    let (i, date) = terminated(date, tag(".")).parse(i)?;
    let tail = (take_till(|c| c == ':'), opt(preceded(tag(":"), rest)));
    let non_empty = |(a, u): &(&str, Option<&str>)| !a.is_empty() || u.is_some();
    let (i, (authority, unique)) = verify(tail, non_empty).parse(i)?;
    Ok((
        i,
        IscsiName::Iqn {
            date,
            authority,
            unique,
        },
    ))
}

/// Exactly `n` hex digits (lower case: upper case was refused before).
fn hex_digits<'a>(n: usize) -> impl Parser<&'a str, Output = &'a str, Error = Error<&'a str>> {
    take_while_m_n(n, n, |c: char| c.is_ascii_hexdigit())
}

/// The 16 hex digits of an EUI-64.
fn eui(i: &str) -> IResult<&str, IscsiName<'_>> {
    hex_digits(16).map(IscsiName::Eui).parse(i)
}

/// The 16 or 32 hex digits of an NAA identifier.
fn naa(i: &str) -> IResult<&str, IscsiName<'_>> {
    alt((hex_digits(32), hex_digits(16)))
        .map(IscsiName::Naa)
        .parse(i)
}

#[cfg(test)]
mod tests;
