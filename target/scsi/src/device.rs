//! The [`Device`] trait: what a device type (disk, tape drive, medium changer) adds to the
//! shared SPC machinery of [`crate::spc::Unit`].
//!
//! `spc::Unit<D>` implements [`crate::LogicalUnit`]: it checks unit attentions and
//! reservations, answers the SPC commands (INQUIRY, MODE SENSE/SELECT, REQUEST SENSE,
//! REPORT SUPPORTED OPERATION CODES, PERSISTENT RESERVE, ...) and hands everything else to
//! [`Device::execute`]. The device supplies its identity-dependent parts through the other
//! methods.

use crate::{Command, Nexus, Response, Sense};

/// How a command touches the medium, for reservation conflict checks (SPC-4 5.13.1,
/// table "SPC commands that are allowed in the presence of various reservations").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reads the medium (READ, VERIFY, COMPARE part of ..., GET LBA STATUS, ...).
    Read,
    /// Changes the medium or its state (WRITE, UNMAP, FORMAT, SANITIZE, ...).
    Write,
    /// Neither: allowed under any reservation (INQUIRY, TEST UNIT READY, REPORT LUNS, ...
    /// and commands SPC-4 lists as always allowed).
    None,
}

/// Page control of MODE SENSE (SPC-4 6.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageControl {
    Current,
    Changeable,
    Default,
    Saved,
}

/// The 8-byte mode parameter block descriptor a device uses (SPC-4 7.5.5). Both carry
/// the NUMBER OF BLOCKS and the BLOCK LENGTH (bytes 5-7); they differ in byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockDescriptorFormat {
    /// The short LBA mode parameter block descriptor of direct-access devices (SBC-4
    /// 6.5.2): NUMBER OF LOGICAL BLOCKS in bytes 0-3 (saturated at FFFFFFFFh), no density
    /// code. With LLBAA (MODE SENSE(10)) or LONGLBA (MODE SELECT(10)) the 16-byte long LBA
    /// descriptor (SBC-4 6.5.3) is used instead.
    ShortLba,
    /// The general mode parameter block descriptor (SPC-4 7.5.5; SSC-4 8.3.3 for tape
    /// drives): DENSITY CODE in byte 0, NUMBER OF BLOCKS in bytes 1-3 (saturated at
    /// FFFFFFh). There is no long form: LLBAA is ignored and LONGLBA refused.
    General,
}

/// One entry of REPORT SUPPORTED OPERATION CODES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeInfo {
    pub opcode: u8,
    /// Service action, for opcodes that have them.
    pub service_action: Option<u16>,
    /// The CDB usage map: its length is the CDB length; byte 0 is the opcode, the other
    /// bytes have a 1 for every bit the device looks at.
    pub usage: &'static [u8],
}

/// What the shared SPC layer tells a device about the unit when it executes a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitCtx {
    /// Writes must fail with DATA PROTECT (read-only LUN, or SWP set in the control page).
    pub write_protected: bool,
    /// Sense data goes in descriptor format (D_SENSE in the control mode page).
    pub descriptor_sense: bool,
}

impl UnitCtx {
    /// CHECK CONDITION with `sense` in the format the unit uses.
    pub fn check(&self, sense: &Sense) -> Response {
        Response::check(sense, self.descriptor_sense)
    }
}

/// A device type served through [`crate::spc::Unit`].
pub trait Device: Send + Sync + std::fmt::Debug {
    /// Peripheral device type (0x00 disk, 0x01 tape, 0x08 medium changer).
    fn peripheral_type(&self) -> u8;

    /// Whether commands must execute in the order received, one at a time (see
    /// [`crate::LogicalUnit::sequential`]). The default: false.
    fn sequential(&self) -> bool {
        false
    }

    /// Whether the medium is removable (RMB in standard INQUIRY).
    fn removable(&self) -> bool {
        false
    }

    /// Whether the medium can be read right now (false: NOT READY, MEDIUM NOT PRESENT or
    /// similar, returned by the device from `execute`). Used for TEST UNIT READY.
    fn ready(&self) -> Result<(), Sense> {
        Ok(())
    }

    /// The device-specific VPD pages it supports (for example 0xB0, 0xB1, 0xB2 for a
    /// disk); the SPC layer adds 0x00, 0x80, 0x83 (and 0x86 if it wants).
    fn vpd_pages(&self) -> &[u8];

    /// The payload of a device-specific VPD page (the whole page, header included).
    fn vpd_page(&self, page: u8) -> Option<Vec<u8>>;

    /// Version descriptors for standard INQUIRY (for example SBC-4 0x0600).
    fn version_descriptors(&self) -> &[u16];

    /// The device-specific mode pages it has (page codes; 0x08 caching for disks); the SPC
    /// layer adds the control (0x0A) and informational exceptions (0x1C) pages.
    fn mode_pages(&self) -> &[u8];

    /// A device-specific mode page (header included: page code byte and page length).
    fn mode_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>>;

    /// MODE SELECT of a device-specific page: `data` is the page as sent (header
    /// included). Errors carry the offset within the page; the caller rebases it.
    fn mode_select(&self, page: u8, data: &[u8]) -> Result<(), Sense>;

    /// The device-specific parameter byte of the mode parameter header (WP and DPOFUA for a
    /// disk); `write_protected` is what the unit reports.
    fn mode_device_specific(&self, write_protected: bool) -> u8;

    /// The block descriptor for MODE SENSE (number of blocks, block length), if the device
    /// has one.
    fn block_descriptor(&self) -> Option<(u64, u32)>;

    /// Which 8-byte block descriptor MODE SENSE and MODE SELECT use. The default: the
    /// general format of SPC-4 7.5.5 (with [`density_code`](Self::density_code)), as tape
    /// drives use it (SSC-4 8.3.3); a direct-access device answers
    /// [`BlockDescriptorFormat::ShortLba`].
    fn block_descriptor_format(&self) -> BlockDescriptorFormat {
        BlockDescriptorFormat::General
    }

    /// Whether MODE SELECT may change the header's device-specific parameter and the block
    /// descriptor's DENSITY CODE and BLOCK LENGTH (a tape drive: buffered mode, fixed or
    /// variable blocks, SSC-4 8.3). The default: false, and a block descriptor may only
    /// restate the current one.
    fn mode_header_settable(&self) -> bool {
        false
    }

    /// Applies MODE SELECT's header and block descriptor, for a device whose
    /// [`mode_header_settable`](Self::mode_header_settable) is true, before any page of
    /// the list: `device_specific` is the header's byte, `descriptor` the (DENSITY CODE,
    /// BLOCK LENGTH) of the general block descriptor if one was sent. Nothing changes when
    /// it fails; errors carry the offset within the block descriptor (0 density, 5 block
    /// length) or, for the header byte, `u16::MAX`; the caller rebases them.
    fn select_mode_header(
        &self,
        device_specific: u8,
        descriptor: Option<(u8, u32)>,
    ) -> Result<(), Sense> {
        let _ = (device_specific, descriptor);
        Ok(())
    }

    /// The DENSITY CODE of the general block descriptor (the medium's recording format for
    /// a tape drive, SSC-4 8.3.3). The default: 0 (default density; the only value for
    /// devices without densities).
    fn density_code(&self) -> u8 {
        0
    }

    /// The MEDIUM TYPE byte of the mode parameter header (SPC-4 7.5.4). The default: 0, as
    /// SBC-4 requires of direct-access devices and SSC-4 of most tape media.
    fn medium_type(&self) -> u8 {
        0
    }

    /// The opcodes the device serves itself, for REPORT SUPPORTED OPERATION CODES (the SPC
    /// layer adds its own).
    fn opcodes(&self) -> &[OpcodeInfo];

    /// How a CDB touches the medium, for reservation checks.
    fn access(&self, cdb: &[u8]) -> Access;

    /// Executes a command that is not one of the shared SPC commands. `None` means the
    /// device does not know the opcode (the caller answers INVALID COMMAND OPERATION CODE).
    fn execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response>;

    /// Whether [`try_execute`](Self::try_execute) may serve `opcode` (it is never one of
    /// the shared SPC commands). The default: none.
    fn may_try(&self, opcode: u8) -> bool {
        let _ = opcode;
        false
    }

    /// Like [`execute`](Self::execute) for a command of an opcode [`may_try`](Self::may_try)
    /// accepts, but only if it needs no waiting (see [`crate::LogicalUnit::try_execute`]);
    /// `None` when it would wait, with nothing done. The default: `None`.
    fn try_execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        let _ = (cmd, ctx);
        None
    }

    /// A condition that ends every command except INQUIRY, REPORT LUNS and REQUEST SENSE
    /// before unit attentions and reservations are looked at (which stay pending), for
    /// example NOT READY, SANITIZE IN PROGRESS while a SANITIZE runs (SBC-4 4.11).
    fn overriding_condition(&self) -> Option<Sense> {
        None
    }

    /// A unit attention the device wants raised for every nexus, checked before each
    /// command (for example CAPACITY DATA HAS CHANGED after the volume grew, or THIN
    /// PROVISIONING SOFT THRESHOLD REACHED). Returned once per event.
    fn pending_attention(&self) -> Option<Sense> {
        None
    }

    /// Forgets volatile state on a reset (caches, prevent-removal).
    fn reset(&self) {}

    /// Called when an I_T nexus ends (logout or dropped connection), so the device can
    /// forget state it keeps per nexus (a PREVENT ALLOW MEDIUM REMOVAL from that nexus).
    fn nexus_lost(&self, nexus: &Nexus) {
        let _ = nexus;
    }

    /// Commands of `nexus` are being aborted: a command of that nexus that only waits for
    /// an operation which goes on regardless (SANITIZE without IMMED) returns now.
    fn aborting(&self, nexus: &Nexus) {
        let _ = nexus;
    }
}

/// Who a logical unit is: the strings of standard INQUIRY and the designators of VPD pages
/// 0x80 and 0x83. Kept by the appliance so they are stable across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// T10 vendor identification (8 ASCII characters, space padded on the wire).
    pub vendor: String,
    /// Product identification (16 ASCII characters).
    pub product: String,
    /// Product revision level (4 ASCII characters).
    pub revision: String,
    /// Unit serial number (VPD 0x80; also the vendor-specific part of the T10 vendor id
    /// designator in VPD 0x83).
    pub serial: String,
    /// NAA IEEE Registered Extended designator (NAA 6, 16 bytes) for VPD 0x83. EXTENDED
    /// COPY names LUNs by it.
    pub naa: [u8; 16],
}
