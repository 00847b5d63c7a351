//! The durable record of a tape library, its keys, and the names and identities derived
//! from it.
//!
//! | key (column family `vtl`) | value |
//! | --- | --- |
//! | `l/<library>` | [`LibraryRecord`] (JSON) |
//! | `d/<library>/...` | the library's catalog: cartridges, inventory, record indexes (`vtl/FORMAT.md`) |

use serde::{Deserialize, Serialize};

/// The column family.
pub const CF_VTL: &str = "vtl";

/// Virtual size of a library's cartridge store volume: thin, so only what cartridges hold
/// takes pool space (1 PiB: a large library of LTO-9 cartridges at native capacity).
pub const STORE_SIZE: u64 = 1 << 50;

/// A tape library as created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryRecord {
    pub name: String,
    /// The iSCSI target its changer (LUN 0) and drives (LUN 1..) are served on.
    pub target: String,
    /// The pool volume holding its cartridges.
    pub volume: String,
    /// `stk-l700`, `ibm-3584`, `hp-msl-g3`.
    pub library_model: String,
    /// `ibm-lto8`, `hp-lto9`, ...
    pub drive_model: String,
    pub drives: u16,
    pub slots: u16,
    pub mailslots: u16,
    /// Seven digits: the changer's serial is these and `000`, drive n's these and n.
    pub serial: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// One target per device (`<target>.changer`, `<target>.drive1`, ..., each device at
    /// LUN 0) instead of one target with the changer at LUN 0 and the drives after it.
    #[serde(default)]
    pub per_device: bool,
    /// Keep at least this many blank cartridges in the storage slots, creating new ones as
    /// they are used (0: off).
    #[serde(default)]
    pub scratch_min: u16,
    /// The first characters (1 to 3) of the labels of cartridges created as scratch.
    #[serde(default = "default_scratch_prefix")]
    pub scratch_prefix: String,
    /// Their capacity (default: the native capacity of the drives' generation).
    #[serde(default)]
    pub scratch_capacity: Option<u64>,
    /// Drives ask for cleaning (TapeAlert) after this many mounts (0: never).
    #[serde(default)]
    pub clean_every: u64,
    /// New data records are deduplicated across the library's cartridges.
    #[serde(default = "on")]
    pub dedup: bool,
}

fn on() -> bool {
    true
}

fn default_scratch_prefix() -> String {
    "SCR".into()
}

/// Checks a scratch label prefix: 1 to 3 upper-case letters or digits.
pub fn check_scratch_prefix(p: &str) -> Result<(), String> {
    if (1..=3).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(format!(
            "scratch prefix '{p}' must be 1 to 3 upper-case letters or digits (labels are the \
             prefix, a number and the media identifier: SCR001L8)"
        ))
    }
}

impl LibraryRecord {
    /// The changer's serial number.
    pub fn changer_serial(&self) -> String {
        format!("{}000", self.serial)
    }

    /// Drive `i`'s (0-based) serial number: ten digits, as IBM drives have.
    pub fn drive_serial(&self, i: usize) -> String {
        format!("{}{:03}", self.serial, i + 1)
    }

    /// The NAA designator of LUN `lun`: NAA 6 with the same company id as the iSCSI
    /// component's LUNs, the library's serial and the LUN.
    pub fn naa(&self, lun: u16) -> [u8; 16] {
        let h = crc32c::crc32c(self.name.as_bytes());
        let s: u32 = self.serial.parse().unwrap_or(0);
        let mut naa = [0u8; 16];
        naa[0] = 0x60;
        naa[1] = 0xAC;
        naa[2] = 0x5A;
        naa[3] = 0x0E; // tape library devices
        naa[4..8].copy_from_slice(&s.to_be_bytes());
        naa[8..12].copy_from_slice(&h.to_be_bytes());
        naa[14..16].copy_from_slice(&lun.to_be_bytes());
        naa
    }
}

impl LibraryRecord {
    /// The iSCSI names its devices are served on, with the LUN of each device (changer
    /// first, then the drives).
    pub fn device_targets(&self) -> Vec<(String, u64)> {
        if !self.per_device {
            return (0..=u64::from(self.drives))
                .map(|lun| (self.target.clone(), lun))
                .collect();
        }
        let mut v = vec![(format!("{}.changer", self.target), 0)];
        v.extend((1..=self.drives).map(|i| (format!("{}.drive{i}", self.target), 0)));
        v
    }

    /// The distinct target names.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.device_targets().into_iter().map(|t| t.0).collect();
        names.dedup();
        names
    }
}

/// The key of library `name`'s record.
pub fn library_key(name: &str) -> Vec<u8> {
    format!("l/{name}").into_bytes()
}

/// The prefix of library `name`'s catalog.
pub fn data_prefix(name: &str) -> Vec<u8> {
    format!("d/{name}/").into_bytes()
}

/// The store volume of library `name`.
pub fn store_volume(name: &str) -> String {
    format!("vtl.{name}")
}

/// The default iSCSI name of library `name`'s target.
pub fn default_target(name: &str) -> String {
    format!("iqn.2026-12.io.vsa:vtl.{name}")
}

/// Library names: 1 to 32 of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a library name: use 1 to 32 lower-case letters, digits, '-' \
             or '_', starting with a letter or digit, e.g. lib1"
        ))
    }
}

/// Seven digits for a new library's serial numbers, from its store volume's unique id.
pub fn serial_base(volume_uuid: &str, name: &str) -> String {
    let h = crc32c::crc32c_append(crc32c::crc32c(volume_uuid.as_bytes()), name.as_bytes());
    format!("{:07}", h % 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_serials() {
        assert!(check_name("lib1").is_ok());
        for bad in ["", "Lib", "-a", "a/b", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let r = LibraryRecord {
            name: "lib1".into(),
            target: default_target("lib1"),
            volume: store_volume("lib1"),
            library_model: "stk-l700".into(),
            drive_model: "ibm-lto8".into(),
            drives: 2,
            slots: 10,
            mailslots: 2,
            serial: serial_base("abc", "lib1"),
            created: 0,
            per_device: false,
            scratch_min: 0,
            scratch_prefix: "SCR".into(),
            scratch_capacity: None,
            clean_every: 0,
            dedup: true,
        };
        assert_eq!(r.target_names(), std::slice::from_ref(&r.target));
        assert_eq!(r.device_targets()[2], (r.target.clone(), 2));
        let p = LibraryRecord {
            per_device: true,
            ..r.clone()
        };
        assert_eq!(
            p.target_names(),
            [
                format!("{}.changer", r.target),
                format!("{}.drive1", r.target),
                format!("{}.drive2", r.target)
            ]
        );
        assert_eq!(r.drive_serial(0).len(), 10);
        assert!(r.drive_serial(1).ends_with("002"));
        assert_ne!(r.naa(0), r.naa(1));
    }
}
