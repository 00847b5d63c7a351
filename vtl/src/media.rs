//! Cartridges: LTO generations (densities, native capacities, which drive reads and writes
//! which), data, WORM and cleaning media, and barcode labels (LTO Ultrium label rules: a
//! volume serial of up to six characters followed by the two-character media identifier,
//! e.g. `VSA001L8`; cleaning cartridges start with `CLN`).

use crate::error::{Result, VtlError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An LTO generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Generation {
    Lto5,
    Lto6,
    Lto7,
    Lto8,
    Lto9,
}

impl Generation {
    pub const ALL: [Generation; 5] = [
        Generation::Lto5,
        Generation::Lto6,
        Generation::Lto7,
        Generation::Lto8,
        Generation::Lto9,
    ];

    /// The generation's number (5 for LTO-5).
    pub fn number(self) -> u8 {
        match self {
            Generation::Lto5 => 5,
            Generation::Lto6 => 6,
            Generation::Lto7 => 7,
            Generation::Lto8 => 8,
            Generation::Lto9 => 9,
        }
    }

    /// The generation numbered `n`.
    pub fn from_number(n: u8) -> Option<Generation> {
        Generation::ALL.into_iter().find(|g| g.number() == n)
    }

    /// The DENSITY CODE of the format (SSC-4 8.3.3, as LTO drives report it).
    pub fn density_code(self) -> u8 {
        match self {
            Generation::Lto5 => 0x58,
            Generation::Lto6 => 0x5A,
            Generation::Lto7 => 0x5C,
            Generation::Lto8 => 0x5E,
            Generation::Lto9 => 0x60,
        }
    }

    /// Native (uncompressed) capacity in bytes.
    pub fn native_capacity(self) -> u64 {
        const TB: u64 = 1_000_000_000_000;
        match self {
            Generation::Lto5 => 1_500_000_000_000,
            Generation::Lto6 => 2_500_000_000_000,
            Generation::Lto7 => 6 * TB,
            Generation::Lto8 => 12 * TB,
            Generation::Lto9 => 18 * TB,
        }
    }

    /// The media identifier of the label (`L8`), and of a WORM cartridge (`LY`).
    pub fn label_suffix(self, worm: bool) -> &'static str {
        match (self, worm) {
            (Generation::Lto5, false) => "L5",
            (Generation::Lto6, false) => "L6",
            (Generation::Lto7, false) => "L7",
            (Generation::Lto8, false) => "L8",
            (Generation::Lto9, false) => "L9",
            (Generation::Lto5, true) => "LV",
            (Generation::Lto6, true) => "LW",
            (Generation::Lto7, true) => "LX",
            (Generation::Lto8, true) => "LY",
            (Generation::Lto9, true) => "LZ",
        }
    }

    /// Whether a drive of this generation reads a cartridge of `media`. LTO-5 to LTO-7
    /// drives read two generations back; LTO-8 reads LTO-7 and 8; LTO-9 reads LTO-8 and 9.
    pub fn reads(self, media: Generation) -> bool {
        let (d, m) = (self.number(), media.number());
        let back = if d >= 8 { 1 } else { 2 };
        m <= d && d - m <= back
    }

    /// Whether a drive of this generation writes a cartridge of `media`: its own and the
    /// one before (LTO-9 writes LTO-8 and 9).
    pub fn writes(self, media: Generation) -> bool {
        let (d, m) = (self.number(), media.number());
        m <= d && d - m <= 1
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LTO{}", self.number())
    }
}

impl std::str::FromStr for Generation {
    type Err = VtlError;
    fn from_str(s: &str) -> Result<Generation> {
        let digits = s
            .trim()
            .to_ascii_uppercase()
            .trim_start_matches("LTO")
            .trim_start_matches('-')
            .to_owned();
        digits
            .parse::<u8>()
            .ok()
            .and_then(Generation::from_number)
            .ok_or_else(|| {
                VtlError::Invalid(format!(
                    "unknown media '{s}': use LTO5, LTO6, LTO7, LTO8 or LTO9"
                ))
            })
    }
}

/// What a cartridge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaKind {
    /// A rewritable data cartridge.
    Data,
    /// Write once, read many: appends only, never overwritten or erased.
    Worm,
    /// A cleaning cartridge.
    Cleaning,
}

/// A validated barcode label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Barcode(String);

impl Barcode {
    /// Longest label (six volume serial characters and two of media identifier).
    pub const MAX_LEN: usize = 8;

    /// Checks `text` against the LTO label rules: 1 to 6 characters of volume serial
    /// (A-Z, 0-9) and a media identifier (`L5`..`L9`, WORM `LV`..`LZ`), or a cleaning
    /// label starting with `CLN` (any A-Z 0-9 after it, at most 8 in all).
    pub fn parse(text: &str) -> Result<Barcode> {
        let t = text.trim();
        let bad = |why: &str| {
            VtlError::Invalid(format!(
                "barcode '{text}' {why}; a label is a volume serial of 1 to 6 letters or \
                 digits and the media identifier, e.g. VSA001L8 (LTO-8) or VSA001LY (LTO-8 \
                 WORM), or CLN001CU for a cleaning cartridge"
            ))
        };
        if t.len() < 3 || t.len() > Self::MAX_LEN {
            return Err(bad("has the wrong length"));
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(bad("may only hold upper-case letters and digits"));
        }
        let b = Barcode(t.to_owned());
        if b.is_cleaning() {
            return Ok(b);
        }
        if b.media().is_none() {
            return Err(bad(
                "does not end in a known media identifier (L5..L9, LV..LZ)",
            ));
        }
        Ok(b)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it labels a cleaning cartridge.
    pub fn is_cleaning(&self) -> bool {
        self.0.starts_with("CLN")
    }

    /// The generation and WORM flag its media identifier names.
    pub fn media(&self) -> Option<(Generation, bool)> {
        let suffix = self.0.get(self.0.len().checked_sub(2)?..)?;
        Generation::ALL.into_iter().find_map(|g| {
            [false, true]
                .into_iter()
                .find(|&w| g.label_suffix(w) == suffix)
                .map(|w| (g, w))
        })
    }

    /// Expands `FIRST..LAST` (same length, same text around one run of digits that
    /// counts up, e.g. `VSA000L8..VSA099L8`) or a single barcode.
    pub fn expand(spec: &str) -> Result<Vec<Barcode>> {
        let Some((a, b)) = spec.split_once("..") else {
            return Ok(vec![Barcode::parse(spec)?]);
        };
        let (first, last) = (Barcode::parse(a)?, Barcode::parse(b)?);
        let bad = || {
            VtlError::Invalid(format!(
                "range '{spec}' must be two labels of the same length that differ only in \
                 one run of digits counting up, e.g. VSA000L8..VSA099L8"
            ))
        };
        let (fa, la) = (first.0.as_bytes(), last.0.as_bytes());
        if fa.len() != la.len() {
            return Err(bad());
        }
        let start = fa.iter().zip(la).position(|(x, y)| x != y);
        let Some(start) = start else {
            return Ok(vec![first]);
        };
        // The run of digits around the first difference.
        let mut lo = start;
        while lo > 0 && fa[lo - 1].is_ascii_digit() {
            lo -= 1;
        }
        let mut hi = start;
        while hi < fa.len() && fa[hi].is_ascii_digit() && la[hi].is_ascii_digit() {
            hi += 1;
        }
        if hi == lo
            || hi > fa.len() - 2
            || fa[hi..] != la[hi..]
            || !fa[lo..hi].iter().all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let num = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u64>().ok();
        let (from, to) = (
            num(&fa[lo..hi]).ok_or_else(bad)?,
            num(&la[lo..hi]).ok_or_else(bad)?,
        );
        if to < from || to - from >= 100_000 {
            return Err(bad());
        }
        let (head, tail) = (&first.0[..lo], &first.0[hi..]);
        let width = hi - lo;
        (from..=to)
            .map(|n| Barcode::parse(&format!("{head}{n:0width$}{tail}")))
            .collect()
    }
}

impl fmt::Display for Barcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the library knows of a cartridge apart from its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartridgeInfo {
    pub barcode: Barcode,
    pub generation: Generation,
    pub kind: MediaKind,
    /// Capacity in bytes (the generation's native capacity unless set smaller for tests).
    pub capacity: u64,
    /// Write-protect tab set by the operator.
    #[serde(default)]
    pub write_protected: bool,
}

impl CartridgeInfo {
    /// The cartridge a barcode names: its media identifier gives generation and WORM;
    /// a cleaning label gives a cleaning cartridge of `default_gen`.
    pub fn for_barcode(
        barcode: Barcode,
        default_gen: Generation,
        capacity: Option<u64>,
    ) -> CartridgeInfo {
        let (generation, kind) = if barcode.is_cleaning() {
            (default_gen, MediaKind::Cleaning)
        } else {
            match barcode.media() {
                Some((g, true)) => (g, MediaKind::Worm),
                Some((g, false)) => (g, MediaKind::Data),
                None => (default_gen, MediaKind::Data),
            }
        };
        CartridgeInfo {
            barcode,
            generation,
            kind,
            capacity: capacity.unwrap_or(generation.native_capacity()),
            write_protected: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_the_lto_rules() {
        use Generation::*;
        assert!(Lto8.reads(Lto7) && Lto8.writes(Lto7) && !Lto8.reads(Lto6));
        assert!(!Lto8.reads(Lto9) && !Lto8.writes(Lto9));
        assert!(Lto7.reads(Lto5) && !Lto7.writes(Lto5) && Lto7.writes(Lto6));
        assert!(Lto9.reads(Lto8) && !Lto9.reads(Lto7));
        assert!(Lto5.reads(Lto5) && !Lto5.reads(Lto6));
    }

    #[test]
    fn barcodes_follow_the_label_rules() -> Result<()> {
        let b = Barcode::parse("VSA001L8")?;
        assert_eq!(b.media(), Some((Generation::Lto8, false)));
        assert_eq!(
            Barcode::parse("VSA001LY")?.media(),
            Some((Generation::Lto8, true))
        );
        assert!(Barcode::parse("CLN001CU")?.is_cleaning());
        for bad in ["", "vsa001l8", "VSA0001L8X", "VSA001X8", "VSA 01L8", "L8"] {
            assert!(Barcode::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn ranges_expand_over_one_run_of_digits() -> Result<()> {
        let r = Barcode::expand("VSA098L8..VSA101L8")?;
        let names: Vec<_> = r.iter().map(Barcode::as_str).collect();
        assert_eq!(names, ["VSA098L8", "VSA099L8", "VSA100L8", "VSA101L8"]);
        assert_eq!(Barcode::expand("VSA000L8")?.len(), 1);
        assert!(Barcode::expand("VSA010L8..VSA001L8").is_err());
        assert!(Barcode::expand("VSA000L8..VSB000L8").is_err());
        assert!(Barcode::expand("VSA000L8..VSA000L7").is_err());
        assert!(Barcode::expand("VSA001L7..VSA001L8").is_err());
        Ok(())
    }

    #[test]
    fn a_label_names_its_cartridge() -> Result<()> {
        let c = CartridgeInfo::for_barcode(Barcode::parse("ABC123LY")?, Generation::Lto9, None);
        assert_eq!((c.generation, c.kind), (Generation::Lto8, MediaKind::Worm));
        assert_eq!(c.capacity, 12_000_000_000_000);
        let c = CartridgeInfo::for_barcode(Barcode::parse("CLN001CU")?, Generation::Lto9, None);
        assert_eq!(c.kind, MediaKind::Cleaning);
        Ok(())
    }
}
