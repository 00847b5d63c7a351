//! [`Model`]: the real libraries a changer presents itself as, with their INQUIRY strings
//! and the element addresses their SCSI reference manuals give.
//!
//! | model | vendor / product / revision | transport | mail slots | drives | slots |
//! | --- | --- | --- | --- | --- | --- |
//! | StorageTek L700 | `STK` / `L700` / `0311` | 0x0001 | 0x000A | 0x01F4 (500) | 0x03E8 (1000) |
//! | IBM 3584 (TS3500), LTO logical library | `IBM` / `03584L32` / `F270` | 0x0001 | 0x0301 (769) | 0x0101 (257) | 0x0401 (1025) |
//! | HP MSL G3 series | `HP` / `MSL G3 Series` / `5.30` | 0x0001 | 0x01C0 | 0x01E0 | 0x0020 |
//!
//! The revisions are firmware levels those products shipped with; backup software matches
//! on vendor and product. A layout whose runs would overlap (an MSL with more than 416
//! slots, say) is refused, as the real model has no such addresses.

use crate::error::{Result, VtlError};
use crate::inventory::{Layout, Range};
use std::fmt;
use std::str::FromStr;
use vsa_scsi::Identity;

/// A library model the changer emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// StorageTek (Oracle) L700.
    StkL700,
    /// IBM TotalStorage 3584 / TS3500, an LTO logical library.
    Ibm3584,
    /// HP StorageWorks MSL G3 series (MSL2024, MSL4048, MSL8096).
    HpMslG3,
}

/// First addresses of (transport, mail slots, drives, storage slots).
struct Bases(u16, u16, u16, u16);

impl Model {
    /// Every model.
    pub const ALL: [Model; 3] = [Model::StkL700, Model::Ibm3584, Model::HpMslG3];

    /// The T10 vendor identification of standard INQUIRY.
    pub fn vendor(self) -> &'static str {
        match self {
            Model::StkL700 => "STK",
            Model::Ibm3584 => "IBM",
            Model::HpMslG3 => "HP",
        }
    }

    /// The product identification of standard INQUIRY.
    pub fn product(self) -> &'static str {
        match self {
            Model::StkL700 => "L700",
            Model::Ibm3584 => "03584L32",
            Model::HpMslG3 => "MSL G3 Series",
        }
    }

    /// The product revision level of standard INQUIRY.
    pub fn revision(self) -> &'static str {
        match self {
            Model::StkL700 => "0311",
            Model::Ibm3584 => "F270",
            Model::HpMslG3 => "5.30",
        }
    }

    fn bases(self) -> Bases {
        match self {
            Model::StkL700 => Bases(0x0001, 0x000A, 0x01F4, 0x03E8),
            Model::Ibm3584 => Bases(0x0001, 0x0301, 0x0101, 0x0401),
            Model::HpMslG3 => Bases(0x0001, 0x01C0, 0x01E0, 0x0020),
        }
    }

    /// The element addresses of a library of this model with `drives` drives, `slots`
    /// storage slots and `mail` mail slots.
    pub fn layout(self, drives: u16, slots: u16, mail: u16) -> Result<Layout> {
        let Bases(mt, ie, dt, st) = self.bases();
        let layout = Layout {
            transport: Range {
                first: mt,
                count: 1,
            },
            import_export: Range {
                first: ie,
                count: mail,
            },
            drives: Range {
                first: dt,
                count: drives,
            },
            storage: Range {
                first: st,
                count: slots,
            },
        };
        layout.check().map_err(|e| {
            VtlError::Invalid(format!(
                "{self} cannot have {drives} drives, {slots} slots and {mail} mail slots: {e}"
            ))
        })?;
        Ok(layout)
    }

    /// The identity a changer of this model reports; serial number and NAA designator
    /// are the appliance's (stable for the library).
    pub fn identity(self, serial: impl Into<String>, naa: [u8; 16]) -> Identity {
        Identity {
            vendor: self.vendor().into(),
            product: self.product().into(),
            revision: self.revision().into(),
            serial: serial.into(),
            naa,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::StkL700 => "stk-l700",
            Model::Ibm3584 => "ibm-3584",
            Model::HpMslG3 => "hp-msl-g3",
        })
    }
}

impl FromStr for Model {
    type Err = VtlError;

    /// `stk-l700` (or `l700`), `ibm-3584` (or `3584`, `ts3500`), `hp-msl-g3` (or `msl`),
    /// in any case.
    fn from_str(s: &str) -> Result<Model> {
        let norm: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        match norm.as_str() {
            "stkl700" | "l700" => Ok(Model::StkL700),
            "ibm3584" | "3584" | "ts3500" | "ibmts3500" => Ok(Model::Ibm3584),
            "hpmslg3" | "mslg3" | "msl" | "hpmsl" => Ok(Model::HpMslG3),
            _ => Err(VtlError::Invalid(format!(
                "unknown library model '{s}': use stk-l700, ibm-3584 or hp-msl-g3"
            ))),
        }
    }
}
