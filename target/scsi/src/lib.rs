//! SCSI device servers for vsa: the [`LogicalUnit`] trait the iSCSI transport calls, the
//! SPC-4 commands every device type shares (implemented once, in [`spc`]), and the disk
//! unit ([`sbc::Disk`], SBC-4) that serves any [`vsa_blockdev::BlockDevice`].
//!
//! This crate does no I/O of its own: a handler parses the CDB, checks it, calls the device
//! below and returns a [`Response`]. Every error becomes a [`Sense`] through one table
//! ([`sense`]).
//!
//! ```text
//!  transport (iscsi) ── Command ──▶ Target::execute(lun, ..)
//!                                        │ REPORT LUNS, unknown LUNs
//!                                        ▼
//!                                  dyn LogicalUnit  = spc::Unit<D: Device>
//!                                        │ unit attentions, reservations, SPC commands
//!                                        ▼
//!                                  D: Device (sbc::Disk, later tape/changer)
//! ```
//!
//! [`cdb`] holds the field readers, data-in helpers and SPC operation codes every device
//! server uses, this crate's and those of other crates (the tape drive and medium changer
//! of `vsa-vtl`).
#![forbid(unsafe_code)]

pub mod cdb;
pub mod device;
pub(crate) mod param;
pub mod sbc;
pub mod selfcheck;
pub mod sense;
pub mod spc;
pub mod target;

pub use device::{
    Access, BlockDescriptorFormat, Device, Identity, OpcodeInfo, PageControl, UnitCtx,
};
pub use sense::{Sense, SenseKey};
pub use target::Target;
pub use vsa_blockdev::Bytes;

/// SCSI status codes (SAM-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    AcaActive = 0x30,
    TaskAborted = 0x40,
}

/// Task attribute of a command (SAM-5); the transport orders execution by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskAttr {
    #[default]
    Simple,
    Ordered,
    HeadOfQueue,
    Aca,
}

/// The I_T nexus a command arrived on: who is asking, through which target port.
///
/// Unit attentions and persistent reservations are kept per nexus; two sessions from the
/// same initiator with different ISIDs are two nexuses (multipath).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nexus {
    /// Initiator iSCSI name (IQN/EUI/NAA), as sent at login.
    pub initiator: String,
    /// The session's ISID (6 bytes, big-endian in the low 48 bits).
    pub isid: u64,
    /// Target iSCSI name.
    pub target: String,
    /// Target portal group tag (the relative target port identifier).
    pub tpgt: u16,
}

impl Nexus {
    /// The iSCSI initiator port name, `initiator,i,0xISID` (SPC-4 TransportID format 01b).
    pub fn initiator_port(&self) -> String {
        format!("{},i,0x{:012x}", self.initiator, self.isid)
    }

    /// The iSCSI target port name, `target,t,0xTPGT`.
    pub fn target_port(&self) -> String {
        format!("{},t,0x{:04x}", self.target, self.tpgt)
    }
}

/// One SCSI command as the transport hands it over: CDB, all of its data-out, and the
/// expected data transfer length the initiator announced.
#[derive(Debug, Clone, Copy)]
pub struct Command<'a> {
    /// The CDB (at least the length its opcode implies, up to 16 bytes or more for
    /// variable-length CDBs; shorter CDBs are rejected with INVALID FIELD IN CDB).
    pub cdb: &'a [u8],
    /// Data-out received from the initiator (at most the expected transfer length), as
    /// the transport holds it: a device that keeps it past the command (a tape drive's
    /// buffered write) takes a reference (`Bytes::slice`), not a copy.
    pub data_out: &'a Bytes,
    /// The initiator's expected data transfer length in bytes (for data-in: the most the
    /// transport may send back).
    pub expected_len: u32,
    /// The I_T nexus the command arrived on.
    pub nexus: &'a Nexus,
    /// Task attribute.
    pub attr: TaskAttr,
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    /// Data-in, already cut to the CDB's allocation length. The transport cuts it further
    /// to the expected transfer length and reports residuals.
    pub data: Vec<u8>,
    /// More data-in, after `data`: buffers the device handed out to be sent as they are
    /// (a READ served from the pool's RAM cache gets the cached pages, not a copy).
    pub shared: Vec<Bytes>,
    /// Sense data when the status is CHECK CONDITION, already encoded (fixed or descriptor
    /// format as the unit's D_SENSE says).
    pub sense: Option<Vec<u8>>,
    /// For commands with data-out: how many bytes the CDB asked the initiator to send, so
    /// the transport can report overflow/underflow residuals against the expected length.
    pub data_out_len: Option<u32>,
}

impl Response {
    /// GOOD status, no data.
    pub fn good() -> Self {
        Self::with_data(Vec::new())
    }

    /// GOOD status with data-in.
    pub fn with_data(data: Vec<u8>) -> Self {
        Self {
            status: Status::Good,
            data,
            shared: Vec::new(),
            sense: None,
            data_out_len: None,
        }
    }

    /// GOOD status with data-in in shared buffers, in order.
    pub fn with_shared(shared: Vec<Bytes>) -> Self {
        Self {
            shared,
            ..Self::good()
        }
    }

    /// Bytes of data-in (`data` and `shared`).
    pub fn data_len(&self) -> usize {
        self.data.len() + self.shared.iter().map(Bytes::len).sum::<usize>()
    }

    /// All the data-in in one buffer (a copy when some is shared).
    pub fn data_in(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.data_len());
        v.extend_from_slice(&self.data);
        for b in &self.shared {
            v.extend_from_slice(b);
        }
        v
    }

    /// A status other than GOOD or CHECK CONDITION, no data (RESERVATION CONFLICT, BUSY,
    /// TASK SET FULL, ...).
    pub fn status(status: Status) -> Self {
        Self {
            status,
            ..Self::good()
        }
    }

    /// CHECK CONDITION with `sense` encoded in fixed (`descriptor == false`) or descriptor
    /// format.
    pub fn check(sense: &Sense, descriptor: bool) -> Self {
        Self {
            status: Status::CheckCondition,
            sense: Some(sense.encode(descriptor)),
            ..Self::good()
        }
    }
}

/// Kinds of reset a logical unit sees (SAM-5 task management and events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reset {
    /// LOGICAL UNIT RESET task management function.
    LogicalUnit,
    /// TARGET WARM RESET.
    TargetWarm,
    /// TARGET COLD RESET (also clears what a power cycle would).
    TargetCold,
}

/// The SCSI device server the transport talks to. Implementations are safe to call from
/// many threads at once; `execute` may block on device I/O (the transport runs it on a
/// blocking pool).
pub trait LogicalUnit: Send + Sync + std::fmt::Debug {
    /// Executes one command.
    fn execute(&self, cmd: &Command<'_>) -> Response;

    /// Executes `cmd` only if that needs no waiting on storage or a contended lock (a
    /// READ whose data is in RAM), so the transport can run it on its own thread instead
    /// of handing it to a blocking pool. `None`: it would wait, nothing was done, and the
    /// caller runs [`execute`](Self::execute) where blocking is fine. The default: `None`.
    fn try_execute(&self, cmd: &Command<'_>) -> Option<Response> {
        let _ = cmd;
        None
    }

    /// Whether the unit's commands must execute in the order received, one at a time
    /// (sequential-access devices: a tape drive, a medium changer). The transport then
    /// treats SIMPLE tasks to this unit as ORDERED among the unit's own tasks, which SAM-5
    /// allows a device server to do. The default: false (commands may run concurrently).
    fn sequential(&self) -> bool {
        false
    }

    /// Applies a reset: clears what SAM-5 says it clears and raises the unit attentions it
    /// establishes. Aborting commands in flight is the transport's part.
    fn reset(&self, reset: Reset, from: &Nexus);

    /// Called when commands of `nexus` were aborted by another nexus (CLEAR TASK SET,
    /// PREEMPT AND ABORT), so the unit can raise COMMANDS CLEARED BY ANOTHER INITIATOR.
    fn tasks_cleared(&self, nexus: &Nexus, by: &Nexus) {
        let _ = (nexus, by);
    }

    /// Called when an I_T nexus ends (logout or dropped connection without reinstatement).
    fn nexus_lost(&self, nexus: &Nexus) {
        let _ = nexus;
    }

    /// Called when the transport aborts commands of `nexus` on this unit (ABORT TASK,
    /// ABORT TASK SET, CLEAR TASK SET, a reset), before it waits for them to stop. A
    /// command that only waits for an operation which goes on regardless (SANITIZE
    /// without IMMED) stops waiting, so the abort does not last as long as the operation.
    fn aborting(&self, nexus: &Nexus) {
        let _ = nexus;
    }
}
