//! Moving cartridges: MOVE MEDIUM, EXCHANGE MEDIUM, POSITION TO ELEMENT and INITIALIZE
//! ELEMENT STATUS (WITH RANGE), and the same moves for the appliance's API.
//!
//! A move checks the inventory, then has the drives give up and take cartridges
//! ([`DriveBay::remove`], [`DriveBay::insert`]), then commits the inventory, all under the
//! inventory's lock. If a drive refuses or the commit fails, the drive steps already done
//! are undone in reverse order, so the drives and the inventory still agree and nothing
//! changed.

use super::Changer;
use crate::bay::DriveBay;
use crate::error::VtlError;
use crate::inventory::{MoveError, Operand};
use crate::media::CartridgeInfo;
use vsa_scsi::cdb::{be16, byte};
use vsa_scsi::sense::FieldPointer;
use vsa_scsi::{Response, Sense, SenseKey};

/// Why a move failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The inventory refused it (bad address, empty source, full destination).
    Move(MoveError),
    /// A drive refused to take or give up a cartridge, with its sense.
    Drive(Sense),
    /// The inventory could not be saved.
    Commit(VtlError),
}

impl Failure {
    /// The sense of a MOVE MEDIUM or EXCHANGE MEDIUM that failed.
    fn sense(&self) -> Sense {
        match self {
            Failure::Move(MoveError::NoElement(op, _)) => invalid_element(operand_byte(*op)),
            Failure::Move(MoveError::SourceEmpty(..)) => {
                Sense::new(SenseKey::IllegalRequest, 0x3B, 0x0E)
            }
            Failure::Move(MoveError::DestinationFull(..)) => {
                Sense::new(SenseKey::IllegalRequest, 0x3B, 0x0D)
            }
            Failure::Drive(s) => s.clone(),
            Failure::Commit(_) => Sense::internal_failure(),
        }
    }
}

impl From<Failure> for VtlError {
    fn from(f: Failure) -> VtlError {
        match f {
            Failure::Move(m) => m.into(),
            Failure::Drive(s) => VtlError::Conflict(format!(
                "the drive refused the move (sense key {:?}, ASC/ASCQ {:02X}h/{:02X}h); {}",
                s.key,
                s.asc,
                s.ascq,
                if (s.asc, s.ascq) == (0x53, 0x02) {
                    "an initiator prevents removal from the drive: have it allow removal"
                } else {
                    "see the drive's log"
                }
            )),
            Failure::Commit(e) => e,
        }
    }
}

/// The CDB byte of an operand's element address (MOVE MEDIUM and EXCHANGE MEDIUM).
fn operand_byte(op: Operand) -> u16 {
    match op {
        Operand::Source => 4,
        Operand::Destination => 6,
        Operand::SecondDestination => 8,
    }
}

/// ILLEGAL REQUEST, INVALID ELEMENT ADDRESS, pointing at the address in CDB byte `at`.
fn invalid_element(at: u16) -> Sense {
    let mut s = Sense::new(SenseKey::IllegalRequest, 0x21, 0x01);
    s.field = Some(FieldPointer {
        in_cdb: true,
        byte: at,
        bit: None,
    });
    s
}

/// Drive steps done so far, to undo in reverse.
#[derive(Default)]
struct Journal<'a> {
    steps: Vec<(&'a dyn DriveBay, Option<CartridgeInfo>)>,
}

impl<'a> Journal<'a> {
    fn remove(
        &mut self,
        drive: Option<&'a dyn DriveBay>,
        cart: &CartridgeInfo,
    ) -> Result<(), Failure> {
        if let Some(d) = drive {
            d.remove().map_err(Failure::Drive)?;
            self.steps.push((d, Some(cart.clone())));
        }
        Ok(())
    }

    fn insert(
        &mut self,
        drive: Option<&'a dyn DriveBay>,
        cart: &CartridgeInfo,
    ) -> Result<(), Failure> {
        if let Some(d) = drive {
            d.insert(cart).map_err(Failure::Drive)?;
            self.steps.push((d, None));
        }
        Ok(())
    }

    /// Puts removed cartridges back and takes inserted ones out again.
    fn undo(self) {
        for (d, removed) in self.steps.into_iter().rev() {
            let r = match &removed {
                Some(cart) => d.insert(cart),
                None => d.remove(),
            };
            if let Err(s) = r {
                tracing::error!(drive = ?d, sense = ?s, "a drive step of a failed move could not be undone");
            }
        }
    }
}

impl Changer {
    /// Moves the cartridge of element `src` to element `dst`, unloading and loading drives
    /// as needed (MOVE MEDIUM, and the API's move).
    pub fn move_medium(&self, src: u16, dst: u16) -> crate::error::Result<()> {
        Ok(self.robot_move(src, dst)?)
    }

    /// Exchanges: the cartridge of `src` goes to `dst1`, the one of `dst1` to `dst2`
    /// (which may be `src`) (EXCHANGE MEDIUM, and the API's exchange).
    pub fn exchange_medium(&self, src: u16, dst1: u16, dst2: u16) -> crate::error::Result<()> {
        Ok(self.robot_exchange(src, dst1, dst2)?)
    }

    fn robot_move(&self, src: u16, dst: u16) -> Result<(), Failure> {
        let mut l = self.inventory.lock();
        let cart = l.contents().check_move(src, dst).map_err(Failure::Move)?;
        let mut j = Journal::default();
        let steps = j
            .remove(self.drive(src), &cart)
            .and_then(|()| j.insert(self.drive(dst), &cart));
        let done = steps.and_then(|()| {
            l.apply(|c| {
                c.apply_move(src, dst);
                Ok(())
            })
            .map_err(Failure::Commit)
        });
        if done.is_err() {
            j.undo();
        }
        done
    }

    fn robot_exchange(&self, src: u16, dst1: u16, dst2: u16) -> Result<(), Failure> {
        let mut l = self.inventory.lock();
        let (a, b) = l
            .contents()
            .check_exchange(src, dst1, dst2)
            .map_err(Failure::Move)?;
        let mut j = Journal::default();
        let steps = j
            .remove(self.drive(src), &a)
            .and_then(|()| j.remove(self.drive(dst1), &b))
            .and_then(|()| j.insert(self.drive(dst1), &a))
            .and_then(|()| j.insert(self.drive(dst2), &b));
        let done = steps.and_then(|()| {
            l.apply(|c| {
                c.apply_exchange(src, dst1, dst2);
                Ok(())
            })
            .map_err(Failure::Commit)
        });
        if done.is_err() {
            j.undo();
        }
        done
    }

    /// A MEDIUM TRANSPORT ADDRESS of 0 (the default transport) or the transport's.
    fn check_transport(&self, cdb: &[u8]) -> Result<(), Sense> {
        let mt = be16(cdb, 2);
        if mt != 0 && mt != self.layout.transport.first {
            return Err(invalid_element(2));
        }
        Ok(())
    }

    /// MOVE MEDIUM (SMC-3 6.6). INVERT is not supported (the robot does not turn media).
    pub(super) fn move_cdb(&self, cdb: &[u8]) -> Result<Response, Sense> {
        if byte(cdb, 10) & 0x01 != 0 {
            return Err(Sense::invalid_field_in_cdb(10, Some(0)));
        }
        self.check_transport(cdb)?;
        self.robot_move(be16(cdb, 4), be16(cdb, 6))
            .map_err(|f| f.sense())?;
        Ok(Response::good())
    }

    /// EXCHANGE MEDIUM (SMC-3 6.1). INV1 and INV2 are not supported.
    pub(super) fn exchange_cdb(&self, cdb: &[u8]) -> Result<Response, Sense> {
        match byte(cdb, 10) & 0x03 {
            0 => {}
            inv => return Err(Sense::invalid_field_in_cdb(10, Some(inv >> 1))),
        }
        self.check_transport(cdb)?;
        self.robot_exchange(be16(cdb, 4), be16(cdb, 6), be16(cdb, 8))
            .map_err(|f| f.sense())?;
        Ok(Response::good())
    }

    /// POSITION TO ELEMENT (SMC-3 6.8): nothing to move in a virtual library, but the
    /// addresses are checked.
    pub(super) fn position(&self, cdb: &[u8]) -> Result<Response, Sense> {
        if byte(cdb, 8) & 0x01 != 0 {
            return Err(Sense::invalid_field_in_cdb(8, Some(0)));
        }
        self.check_transport(cdb)?;
        if self.layout.kind(be16(cdb, 4)).is_none() {
            return Err(invalid_element(4));
        }
        Ok(Response::good())
    }

    /// INITIALIZE ELEMENT STATUS WITH RANGE (SMC-3 6.3): the inventory is always known,
    /// so only the starting address of a range is checked.
    pub(super) fn initialize_range(&self, cdb: &[u8]) -> Result<Response, Sense> {
        let range = byte(cdb, 1) & 0x01 != 0;
        if range && self.layout.kind(be16(cdb, 2)).is_none() {
            return Err(invalid_element(2));
        }
        Ok(Response::good())
    }
}
