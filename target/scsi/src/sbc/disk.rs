//! [`Disk`]: the SBC-4 direct-access device over one [`BlockDevice`], its options and its
//! volatile state (medium loaded, removal prevented, sanitize, copy results).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use vsa_blockdev::BlockDevice;

use super::lock::RangeLocks;
use super::opcodes::{self, op, DataOut, Gate, Row};
use super::sanitizer::{SanitizeState, Sanitizer};
use super::vpd::Limits;
use super::xcopy::CopyStatus;
use crate::cdb;
use crate::{
    Access, BlockDescriptorFormat, Command, Device, Nexus, OpcodeInfo, PageControl, Response,
    Sense, UnitCtx,
};

/// Finds the block device behind a logical unit by the NAA designator its VPD page 0x83
/// reports (the 16-byte NAA 6 value of [`crate::Identity::naa`]), for EXTENDED COPY
/// between logical units. The appliance implements it over all of its LUNs.
pub trait CopyTargets: Send + Sync + fmt::Debug {
    /// The device named by `naa_designator`, if this copy manager may reach it.
    fn lookup(&self, naa_designator: &[u8]) -> Option<Arc<dyn BlockDevice>>;
}

/// A [`CopyTargets`] that knows no other logical unit (a disk then copies only within
/// itself).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCopyTargets;

impl CopyTargets for NoCopyTargets {
    fn lookup(&self, _naa_designator: &[u8]) -> Option<Arc<dyn BlockDevice>> {
        None
    }
}

/// How a [`Disk`] presents its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskOptions {
    /// Removable medium (RMB): START STOP UNIT can eject and load it, PREVENT ALLOW
    /// MEDIUM REMOVAL can lock it.
    pub removable: bool,
    /// Thin provisioned: LBPME in READ CAPACITY (16), UNMAP and WRITE SAME with UNMAP
    /// release blocks through [`BlockDevice::unmap`], GET LBA STATUS reports
    /// [`BlockDevice::allocation`]. A fully provisioned disk refuses UNMAP.
    pub thin: bool,
    /// This unit's own NAA designator (as in VPD page 0x83), so EXTENDED COPY finds the
    /// disk itself without asking the [`CopyTargets`].
    pub naa: [u8; 16],
}

impl Default for DiskOptions {
    fn default() -> Self {
        Self {
            removable: false,
            thin: true,
            naa: [0; 16],
        }
    }
}

/// Geometry and limits of a [`Disk`]; [`Disk::new`] uses the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTuning {
    /// Logical blocks per physical block as a power of two (LBPPBE in READ CAPACITY
    /// (16)); also the optimal unmap granularity and the granularity GET LBA STATUS
    /// reports in. Default 3: 4 KiB physical blocks for 512-byte logical blocks.
    pub physical_block_exponent: u8,
    /// The largest transfer of one command in bytes (MAXIMUM TRANSFER LENGTH of the
    /// Block Limits VPD page, in whole blocks). Default 16 MiB.
    pub max_transfer_bytes: u32,
    /// The initial write cache setting (WCE in the caching mode page). With WCE off,
    /// every write is flushed before it completes. Default on.
    pub write_cache: bool,
    /// How fast SANITIZE OVERWRITE may write, in bytes per second (0: unlimited), so a
    /// sanitize does not take the pool's whole bandwidth from other volumes. Default
    /// 16 MiB/s.
    pub sanitize_bytes_per_sec: u64,
}

impl Default for DiskTuning {
    fn default() -> Self {
        Self {
            physical_block_exponent: 3,
            max_transfer_bytes: 16 << 20,
            write_cache: true,
            sanitize_bytes_per_sec: 16 << 20,
        }
    }
}

/// Medium state of a removable disk.
#[derive(Debug, Default)]
pub(crate) struct Medium {
    pub(crate) ejected: bool,
    /// The nexuses that hold a PREVENT MEDIUM REMOVAL (SBC-4 5.13: any one prevents).
    pub(crate) preventing: BTreeSet<Nexus>,
}

/// An SBC-4 disk over a [`BlockDevice`]; serve it through [`crate::spc::Unit`].
pub struct Disk {
    pub(crate) dev: Arc<dyn BlockDevice>,
    pub(crate) opts: DiskOptions,
    pub(crate) tuning: DiskTuning,
    pub(crate) copy: Arc<dyn CopyTargets>,
    pub(crate) bs: u32,
    pub(crate) limits: Limits,
    opcodes: Vec<OpcodeInfo>,
    vpd_list: Vec<u8>,
    pub(crate) medium: Mutex<Medium>,
    pub(crate) wce: AtomicBool,
    pub(crate) sanitize: Arc<Sanitizer>,
    capacity_seen: AtomicU64,
    /// Whether THIN PROVISIONING SOFT THRESHOLD REACHED was reported for the current
    /// low-space episode (cleared when space is no longer low).
    low_space_reported: AtomicBool,
    pub(crate) locks: Arc<RangeLocks>,
    pub(crate) copies: Mutex<HashMap<(String, u8), CopyStatus>>,
}

impl Drop for Disk {
    /// A sanitize still running stops: nobody can reach the disk any more.
    fn drop(&mut self) {
        self.sanitize.stop();
    }
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("dev", &self.dev)
            .field("opts", &self.opts)
            .field("block_size", &self.bs)
            .finish_non_exhaustive()
    }
}

impl Disk {
    /// A disk over `dev`, presenting it as `opts` says; `copy` resolves other logical
    /// units for EXTENDED COPY.
    pub fn new(dev: Arc<dyn BlockDevice>, opts: DiskOptions, copy: Arc<dyn CopyTargets>) -> Self {
        Self::with_tuning(dev, opts, DiskTuning::default(), copy)
    }

    /// A disk with the geometry and limits of `tuning`.
    pub fn with_tuning(
        dev: Arc<dyn BlockDevice>,
        opts: DiskOptions,
        tuning: DiskTuning,
        copy: Arc<dyn CopyTargets>,
    ) -> Self {
        let bs = dev.block_size().max(1);
        let limits = Limits::new(&opts, &tuning, bs);
        let capacity = dev.size() / u64::from(bs);
        Self {
            opcodes: opcodes::listing(opts.thin),
            vpd_list: vec![0x8F, 0xB0, 0xB1, 0xB2],
            wce: AtomicBool::new(tuning.write_cache),
            tuning,
            dev,
            copy,
            bs,
            limits,
            opts,
            medium: Mutex::new(Medium::default()),
            sanitize: Arc::default(),
            capacity_seen: AtomicU64::new(capacity),
            low_space_reported: AtomicBool::new(false),
            locks: Arc::default(),
            copies: Mutex::new(HashMap::new()),
        }
    }

    /// The block device served.
    pub fn device(&self) -> &Arc<dyn BlockDevice> {
        &self.dev
    }

    /// The capacity in logical blocks, as of now (a pool volume may grow).
    pub(crate) fn blocks(&self) -> u64 {
        self.dev.size() / u64::from(self.bs)
    }

    /// Logical blocks per physical block.
    pub(crate) fn lbppb(&self) -> u64 {
        1u64 << self.tuning.physical_block_exponent.min(15)
    }

    /// Fails with LOGICAL BLOCK ADDRESS OUT OF RANGE unless `[lba, lba + n)` lies on the
    /// medium.
    pub(crate) fn check_range(&self, lba: u64, n: u64) -> Result<(), Sense> {
        match lba.checked_add(n) {
            Some(end) if end <= self.blocks() && lba <= self.blocks() => Ok(()),
            _ => Err(Sense::lba_out_of_range()),
        }
    }

    /// Byte offset of `lba`.
    pub(crate) fn offset(&self, lba: u64) -> u64 {
        lba.saturating_mul(u64::from(self.bs))
    }

    /// Byte length of `n` blocks, as a buffer size.
    pub(crate) fn bytes(&self, n: u64) -> usize {
        usize::try_from(n.saturating_mul(u64::from(self.bs))).unwrap_or(usize::MAX)
    }

    /// Flushes the device, mapping a failure to sense data.
    pub(crate) fn flush(&self, lba: u64) -> Result<(), Sense> {
        self.dev
            .flush()
            .map_err(|e| Sense::from_block_error(&e, lba, true))
    }

    /// Whether a write must reach stable storage before it completes (FUA, or the write
    /// cache is off).
    pub(crate) fn must_flush(&self, fua: bool) -> bool {
        fua || !self.wce.load(Ordering::Relaxed)
    }

    /// Refuses commands the medium cannot take now: during a sanitize, after a failed
    /// one, and with the medium ejected (as `gate` allows).
    fn gate(&self, gate: Gate) -> Result<(), Sense> {
        if let Some(s) = self.sanitize.in_progress() {
            return Err(s);
        }
        let housekeeping = gate == Gate::Housekeeping;
        if self.medium.lock().ejected && !housekeeping {
            return Err(Sense::medium_not_present());
        }
        let failed = self.sanitize.state() == SanitizeState::Failed;
        if failed && gate == Gate::Medium {
            return Err(Sense::sanitize_failed());
        }
        Ok(())
    }

    /// How many bytes of data-out the CDB asks for (for residual reporting).
    fn data_out_len(&self, rule: DataOut, cdb: &[u8]) -> Option<u32> {
        let blocks = |n: u64| Some(u32::try_from(self.bytes(n)).unwrap_or(u32::MAX));
        match rule {
            DataOut::None => None,
            DataOut::Blocks => blocks(super::rw::transfer_length(cdb)),
            DataOut::Verify => match (cdb::byte(cdb, 1) >> 1) & 0x03 {
                0x01 => blocks(super::rw::transfer_length(cdb)),
                0x03 => blocks(1),
                _ => Some(0),
            },
            DataOut::CompareAndWrite => blocks(2 * u64::from(cdb::byte(cdb, 13))),
            DataOut::WriteSame
                if cdb::byte(cdb, 0) == op::WRITE_SAME_16 && cdb::byte(cdb, 1) & 0x01 != 0 =>
            {
                Some(0)
            }
            DataOut::WriteSame => blocks(1),
            DataOut::ParamList16At7 => Some(u32::from(cdb::be16(cdb, 7))),
            DataOut::ParamList32At10 => Some(cdb::be32(cdb, 10)),
        }
    }

    /// The row of a command this disk serves (UNMAP only when thin).
    fn row(&self, cdb: &[u8]) -> Option<&'static Row> {
        opcodes::find(cdb).filter(|r| r.usage_map(self.opts.thin).is_some())
    }
}

impl Device for Disk {
    fn peripheral_type(&self) -> u8 {
        0x00
    }

    fn removable(&self) -> bool {
        self.opts.removable
    }

    fn ready(&self) -> Result<(), Sense> {
        if let Some(s) = self.sanitize.in_progress() {
            return Err(s);
        }
        if self.sanitize.state() == SanitizeState::Failed {
            return Err(Sense::sanitize_failed());
        }
        if self.medium.lock().ejected {
            return Err(Sense::medium_not_present());
        }
        Ok(())
    }

    fn vpd_pages(&self) -> &[u8] {
        &self.vpd_list
    }

    fn vpd_page(&self, page: u8) -> Option<Vec<u8>> {
        self.vpd(page)
    }

    fn version_descriptors(&self) -> &[u16] {
        // SBC-3 (no version claimed), SBC-4 (no version claimed).
        &[0x04C0, 0x0600]
    }

    fn mode_pages(&self) -> &[u8] {
        &[0x08]
    }

    fn mode_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        self.caching_page(page, pc)
    }

    fn mode_select(&self, page: u8, data: &[u8]) -> Result<(), Sense> {
        self.select_caching_page(page, data)
    }

    fn mode_device_specific(&self, write_protected: bool) -> u8 {
        // WP, and DPOFUA: the DPO and FUA bits are supported.
        if write_protected {
            0x90
        } else {
            0x10
        }
    }

    fn block_descriptor(&self) -> Option<(u64, u32)> {
        Some((self.blocks(), self.bs))
    }

    fn block_descriptor_format(&self) -> BlockDescriptorFormat {
        BlockDescriptorFormat::ShortLba
    }

    fn opcodes(&self) -> &[OpcodeInfo] {
        &self.opcodes
    }

    fn access(&self, cdb: &[u8]) -> Access {
        opcodes::access(cdb)
    }

    fn execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        let row = self.row(cmd.cdb)?;
        let out_len = self.data_out_len(row.data_out, cmd.cdb);
        let result = self
            .gate(row.gate)
            .and_then(|()| row.handler.run(self, cmd, ctx));
        let mut response = match result {
            Ok(r) => r,
            Err(sense) => {
                tracing::debug!(command = row.name, key = ?sense.key, asc = sense.asc,
                    ascq = sense.ascq, "command failed");
                ctx.check(&sense)
            }
        };
        response.data_out_len = out_len;
        Some(response)
    }

    fn may_try(&self, opcode: u8) -> bool {
        opcodes::ROWS
            .iter()
            .any(|r| r.opcode == opcode && r.try_handler.is_some())
    }

    fn try_execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        let row = self.row(cmd.cdb)?;
        let try_handler = row.try_handler?;
        let result = match self.gate(row.gate) {
            Ok(()) => try_handler(self, cmd, ctx)?,
            Err(s) => Err(s),
        };
        let mut response = result.unwrap_or_else(|sense| ctx.check(&sense));
        response.data_out_len = self.data_out_len(row.data_out, cmd.cdb);
        Some(response)
    }

    fn overriding_condition(&self) -> Option<Sense> {
        self.sanitize.in_progress()
    }

    fn pending_attention(&self) -> Option<Sense> {
        let now = self.blocks();
        let before = self.capacity_seen.swap(now, Ordering::SeqCst);
        if before != now {
            return Some(Sense::capacity_changed());
        }
        // Thin provisioning soft threshold (SBC-4 4.7.3.7): once per time the pool
        // crosses below its low-space threshold.
        if !self.opts.thin {
            return None;
        }
        if self.dev.space_low() {
            (!self.low_space_reported.swap(true, Ordering::SeqCst))
                .then(Sense::soft_threshold_reached)
        } else {
            self.low_space_reported.store(false, Ordering::SeqCst);
            None
        }
    }

    fn reset(&self) {
        self.medium.lock().preventing.clear();
    }

    fn aborting(&self, nexus: &Nexus) {
        self.sanitize.release(nexus);
    }

    fn nexus_lost(&self, nexus: &Nexus) {
        self.sanitize.release(nexus);
        self.medium.lock().preventing.remove(nexus);
        let port = nexus.initiator_port();
        self.copies.lock().retain(|(p, _), _| *p != port);
    }
}
