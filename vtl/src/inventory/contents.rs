//! [`Contents`]: what is where, in memory, and the checks and changes of every operation.
//! Nothing here persists; [`super::Inventory`] runs an operation on a copy, commits the
//! difference and only then keeps the copy.

use super::layout::{ElementType, Layout};
use crate::error::{Result, VtlError};
use crate::media::{Barcode, CartridgeInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The cartridge in an element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupant {
    pub barcode: Barcode,
    /// The storage or mail slot it last left (SVALID and SOURCE STORAGE ELEMENT ADDRESS);
    /// `None` for a cartridge that has not moved since it was added or imported.
    #[serde(default)]
    pub source: Option<u16>,
    /// It was put into this mail slot by the operator, not the robot (IMPEXP).
    #[serde(default)]
    pub by_operator: bool,
}

/// Which address of a MOVE MEDIUM or EXCHANGE MEDIUM a [`MoveError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    Source,
    Destination,
    /// The second destination of an exchange.
    SecondDestination,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::Source => "source",
            Operand::Destination => "destination",
            Operand::SecondDestination => "second destination",
        })
    }
}

/// Why a move or an exchange cannot happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoveError {
    /// No element has this address (INVALID ELEMENT ADDRESS).
    NoElement(Operand, u16),
    /// The source holds no cartridge (MEDIUM SOURCE ELEMENT EMPTY).
    SourceEmpty(Operand, u16),
    /// The destination holds a cartridge (MEDIUM DESTINATION ELEMENT FULL).
    DestinationFull(Operand, u16),
}

impl From<MoveError> for VtlError {
    fn from(e: MoveError) -> VtlError {
        match e {
            MoveError::NoElement(op, a) => VtlError::NotFound(format!(
                "{op} element {a:#06x} (see the library's element list for valid addresses)"
            )),
            MoveError::SourceEmpty(op, a) => VtlError::Conflict(format!(
                "the {op} element {a:#06x} is empty: move from an element that holds a cartridge"
            )),
            MoveError::DestinationFull(op, a) => VtlError::Conflict(format!(
                "the {op} element {a:#06x} is full: empty it first or choose a free element"
            )),
        }
    }
}

/// Every element's cartridge and every cartridge the library knows: in an element, or on
/// the shelf (exported, kept with its records so it can be imported again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub(crate) layout: Layout,
    pub(crate) elements: BTreeMap<u16, Occupant>,
    pub(crate) carts: BTreeMap<Barcode, CartridgeInfo>,
}

impl Contents {
    /// An empty library.
    pub(crate) fn new(layout: Layout) -> Contents {
        Contents {
            layout,
            elements: BTreeMap::new(),
            carts: BTreeMap::new(),
        }
    }

    /// The element holding `barcode`, if it is in one.
    pub(crate) fn location(&self, barcode: &Barcode) -> Option<u16> {
        self.elements
            .iter()
            .find(|(_, o)| &o.barcode == barcode)
            .map(|(&a, _)| a)
    }

    /// The cartridge in `addr`.
    pub(crate) fn cartridge_at(&self, addr: u16) -> Option<&CartridgeInfo> {
        self.carts.get(&self.elements.get(&addr)?.barcode)
    }

    fn kind(&self, op: Operand, addr: u16) -> Result<ElementType, MoveError> {
        self.layout.kind(addr).ok_or(MoveError::NoElement(op, addr))
    }

    fn full(&self, op: Operand, addr: u16) -> Result<CartridgeInfo, MoveError> {
        self.kind(op, addr)?;
        self.cartridge_at(addr)
            .cloned()
            .ok_or(MoveError::SourceEmpty(op, addr))
    }

    fn empty(&self, op: Operand, addr: u16) -> Result<(), MoveError> {
        self.kind(op, addr)?;
        match self.elements.contains_key(&addr) {
            true => Err(MoveError::DestinationFull(op, addr)),
            false => Ok(()),
        }
    }

    /// Checks MOVE MEDIUM from `src` to `dst`; returns the cartridge that would move.
    pub(crate) fn check_move(&self, src: u16, dst: u16) -> Result<CartridgeInfo, MoveError> {
        self.kind(Operand::Source, src)?;
        self.kind(Operand::Destination, dst)?;
        let cart = self.full(Operand::Source, src)?;
        self.empty(Operand::Destination, dst)?;
        Ok(cart)
    }

    /// Moves the cartridge of `src` to `dst` (checked by [`check_move`](Self::check_move)).
    pub(crate) fn apply_move(&mut self, src: u16, dst: u16) {
        if let Some(occ) = self.elements.remove(&src) {
            let moved = self.moved(occ, src);
            self.elements.insert(dst, moved);
        }
    }

    /// The occupant after the robot took it from `from`: a slot becomes its source.
    fn moved(&self, occ: Occupant, from: u16) -> Occupant {
        let source = match self.layout.kind(from) {
            Some(ElementType::Storage | ElementType::ImportExport) => Some(from),
            _ => occ.source,
        };
        Occupant {
            barcode: occ.barcode,
            source,
            by_operator: false,
        }
    }

    /// Checks EXCHANGE MEDIUM: the cartridge of `src` goes to `dst1`, the one of `dst1` to
    /// `dst2` (which may be `src`). Returns both cartridges.
    pub(crate) fn check_exchange(
        &self,
        src: u16,
        dst1: u16,
        dst2: u16,
    ) -> Result<(CartridgeInfo, CartridgeInfo), MoveError> {
        self.kind(Operand::Source, src)?;
        self.kind(Operand::Destination, dst1)?;
        self.kind(Operand::SecondDestination, dst2)?;
        let first = self.full(Operand::Source, src)?;
        let second = self.full(Operand::Destination, dst1)?;
        if src == dst1 {
            return Err(MoveError::DestinationFull(Operand::Destination, dst1));
        }
        if dst2 != src {
            self.empty(Operand::SecondDestination, dst2)?;
        }
        Ok((first, second))
    }

    /// Applies a checked exchange.
    pub(crate) fn apply_exchange(&mut self, src: u16, dst1: u16, dst2: u16) {
        let (Some(a), Some(b)) = (self.elements.remove(&src), self.elements.remove(&dst1)) else {
            return;
        };
        let (a, b) = (self.moved(a, src), self.moved(b, dst1));
        self.elements.insert(dst1, a);
        self.elements.insert(dst2, b);
    }

    fn refuse_known(&self, barcode: &Barcode) -> Result<()> {
        if !self.carts.contains_key(barcode) {
            return Ok(());
        }
        let at = match self.location(barcode) {
            Some(a) => format!("in element {a:#06x}"),
            None => "on the shelf (exported)".into(),
        };
        Err(VtlError::Invalid(format!(
            "barcode {barcode} is already in the library ({at}): barcodes must be unique; \
             delete that cartridge first or choose another label"
        )))
    }

    fn free(&self, t: ElementType) -> impl Iterator<Item = u16> + '_ {
        self.layout
            .range(t)
            .addresses()
            .filter(|a| !self.elements.contains_key(a))
    }

    /// Puts new cartridges into the lowest free slots; all or none.
    pub(crate) fn add(&mut self, carts: Vec<CartridgeInfo>) -> Result<Vec<u16>> {
        let mut placed = Vec::with_capacity(carts.len());
        for cart in carts {
            self.refuse_known(&cart.barcode)?;
            let slot = self.free(ElementType::Storage).next().ok_or_else(|| {
                VtlError::Full(format!(
                    "no free storage slot for {}: delete or export cartridges, or give the \
                     library more slots",
                    cart.barcode
                ))
            })?;
            self.place(slot, cart, false);
            placed.push(slot);
        }
        Ok(placed)
    }

    fn place(&mut self, addr: u16, cart: CartridgeInfo, by_operator: bool) {
        let occ = Occupant {
            barcode: cart.barcode.clone(),
            source: None,
            by_operator,
        };
        self.elements.insert(addr, occ);
        self.carts.insert(cart.barcode.clone(), cart);
    }

    fn known(&self, barcode: &Barcode) -> Result<&CartridgeInfo> {
        self.carts
            .get(barcode)
            .ok_or_else(|| VtlError::NotFound(format!("cartridge {barcode}")))
    }

    fn refuse_in_drive(&self, barcode: &Barcode, what: &str) -> Result<Option<u16>> {
        let at = self.location(barcode);
        if let Some(a) = at {
            let kind = self.layout.kind(a);
            if !matches!(kind, Some(ElementType::Storage | ElementType::ImportExport)) {
                let kind = kind.map(|k| k.to_string()).unwrap_or_default();
                return Err(VtlError::Conflict(format!(
                    "cartridge {barcode} is in the {kind} at {a:#06x}: move it to a slot \
                     before you {what} it"
                )));
            }
        }
        Ok(at)
    }

    /// Deletes a cartridge in a slot, a mail slot or on the shelf. Returns it and the
    /// element it left.
    pub(crate) fn delete(&mut self, barcode: &Barcode) -> Result<(CartridgeInfo, Option<u16>)> {
        let cart = self.known(barcode)?.clone();
        let at = self.refuse_in_drive(barcode, "delete")?;
        if let Some(a) = at {
            self.elements.remove(&a);
        }
        self.carts.remove(barcode);
        Ok((cart, at))
    }

    fn free_mail_slot(&self, barcode: &Barcode) -> Result<u16> {
        self.free(ElementType::ImportExport).next().ok_or_else(|| {
            VtlError::Full(format!(
                "no free mail slot for {barcode}: take the cartridges in the mail slots out \
                 (export) or move them into the library first"
            ))
        })
    }

    /// The operator puts a new cartridge into the first free mail slot.
    pub(crate) fn import_new(&mut self, cart: CartridgeInfo) -> Result<u16> {
        self.refuse_known(&cart.barcode)?;
        let slot = self.free_mail_slot(&cart.barcode)?;
        self.place(slot, cart, true);
        Ok(slot)
    }

    /// The operator puts a cartridge from the shelf back into the first free mail slot.
    pub(crate) fn import(&mut self, barcode: &Barcode) -> Result<u16> {
        let cart = self.known(barcode)?.clone();
        if let Some(a) = self.location(barcode) {
            return Err(VtlError::Conflict(format!(
                "cartridge {barcode} is already in the library (element {a:#06x}); only an \
                 exported cartridge can be imported"
            )));
        }
        let slot = self.free_mail_slot(barcode)?;
        self.place(slot, cart, true);
        Ok(slot)
    }

    /// The operator takes a cartridge out (to the shelf): from a mail slot, or from a
    /// storage slot through a free mail slot. Returns the element it left.
    pub(crate) fn export(&mut self, barcode: &Barcode) -> Result<u16> {
        self.known(barcode)?;
        let at = self.refuse_in_drive(barcode, "export")?.ok_or_else(|| {
            VtlError::Conflict(format!("cartridge {barcode} is already exported"))
        })?;
        if self.layout.kind(at) == Some(ElementType::Storage) {
            // The robot needs a free mail slot to hand it out.
            self.free_mail_slot(barcode)?;
        }
        self.elements.remove(&at);
        Ok(at)
    }

    /// Sets or clears a cartridge's write-protect tab.
    pub(crate) fn set_write_protect(&mut self, barcode: &Barcode, on: bool) -> Result<()> {
        self.known(barcode)?;
        if let Some(c) = self.carts.get_mut(barcode) {
            c.write_protected = on;
        }
        Ok(())
    }

    /// Checks that every element is one of the layout, every occupant a known cartridge
    /// and no cartridge in two elements.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for (a, o) in &self.elements {
            if self.layout.kind(*a).is_none() {
                return Err(format!("element {a:#06x} is not in the layout"));
            }
            if !self.carts.contains_key(&o.barcode) {
                return Err(format!(
                    "element {a:#06x} holds unknown cartridge {}",
                    o.barcode
                ));
            }
            if !seen.insert(&o.barcode) {
                return Err(format!("cartridge {} is in two elements", o.barcode));
            }
        }
        Ok(())
    }
}
