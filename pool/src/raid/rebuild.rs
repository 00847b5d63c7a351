//! Rebuild: reconstructs every member in the Rebuilding state onto itself, batch by batch
//! under the stripe locks, so the set stays online. The watermark (bytes rebuilt) is saved
//! at least every [`SAVE_EVERY`] bytes, so a restart resumes where it stopped.

use super::io::{self, WriteOp};
use super::members::View;
use super::{MemberState, RaidError, RaidSet};
use crate::progress::{Progress, Throttle};
use vsa_blockdev::{BlockError, Op};

/// Save the watermark at least this often.
pub const SAVE_EVERY: u64 = 64 << 20;

/// Bytes of each member handled per locked batch.
const BATCH: u64 = 1 << 20;

fn watermark(v: &View) -> Option<u64> {
    match v.state {
        MemberState::Rebuilding { rebuilt } => Some(rebuilt),
        _ => None,
    }
}

impl RaidSet {
    /// Member bytes per batch: a whole number of chunks.
    pub(crate) fn batch_bytes(&self) -> u64 {
        let c = self.layout.chunk;
        (BATCH / c).max(1) * c
    }

    /// Rebuilds every Rebuilding member, paced at `bytes_per_sec` (0: unlimited), reporting
    /// into `progress`; returns early (Ok) if `progress` is cancelled. Rebuilt members
    /// become active.
    pub fn rebuild(&self, progress: &Progress, bytes_per_sec: u64) -> Result<(), RaidError> {
        let size = self.layout.member_size;
        let view = self.members.view();
        let marks: Vec<u64> = view.iter().filter_map(watermark).collect();
        if marks.is_empty() {
            progress.start(0, 0);
            progress.finish();
            return Ok(());
        }
        progress.start(
            size * marks.len() as u64,
            marks.iter().map(|&w| w.min(size)).sum(),
        );
        let mut throttle = Throttle::new(bytes_per_sec);
        let step = self.batch_bytes();
        let mut since_save = 0u64;
        loop {
            let view = self.members.view();
            let Some(pos) = view.iter().filter_map(watermark).min() else {
                break;
            };
            if progress.is_cancelled() {
                self.journal.save_state(&self.members.state())?;
                progress.finish();
                return Ok(());
            }
            let pos = pos / step * step;
            let end = (pos + step).min(size);
            let moved =
                self.rebuild_batch(pos, end, since_save + (end - pos) >= SAVE_EVERY, progress)?;
            since_save = if since_save + moved >= SAVE_EVERY {
                0
            } else {
                since_save + moved
            };
            throttle.pace(moved);
        }
        self.journal.save_state(&self.members.state())?;
        progress.finish();
        Ok(())
    }

    /// Rebuilds member range `[pos, end)` of every member whose watermark is below `end`.
    /// Returns the bytes written.
    fn rebuild_batch(
        &self,
        pos: u64,
        end: u64,
        save: bool,
        progress: &Progress,
    ) -> Result<u64, BlockError> {
        let chunk = self.layout.chunk;
        let (s0, s1) = (pos / chunk, (end - 1) / chunk);
        let _guard = self.locks.lock(s0, s1);
        let view = self.members.view();
        let n = view.len();
        let targets: Vec<usize> = (0..n)
            .filter(|&m| watermark(&view[m]).is_some_and(|w| w < end))
            .collect();
        let len = (end - pos) as usize;
        let (mut bufs, failures) = io::read_members(&view, pos, end);
        let mut bad: Vec<(usize, u64)> = Vec::new();
        if !failures.is_empty() {
            let failed = failures.len();
            let corrupt = self.sort_read_failures(&view, failures)?;
            if corrupt.len() < failed {
                // A member failed: the caller's loop retries with the new states.
                return Ok(0);
            }
            for m in corrupt {
                self.find_bad_units(&view, m, pos, end, &mut bufs, &mut bad);
            }
        }
        let mut out: Vec<Vec<u8>> = vec![vec![0u8; len]; n];
        let mut lost: Vec<(usize, u64, u64)> = Vec::new();
        let mut repairs: Vec<(usize, u64, Vec<u8>)> = Vec::new();
        for s in s0..=s1 {
            let at = ((s * chunk).max(pos) - pos) as usize;
            let to = (((s + 1) * chunk).min(end) - pos) as usize;
            let (from, to_off) = (pos + at as u64, pos + to as u64);
            if bad.iter().any(|b| (from..to_off).contains(&b.1)) {
                // Blocks of survivors failed their checksums: rebuild unit by unit.
                let mut counts = super::ScrubReport::default();
                let fills = self.rebuild_units(
                    &view,
                    s,
                    (from, to_off),
                    &bufs,
                    pos,
                    &bad,
                    &targets,
                    &mut counts,
                );
                let mut covered = std::collections::BTreeSet::new();
                for (m, u, b) in fills {
                    if targets.contains(&m) {
                        let o = (u - pos) as usize;
                        out[m][o..o + b.len()].copy_from_slice(&b);
                        covered.insert((m, u));
                    } else {
                        repairs.push((m, u, b));
                    }
                }
                // Units no survivor could give back: that data is gone. The rebuilt member
                // gets them marked lost, so reads fail as medium errors instead of returning
                // what it does not have.
                let mut u = from;
                while u < to_off {
                    for &t in &targets {
                        if !covered.contains(&(t, u)) {
                            lost.push((t, u, self.unit.min(to_off - u)));
                        }
                    }
                    u += self.unit;
                }
                continue;
            }
            let slice: Vec<Option<Vec<u8>>> = bufs
                .iter()
                .map(|b| b.as_ref().map(|b| b[at..to].to_vec()))
                .collect();
            let fill = self
                .stripe_contents(s, slice)
                .ok_or_else(|| self.failed_error(Op::Read, s * chunk, chunk))?;
            for &t in &targets {
                out[t][at..to].copy_from_slice(&fill[t]);
            }
        }
        let mut ops: Vec<WriteOp<'_>> = targets
            .iter()
            .map(|&t| WriteOp {
                member: t,
                offset: pos,
                buf: &out[t],
            })
            .collect();
        for (m, u, b) in &repairs {
            ops.push(WriteOp {
                member: *m,
                offset: *u,
                buf: b,
            });
        }
        let failures = io::write(&view, ops);
        let mut failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
        self.handle_failures(&view, failures)?;
        for (t, offset, len) in lost {
            if failed.contains(&t) {
                continue;
            }
            if let Err(e) = view[t].dev.poison(offset, len) {
                tracing::error!(member = %view[t].name, "cannot mark lost blocks: {e}");
                failed.push(t);
                self.handle_failures(&view, vec![(t, e.at(Op::Write, offset, len))])?;
            }
        }
        if save || end >= self.layout.member_size {
            // The progress saved below must not claim blocks whose data or checksums a
            // crash could still take away.
            for &t in targets.iter().filter(|t| !failed.contains(t)) {
                view[t].dev.flush()?;
                view[t].dev.save_checksums()?;
            }
        }
        let mut moved = 0;
        for &t in targets.iter().filter(|t| !failed.contains(t)) {
            let from = watermark(&view[t]).unwrap_or(0).max(pos);
            moved += end - from.min(end);
            progress.advance(end - from.min(end));
            self.members.set_rebuilt(
                &*self.journal,
                t,
                &view[t].dev,
                end,
                self.layout.member_size,
                save,
            )?;
        }
        Ok(moved)
    }

    /// Every member's contents of one stripe's rows, from the members present in `bufs`
    /// (indexed by member; `None`: missing). `None` if too many are missing.
    pub(crate) fn stripe_contents(
        &self,
        s: u64,
        bufs: Vec<Option<Vec<u8>>>,
    ) -> Option<Vec<Vec<u8>>> {
        let n = bufs.len();
        if self.layout.is_parity() {
            let rows = self.reconstruct(s, bufs)?;
            let mut out = Vec::with_capacity(n);
            for m in 0..n {
                out.push(match self.layout.role(s, m) {
                    super::layout::Role::Data(c) => rows.data[c].clone(),
                    super::layout::Role::P => rows.p.clone(),
                    super::layout::Role::Q => rows.q.clone(),
                });
            }
            return Some(out);
        }
        let mut out = Vec::with_capacity(n);
        for m in 0..n {
            let super::layout::Role::Data(c) = self.layout.role(s, m) else {
                return None;
            };
            let src = self.layout.copies(s, c).find_map(|k| bufs[k].as_ref())?;
            out.push(src.clone());
        }
        Some(out)
    }
}
