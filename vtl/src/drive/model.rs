//! Drive models: the identities of real LTO drives (IBM ULT3580-TDn, HP Ultrium n-SCSI),
//! their VPD pages and the densities they read and write.

use crate::error::{Result, VtlError};
use crate::media::Generation;
use std::fmt;
use vsa_scsi::Identity;

/// Who made the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    Ibm,
    Hp,
}

/// A drive model: a vendor's LTO drive of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DriveModel {
    pub vendor: Vendor,
    pub generation: Generation,
}

impl DriveModel {
    /// IBM LTO-8, the default.
    pub const DEFAULT: DriveModel = DriveModel {
        vendor: Vendor::Ibm,
        generation: Generation::Lto8,
    };

    /// Standard INQUIRY's vendor and product identification.
    pub fn inquiry(&self) -> (&'static str, String) {
        let n = self.generation.number();
        match self.vendor {
            Vendor::Ibm => ("IBM", format!("ULT3580-TD{n}")),
            Vendor::Hp => ("HP", format!("Ultrium {n}-SCSI")),
        }
    }

    /// The identity of a drive of this model with `serial` and `naa`.
    pub fn identity(&self, serial: &str, naa: [u8; 16]) -> Identity {
        let (vendor, product) = self.inquiry();
        Identity {
            vendor: vendor.into(),
            product,
            revision: "VSA1".into(),
            serial: serial.into(),
            naa,
        }
    }

    /// The 34-byte device identifier libraries report for the drive (READ ELEMENT STATUS
    /// with DVCID): vendor (8), product (16) and serial number (10), space padded.
    pub fn device_identifier(&self, serial: &str) -> Vec<u8> {
        let (vendor, product) = self.inquiry();
        let mut v = vsa_scsi::cdb::ascii_field(vendor, 8);
        v.extend(vsa_scsi::cdb::ascii_field(&product, 16));
        v.extend(vsa_scsi::cdb::ascii_field(serial, 10));
        v
    }

    /// The generations the drive reads, newest first.
    pub fn readable(&self) -> Vec<Generation> {
        Generation::ALL
            .into_iter()
            .rev()
            .filter(|g| self.generation.reads(*g))
            .collect()
    }
}

impl fmt::Display for DriveModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.vendor {
            Vendor::Ibm => "ibm",
            Vendor::Hp => "hp",
        };
        write!(f, "{v}-lto{}", self.generation.number())
    }
}

impl std::str::FromStr for DriveModel {
    type Err = VtlError;
    /// `ibm-lto8`, `hp-lto7`, or the product name (`ULT3580-TD8`, `Ultrium 8-SCSI`).
    fn from_str(s: &str) -> Result<DriveModel> {
        let t = s.trim().to_ascii_lowercase();
        let bad = || {
            VtlError::Invalid(format!(
                "unknown drive model '{s}': use ibm-lto5..ibm-lto9 or hp-lto5..hp-lto9 \
                 (IBM ULT3580-TDn, HP Ultrium n-SCSI)"
            ))
        };
        let (vendor, rest) = if let Some(r) = t.strip_prefix("ibm-") {
            (Vendor::Ibm, r.to_owned())
        } else if let Some(r) = t.strip_prefix("hp-") {
            (Vendor::Hp, r.to_owned())
        } else if let Some(r) = t.strip_prefix("ult3580-td") {
            (Vendor::Ibm, r.to_owned())
        } else if let Some(r) = t.strip_prefix("ultrium ") {
            (Vendor::Hp, r.trim_end_matches("-scsi").to_owned())
        } else {
            return Err(bad());
        };
        let generation = rest.parse::<Generation>().map_err(|_| bad())?;
        Ok(DriveModel { vendor, generation })
    }
}

/// VPD page B0h, sequential-access device capabilities (SSC-4 8.6.2): WORM supported.
pub fn vpd_b0() -> Vec<u8> {
    vec![0x01, 0xB0, 0x00, 0x02, 0x01, 0x00]
}

/// VPD page B1h, manufacturer-assigned serial number (SSC-4 8.6.3).
pub fn vpd_b1(serial: &str) -> Vec<u8> {
    let s = vsa_scsi::cdb::ascii_field(serial, 12);
    let mut v = vec![0x01, 0xB1, 0x00, s.len() as u8];
    v.extend(s);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_from_names_and_products() -> Result<()> {
        let m: DriveModel = "ULT3580-TD9".parse()?;
        assert_eq!((m.vendor, m.generation), (Vendor::Ibm, Generation::Lto9));
        let m: DriveModel = "Ultrium 7-SCSI".parse()?;
        assert_eq!((m.vendor, m.generation), (Vendor::Hp, Generation::Lto7));
        assert_eq!("hp-lto6".parse::<DriveModel>()?.to_string(), "hp-lto6");
        assert!("ibm-lto4".parse::<DriveModel>().is_err());
        assert_eq!(DriveModel::DEFAULT.device_identifier("123").len(), 34);
        Ok(())
    }
}
