//! RAID 0, 1 and 10 I/O: each data column lives on one member (RAID 0) or on a set of
//! mirror copies (RAID 1: all members; RAID 10: a pair). Also the unmap of every level.

use super::io::{self, ReadOp, WriteOp};
use super::layout::Segment;
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
        // Each round either succeeds or marks at least one more member faulty.
        for _ in 0..=self.layout.members {
            let view = self.members.view();
            let mut ops = Vec::with_capacity(segs.len());
            for (seg, piece) in segs.iter().zip(pieces.iter_mut()) {
                let moff = seg.member_offset(chunk);
                let end = moff + seg.len;
                let copies: Vec<usize> = self
                    .layout
                    .copies(seg.stripe, seg.col)
                    .filter(|&m| view[m].readable(end))
                    .collect();
                if copies.is_empty() {
                    return Err(self.failed_error(Op::Read, offset, len));
                }
                // Spread stripes over the copies so big reads use every mirror.
                let member = copies[(seg.stripe % copies.len() as u64) as usize];
                ops.push(ReadOp {
                    member,
                    offset: moff,
                    buf: piece,
                });
            }
            let failures = io::read(&view, ops);
            if failures.is_empty() {
                return Ok(());
            }
            self.handle_failures(&view, failures)
                .map_err(|e| e.at(Op::Read, offset, len))?;
        }
        Err(self.failed_error(Op::Read, offset, len))
    }

    pub(crate) fn mirror_write(&self, buf: &[u8], offset: u64) -> Result<(), BlockError> {
        let len = buf.len() as u64;
        let segs = self.layout.segments(offset, len);
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            return Ok(());
        };
        let chunk = self.layout.chunk;
        self.with_stripes(first.stripe, last.stripe, |view| {
            let mut ops = Vec::new();
            for seg in &segs {
                let data = &buf[seg.buf_off..seg.buf_off + seg.len as usize];
                for m in self.layout.copies(seg.stripe, seg.col) {
                    if view[m].writable() {
                        ops.push(WriteOp {
                            member: m,
                            offset: seg.member_offset(chunk),
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
