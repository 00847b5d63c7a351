//! Sizes as people write them: `4096`, `512K`, `10G`, `1.5T`, `64MiB`. Units are powers
//! of 1024 (K, M, G, T, P; with or without `B`/`iB`). JSON fields accept a number of bytes
//! or such a string.

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a size: {why}; write a number of bytes or a number with a unit, e.g. 4096, 512M, 10G, 1T")]
pub struct SizeError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Parses a size such as `10G` into bytes.
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let err = |why| SizeError {
        input: input.to_owned(),
        why,
    };
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(err("it does not start with a number"));
    }
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        "P" | "PB" | "PIB" => 50,
        _ => return Err(err("the unit is not one of K, M, G, T, P")),
    };
    let mult = 1u64 << shift;
    if let Some((whole, frac)) = num.split_once('.') {
        if frac.contains('.') || frac.is_empty() {
            return Err(err("the number is malformed"));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err("the number is too large"))?
        };
        let frac_digits = frac.len().min(9) as u32;
        let frac: u64 = frac[..frac_digits as usize]
            .parse()
            .map_err(|_| err("the number is malformed"))?;
        let scale = 10u64.pow(frac_digits);
        let whole_bytes = whole.checked_mul(mult).ok_or(err("it is too large"))?;
        let frac_bytes = (u128::from(frac) * u128::from(mult) / u128::from(scale)) as u64;
        let bytes = whole_bytes
            .checked_add(frac_bytes)
            .ok_or(err("it is too large"))?;
        if shift == 0 && frac != 0 {
            return Err(err("a number of bytes must be whole"));
        }
        Ok(bytes)
    } else {
        let n: u64 = num.parse().map_err(|_| err("the number is too large"))?;
        n.checked_mul(mult).ok_or(err("it is too large"))
    }
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
}
