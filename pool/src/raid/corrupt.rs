//! Blocks that come back from a member but fail their checksum (the member keeps
//! checksums: [`vsa_blockdev::BlockDevice::checksum_granularity`]). The member is not
//! failed for it: the set reads the block from redundancy instead (another mirror copy,
//! or parity and the other columns), returns that, and writes it back over the bad copy
//! under the stripe lock. Each such block is counted against its member; a member past
//! [`RaidSet::checksum_error_limit`] is failed like one with I/O errors (a spare takes its
//! place). Without redundancy (RAID 0, or too many bad copies) the read fails with
//! [`ErrorKind::Corrupt`], which the SCSI layer reports as a medium error: never wrong data.

use super::io::{self, ReadOp, WriteOp};
use super::layout::Segment;
use super::members::View;
use super::{tolerates, RaidLevel, RaidSet};
use std::sync::atomic::Ordering;
use vsa_blockdev::{BlockError, ErrorKind, Op};

impl RaidSet {
    /// Sorts the failures of member reads: I/O errors fail their members (as
    /// [`RaidSet::handle_failures`] does); checksum mismatches are returned as the members
    /// to avoid and repair. On RAID 0 a mismatch is the read's error.
    pub(crate) fn sort_read_failures(
        &self,
        view: &[View],
        failures: Vec<io::Failure>,
    ) -> Result<Vec<usize>, BlockError> {
        let (corrupt, other): (Vec<_>, Vec<_>) = failures
            .into_iter()
            .partition(|(_, e)| e.kind() == ErrorKind::Corrupt);
        self.handle_failures(view, other)?;
        let mut bad = Vec::new();
        for (m, e) in corrupt {
            if self.layout.level == RaidLevel::Raid0 {
                self.count_error(view, m);
                return Err(e.with_device(view[m].name.to_string()));
            }
            bad.push(m);
        }
        Ok(bad)
    }

    /// `[from, to)` within a chunk, widened to whole units of what member writes must
    /// cover (the members' checksum unit, or the block size); a widened range stays inside
    /// its chunk, as chunks are multiples of the unit.
    pub(crate) fn widen(&self, from: u64, to: u64) -> (u64, u64) {
        let u = self.unit;
        (from / u * u, to.div_ceil(u) * u)
    }

    /// Counts a bad block found on member `m`; fails the member past the limit if the set
    /// can do without it.
    pub(crate) fn count_error(&self, view: &[View], m: usize) {
        let n = view[m].errors.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= self.checksum_error_limit || self.layout.level == RaidLevel::Raid0 {
            return;
        }
        let snapshot = self.members.view();
        let missing: Vec<usize> = (0..snapshot.len())
            .filter(|&i| i == m || !snapshot[i].writable())
            .collect();
        if !tolerates(self.layout.level, snapshot.len(), &missing) {
            return;
        }
        let why = format!(
            "{n} blocks failed their checksums (more than {}); its data is rebuilt from the others",
            self.checksum_error_limit
        );
        if let Err(e) = self
            .members
            .fail(&*self.journal, m, Some(&view[m].dev), &why)
        {
            tracing::error!(member = %view[m].name, "cannot record the member's failure: {e}");
        }
    }

    /// Records a repaired bad block: counted and logged.
    pub(crate) fn repaired(&self, view: &[View], m: usize, member_offset: u64, len: u64) {
        // The lookup walks the volume maps: bounded per member like the errors themselves
        // (past the limit the member is failed, where the set can do without it).
        let holds = if view[m].errors.load(Ordering::Relaxed) < self.checksum_error_limit {
            self.locate(m, member_offset)
        } else {
            format!(
                "not looked up past {} errors on this member",
                self.checksum_error_limit
            )
        };
        tracing::warn!(
            member = %view[m].name,
            index = m,
            member_offset,
            len,
            holds = holds.as_str(),
            "repaired blocks that failed their checksums from redundancy"
        );
        self.count_error(view, m);
    }

    /// The error for data no good copy of which is left.
    pub(crate) fn unrecoverable(&self, op: Op, offset: u64, len: u64) -> BlockError {
        BlockError::new(ErrorKind::Corrupt, op, offset, len).with_detail(format!(
            "every copy of this range failed its checksum (or the copies that could rebuild it are missing); the {} set cannot give back its data",
            self.layout.level.name()
        ))
    }

    /// Rewrites mirror member `m`'s part of segment `seg` (widened to whole units) from
    /// another copy, under the stripe lock.
    pub(crate) fn repair_copy(&self, seg: &Segment, m: usize) -> Result<(), BlockError> {
        let chunk = self.layout.chunk;
        let base = seg.stripe * chunk;
        let (from, to) = self.widen(seg.within, seg.within + seg.len);
        self.with_stripes(seg.stripe, seg.stripe, |view| {
            let mut buf = vec![0u8; (to - from) as usize];
            let sources = self
                .layout
                .copies(seg.stripe, seg.col)
                .filter(|&k| k != m && view[k].readable(base + to));
            for k in sources {
                let ops = vec![ReadOp {
                    member: k,
                    offset: base + from,
                    buf: &mut buf,
                }];
                if io::read(view, ops).is_empty() {
                    let failures = io::write(
                        view,
                        vec![WriteOp {
                            member: m,
                            offset: base + from,
                            buf: &buf,
                        }],
                    );
                    self.handle_failures(view, failures)?;
                    self.repaired(view, m, base + from, to - from);
                    return Ok(());
                }
            }
            Err(self.unrecoverable(Op::Read, base + from, to - from))
        })
    }
}
