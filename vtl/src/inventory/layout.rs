//! The library's elements (SMC-3 4.2): element types and the address ranges a library
//! model gives them.

use crate::error::{Result, VtlError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An element type, numbered as its ELEMENT TYPE CODE (SMC-3 table "Element type code").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ElementType {
    /// The robot's hand (medium transport element, code 1).
    Transport,
    /// A storage slot (code 2).
    Storage,
    /// A mail slot the operator reaches from outside (import/export element, code 3).
    ImportExport,
    /// A tape drive (data transfer element, code 4).
    DataTransfer,
}

impl ElementType {
    /// Every type, in element type code order.
    pub const ALL: [ElementType; 4] = [
        ElementType::Transport,
        ElementType::Storage,
        ElementType::ImportExport,
        ElementType::DataTransfer,
    ];

    /// The ELEMENT TYPE CODE.
    pub fn code(self) -> u8 {
        match self {
            ElementType::Transport => 1,
            ElementType::Storage => 2,
            ElementType::ImportExport => 3,
            ElementType::DataTransfer => 4,
        }
    }

    /// The type of ELEMENT TYPE CODE `code` (0, "all types", is not a type).
    pub fn from_code(code: u8) -> Option<ElementType> {
        ElementType::ALL.into_iter().find(|t| t.code() == code)
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElementType::Transport => "transport",
            ElementType::Storage => "slot",
            ElementType::ImportExport => "mail slot",
            ElementType::DataTransfer => "drive",
        })
    }
}

/// A run of consecutive element addresses of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Range {
    /// The first element address.
    pub first: u16,
    /// How many elements.
    pub count: u16,
}

impl Range {
    /// Whether `addr` is in the run.
    pub fn contains(&self, addr: u16) -> bool {
        addr >= self.first && u32::from(addr) < self.end()
    }

    /// One past the last address (may be 0x10000).
    fn end(&self) -> u32 {
        u32::from(self.first) + u32::from(self.count)
    }

    /// The addresses of the run, ascending.
    pub fn addresses(&self) -> impl Iterator<Item = u16> {
        let (first, count) = (self.first, self.count);
        (0..count).filter_map(move |i| first.checked_add(i))
    }
}

/// Where a library's elements are: one run of addresses per element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Layout {
    pub transport: Range,
    pub storage: Range,
    pub import_export: Range,
    pub drives: Range,
}

impl Layout {
    /// The most elements of one type a library may have.
    pub const MAX_PER_TYPE: u16 = 4096;

    /// Checks the layout: one transport, at least one slot, at most
    /// [`MAX_PER_TYPE`](Self::MAX_PER_TYPE) elements of a type, no address 0, no overlaps,
    /// no run past 0xFFFF.
    pub fn check(&self) -> Result<()> {
        if self.transport.count != 1 {
            return Err(VtlError::Invalid(
                "a library has exactly one medium transport element (its robot)".into(),
            ));
        }
        if self.storage.count == 0 {
            return Err(VtlError::Invalid(
                "a library needs at least one storage slot".into(),
            ));
        }
        let runs = ElementType::ALL.map(|t| (t, self.range(t)));
        for (t, r) in runs {
            if r.count > Self::MAX_PER_TYPE {
                return Err(VtlError::Invalid(format!(
                    "{} {t} elements are too many: at most {} of a type",
                    r.count,
                    Self::MAX_PER_TYPE
                )));
            }
            if r.first == 0 || r.end() > 0x1_0000 {
                return Err(VtlError::Invalid(format!(
                    "the {t} elements must have addresses from 1 to 0xFFFF (first {:#06x}, {} \
                     elements)",
                    r.first, r.count
                )));
            }
        }
        for (i, (a, ra)) in runs.iter().enumerate() {
            for (b, rb) in &runs[i + 1..] {
                let apart = u32::from(ra.first) >= rb.end() || u32::from(rb.first) >= ra.end();
                if ra.count > 0 && rb.count > 0 && !apart {
                    return Err(VtlError::Invalid(format!(
                        "the {a} and {b} element addresses overlap"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The run of element type `t`.
    pub fn range(&self, t: ElementType) -> Range {
        match t {
            ElementType::Transport => self.transport,
            ElementType::Storage => self.storage,
            ElementType::ImportExport => self.import_export,
            ElementType::DataTransfer => self.drives,
        }
    }

    /// The type of the element at `addr`, if there is one.
    pub fn kind(&self, addr: u16) -> Option<ElementType> {
        ElementType::ALL
            .into_iter()
            .find(|&t| self.range(t).contains(addr))
    }

    /// Every element address with its type, ascending by address.
    pub fn elements(&self) -> Vec<(u16, ElementType)> {
        let mut v: Vec<(u16, ElementType)> = ElementType::ALL
            .into_iter()
            .flat_map(|t| self.range(t).addresses().map(move |a| (a, t)))
            .collect();
        v.sort_unstable();
        v
    }

    /// The index (0-based, in drive order) of the drive at `addr`.
    pub fn drive_index(&self, addr: u16) -> Option<usize> {
        self.drives
            .contains(addr)
            .then(|| usize::from(addr - self.drives.first))
    }
}
