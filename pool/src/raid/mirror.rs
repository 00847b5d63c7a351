//! RAID 0, 1 and 10 I/O: each data column lives on one member (RAID 0) or on a set of
//! mirror copies (RAID 1: all members; RAID 10: a pair). Also the unmap of every level.

use super::io::{self, ReadOp, WriteOp};
use super::layout::Segment;
use super::members::View;
use super::RaidSet;
use vsa_blockdev::{BlockError, Op};

/// Splits `buf` into the pieces of `segs` (which cover it in order).
pub(crate) fn split_mut<'a>(mut buf: &'a mut [u8], segs: &[Segment]) -> Vec<&'a mut [u8]> {
    let mut out = Vec::with_capacity(segs.len());
    for seg in segs {
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(seg.len as usize);
        out.push(head);
        buf = tail;
    }
    out
}

impl RaidSet {
    pub(crate) fn mirror_read(&self, buf: &mut [u8], offset: u64) -> Result<(), BlockError> {
        let len = buf.len() as u64;
        let segs = self.layout.segments(offset, len);
        let mut pieces = split_mut(buf, &segs);
        let chunk = self.layout.chunk;
        // Pieces whose member returned blocks failing their checksums, as (member, piece):
        // read from another copy, then repaired.
        let mut bad: Vec<(usize, usize)> = Vec::new();
        // Each round succeeds, or fails, or fails a member, or finds one more bad piece.
        loop {
            let view = self.members.view();
            let mut ops = Vec::with_capacity(segs.len());
            let mut served = Vec::with_capacity(segs.len());
            for (i, (seg, piece)) in segs.iter().zip(pieces.iter_mut()).enumerate() {
                let moff = seg.member_offset(chunk);
                let end = moff + seg.len;
                let copies: Vec<usize> = self
                    .layout
                    .copies(seg.stripe, seg.col)
                    .filter(|&m| view[m].readable(end) && !bad.contains(&(m, i)))
                    .collect();
                if copies.is_empty() {
                    if bad.iter().any(|b| b.1 == i) {
                        return Err(self.unrecoverable(Op::Read, offset, len));
                    }
                    return Err(self.failed_error(Op::Read, offset, len));
                }
                // Spread stripes over the copies so big reads use every mirror.
                let member = copies[(seg.stripe % copies.len() as u64) as usize];
                served.push((member, moff, seg.len));
                ops.push(ReadOp {
                    member,
                    offset: moff,
                    buf: piece,
                });
            }
            let failures = io::read(&view, ops);
            if failures.is_empty() {
                break;
            }
            let at: Vec<(usize, u64)> = failures
                .iter()
                .filter(|(_, e)| e.kind() == vsa_blockdev::ErrorKind::Corrupt)
                .map(|(m, e)| (*m, e.offset()))
                .collect();
            let corrupt = self
                .sort_read_failures(&view, failures)
                .map_err(|e| e.at(Op::Read, offset, len))?;
            for (m, off) in at.into_iter().filter(|(m, _)| corrupt.contains(m)) {
                // The piece holding the first bad block; later ones show in later rounds.
                let piece = served
                    .iter()
                    .position(|&(sm, so, sl)| sm == m && so <= off && off < so + sl)
                    .or_else(|| served.iter().position(|&(sm, _, _)| sm == m));
                if let Some(i) = piece {
                    bad.push((m, i));
                }
            }
        }
        for &(m, i) in &bad {
            if let Err(e) = self.repair_copy(&segs[i], m) {
                tracing::error!(member = m, "cannot repair a bad copy: {e}");
            }
        }
        Ok(())
    }

    pub(crate) fn mirror_write(&self, buf: &[u8], offset: u64) -> Result<(), BlockError> {
        let len = buf.len() as u64;
        let segs = self.layout.segments(offset, len);
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            return Ok(());
        };
        let chunk = self.layout.chunk;
        self.with_stripes(first.stripe, last.stripe, |view| {
            // Pieces that do not cover whole units are widened with what the copies hold.
            let mut widened: Vec<(u64, Vec<u8>)> = Vec::with_capacity(segs.len());
            for seg in &segs {
                let data = &buf[seg.buf_off..seg.buf_off + seg.len as usize];
                let (from, to) = self.widen(seg.within, seg.within + seg.len);
                if (from, to) == (seg.within, seg.within + seg.len) {
                    widened.push((seg.member_offset(chunk), Vec::new()));
                    continue;
                }
                let mut whole = self
                    .read_copy(view, seg, from, to)
                    .map_err(|e| e.at(Op::Write, offset, len))?;
                let at = (seg.within - from) as usize;
                whole[at..at + data.len()].copy_from_slice(data);
                widened.push((seg.stripe * chunk + from, whole));
            }
            let mut ops = Vec::new();
            for (seg, (moff, whole)) in segs.iter().zip(&widened) {
                let data: &[u8] = if whole.is_empty() {
                    &buf[seg.buf_off..seg.buf_off + seg.len as usize]
                } else {
                    whole
                };
                for m in self.layout.copies(seg.stripe, seg.col) {
                    if view[m].writable() {
                        ops.push(WriteOp {
                            member: m,
                            offset: *moff,
                            buf: data,
                        });
                    }
                }
            }
            let failures = io::write(view, ops);
            let failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
            self.handle_failures(view, failures)
                .map_err(|e| e.at(Op::Write, offset, len))?;
            for seg in &segs {
                let written = self
                    .layout
                    .copies(seg.stripe, seg.col)
                    .any(|m| view[m].writable() && !failed.contains(&m));
                if !written {
                    return Err(self.failed_error(Op::Write, offset, len));
                }
            }
            Ok(())
        })
    }

    /// Reads rows `[from, to)` of `seg`'s column from the first copy that gives them back
    /// good; the caller holds the stripe lock.
    fn read_copy(
        &self,
        view: &[View],
        seg: &Segment,
        from: u64,
        to: u64,
    ) -> Result<Vec<u8>, BlockError> {
        let base = seg.stripe * self.layout.chunk;
        let mut buf = vec![0u8; (to - from) as usize];
        let mut bad = Vec::new();
        for m in self.layout.copies(seg.stripe, seg.col) {
            if !view[m].readable(base + to) {
                continue;
            }
            let ops = vec![ReadOp {
                member: m,
                offset: base + from,
                buf: &mut buf,
            }];
            let failures = io::read(view, ops);
            if failures.is_empty() {
                for &b in &bad {
                    // Whole units: the repair write needs no read of its own.
                    let fix = vec![WriteOp {
                        member: b,
                        offset: base + from,
                        buf: &buf,
                    }];
                    let failed = io::write(view, fix);
                    if failed.is_empty() {
                        self.repaired(view, b, base + from, to - from);
                    } else {
                        self.handle_failures(view, failed)?;
                    }
                }
                return Ok(buf);
            }
            bad.extend(self.sort_read_failures(view, failures)?);
        }
        if bad.is_empty() {
            return Err(self.failed_error(Op::Read, base + from, to - from));
        }
        Err(self.unrecoverable(Op::Read, base + from, to - from))
    }

    /// Unmaps whole stripes on the members (all zeros is consistent parity and mirrors)
    /// and writes zeros over partial stripes at the ends.
    pub(crate) fn unmap_range(&self, offset: u64, len: u64) -> Result<(), BlockError> {
        let width = self.layout.stripe_width();
        let end = offset + len;
        let first_full = offset.div_ceil(width);
        let end_full = end / width;
        if first_full >= end_full {
            return vsa_blockdev::write_zeros(self, offset, len);
        }
        if offset < first_full * width {
            vsa_blockdev::write_zeros(self, offset, first_full * width - offset)?;
        }
        let chunk = self.layout.chunk;
        let step = self.batch_stripes(64 << 20);
        let mut s = first_full;
        while s < end_full {
            let e = (s + step).min(end_full);
            self.with_stripes(s, e - 1, |view| {
                let live: Vec<usize> = (0..view.len()).filter(|&m| view[m].writable()).collect();
                let failures =
                    io::each_member(view, live, |v| v.dev.unmap(s * chunk, (e - s) * chunk));
                self.handle_failures(view, failures)
                    .map_err(|err| err.at(Op::Unmap, offset, len))?;
                let view = self.members.view();
                let missing: Vec<usize> =
                    (0..view.len()).filter(|&m| !view[m].writable()).collect();
                if !super::tolerates(self.layout.level, view.len(), &missing) {
                    return Err(self.failed_error(Op::Unmap, offset, len));
                }
                Ok(())
            })?;
            s = e;
        }
        if end > end_full * width {
            vsa_blockdev::write_zeros(self, end_full * width, end - end_full * width)?;
        }
        Ok(())
    }
}
