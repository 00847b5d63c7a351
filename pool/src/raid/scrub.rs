//! Scrub (verify every stripe, repair what can be repaired) and resync (make the regions
//! an unclean stop left dirty consistent again). Both walk member ranges in batches under
//! the stripe locks, so they run while the set serves I/O.

use super::io::{self, WriteOp};
use super::members::View;
use super::{gf256, RaidError, RaidSet, REGION_SIZE};
use crate::progress::{Progress, Throttle};
use serde::Serialize;
use vsa_blockdev::{BlockError, ErrorKind};

/// How many repaired ranges a [`ScrubReport`] lists; more are only counted.
pub const LISTED_REPAIRS: usize = 64;

/// A member range a scrub rewrote because it was wrong or unreadable there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairedRange {
    /// The member's name (its path).
    pub member: String,
    /// Where the range starts on the member, in bytes past its label area.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// What a scrub found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    /// Member bytes read and checked.
    pub bytes_checked: u64,
    /// Stripe chunks whose copies or parity disagreed.
    pub mismatches: u64,
    /// Mismatches repaired knowing which copy was right (RAID 6 syndrome, RAID 1 majority).
    pub repaired: u64,
    /// Mismatches made consistent without knowing which copy was right. RAID 1 with two
    /// copies, RAID 10 and RAID 5 can see that copies or parity disagree but not which one
    /// is wrong, so repair copies the first active mirror over the others, or recomputes
    /// parity from the data: the set is consistent again, but the data kept may be the bad
    /// copy.
    pub repaired_unverified: u64,
    /// Mismatches that could not be attributed (RAID 6 with more than one bad chunk in a
    /// stripe). With repair, parity is recomputed from the data.
    pub unrecoverable: u64,
    /// Member reads that failed; the chunks were reconstructed and rewritten.
    pub read_errors: u64,
    /// The member ranges repair rewrote, adjacent ones merged, in the order found; at
    /// most [`LISTED_REPAIRS`].
    pub repairs: Vec<RepairedRange>,
    /// Repaired ranges past those listed.
    pub repairs_not_listed: u64,
}

impl ScrubReport {
    /// Notes that repair rewrote `len` bytes of `member` at `offset`: merged into a range
    /// of that member it continues, else listed while there is room, else counted.
    fn note_repair(&mut self, member: &str, offset: u64, len: u64) {
        let next = self
            .repairs
            .iter_mut()
            .rev()
            .find(|r| r.member == member && r.offset + r.len == offset);
        if let Some(r) = next {
            r.len += len;
        } else if self.repairs.len() < LISTED_REPAIRS {
            self.repairs.push(RepairedRange {
                member: member.to_owned(),
                offset,
                len,
            });
        } else {
            self.repairs_not_listed += 1;
        }
    }
}

/// What a pass does with each stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Verify only.
    Check,
    /// Verify and repair.
    Repair,
    /// After a crash: the data is authoritative; rewrite parity and copies from it.
    Resync,
}

impl RaidSet {
    /// Reads every stripe, verifies mirror copies or P/Q, counts mismatches, and with
    /// `repair` fixes them (see [`ScrubReport`]). Paced at `bytes_per_sec` (0: unlimited).
    pub fn scrub(
        &self,
        repair: bool,
        progress: &Progress,
        bytes_per_sec: u64,
    ) -> Result<ScrubReport, RaidError> {
        let mode = if repair { Mode::Repair } else { Mode::Check };
        let size = self.layout.member_size;
        progress.start(size, 0);
        let mut throttle = Throttle::new(bytes_per_sec);
        let mut report = ScrubReport::default();
        let step = self.batch_bytes();
        let mut pos = 0;
        while pos < size && !progress.is_cancelled() {
            let end = (pos + step).min(size);
            self.check_batch(pos, end, mode, &mut report)?;
            progress.advance(end - pos);
            throttle.pace(end - pos);
            pos = end;
        }
        progress.finish();
        Ok(report)
    }

    /// Makes the regions left dirty by an unclean stop consistent (P/Q recomputed from the
    /// data, mirrors copied from the first readable copy) and marks them clean. Returns the
    /// number of regions fixed.
    pub fn resync(&self, progress: &Progress) -> Result<u64, RaidError> {
        let regions = self.dirty.pending_resync();
        let size = self.layout.member_size;
        let span = |r: u64| {
            (
                (r * REGION_SIZE).min(size),
                ((r + 1) * REGION_SIZE).min(size),
            )
        };
        progress.start(regions.iter().map(|&r| span(r).1 - span(r).0).sum(), 0);
        let step = self.batch_bytes();
        let mut report = ScrubReport::default();
        let mut fixed = 0;
        for r in regions {
            let (start, stop) = span(r);
            // Blocks written since the last flush may have reached the medium without their
            // checksums (or the reverse): what the members hold now is taken as correct.
            let view = self.members.view();
            let live: Vec<usize> = (0..view.len()).filter(|&m| view[m].writable()).collect();
            let failures =
                io::each_member(&view, live, |v| v.dev.resync_checksums(start, stop - start));
            self.handle_failures(&view, failures)?;
            let mut pos = start;
            while pos < stop {
                if progress.is_cancelled() {
                    progress.finish();
                    return Ok(fixed);
                }
                let end = (pos + step).min(stop);
                self.check_batch(pos, end, Mode::Resync, &mut report)?;
                progress.advance(end - pos);
                pos = end;
            }
            let view = self.members.view();
            let live: Vec<usize> = (0..view.len()).filter(|&m| view[m].writable()).collect();
            let failures = io::each_member(&view, live, |v| v.dev.flush());
            self.handle_failures(&view, failures)?;
            self.save_checksums(&self.members.view())?;
            self.dirty.resynced(&*self.journal, r)?;
            fixed += 1;
        }
        progress.finish();
        Ok(fixed)
    }

    /// Checks (and per `mode` repairs) member range `[pos, end)` of every stripe in it.
    fn check_batch(
        &self,
        pos: u64,
        end: u64,
        mode: Mode,
        report: &mut ScrubReport,
    ) -> Result<(), BlockError> {
        let chunk = self.layout.chunk;
        let (s0, s1) = (pos / chunk, (end - 1) / chunk);
        let _guard = self.locks.lock(s0, s1);
        let view = self.members.view();
        let (mut bufs, failures) = io::read_members(&view, pos, end);
        // Unreadable members: reconstruct their range and rewrite it (below). Members with
        // blocks failing their checksums: found unit by unit, rebuilt the same way.
        let mut unreadable = Vec::new();
        let mut bad: Vec<(usize, u64)> = Vec::new();
        for (m, e) in failures {
            if e.kind() == ErrorKind::Corrupt {
                self.find_bad_units(&view, m, pos, end, &mut bufs, &mut bad);
                continue;
            }
            tracing::warn!(member = %view[m].name, "scrub read failed: {e}");
            report.read_errors += 1;
            bufs[m] = None;
            unreadable.push(m);
        }
        report.bytes_checked += bufs.iter().flatten().map(|b| b.len() as u64).sum::<u64>();
        let mut writes: Vec<(usize, u64, Vec<u8>)> = Vec::new();
        for s in s0..=s1 {
            let at = ((s * chunk).max(pos) - pos) as usize;
            let to = (((s + 1) * chunk).min(end) - pos) as usize;
            let (from, to_off) = (pos + at as u64, pos + to as u64);
            let bad_count = bad.iter().filter(|b| (from..to_off).contains(&b.1)).count() as u64;
            if bad_count > 0 || !unreadable.is_empty() {
                // Degraded here: restore unreadable chunks and blocks that failed their
                // checksums, unit by unit, from the members good there.
                report.mismatches += bad_count;
                if mode == Mode::Check {
                    continue;
                }
                writes.extend(self.rebuild_units(
                    &view,
                    s,
                    (from, to_off),
                    &bufs,
                    pos,
                    &bad,
                    &unreadable,
                    report,
                ));
                continue;
            }
            let slice: Vec<Option<Vec<u8>>> = bufs
                .iter()
                .map(|b| b.as_ref().map(|b| b[at..to].to_vec()))
                .collect();
            if slice.iter().any(Option::is_none) {
                // A member missing here (failed, or not rebuilt this far): nothing to
                // compare against.
                continue;
            }
            let chunks: Vec<Vec<u8>> = slice.into_iter().flatten().collect();
            let fixes = if self.layout.is_parity() {
                self.check_parity(s, chunks, mode, report)
            } else {
                self.check_mirrors(s, &chunks, mode, report)
            };
            writes.extend(fixes.into_iter().map(|(m, b)| (m, from, b)));
        }
        if mode == Mode::Repair {
            for (m, off, b) in writes.iter().filter(|w| view[w.0].writable()) {
                report.note_repair(&view[*m].name, *off, b.len() as u64);
            }
        }
        self.apply(&view, writes)
    }

    /// Re-reads member `m`'s part of `[pos, end)` unit by unit into its buffer, and notes
    /// the units (member offsets) whose blocks fail their checksums (or cannot be read).
    pub(crate) fn find_bad_units(
        &self,
        view: &[View],
        m: usize,
        pos: u64,
        end: u64,
        bufs: &mut [Option<Vec<u8>>],
        bad: &mut Vec<(usize, u64)>,
    ) {
        let Some(buf) = bufs[m].as_mut() else {
            return;
        };
        let mut u = pos;
        while u < end {
            let to = (u + self.unit).min(end);
            let piece = &mut buf[(u - pos) as usize..(to - pos) as usize];
            if view[m].dev.read_at(piece, u).is_err() {
                bad.push((m, u));
            }
            u = to;
        }
    }

    /// Rebuilds stripe `s`'s member range `[from, to)` unit by unit, each unit from the
    /// members good there; returns `(member, offset, bytes)` rewrites of the bad and
    /// unreadable members, and counts what it repaired or could not.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rebuild_units(
        &self,
        view: &[View],
        s: u64,
        (from, to): (u64, u64),
        bufs: &[Option<Vec<u8>>],
        pos: u64,
        bad: &[(usize, u64)],
        targets: &[usize],
        report: &mut ScrubReport,
    ) -> Vec<(usize, u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut u = from;
        while u < to {
            let e = (u + self.unit).min(to);
            let bad_here: Vec<usize> = bad.iter().filter(|b| b.1 == u).map(|b| b.0).collect();
            let slice: Vec<Option<Vec<u8>>> = bufs
                .iter()
                .enumerate()
                .map(|(m, b)| {
                    let b = b
                        .as_ref()
                        .filter(|_| !bad_here.contains(&m) && !targets.contains(&m))?;
                    Some(b[(u - pos) as usize..(e - pos) as usize].to_vec())
                })
                .collect();
            if bad_here.is_empty() && targets.is_empty() {
                u = e;
                continue;
            }
            match self.stripe_contents(s, slice) {
                Some(full) => {
                    for &m in targets.iter().chain(&bad_here) {
                        out.push((m, u, full[m].clone()));
                    }
                    for &m in &bad_here {
                        report.repaired += 1;
                        self.repaired(view, m, u, e - u);
                    }
                }
                None => {
                    tracing::error!(stripe = s, member_offset = u, "blocks failed their checksums where no good copy is left; that data is lost");
                    report.unrecoverable += 1;
                }
            }
            u = e;
        }
        out
    }

    fn apply(&self, view: &[View], writes: Vec<(usize, u64, Vec<u8>)>) -> Result<(), BlockError> {
        let ops = writes
            .iter()
            .filter(|(m, _, _)| view[*m].writable())
            .map(|(m, off, b)| WriteOp {
                member: *m,
                offset: *off,
                buf: b,
            })
            .collect();
        let failures = io::write(view, ops);
        self.handle_failures(view, failures)
    }

    /// Verifies one stripe's P (and Q); returns the member rewrites to make.
    fn check_parity(
        &self,
        s: u64,
        mut chunks: Vec<Vec<u8>>,
        mode: Mode,
        report: &mut ScrubReport,
    ) -> Vec<(usize, Vec<u8>)> {
        let cols = self.layout.data_cols();
        let data: Vec<Vec<u8>> = (0..cols)
            .map(|c| std::mem::take(&mut chunks[self.layout.data_member(s, c)]))
            .collect();
        let (p2, q2) = self.compute_parity(&data);
        let pm = self.layout.p_member(s);
        let qm = self.layout.q_member(s);
        let p_bad = chunks[pm] != p2;
        let q_bad = self.raid6() && chunks[qm] != q2;
        if !p_bad && !q_bad {
            return Vec::new();
        }
        if self.checksums && mode != Mode::Resync {
            // Every block matched its checksum, so the data is right and P (or Q) is stale:
            // a write that reached the data but not the parity.
            report.mismatches += 1;
            if mode == Mode::Repair {
                report.repaired += 1;
                let mut out = vec![(pm, p2)];
                if self.raid6() {
                    out.push((qm, q2));
                }
                return out;
            }
            return Vec::new();
        }
        if mode == Mode::Resync {
            let mut out = vec![(pm, p2)];
            if self.raid6() {
                out.push((qm, q2));
            }
            return out;
        }
        report.mismatches += 1;
        let repair = mode == Mode::Repair;
        let recompute = |p2: Vec<u8>, q2: Vec<u8>| {
            let mut out = vec![(pm, p2)];
            if self.raid6() {
                out.push((qm, q2));
            }
            out
        };
        if !self.raid6() {
            if repair {
                report.repaired_unverified += 1;
                return recompute(p2, q2);
            }
            return Vec::new();
        }
        match (p_bad, q_bad) {
            (true, false) | (false, true) => {
                // Only one of P and Q is wrong: the data agrees with the other, so it is good.
                if repair {
                    report.repaired += 1;
                    return recompute(p2, q2);
                }
                Vec::new()
            }
            _ => {
                let mut dp = chunks[pm].clone();
                gf256::xor_into(&mut dp, &p2);
                let mut dq = chunks[qm].clone();
                gf256::xor_into(&mut dq, &q2);
                match locate(&dp, &dq, cols) {
                    Some(z) => {
                        if repair {
                            report.repaired += 1;
                            let mut fixed = data[z].clone();
                            gf256::xor_into(&mut fixed, &dp);
                            return vec![(self.layout.data_member(s, z), fixed)];
                        }
                        Vec::new()
                    }
                    None => {
                        report.unrecoverable += 1;
                        if repair {
                            return recompute(p2, q2);
                        }
                        Vec::new()
                    }
                }
            }
        }
    }

    /// Verifies one stripe's mirror copies; returns the member rewrites to make.
    fn check_mirrors(
        &self,
        s: u64,
        chunks: &[Vec<u8>],
        mode: Mode,
        report: &mut ScrubReport,
    ) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for col in 0..self.layout.data_cols() {
            let copies: Vec<usize> = self.layout.copies(s, col).collect();
            let first = copies[0];
            if copies.iter().all(|&m| chunks[m] == chunks[first]) {
                continue;
            }
            if mode == Mode::Resync {
                out.extend(copies.iter().skip(1).map(|&m| (m, chunks[first].clone())));
                continue;
            }
            report.mismatches += 1;
            // With three or more copies, a strict majority tells which is right.
            let majority = copies.iter().copied().find(|&a| {
                copies.iter().filter(|&&b| chunks[b] == chunks[a]).count() * 2 > copies.len()
            });
            let (source, verified) = match majority {
                Some(m) if copies.len() >= 3 => (m, true),
                _ => (first, false),
            };
            if mode == Mode::Repair {
                if verified {
                    report.repaired += 1;
                } else {
                    report.repaired_unverified += 1;
                }
                out.extend(
                    copies
                        .iter()
                        .filter(|&&m| chunks[m] != chunks[source])
                        .map(|&m| (m, chunks[source].clone())),
                );
            }
        }
        out
    }
}

/// Finds the single data column `z` whose corruption explains the syndromes `dp = P ^ P'`,
/// `dq = Q ^ Q'` (both non-zero): `dq = g^z * dp` at every byte.
fn locate(dp: &[u8], dq: &[u8], cols: usize) -> Option<usize> {
    let mut z = None;
    for (&p, &q) in dp.iter().zip(dq) {
        match (p, q) {
            (0, 0) => continue,
            (0, _) | (_, 0) => return None,
            _ => {
                let this = (gf256::log(q) + 255 - gf256::log(p)) % 255;
                if z.is_some_and(|z| z != this) {
                    return None;
                }
                z = Some(this);
            }
        }
    }
    z.filter(|&z| z < cols)
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn repairs_merge_when_adjacent_and_are_counted_past_the_list() {
        let mut r = ScrubReport::default();
        r.note_repair("a", 0, 4096);
        r.note_repair("b", 0, 4096);
        r.note_repair("a", 4096, 4096);
        r.note_repair("a", 65536, 4096);
        assert_eq!(
            r.repairs
                .iter()
                .map(|x| (x.member.as_str(), x.offset, x.len))
                .collect::<Vec<_>>(),
            [("a", 0, 8192), ("b", 0, 4096), ("a", 65536, 4096)]
        );
        for i in 0..100u64 {
            r.note_repair("c", i << 20, 4096);
        }
        assert_eq!(r.repairs.len(), LISTED_REPAIRS);
        assert_eq!(r.repairs_not_listed, 100 - (LISTED_REPAIRS as u64 - 3));
    }
}
