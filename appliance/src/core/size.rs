//! Sizes as people write them: `4096`, `512K`, `10G`, `1.5T`, `64MiB`. Units are powers
//! of 1024 (K, M, G, T, P; with or without `B`/`iB`). JSON fields accept a number of bytes
//! or such a string.

use nom::branch::alt;
use nom::bytes::complete::tag_no_case;
use nom::character::complete::{char, digit0, space0};
use nom::combinator::{all_consuming, opt, value};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a size: {why}; write a number of bytes or a number with a unit, e.g. 4096, 512M, 10G, 1T")]
pub struct SizeError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// The number part of a size: whole digits and, after a point, fraction digits.
fn number(i: &str) -> IResult<&str, (&str, Option<&str>)> {
    (digit0, opt(preceded(char('.'), digit0))).parse(i)
}

/// A unit: its power of two, or 0 for none or bytes.
fn unit(i: &str) -> IResult<&str, u32> {
    let power = |shift: u32, letter: &'static str| {
        value(
            shift,
            (
                tag_no_case(letter),
                opt(alt((tag_no_case("iB"), tag_no_case("B")))),
            ),
        )
    };
    alt((
        power(10, "K"),
        power(20, "M"),
        power(30, "G"),
        power(40, "T"),
        power(50, "P"),
        value(0, opt(tag_no_case("B"))),
    ))
    .parse(i)
}

/// Parses a size such as `10G` into bytes.
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let err = |why| SizeError {
        input: input.to_owned(),
        why,
    };
    let s = input.trim();
    let (rest, (whole, frac)) = number(s).map_err(|_| err("it does not start with a number"))?;
    if whole.is_empty() && frac.is_none_or(str::is_empty) {
        return Err(err("it does not start with a number"));
    }
    if frac == Some("") {
        return Err(err("the number is malformed"));
    }
    let shift = match all_consuming((space0, unit, space0)).parse(rest) {
        Ok((_, (_, shift, _))) => shift,
        Err(_) if rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) => {
            return Err(err("the number is malformed"))
        }
        Err(_) => return Err(err("the unit is not one of K, M, G, T, P")),
    };
    let mult = 1u64 << shift;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err("the number is too large"))?
    };
    let whole_bytes = whole.checked_mul(mult).ok_or(err("it is too large"))?;
    let Some(frac) = frac else {
        return Ok(whole_bytes);
    };
    let digits = &frac[..frac.len().min(9)];
    let f: u64 = digits.parse().map_err(|_| err("the number is malformed"))?;
    if shift == 0 && f != 0 {
        return Err(err("a number of bytes must be whole"));
    }
    let scale = 10u64.pow(digits.len() as u32);
    let frac_bytes = (u128::from(f) * u128::from(mult) / u128::from(scale)) as u64;
    whole_bytes
        .checked_add(frac_bytes)
        .ok_or(err("it is too large"))
}

/// Reads a size from a JSON value: a number of bytes or a string like `"10G"`.
pub fn from_json(value: &serde_json::Value) -> Result<u64, SizeError> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| SizeError {
            input: n.to_string(),
            why: "sizes are whole, non-negative numbers of bytes",
        }),
        serde_json::Value::String(s) => parse_size(s),
        other => Err(SizeError {
            input: other.to_string(),
            why: "a size is a number of bytes or a string such as \"10G\"",
        }),
    }
}

/// A size in a request body as the user wrote it: a number of bytes or a string such as
/// `"10G"`; the service reads it with [`SizeArg::bytes`] (so a bad size is
/// `invalid_size`, not a malformed request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SizeArg(pub serde_json::Value);

impl SizeArg {
    /// The size in bytes.
    pub fn bytes(&self) -> Result<u64, SizeError> {
        from_json(&self.0)
    }
}

impl From<u64> for SizeArg {
    fn from(bytes: u64) -> Self {
        SizeArg(bytes.into())
    }
}

impl utoipa::PartialSchema for SizeArg {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("bytes")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .examples(["10G"])
                    .description(Some(
                        "a number with a unit K, M, G, T or P (powers of 1024)",
                    )),
            )
            .into()
    }
}

impl utoipa::ToSchema for SizeArg {
    fn name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
}

/// Formats bytes for people: `10 GiB`, `1.5 MiB`, `512 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if (v - v.round()).abs() < 0.005 {
        format!("{} {}", v.round() as u64, UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Formats bytes as a size argument that parses back to exactly the same number: the
/// largest unit that divides it (`32M`, `1536K`), else bytes.
pub fn exact(bytes: u64) -> String {
    for (shift, unit) in [(50, "P"), (40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if bytes != 0 && bytes % (1u64 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// A size in a configuration file: a number of bytes or a string like `"8G"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Bytes(n)) => Ok(Size(n)),
            Ok(Raw::Text(s)) => parse_size(&s).map(Size).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "a size is a number of bytes or a string such as \"8G\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sizes_parse_back() {
        for (b, text) in [
            (32 << 20, "32M"),
            (1536 << 10, "1536K"),
            (5 << 40, "5T"),
            (4097, "4097"),
            (0, "0"),
        ] {
            assert_eq!(exact(b), text);
            assert_eq!(parse_size(text), Ok(b));
        }
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("10g"), Ok(10 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size(" 8 GB "), Ok(8 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size(".5K"), Ok(512));
        assert_eq!(parse_size("2kib"), Ok(2048));
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "G",
            "12X",
            "1.2.3G",
            "-5M",
            "1.5",
            "99999999999999999999",
            "20000P",
            "1.G",
            "5 K B",
            "1G1",
        ] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.to_string().contains("e.g. 4096"), "{bad}: {e}");
        }
    }

    #[test]
    fn reads_json_and_prints() {
        assert_eq!(from_json(&serde_json::json!(1024)), Ok(1024));
        assert_eq!(from_json(&serde_json::json!("1M")), Ok(1 << 20));
        assert!(from_json(&serde_json::json!(-1)).is_err());
        assert!(from_json(&serde_json::json!(true)).is_err());
        assert_eq!(human(512), "512 B");
        assert_eq!(human(10 << 30), "10 GiB");
        assert_eq!(human(1536), "1.5 KiB");
    }

    #[test]
    fn config_sizes() {
        #[derive(serde::Deserialize)]
        struct T {
            a: Size,
            b: Size,
        }
        let t: T = toml::from_str("a = 4096\nb = \"8G\"").unwrap();
        assert_eq!((t.a, t.b), (Size(4096), Size(8 << 30)));
        assert!(toml::from_str::<T>("a = 1\nb = \"8Q\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_size(&s);
        }

        #[test]
        fn whole_numbers_with_units_round_trip(n in 0u64..(1 << 40), unit in 0usize..6, spaced: bool) {
            let (suffix, shift) = [("", 0), ("K", 10), ("M", 20), ("GiB", 30), ("tb", 40), ("P", 50)][unit];
            let text = format!("{n}{}{suffix}", if spaced { " " } else { "" });
            let want = n.checked_mul(1 << shift);
            proptest::prop_assert_eq!(parse_size(&text).ok(), want);
        }
    }
}
