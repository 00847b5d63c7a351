//! [`TapeDrive`]: an LTO tape drive (SSC-4) as a [`vsa_scsi::Device`], reading and writing
//! the cartridges of a [`Store`].
//!
//! ```text
//!  mod.rs      the drive's state (cartridge, position, block mode), Device and DriveBay
//!  model.rs    IBM and HP identities, VPD pages
//!  rw.rs       READ(6), WRITE(6), WRITE FILEMARKS(6/16)
//!  motion.rs   SPACE(6/16), LOCATE(10/16), REWIND, LOAD UNLOAD, ERASE, READ POSITION
//!  pages.rs    mode pages, LOG SENSE, REPORT DENSITY SUPPORT, READ BLOCK LIMITS
//!  opcodes.rs  the opcode table (REPORT SUPPORTED OPERATION CODES, reservations)
//!  security.rs SECURITY PROTOCOL IN/OUT: tape data encryption
//!  sense.rs    the sense of each condition
//! ```

pub mod model;
mod motion;
mod opcodes;
mod pages;
mod rw;
mod security;
pub mod sense;
#[cfg(test)]
mod tests;

use crate::bay::DriveBay;
use crate::media::{CartridgeInfo, MediaKind};
use crate::store::{Store, Tape, TapeStats};
use model::DriveModel;
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;
use vsa_scsi::{
    Access, Command, Device, Nexus, OpcodeInfo, PageControl, Response, Sense, Status, UnitCtx,
};

/// The largest block the drive takes (READ BLOCK LIMITS), 8 MiB as LTO drives.
pub const MAX_BLOCK: u32 = 8 << 20;

/// A cartridge in the drive.
#[derive(Debug)]
pub(crate) struct Media {
    pub(crate) info: CartridgeInfo,
    /// Its records; `None` for a cleaning cartridge.
    pub(crate) tape: Option<Tape>,
    /// Threaded and ready (false after LOAD UNLOAD with LOAD 0: waiting for the robot).
    pub(crate) loaded: bool,
    /// The logical position: the number of the next object (0 is the beginning).
    pub(crate) pos: u64,
}

/// Counters of the drive since it was created (LOG SENSE and the API).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveCounters {
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub mounts: u64,
    pub positioning: u64,
    pub write_errors: u64,
    pub read_errors: u64,
    /// CHECK CONDITIONs the drive returned, by sense key.
    pub sense_keys: [u64; 16],
}

/// What commands change, behind one lock (commands to a drive run one at a time).
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) media: Option<Media>,
    /// Fixed block length; 0 is variable-block mode.
    pub(crate) block_len: u32,
    /// Buffered mode 1 (the default): WRITE may complete before the data is durable.
    pub(crate) buffered: bool,
    /// Data compression enabled (DCE).
    pub(crate) compression: bool,
    /// Nexuses preventing medium removal.
    pub(crate) prevent: BTreeSet<Nexus>,
    pub(crate) counters: DriveCounters,
    /// A unit attention to raise for every nexus.
    pub(crate) attention: Option<Sense>,
    /// Cleaning: the drive asks for it after this many mounts (0: never), or when told.
    pub(crate) cleaning: Cleaning,
    /// Data encryption parameters and keys (memory only).
    pub(crate) crypt: security::Crypt,
}

/// When the drive needs cleaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cleaning {
    pub(crate) every: u64,
    pub(crate) mounts_since: u64,
    pub(crate) requested: bool,
}

impl Cleaning {
    /// Whether TapeAlert raises its clean flags.
    pub(crate) fn due(&self) -> bool {
        self.requested || (self.every > 0 && self.mounts_since >= self.every)
    }
}

/// What the API shows of a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveStatus {
    pub model: DriveModel,
    pub serial: String,
    /// The cartridge in the drive, and whether it is loaded (ready).
    pub cartridge: Option<(String, bool)>,
    pub position: u64,
    /// The file number (filemarks before the position).
    pub file: u64,
    pub block_len: u32,
    pub compression: bool,
    pub tape: Option<TapeStats>,
    pub counters: DriveCounters,
    /// The drive asks to be cleaned (TapeAlert flags 20 and 21).
    pub cleaning_due: bool,
}

/// A tape drive: a handle, cloned for the SCSI unit that serves it and for the changer
/// that loads it.
#[derive(Debug, Clone)]
pub struct TapeDrive {
    shared: Arc<Shared>,
}

/// The drive itself.
#[derive(Debug)]
pub struct Shared {
    model: DriveModel,
    serial: String,
    store: Arc<Store>,
    state: Mutex<State>,
}

impl std::ops::Deref for TapeDrive {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl TapeDrive {
    /// An empty drive of `model` with serial number `serial`, reading and writing the
    /// cartridges of `store`.
    pub fn new(model: DriveModel, serial: &str, store: Arc<Store>) -> TapeDrive {
        let shared = Shared {
            model,
            serial: serial.to_owned(),
            store,
            state: Mutex::new(State {
                media: None,
                block_len: 0,
                buffered: true,
                compression: false,
                prevent: BTreeSet::new(),
                counters: DriveCounters::default(),
                attention: None,
                cleaning: Cleaning::default(),
                crypt: security::Crypt::default(),
            }),
        };
        TapeDrive {
            shared: Arc::new(shared),
        }
    }

    pub fn model(&self) -> DriveModel {
        self.model
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The drive's state for the API (writes still being cut counted as written).
    pub fn status(&self) -> DriveStatus {
        let st = self.state.lock();
        let m = st.media.as_ref();
        DriveStatus {
            model: self.model,
            serial: self.serial.clone(),
            cartridge: m.map(|m| (m.info.barcode.to_string(), m.loaded)),
            position: m.map_or(0, |m| m.pos),
            file: m
                .and_then(|m| m.tape.as_ref().map(|t| t.index().filemarks_before(m.pos)))
                .unwrap_or(0),
            block_len: st.block_len,
            compression: st.compression,
            tape: m.and_then(|m| m.tape.as_ref().map(Tape::stats)),
            counters: st.counters,
            cleaning_due: st.cleaning.due(),
        }
    }

    /// The drive asks for cleaning after `every` mounts (0: never by count).
    pub fn set_clean_every(&self, every: u64) {
        self.state.lock().cleaning.every = every;
    }

    /// The drive asks for cleaning now (until a cleaning cartridge is loaded).
    pub fn request_cleaning(&self) {
        self.state.lock().cleaning.requested = true;
    }

    /// Makes what the drive wrote durable (the daemon's shutdown).
    pub fn flush(&self) -> Result<(), crate::VtlError> {
        let mut st = self.state.lock();
        match st.media.as_mut().and_then(|m| m.tape.as_mut()) {
            Some(t) => t.sync(),
            None => Ok(()),
        }
    }
}

/// CHECK CONDITION with `sense` and data-in (a READ that stopped early returns what it
/// read).
pub(crate) fn check_with_data(ctx: &UnitCtx, sense: &Sense, data: Vec<u8>) -> Response {
    Response {
        data,
        ..ctx.check(sense)
    }
}

/// The loaded cartridge a command works on.
#[derive(Debug)]
pub(crate) struct Loaded<'a> {
    pub(crate) info: &'a CartridgeInfo,
    pub(crate) tape: &'a mut Tape,
    pub(crate) pos: &'a mut u64,
    /// How encrypted records are read.
    pub(crate) key: security::ReadKey<'a>,
}

/// Reports records of writes completed in buffered mode that could not be placed on the
/// cartridge (`e`, [`crate::VtlError::Deferred`]): the position becomes the end of data,
/// and the sense is a deferred error.
pub(crate) fn deferred(l: &mut Loaded<'_>, e: &crate::VtlError, lost: u64) -> Sense {
    tracing::error!(barcode = l.tape.barcode(), "{e}");
    *l.pos = l.tape.objects();
    sense::deferred_write_error(lost)
}

/// Places the loaded cartridge's queued writes (all of them, or with `all` false those
/// already cut), before a command that needs them placed; a deferred error if they
/// could not be.
pub(crate) fn settle(st: &mut State, all: bool) -> Result<(), Sense> {
    let Some(m) = st.media.as_mut() else {
        return Ok(());
    };
    let Some(tape) = m.tape.as_mut() else {
        return Ok(());
    };
    match tape.settle(all) {
        Ok(()) => Ok(()),
        Err(e) => {
            let lost = match &e {
                crate::VtlError::Deferred { lost, .. } => *lost,
                _ => 0,
            };
            st.counters.write_errors += 1;
            let mut l = Loaded {
                info: &m.info,
                tape,
                pos: &mut m.pos,
                key: security::ReadKey::default(),
            };
            Err(deferred(&mut l, &e, lost))
        }
    }
}

/// The cartridge, if one is loaded and the drive reads it, with its records.
pub(crate) fn ready<'a>(
    model: &DriveModel,
    media: &'a mut Option<Media>,
) -> Result<Loaded<'a>, Sense> {
    let m = media
        .as_mut()
        .filter(|m| m.loaded)
        .ok_or_else(sense::no_medium)?;
    if m.info.kind == MediaKind::Cleaning {
        return Err(sense::cleaning_installed());
    }
    if !model.generation.reads(m.info.generation) {
        return Err(sense::incompatible());
    }
    let Media {
        info, tape, pos, ..
    } = m;
    let tape = tape.as_mut().ok_or_else(sense::incompatible)?;
    Ok(Loaded {
        info,
        tape,
        pos,
        key: security::ReadKey::default(),
    })
}

impl Device for TapeDrive {
    fn peripheral_type(&self) -> u8 {
        0x01
    }

    fn sequential(&self) -> bool {
        true
    }

    fn removable(&self) -> bool {
        true
    }

    fn ready(&self) -> Result<(), Sense> {
        let st = self.state.lock();
        match st.media.as_ref().filter(|m| m.loaded) {
            None => Err(sense::no_medium()),
            Some(m) if m.info.kind == MediaKind::Cleaning => Err(sense::cleaning_installed()),
            Some(_) => Ok(()),
        }
    }

    fn vpd_pages(&self) -> &[u8] {
        &[0xB0, 0xB1]
    }

    fn vpd_page(&self, page: u8) -> Option<Vec<u8>> {
        match page {
            0xB0 => Some(model::vpd_b0()),
            0xB1 => Some(model::vpd_b1(&self.serial)),
            _ => None,
        }
    }

    fn version_descriptors(&self) -> &[u16] {
        // SSC-3 (no version claimed), SSC-4.
        &[0x0300, 0x0400]
    }

    fn mode_pages(&self) -> &[u8] {
        &pages::MODE_PAGES
    }

    fn mode_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        pages::mode_page(&self.state.lock(), page, pc)
    }

    fn mode_select(&self, page: u8, data: &[u8]) -> Result<(), Sense> {
        pages::mode_select(&mut self.state.lock(), page, data)
    }

    fn mode_device_specific(&self, write_protected: bool) -> u8 {
        let st = self.state.lock();
        let wp = write_protected
            || st.media.as_ref().is_some_and(|m| {
                m.info.write_protected || !self.model.generation.writes(m.info.generation)
            });
        (u8::from(wp) << 7) | (u8::from(st.buffered) << 4)
    }

    fn block_descriptor(&self) -> Option<(u64, u32)> {
        Some((0, self.state.lock().block_len))
    }

    fn density_code(&self) -> u8 {
        let st = self.state.lock();
        st.media
            .as_ref()
            .map_or(self.model.generation, |m| m.info.generation)
            .density_code()
    }

    fn mode_header_settable(&self) -> bool {
        true
    }

    fn select_mode_header(
        &self,
        device_specific: u8,
        desc: Option<(u8, u32)>,
    ) -> Result<(), Sense> {
        let buffered = match (device_specific >> 4) & 0x07 {
            0 => false,
            1 => true,
            _ => return Err(Sense::invalid_field_in_param(u16::MAX, None)),
        };
        let mut st = self.state.lock();
        if let Some((density, len)) = desc {
            let ok = density == 0
                || self
                    .model
                    .readable()
                    .iter()
                    .any(|g| g.density_code() == density);
            if !ok {
                return Err(Sense::invalid_field_in_param(0, None));
            }
            if len > MAX_BLOCK {
                return Err(Sense::invalid_field_in_param(5, None));
            }
            st.block_len = len;
        }
        st.buffered = buffered;
        Ok(())
    }

    fn opcodes(&self) -> &[OpcodeInfo] {
        opcodes::OPCODES
    }

    fn access(&self, cdb: &[u8]) -> Access {
        opcodes::access(cdb)
    }

    fn execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        let mut st = self.state.lock();
        let r = opcodes::dispatch(self, &mut st, cmd, ctx)?;
        let r = r.unwrap_or_else(|s| ctx.check(&s));
        if let Some(key) = sense_key(&r) {
            st.counters.sense_keys[usize::from(key)] += 1;
        }
        // What an initiator asked and what it got: the first thing to read when a
        // backup application and the drive disagree (RUST_LOG=vsa_vtl=debug).
        tracing::debug!(
            serial = %self.serial,
            cdb = %Hex(cmd.cdb),
            status = ?r.status,
            sense = %Hex(r.sense.as_deref().unwrap_or_default()),
            data_in = r.data.len(),
            position = st.media.as_ref().map_or(0, |m| m.pos),
            "tape command"
        );
        Some(r)
    }

    fn pending_attention(&self) -> Option<Sense> {
        self.state.lock().attention.take()
    }

    fn reset(&self) {
        let mut st = self.state.lock();
        st.prevent.clear();
        st.crypt.reset();
    }

    fn nexus_lost(&self, nexus: &Nexus) {
        let mut st = self.state.lock();
        st.prevent.remove(nexus);
        st.crypt.nexus_lost(nexus);
    }
}

impl DriveBay for TapeDrive {
    fn device_identifier(&self) -> Vec<u8> {
        self.model.device_identifier(&self.serial)
    }

    fn insert(&self, cartridge: &CartridgeInfo) -> Result<(), Sense> {
        let tape = match cartridge.kind {
            MediaKind::Cleaning => None,
            _ => Some(
                Tape::open(self.store.clone(), cartridge.barcode.as_str()).map_err(|e| {
                    tracing::error!(barcode = %cartridge.barcode, "cannot open the cartridge: {e}");
                    Sense::internal_failure()
                })?,
            ),
        };
        let mut st = self.state.lock();
        if st.media.is_some() {
            return Err(Sense::new(vsa_scsi::SenseKey::IllegalRequest, 0x3B, 0x0D));
        }
        // A cleaning cartridge cleans the drive as it loads, and the drive unloads it for
        // the robot to take back.
        let cleaning = cartridge.kind == MediaKind::Cleaning;
        st.media = Some(Media {
            info: cartridge.clone(),
            tape,
            loaded: !cleaning,
            pos: 0,
        });
        st.counters.mounts += 1;
        if cleaning {
            st.cleaning.mounts_since = 0;
            st.cleaning.requested = false;
        } else {
            st.cleaning.mounts_since += 1;
        }
        st.attention = Some(sense::medium_changed());
        Ok(())
    }

    fn remove(&self) -> Result<(), Sense> {
        let mut st = self.state.lock();
        if !st.prevent.is_empty() {
            return Err(sense::removal_prevented());
        }
        if let Some(t) = st.media.as_mut().and_then(|m| m.tape.as_mut()) {
            t.sync().map_err(|e| {
                tracing::error!(barcode = t.barcode(), "cannot save the cartridge: {e}");
                Sense::internal_failure()
            })?;
        }
        st.media = None;
        st.crypt.demounted();
        Ok(())
    }

    fn unloaded(&self) -> bool {
        self.state.lock().media.as_ref().is_some_and(|m| !m.loaded)
    }
}

/// The sense key of a CHECK CONDITION (fixed or descriptor format).
fn sense_key(r: &Response) -> Option<u8> {
    let s = r.sense.as_ref()?;
    let key = match s.first()? & 0x7F {
        0x70 | 0x71 => s.get(2)?,
        _ => s.get(1)?,
    };
    Some(key & 0x0F)
}

/// Bytes as hex digits, for the log.
struct Hex<'a>(&'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// GOOD with no data: the status of a command that did what it was asked.
pub(crate) fn good() -> Response {
    Response::status(Status::Good)
}
