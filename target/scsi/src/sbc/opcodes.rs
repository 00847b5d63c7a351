//! Everything the disk knows about its commands, in one table ([`ROWS`]): one row per
//! opcode (and service action where it matters) with its handler, the rule for how much
//! data-out the CDB asks for, its access class for reservation checks, the conditions of
//! the medium it runs under, and its CDB usage map for REPORT SUPPORTED OPERATION CODES
//! (a 1 for every bit the handler looks at).
//!
//! [`Disk`]'s `execute`, `access`, `opcodes` and `may_try` all read this table, so a
//! command cannot be served without an access class: an opcode without a row is not
//! served at all (INVALID COMMAND OPERATION CODE) and touches nothing.

use super::disk::Disk;
use crate::cdb::{byte, EXTENDED_COPY, PREVENT_ALLOW, RECEIVE_COPY_RESULTS};
use crate::{Access, Command, OpcodeInfo, Response, Sense, UnitCtx};

/// Operation codes of the SBC-4 commands this disk serves (SBC-4 table 13).
pub(crate) mod op {
    pub(crate) const READ_6: u8 = 0x08;
    pub(crate) const WRITE_6: u8 = 0x0A;
    pub(crate) const START_STOP_UNIT: u8 = 0x1B;
    pub(crate) const READ_CAPACITY_10: u8 = 0x25;
    pub(crate) const READ_10: u8 = 0x28;
    pub(crate) const WRITE_10: u8 = 0x2A;
    pub(crate) const WRITE_AND_VERIFY_10: u8 = 0x2E;
    pub(crate) const VERIFY_10: u8 = 0x2F;
    pub(crate) const PRE_FETCH_10: u8 = 0x34;
    pub(crate) const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    pub(crate) const READ_DEFECT_DATA_10: u8 = 0x37;
    pub(crate) const WRITE_SAME_10: u8 = 0x41;
    pub(crate) const UNMAP: u8 = 0x42;
    pub(crate) const SANITIZE: u8 = 0x48;
    pub(crate) const READ_16: u8 = 0x88;
    pub(crate) const COMPARE_AND_WRITE: u8 = 0x89;
    pub(crate) const WRITE_16: u8 = 0x8A;
    pub(crate) const ORWRITE_16: u8 = 0x8B;
    pub(crate) const WRITE_AND_VERIFY_16: u8 = 0x8E;
    pub(crate) const VERIFY_16: u8 = 0x8F;
    pub(crate) const PRE_FETCH_16: u8 = 0x90;
    pub(crate) const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    pub(crate) const WRITE_SAME_16: u8 = 0x93;
    pub(crate) const WRITE_ATOMIC_16: u8 = 0x9C;
    /// SERVICE ACTION IN (16): READ CAPACITY (16), GET LBA STATUS.
    pub(crate) const SERVICE_ACTION_IN_16: u8 = 0x9E;
    pub(crate) const READ_12: u8 = 0xA8;
    pub(crate) const WRITE_12: u8 = 0xAA;
    pub(crate) const WRITE_AND_VERIFY_12: u8 = 0xAE;
    pub(crate) const VERIFY_12: u8 = 0xAF;
    pub(crate) const READ_DEFECT_DATA_12: u8 = 0xB7;
}

use op::*;

/// How a row's service action (CDB byte 1, bits 4-0) selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sa {
    /// The opcode has no service action.
    None,
    /// This service action only; others of the opcode are not served (unless another row
    /// has them).
    Only(u8),
    /// This service action, listed in REPORT SUPPORTED OPERATION CODES; a service action
    /// of the opcode without a row of its own reaches this row's handler too, which
    /// rejects it with INVALID FIELD IN CDB.
    Checked(u8),
}

/// How a command touches the medium, for reservation checks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    /// Always this class.
    Always(Access),
    /// The class depends on CDB fields.
    Cdb(fn(&[u8]) -> Access),
}

/// How many bytes of data-out the CDB asks for (for residual reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOut {
    /// No data-out.
    None,
    /// TRANSFER LENGTH blocks (the READ/WRITE family of CDBs).
    Blocks,
    /// VERIFY: TRANSFER LENGTH blocks with BYTCHK 01b, one block with 11b, else none.
    Verify,
    /// COMPARE AND WRITE: twice NUMBER OF LOGICAL BLOCKS.
    CompareAndWrite,
    /// WRITE SAME: one block, none with NDOB.
    WriteSame,
    /// A 16-bit PARAMETER LIST LENGTH at byte 7.
    ParamList16At7,
    /// A 32-bit PARAMETER LIST LENGTH at byte 10.
    ParamList32At10,
}

/// The conditions of the medium a command runs under (besides a sanitize in progress,
/// which stops every command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Needs the medium: refused with the medium ejected or after a failed sanitize.
    Medium,
    /// Reports on the medium: refused with the medium ejected, served after a failed
    /// sanitize (SBC-4 4.11.5 lets these through the failure mode).
    Report,
    /// Handles the medium or results kept apart from it: served in either case.
    Housekeeping,
}

/// A handler, by the arguments it takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handler {
    Cdb(fn(&Disk, &[u8]) -> Result<Response, Sense>),
    Cmd(fn(&Disk, &Command<'_>) -> Result<Response, Sense>),
    Full(fn(&Disk, &Command<'_>, &UnitCtx) -> Result<Response, Sense>),
}

impl Handler {
    pub(crate) fn run(self, d: &Disk, c: &Command<'_>, ctx: &UnitCtx) -> Result<Response, Sense> {
        match self {
            Self::Cdb(f) => f(d, c.cdb),
            Self::Cmd(f) => f(d, c),
            Self::Full(f) => f(d, c, ctx),
        }
    }
}

/// A handler that serves a command only if it needs no waiting (`None`: it would wait,
/// nothing was done; see [`crate::Device::try_execute`]).
pub(crate) type TryHandler = fn(&Disk, &Command<'_>, &UnitCtx) -> Option<Result<Response, Sense>>;

/// A CDB usage map, by provisioning where it differs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Usage {
    /// The same map for thin and fully provisioned disks.
    Same(&'static [u8]),
    /// Different maps (the UNMAP bit of WRITE SAME).
    Provisioned {
        thin: &'static [u8],
        thick: &'static [u8],
    },
    /// Served by thin disks only (UNMAP).
    ThinOnly(&'static [u8]),
}

/// One command the disk serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) opcode: u8,
    pub(crate) sa: Sa,
    pub(crate) name: &'static str,
    pub(crate) access: Rule,
    pub(crate) handler: Handler,
    pub(crate) data_out: DataOut,
    pub(crate) gate: Gate,
    /// Serves the command without waiting, if it can.
    pub(crate) try_handler: Option<TryHandler>,
    pub(crate) usage: Usage,
}

impl Row {
    /// The class of `cdb` (a CDB this row matches).
    pub(crate) fn access(&self, cdb: &[u8]) -> Access {
        match self.access {
            Rule::Always(a) => a,
            Rule::Cdb(f) => f(cdb),
        }
    }

    /// The usage map for a thin (or fully provisioned) disk; `None`: not served.
    pub(crate) fn usage_map(&self, thin: bool) -> Option<&'static [u8]> {
        match self.usage {
            Usage::Same(m) => Some(m),
            Usage::Provisioned { thin: t, thick } => Some(if thin { t } else { thick }),
            Usage::ThinOnly(m) => thin.then_some(m),
        }
    }

    /// The service action REPORT SUPPORTED OPERATION CODES lists this row under.
    pub(crate) fn service_action(&self) -> Option<u8> {
        match self.sa {
            Sa::None => None,
            Sa::Only(sa) | Sa::Checked(sa) => Some(sa),
        }
    }

    fn matches_exactly(&self, cdb: &[u8]) -> bool {
        byte(cdb, 0) == self.opcode
            && self
                .service_action()
                .is_none_or(|sa| byte(cdb, 1) & 0x1F == sa)
    }

    const fn sa(self, sa: Sa) -> Self {
        Self { sa, ..self }
    }

    const fn data_out(self, data_out: DataOut) -> Self {
        Self { data_out, ..self }
    }

    const fn gate(self, gate: Gate) -> Self {
        Self { gate, ..self }
    }

    const fn usage(self, usage: Usage) -> Self {
        Self { usage, ..self }
    }

    /// The usage map, the same for every disk.
    const fn map(self, usage: &'static [u8]) -> Self {
        self.usage(Usage::Same(usage))
    }

    const fn access_by(self, f: fn(&[u8]) -> Access) -> Self {
        Self {
            access: Rule::Cdb(f),
            ..self
        }
    }

    const fn try_with(self, f: TryHandler) -> Self {
        Self {
            try_handler: Some(f),
            ..self
        }
    }
}

/// A row with no service action and no data-out, gated on the medium, not served without
/// waiting; the builder methods change that.
const fn row(opcode: u8, name: &'static str, access: Access, handler: Handler) -> Row {
    Row {
        opcode,
        sa: Sa::None,
        name,
        access: Rule::Always(access),
        handler,
        data_out: DataOut::None,
        gate: Gate::Medium,
        try_handler: None,
        usage: Usage::Same(&[]),
    }
}

/// The row serving `cdb`, if any.
pub(crate) fn find(cdb: &[u8]) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.matches_exactly(cdb)).or_else(|| {
        ROWS.iter()
            .find(|r| r.opcode == byte(cdb, 0) && matches!(r.sa, Sa::Checked(_)))
    })
}

/// How a CDB touches the medium (SBC-4 table "commands allowed in the presence of
/// reservations"). A service action without a row gets the most restrictive class of its
/// opcode's rows, so that a reservation never lets through what a row might write; an
/// opcode without rows is not served and gets [`Access::None`].
pub(crate) fn access(cdb: &[u8]) -> Access {
    if let Some(r) = find(cdb) {
        return r.access(cdb);
    }
    ROWS.iter()
        .filter(|r| r.opcode == byte(cdb, 0))
        .map(|r| r.access(cdb))
        .max_by_key(|a| match a {
            Access::None => 0,
            Access::Read => 1,
            Access::Write => 2,
        })
        .unwrap_or(Access::None)
}

/// Every command a thin (or fully provisioned) disk serves, for REPORT SUPPORTED
/// OPERATION CODES.
pub(crate) fn listing(thin: bool) -> Vec<OpcodeInfo> {
    ROWS.iter()
        .filter_map(|r| {
            Some(OpcodeInfo {
                opcode: r.opcode,
                service_action: r.service_action().map(u16::from),
                usage: r.usage_map(thin)?,
            })
        })
        .collect()
}

/// START STOP UNIT that only starts (START 1, LOEJ 0) is allowed under reservations.
fn start_stop_access(cdb: &[u8]) -> Access {
    if byte(cdb, 4) & 0x03 == 0x01 {
        Access::None
    } else {
        Access::Write
    }
}

/// ALLOW MEDIUM REMOVAL (PREVENT 00b) is allowed under reservations.
fn prevent_allow_access(cdb: &[u8]) -> Access {
    if byte(cdb, 4) & 0x03 == 0 {
        Access::None
    } else {
        Access::Write
    }
}

const F: u8 = 0xFF;
/// GROUP NUMBER.
const G: u8 = 0x3F;
/// DPO, FUA and the obsolete FUA_NV of READ/WRITE byte 1.
const DF: u8 = 0x1A;

const R: Access = Access::Read;
const W: Access = Access::Write;
const N: Access = Access::None;

const READ: Handler = Handler::Cdb(Disk::read);
const WRITE: Handler = Handler::Full(Disk::write);
const VERIFY: Handler = Handler::Cmd(Disk::verify);
const WRITE_VERIFY: Handler = Handler::Full(Disk::write_verify);
const SYNC: Handler = Handler::Cdb(Disk::synchronize_cache);
const PREFETCH: Handler = Handler::Cdb(Disk::prefetch);
const DEFECTS: Handler = Handler::Cdb(Disk::read_defect_data);
const ERASE: Handler = Handler::Full(Disk::sanitize);
const COPY_RESULTS: Handler = Handler::Cmd(Disk::receive_copy_results);
const WRITE_SAME: Handler = Handler::Full(Disk::write_same);

/// The disk's commands.
#[rustfmt::skip]
pub(crate) const ROWS: &[Row] = &[
    row(READ_6, "READ (6)", R, READ).try_with(Disk::try_read)
        .map(&[READ_6, 0x1F, F, F, F, 0]),
    row(READ_10, "READ (10)", R, READ).try_with(Disk::try_read)
        .map(&[READ_10, DF, F, F, F, F, G, F, F, 0]),
    row(READ_12, "READ (12)", R, READ).try_with(Disk::try_read)
        .map(&[READ_12, DF, F, F, F, F, F, F, F, F, G, 0]),
    row(READ_16, "READ (16)", R, READ).try_with(Disk::try_read)
        .map(&[READ_16, DF, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(WRITE_6, "WRITE (6)", W, WRITE).data_out(DataOut::Blocks).try_with(Disk::try_write)
        .map(&[WRITE_6, 0x1F, F, F, F, 0]),
    row(WRITE_10, "WRITE (10)", W, WRITE).data_out(DataOut::Blocks).try_with(Disk::try_write)
        .map(&[WRITE_10, DF, F, F, F, F, G, F, F, 0]),
    row(WRITE_12, "WRITE (12)", W, WRITE).data_out(DataOut::Blocks).try_with(Disk::try_write)
        .map(&[WRITE_12, DF, F, F, F, F, F, F, F, F, G, 0]),
    row(WRITE_16, "WRITE (16)", W, WRITE).data_out(DataOut::Blocks).try_with(Disk::try_write)
        .map(&[WRITE_16, DF, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(VERIFY_10, "VERIFY (10)", R, VERIFY).data_out(DataOut::Verify)
        .map(&[VERIFY_10, 0x16, F, F, F, F, G, F, F, 0]),
    row(VERIFY_12, "VERIFY (12)", R, VERIFY).data_out(DataOut::Verify)
        .map(&[VERIFY_12, 0x16, F, F, F, F, F, F, F, F, G, 0]),
    row(VERIFY_16, "VERIFY (16)", R, VERIFY).data_out(DataOut::Verify)
        .map(&[VERIFY_16, 0x16, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(WRITE_AND_VERIFY_10, "WRITE AND VERIFY (10)", W, WRITE_VERIFY).data_out(DataOut::Blocks)
        .map(&[WRITE_AND_VERIFY_10, 0x12, F, F, F, F, G, F, F, 0]),
    row(WRITE_AND_VERIFY_12, "WRITE AND VERIFY (12)", W, WRITE_VERIFY).data_out(DataOut::Blocks)
        .map(&[WRITE_AND_VERIFY_12, 0x12, F, F, F, F, F, F, F, F, G, 0]),
    row(WRITE_AND_VERIFY_16, "WRITE AND VERIFY (16)", W, WRITE_VERIFY).data_out(DataOut::Blocks)
        .map(&[WRITE_AND_VERIFY_16, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(ORWRITE_16, "ORWRITE (16)", W, Handler::Full(Disk::orwrite)).data_out(DataOut::Blocks)
        .map(&[ORWRITE_16, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(COMPARE_AND_WRITE, "COMPARE AND WRITE", W, Handler::Full(Disk::compare_and_write))
        .data_out(DataOut::CompareAndWrite)
        .map(&[COMPARE_AND_WRITE, 0x18, F, F, F, F, F, F, F, F, 0, 0, 0, F, G, 0]),
    row(WRITE_ATOMIC_16, "WRITE ATOMIC (16)", W, Handler::Full(Disk::write_atomic))
        .data_out(DataOut::Blocks)
        .map(&[WRITE_ATOMIC_16, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    // The UNMAP bits (and NDOB) of WRITE SAME are honoured by thin disks only.
    row(WRITE_SAME_10, "WRITE SAME (10)", W, WRITE_SAME).data_out(DataOut::WriteSame)
        .usage(Usage::Provisioned {
            thin:  &[WRITE_SAME_10, 0x08, F, F, F, F, G, F, F, 0],
            thick: &[WRITE_SAME_10, 0x00, F, F, F, F, G, F, F, 0],
        }),
    row(WRITE_SAME_16, "WRITE SAME (16)", W, WRITE_SAME).data_out(DataOut::WriteSame)
        .usage(Usage::Provisioned {
            thin:  &[WRITE_SAME_16, 0x09, F, F, F, F, F, F, F, F, F, F, F, F, G, 0],
            thick: &[WRITE_SAME_16, 0x01, F, F, F, F, F, F, F, F, F, F, F, F, G, 0],
        }),
    row(UNMAP, "UNMAP", W, Handler::Full(Disk::unmap)).data_out(DataOut::ParamList16At7)
        .usage(Usage::ThinOnly(&[UNMAP, 0, 0, 0, 0, 0, G, F, F, 0])),
    row(SYNCHRONIZE_CACHE_10, "SYNCHRONIZE CACHE (10)", W, SYNC)
        .map(&[SYNCHRONIZE_CACHE_10, 0x02, F, F, F, F, G, F, F, 0]),
    row(SYNCHRONIZE_CACHE_16, "SYNCHRONIZE CACHE (16)", W, SYNC)
        .map(&[SYNCHRONIZE_CACHE_16, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(PRE_FETCH_10, "PRE-FETCH (10)", R, PREFETCH)
        .map(&[PRE_FETCH_10, 0x02, F, F, F, F, G, F, F, 0]),
    row(PRE_FETCH_16, "PRE-FETCH (16)", R, PREFETCH)
        .map(&[PRE_FETCH_16, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, 0]),
    row(READ_CAPACITY_10, "READ CAPACITY (10)", N, Handler::Cdb(Disk::read_capacity10))
        .gate(Gate::Report)
        .map(&[READ_CAPACITY_10, 0, F, F, F, F, 0, 0, 0x01, 0]),
    row(SERVICE_ACTION_IN_16, "READ CAPACITY (16)", N, Handler::Cdb(Disk::read_capacity16))
        .sa(Sa::Only(0x10)).gate(Gate::Report)
        .map(&[SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0]),
    row(SERVICE_ACTION_IN_16, "GET LBA STATUS", R, Handler::Cdb(Disk::get_lba_status))
        .sa(Sa::Only(0x12))
        .map(&[SERVICE_ACTION_IN_16, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0]),
    row(READ_DEFECT_DATA_10, "READ DEFECT DATA (10)", R, DEFECTS).gate(Gate::Report)
        .map(&[READ_DEFECT_DATA_10, 0, 0x1F, 0, 0, 0, 0, F, F, 0]),
    row(READ_DEFECT_DATA_12, "READ DEFECT DATA (12)", R, DEFECTS).gate(Gate::Report)
        .map(&[READ_DEFECT_DATA_12, 0x1F, 0, 0, 0, 0, F, F, F, F, 0, 0]),
    row(START_STOP_UNIT, "START STOP UNIT", W, Handler::Cdb(Disk::start_stop))
        .access_by(start_stop_access).gate(Gate::Housekeeping)
        .map(&[START_STOP_UNIT, 0x01, 0, 0x0F, 0xF7, 0]),
    row(PREVENT_ALLOW, "PREVENT ALLOW MEDIUM REMOVAL", W, Handler::Cmd(Disk::prevent_allow))
        .access_by(prevent_allow_access).gate(Gate::Housekeeping)
        .map(&[PREVENT_ALLOW, 0, 0, 0, 0x03, 0]),
    row(SANITIZE, "SANITIZE (OVERWRITE)", W, ERASE)
        .sa(Sa::Checked(0x01)).data_out(DataOut::ParamList16At7).gate(Gate::Report)
        .map(&[SANITIZE, 0xA1, 0, 0, 0, 0, 0, F, F, 0]),
    row(SANITIZE, "SANITIZE (BLOCK ERASE)", W, ERASE)
        .sa(Sa::Checked(0x02)).data_out(DataOut::ParamList16At7).gate(Gate::Report)
        .map(&[SANITIZE, 0xA2, 0, 0, 0, 0, 0, F, F, 0]),
    row(SANITIZE, "SANITIZE (CRYPTOGRAPHIC ERASE)", W, ERASE)
        .sa(Sa::Checked(0x03)).data_out(DataOut::ParamList16At7).gate(Gate::Report)
        .map(&[SANITIZE, 0xA3, 0, 0, 0, 0, 0, F, F, 0]),
    row(SANITIZE, "SANITIZE (EXIT FAILURE MODE)", W, ERASE)
        .sa(Sa::Checked(0x1F)).data_out(DataOut::ParamList16At7).gate(Gate::Report)
        .map(&[SANITIZE, 0xBF, 0, 0, 0, 0, 0, F, F, 0]),
    row(EXTENDED_COPY, "EXTENDED COPY (LID1)", W, Handler::Full(Disk::extended_copy))
        .sa(Sa::Only(0x00)).data_out(DataOut::ParamList32At10)
        .map(&[EXTENDED_COPY, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0]),
    row(RECEIVE_COPY_RESULTS, "RECEIVE COPY RESULTS (COPY STATUS)", R, COPY_RESULTS)
        .sa(Sa::Checked(0x00)).gate(Gate::Housekeeping)
        .map(&[RECEIVE_COPY_RESULTS, 0x00, F, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0]),
    row(RECEIVE_COPY_RESULTS, "RECEIVE COPY RESULTS (OPERATING PARAMETERS)", R, COPY_RESULTS)
        .sa(Sa::Checked(0x03)).gate(Gate::Housekeeping)
        .map(&[RECEIVE_COPY_RESULTS, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0]),
];
