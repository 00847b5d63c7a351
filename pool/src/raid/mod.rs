//! RAID sets: levels 0, 1, 5, 6 and 10 over member [`BlockDevice`]s, themselves a
//! [`BlockDevice`].
//!
//! ```text
//!  RaidSet ── BlockDevice: read_at / write_at / flush / unmap
//!    ├─ layout.rs       address → (stripe, column, member); parity rotation
//!    ├─ mirror.rs       RAID 0/1/10 I/O        parity.rs   RAID 5/6 I/O (gf256.rs math)
//!    ├─ io.rs           per-member grouping, merging and parallel execution
//!    ├─ stripe_lock.rs  per-stripe locks       journal.rs  dirty-region log, saved state
//!    ├─ members.rs      member states, failure handling, spares
//!    └─ rebuild.rs, scrub.rs (scrub and resync)
//! ```
//!
//! Writes to redundant levels happen under the stripe lock after the region is marked
//! dirty in the [`RaidJournal`]; a member that returns an I/O error is marked faulty and
//! the set carries on degraded, reconstructing reads from the survivors.

mod corrupt;
mod error;
pub mod gf256;
mod io;
mod journal;
mod layout;
mod members;
mod mirror;
mod parity;
mod rebuild;
mod scrub;
mod stripe_lock;
#[cfg(test)]
mod tests;

pub use error::RaidError;
pub use journal::{MemJournal, RaidJournal, REGION_SIZE};
pub use scrub::{RepairedRange, ScrubReport, LISTED_REPAIRS};

use journal::DirtyTracker;
use layout::Layout;
use members::{tolerates, Members, View};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use stripe_lock::StripeLocks;
use vsa_blockdev::{check_range, BlockDevice, BlockError, ErrorKind, Op};

/// A RAID level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RaidLevel {
    /// Striping, no redundancy.
    Raid0,
    /// N-way mirroring.
    Raid1,
    /// Striping with rotating XOR parity.
    Raid5,
    /// Striping with rotating P and Q parity.
    Raid6,
    /// Striping over mirrored pairs.
    Raid10,
}

impl RaidLevel {
    /// The fewest members the level works with.
    pub fn min_members(self) -> usize {
        match self {
            RaidLevel::Raid0 | RaidLevel::Raid1 => 2,
            RaidLevel::Raid5 => 3,
            RaidLevel::Raid6 | RaidLevel::Raid10 => 4,
        }
    }

    /// How many members of a set of `members` may fail without losing data (for RAID 10,
    /// one per pair).
    pub fn redundancy(self, members: usize) -> usize {
        match self {
            RaidLevel::Raid0 => 0,
            RaidLevel::Raid1 => members.saturating_sub(1),
            RaidLevel::Raid5 => 1,
            RaidLevel::Raid6 => 2,
            RaidLevel::Raid10 => 1,
        }
    }

    /// The name people read, e.g. "RAID 6".
    pub fn name(self) -> &'static str {
        match self {
            RaidLevel::Raid0 => "RAID 0",
            RaidLevel::Raid1 => "RAID 1",
            RaidLevel::Raid5 => "RAID 5",
            RaidLevel::Raid6 => "RAID 6",
            RaidLevel::Raid10 => "RAID 10",
        }
    }
}

impl std::fmt::Display for RaidLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RaidLevel::Raid0 => "raid0",
            RaidLevel::Raid1 => "raid1",
            RaidLevel::Raid5 => "raid5",
            RaidLevel::Raid6 => "raid6",
            RaidLevel::Raid10 => "raid10",
        })
    }
}

/// A string that names no RAID level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a RAID level; use one of 0, 1, 5, 6, 10 (or raid0, raid1, raid5, raid6, raid10)"
)]
pub struct ParseRaidLevelError(String);

impl std::str::FromStr for RaidLevel {
    type Err = ParseRaidLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t
            .strip_prefix("raid")
            .unwrap_or(&t)
            .trim_start_matches([' ', '-']);
        match t {
            "0" => Ok(RaidLevel::Raid0),
            "1" => Ok(RaidLevel::Raid1),
            "5" => Ok(RaidLevel::Raid5),
            "6" => Ok(RaidLevel::Raid6),
            "10" | "1+0" => Ok(RaidLevel::Raid10),
            _ => Err(ParseRaidLevelError(s.to_string())),
        }
    }
}

/// The state of a member slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// In service.
    Active,
    /// Failed (or failed by the administrator); not read or written.
    Faulty,
    /// Being rebuilt: written normally, read only below the watermark.
    Rebuilding {
        /// Bytes of the member's data area already rebuilt.
        rebuilt: u64,
    },
    /// A hot spare (listed in [`RaidState::spares`], never in a slot).
    Spare,
}

/// A member device and its name (a path, a serial number).
#[derive(Debug, Clone)]
pub struct RaidMember {
    /// The name shown to people and saved in the state.
    pub name: String,
    /// The device.
    pub dev: Arc<dyn BlockDevice>,
}

/// What the pool persists about a set's members.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RaidState {
    /// Member names and states, in index order.
    pub members: Vec<(String, MemberState)>,
    /// Names of the hot spares.
    pub spares: Vec<String>,
}

/// One member in a [`RaidStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberInfo {
    /// Slot index.
    pub index: usize,
    /// Device name.
    pub name: String,
    /// State.
    pub state: MemberState,
    /// Blocks that failed their checksums on this member since the set opened (each read
    /// back from redundancy and rewritten, or reported as unrecoverable).
    pub checksum_errors: u64,
}

/// A report of a set's health and geometry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaidStatus {
    /// Level.
    pub level: RaidLevel,
    /// Chunk size in bytes.
    pub chunk_size: u32,
    /// Usable bytes per member.
    pub member_size: u64,
    /// Bytes the set stores.
    pub capacity: u64,
    /// The members, in index order.
    pub members: Vec<MemberInfo>,
    /// Hot spares.
    pub spares: Vec<String>,
    /// Some member is not active.
    pub degraded: bool,
    /// More members are missing than the level tolerates.
    pub failed: bool,
    /// Some member waits for (or is in) a rebuild.
    pub needs_rebuild: bool,
    /// Some regions were left dirty by an unclean stop.
    pub needs_resync: bool,
    /// The members keep checksums of their blocks.
    pub checksums: bool,
}

/// A RAID set: see the module documentation.
#[derive(Debug)]
pub struct RaidSet {
    layout: Layout,
    block_size: u32,
    members: Members,
    locks: StripeLocks,
    dirty: DirtyTracker,
    journal: Arc<dyn RaidJournal>,
    /// Member writes cover whole units of this many bytes (the members' checksum unit).
    unit: u64,
    /// The members keep checksums: every level tracks dirty regions then, so their
    /// checksums can be recomputed after an unclean stop.
    checksums: bool,
    /// Blocks failing their checksums one member may show before it is failed.
    pub checksum_error_limit: u64,
    /// Names what the set's byte offset holds (a volume and its offset), for the log of
    /// repaired blocks; set once by the owner of the set.
    locator: LocatorCell,
}

/// See [`RaidSet::set_locator`].
pub type Locator = Box<dyn Fn(u64) -> Option<String> + Send + Sync>;

#[derive(Default)]
struct LocatorCell(std::sync::OnceLock<Locator>);

impl std::fmt::Debug for LocatorCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Locator"
        } else {
            "no Locator"
        })
    }
}

const MAX_CHUNK: u32 = 16 << 20;

/// The default of [`RaidSet::checksum_error_limit`]: 1024 blocks (4 MiB of 4 KiB blocks)
/// since the set opened, a member whose medium is failing rather than one with a few
/// flipped bits.
pub const CHECKSUM_ERROR_LIMIT: u64 = 1024;

impl RaidSet {
    /// Flushes the members, then cleans the dirty regions idle since the flush before (or
    /// every idle one if `settle`: a clean stop, after which nothing needs a resync).
    fn flush_members(&self, settle: bool) -> vsa_blockdev::Result<()> {
        let idle = self.dirty.idle();
        let view = self.members.view();
        let live: Vec<usize> = (0..view.len()).filter(|&i| view[i].writable()).collect();
        let failures = io::each_member(&view, live, |v| v.dev.flush());
        self.handle_failures(&view, failures)?;
        let view = self.members.view();
        let missing: Vec<usize> = (0..view.len()).filter(|&i| !view[i].writable()).collect();
        if !tolerates(self.layout.level, view.len(), &missing) {
            return Err(self.failed_error(Op::Flush, 0, 0));
        }
        self.dirty
            .clean(&*self.journal, &idle, settle, || self.save_checksums(&view))
    }

    /// Installs `f`, which names what a byte offset of the set holds (the volume and its
    /// offset there), for the log lines of repaired blocks. It must not block on I/O of
    /// this set: it may be called while a read of the set waits for it. Only the first
    /// call takes effect.
    pub fn set_locator(&self, f: Locator) {
        let _ = self.locator.0.set(f);
    }

    /// What member `m`'s byte `member_offset` holds, for people: parity, or what the
    /// locator says of the data there.
    pub(crate) fn locate(&self, m: usize, member_offset: u64) -> String {
        let chunk = self.layout.chunk;
        let s = member_offset / chunk;
        let c = match self.layout.role(s, m) {
            layout::Role::Data(c) => c as u64,
            layout::Role::P | layout::Role::Q => return "parity".into(),
        };
        let Some(f) = self.locator.0.get() else {
            return "unknown".into();
        };
        let cols = self.layout.data_cols() as u64;
        f((s * cols + c) * chunk + member_offset % chunk)
            .unwrap_or_else(|| "unknown (the volume metadata was busy)".into())
    }

    /// Saves the checksums of every writable member (after a flush of the members).
    pub(crate) fn save_checksums(&self, view: &[View]) -> vsa_blockdev::Result<()> {
        for v in view.iter().filter(|v| v.writable()) {
            v.dev.save_checksums()?;
        }
        Ok(())
    }

    /// Flushes and leaves no idle region dirty: for a clean stop.
    pub fn settle(&self) -> vsa_blockdev::Result<()> {
        self.flush_members(true)
    }

    /// Builds a set over `members` given in index order. `states`: `None` for a brand-new
    /// set (all active), `Some` when reopening (the journal's saved [`RaidState`]).
    /// `assume_clean`: for a new set whose members are known to read as zeros; otherwise
    /// every region is marked dirty so that [`RaidSet::resync`] makes it consistent.
    pub fn open(
        level: RaidLevel,
        chunk_size: u32,
        members: Vec<RaidMember>,
        spares: Vec<RaidMember>,
        states: Option<Vec<MemberState>>,
        assume_clean: bool,
        journal: Arc<dyn RaidJournal>,
    ) -> Result<RaidSet, RaidError> {
        let n = members.len();
        if n < level.min_members() {
            return Err(RaidError::TooFewMembers {
                level,
                min: level.min_members(),
                got: n,
            });
        }
        if level == RaidLevel::Raid10 && n % 2 != 0 {
            return Err(RaidError::OddMemberCount { got: n });
        }
        let block_size = members[0].dev.block_size();
        if !chunk_size.is_power_of_two()
            || !(4096..=MAX_CHUNK).contains(&chunk_size)
            || chunk_size % block_size != 0
        {
            return Err(RaidError::InvalidChunkSize {
                chunk_size,
                block_size,
            });
        }
        let chunk = u64::from(chunk_size);
        for m in members.iter().chain(&spares) {
            if m.dev.block_size() != block_size {
                return Err(RaidError::BlockSizeMismatch {
                    name: m.name.clone(),
                    size: m.dev.block_size(),
                    expected: block_size,
                });
            }
            if m.dev.size() < chunk {
                return Err(RaidError::ZeroSizedMember {
                    name: m.name.clone(),
                    chunk_size,
                });
            }
        }
        let member_size = members.iter().map(|m| m.dev.size()).min().unwrap_or(0) / chunk * chunk;
        for s in &spares {
            check_size(s, member_size)?;
        }
        let is_new = states.is_none();
        let states = match states {
            Some(s) if s.len() != n => {
                return Err(RaidError::StateMismatch {
                    states: s.len(),
                    members: n,
                })
            }
            Some(s) => s,
            None => vec![MemberState::Active; n],
        };
        let layout = Layout {
            level,
            members: n,
            chunk,
            member_size,
        };
        let units: Vec<Option<u32>> = members
            .iter()
            .chain(&spares)
            .map(|m| m.dev.checksum_granularity())
            .collect();
        let checksums = units.iter().any(Option::is_some);
        let unit = units
            .iter()
            .map(|u| u64::from(u.unwrap_or(block_size)))
            .max()
            .unwrap_or(u64::from(block_size));
        if chunk % unit != 0 {
            return Err(RaidError::InvalidChunkSize {
                chunk_size,
                block_size: unit as u32,
            });
        }
        let redundant = level != RaidLevel::Raid0 || checksums;
        let dirty = if redundant {
            DirtyTracker::with_resync(journal.dirty_regions()?)
        } else {
            DirtyTracker::default()
        };
        let set = RaidSet {
            layout,
            block_size,
            members: Members::new(members.into_iter().zip(states).collect(), spares),
            locks: StripeLocks::default(),
            dirty,
            journal,
            unit,
            checksums,
            checksum_error_limit: CHECKSUM_ERROR_LIMIT,
            locator: LocatorCell::default(),
        };
        if redundant && !assume_clean && is_new {
            let regions: Vec<u64> = (0..member_size.div_ceil(REGION_SIZE)).collect();
            set.dirty.require_resync(&*set.journal, &regions)?;
        }
        set.journal.save_state(&set.members.state())?;
        Ok(set)
    }

    /// The level.
    pub fn level(&self) -> RaidLevel {
        self.layout.level
    }

    /// The chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.layout.chunk as u32
    }

    /// Geometry and health.
    pub fn status(&self) -> RaidStatus {
        let view = self.members.view();
        let missing: Vec<usize> = (0..view.len())
            .filter(|&i| view[i].state != MemberState::Active)
            .collect();
        let needs_rebuild = view
            .iter()
            .any(|v| matches!(v.state, MemberState::Rebuilding { .. }));
        RaidStatus {
            level: self.layout.level,
            chunk_size: self.chunk_size(),
            member_size: self.layout.member_size,
            capacity: self.layout.capacity(),
            members: view
                .iter()
                .enumerate()
                .map(|(index, v)| MemberInfo {
                    index,
                    name: v.name.to_string(),
                    state: v.state,
                    checksum_errors: v.errors.load(std::sync::atomic::Ordering::Relaxed),
                })
                .collect(),
            spares: self.members.spare_names(),
            degraded: !missing.is_empty(),
            failed: !tolerates(self.layout.level, view.len(), &missing),
            needs_rebuild,
            needs_resync: !self.dirty.pending_resync().is_empty(),
            checksums: self.checksums,
        }
    }

    /// Whether some member waits for a rebuild.
    pub fn needs_rebuild(&self) -> bool {
        self.status().needs_rebuild
    }

    fn check_index(&self, index: usize) -> Result<(), RaidError> {
        if index >= self.layout.members {
            return Err(RaidError::NoSuchMember {
                index,
                last: self.layout.members - 1,
            });
        }
        Ok(())
    }

    /// Missing members if `index` were gone too, or an error if the set would fail.
    fn check_can_lose(&self, index: usize, action: &str) -> Result<(), RaidError> {
        let view = self.members.view();
        let mut missing: Vec<usize> = (0..view.len())
            .filter(|&i| i != index && view[i].state != MemberState::Active)
            .collect();
        missing.push(index);
        if tolerates(self.layout.level, view.len(), &missing) {
            return Ok(());
        }
        Err(RaidError::NotRedundant {
            level: self.layout.level,
            action: action.to_string(),
            reason: format!(
                "without member {} ({}) no complete copy of the data would remain",
                index, view[index].name
            ),
        })
    }

    /// Fails member `index` (an administrator's action); a spare takes its place if there
    /// is one. Refused if the set could not survive without it.
    pub fn fail_member(&self, index: usize) -> Result<(), RaidError> {
        self.check_index(index)?;
        self.check_can_lose(index, &format!("fail member {index}"))?;
        self.members
            .fail(&*self.journal, index, None, "failed by the administrator")?;
        Ok(())
    }

    /// Replaces member `index` with `new`, which is rebuilt by [`RaidSet::rebuild`].
    pub fn replace_member(&self, index: usize, new: RaidMember) -> Result<(), RaidError> {
        self.check_index(index)?;
        self.check_member(&new)?;
        if self.members.view()[index].state != MemberState::Faulty {
            self.check_can_lose(index, &format!("replace member {index}"))?;
        }
        // Under the lock of every stripe would be too much; a write racing the swap is
        // covered because the new member starts at watermark 0 and rebuild locks stripes.
        self.members.replace(&*self.journal, index, new)?;
        Ok(())
    }

    /// Adds a hot spare; if a member is faulty the spare replaces it at once.
    pub fn add_spare(&self, dev: RaidMember) -> Result<(), RaidError> {
        self.check_member(&dev)?;
        self.members.add_spare(&*self.journal, dev)?;
        Ok(())
    }

    fn check_member(&self, m: &RaidMember) -> Result<(), RaidError> {
        if m.dev.block_size() != self.block_size {
            return Err(RaidError::BlockSizeMismatch {
                name: m.name.clone(),
                size: m.dev.block_size(),
                expected: self.block_size,
            });
        }
        check_size(m, self.layout.member_size)
    }

    /// Records member failures from an I/O; errors that are not member failures (and any
    /// failure on RAID 0, which has no redundancy) are returned.
    fn handle_failures(&self, view: &[View], failures: Vec<io::Failure>) -> Result<(), BlockError> {
        for (m, e) in failures {
            // A write that found the blocks it keeps corrupt did not happen: the member no
            // longer holds the data, like after an I/O error. (The set writes whole
            // checksum units, so this is not expected.)
            let member_failed = matches!(
                e.kind(),
                ErrorKind::Io | ErrorKind::DeviceFailed | ErrorKind::Corrupt
            );
            if !member_failed || self.layout.level == RaidLevel::Raid0 {
                return Err(e.with_device(view[m].name.to_string()));
            }
            self.members
                .fail(&*self.journal, m, Some(&view[m].dev), &e.to_string())?;
        }
        Ok(())
    }

    /// The error for I/O the surviving members cannot serve.
    fn failed_error(&self, op: Op, offset: u64, len: u64) -> BlockError {
        let view = self.members.view();
        let gone: Vec<String> = view
            .iter()
            .enumerate()
            .filter(|(_, v)| v.state != MemberState::Active)
            .map(|(i, v)| format!("{} ({i}, {:?})", v.name, v.state))
            .collect();
        BlockError::new(ErrorKind::DeviceFailed, op, offset, len).with_detail(format!(
            "{} set has too few working members for this range: members {} are missing and {} survives the loss of at most {} member(s); replace the failed members and restore from backup",
            self.layout.level.name(),
            gone.join(", "),
            self.layout.level.name(),
            self.layout.level.redundancy(self.layout.members),
        ))
    }

    /// Regions of the stripes `first..=last`.
    fn regions(&self, first: u64, last: u64) -> std::ops::RangeInclusive<u64> {
        let c = self.layout.chunk;
        first * c / REGION_SIZE..=last * c / REGION_SIZE
    }

    /// Runs `f` with stripes `first..=last` locked and (for redundant levels) their regions
    /// marked dirty, passing a member snapshot taken under the lock.
    fn with_stripes<T>(
        &self,
        first: u64,
        last: u64,
        f: impl FnOnce(&[View]) -> Result<T, BlockError>,
    ) -> Result<T, BlockError> {
        let _guard = self.locks.lock(first, last);
        let redundant = self.layout.level != RaidLevel::Raid0 || self.checksums;
        let regions = self.regions(first, last);
        if redundant {
            for (i, r) in regions.clone().enumerate() {
                if let Err(e) = self.dirty.begin(&*self.journal, r) {
                    for done in regions.clone().take(i) {
                        self.dirty.end(done);
                    }
                    return Err(e);
                }
            }
        }
        let view = self.members.view();
        let out = f(&view);
        if redundant {
            for r in regions {
                self.dirty.end(r);
            }
        }
        out
    }

    /// Stripes per batch so that one batch moves about `bytes` of data.
    fn batch_stripes(&self, bytes: u64) -> u64 {
        (bytes / self.layout.stripe_width()).clamp(1, StripeLocks::MAX_SPAN)
    }
}

fn check_size(m: &RaidMember, needed: u64) -> Result<(), RaidError> {
    if m.dev.size() < needed {
        return Err(RaidError::MemberTooSmall {
            name: m.name.clone(),
            size: m.dev.size(),
            needed,
        });
    }
    Ok(())
}

impl BlockDevice for RaidSet {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn size(&self) -> u64 {
        self.layout.capacity()
    }

    /// The data stripe: whole stripes are written without reading anything first (RAID
    /// 5/6), and on RAID 0/10 a stripe's worth keeps every member busy.
    fn io_granularity(&self) -> u64 {
        match self.layout.level {
            RaidLevel::Raid1 => u64::from(self.block_size),
            _ => self.layout.stripe_width(),
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> vsa_blockdev::Result<()> {
        check_range(self, Op::Read, offset, buf.len() as u64)?;
        if self.layout.is_parity() {
            self.parity_read(buf, offset)
        } else {
            self.mirror_read(buf, offset)
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> vsa_blockdev::Result<()> {
        check_range(self, Op::Write, offset, buf.len() as u64)?;
        let batch = self.batch_stripes(4 << 20) * self.layout.stripe_width();
        let mut done = 0u64;
        while done < buf.len() as u64 {
            // Batches end on stripe boundaries.
            let pos = offset + done;
            let end = ((pos / batch + 1) * batch).min(offset + buf.len() as u64);
            let piece = &buf[done as usize..(end - offset) as usize];
            if self.layout.is_parity() {
                self.parity_write(piece, pos)?;
            } else {
                self.mirror_write(piece, pos)?;
            }
            done = end - offset;
        }
        Ok(())
    }

    fn flush(&self) -> vsa_blockdev::Result<()> {
        self.flush_members(false)
    }

    fn unmap(&self, offset: u64, len: u64) -> vsa_blockdev::Result<()> {
        check_range(self, Op::Unmap, offset, len)?;
        self.unmap_range(offset, len)
    }
}
