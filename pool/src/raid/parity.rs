//! RAID 5 and 6 I/O.
//!
//! Healthy reads go straight to the data members. Reads touching a missing member take
//! the stripe lock and reconstruct from the survivors. Writes lock their stripes, then per
//! stripe take the row range they touch, read whatever data of that range they do not
//! overwrite (reconstruct-write; nothing for a full-stripe write), recompute P (and Q), and
//! write the new data and parity to every member still in service.

use super::gf256;
use super::io::{self, ReadOp, WriteOp};
use super::layout::{Role, Segment};
use super::members::View;
use super::mirror::split_mut;
use super::{tolerates, RaidLevel, RaidSet};
use crate::scratch;
use vsa_blockdev::{BlockError, Op};

/// The rows `[r0, r1)` of one stripe: every data column, P and (RAID 6) Q.
#[derive(Debug, Clone)]
pub(crate) struct StripeRows {
    pub data: Vec<Vec<u8>>,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
}

impl StripeRows {
    /// Rows `[from, to)` of these rows.
    fn trim(self, from: usize, to: usize) -> StripeRows {
        let cut = |v: Vec<u8>| {
            if v.is_empty() {
                v
            } else {
                v[from..to].to_vec()
            }
        };
        StripeRows {
            data: self.data.into_iter().map(cut).collect(),
            p: cut(self.p),
            q: cut(self.q),
        }
    }
}

impl RaidSet {
    pub(crate) fn raid6(&self) -> bool {
        self.layout.level == RaidLevel::Raid6
    }

    /// P and Q (empty for RAID 5) of `data`.
    pub(crate) fn compute_parity(&self, data: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let len = data.first().map_or(0, Vec::len);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut p = vec![0u8; len];
        if self.raid6() {
            let mut q = vec![0u8; len];
            gf256::gen_pq(&refs, &mut p, &mut q);
            (p, q)
        } else {
            gf256::gen_p(&refs, &mut p);
            (p, Vec::new())
        }
    }

    /// Rebuilds stripe `s`'s rows from per-member buffers (`None`: member missing).
    /// Returns `None` when too many are missing.
    pub(crate) fn reconstruct(&self, s: u64, mut bufs: Vec<Option<Vec<u8>>>) -> Option<StripeRows> {
        let len = bufs.iter().flatten().map(Vec::len).next()?;
        let cols = self.layout.data_cols();
        let mut data = Vec::with_capacity(cols);
        let mut missing = Vec::new();
        for c in 0..cols {
            match bufs[self.layout.data_member(s, c)].take() {
                Some(b) => data.push(b),
                None => {
                    missing.push(c);
                    data.push(vec![0u8; len]);
                }
            }
        }
        let p = bufs[self.layout.p_member(s)].take();
        let q = if self.raid6() {
            bufs[self.layout.q_member(s)].take()
        } else {
            None
        };
        // With the missing columns zeroed, P' and Q' are the syndromes of the survivors.
        let (p2, q2) = self.compute_parity(&data);
        match (missing.as_slice(), &p, &q) {
            ([], _, _) => {}
            ([x], Some(p), _) => {
                let mut d = p2.clone();
                gf256::xor_into(&mut d, p);
                data[*x] = d;
            }
            ([x], None, Some(q)) => {
                let mut d = q2.clone();
                gf256::xor_into(&mut d, q);
                gf256::recover_from_q(*x, &mut d);
                data[*x] = d;
            }
            ([x, y], Some(p), Some(q)) => {
                let (mut dx, mut dy) = (p2.clone(), q2.clone());
                gf256::xor_into(&mut dx, p);
                gf256::xor_into(&mut dy, q);
                gf256::recover_two(*x, *y, &mut dx, &mut dy);
                data[*x] = dx;
                data[*y] = dy;
            }
            _ => return None,
        }
        let (p, q) = match (p, q) {
            (Some(p), Some(q)) => (p, q),
            (p, q) => {
                let (fp, fq) = if missing.is_empty() {
                    (p2, q2)
                } else {
                    self.compute_parity(&data)
                };
                (p.unwrap_or(fp), q.unwrap_or(fq))
            }
        };
        Some(StripeRows { data, p, q })
    }

    /// Reads rows `[r0, r1)` of stripe `s` from every readable member and reconstructs
    /// what is missing. Members that return blocks failing their checksums are read around
    /// and their rows (widened to whole units) rewritten from the reconstruction. The
    /// caller holds the stripe lock.
    pub(crate) fn load_rows(&self, s: u64, r0: u64, r1: u64) -> Result<StripeRows, BlockError> {
        let (w0, w1) = self.widen(r0, r1);
        let base = s * self.layout.chunk;
        let (start, end) = (base + w0, base + w1);
        let mut bad: Vec<usize> = Vec::new();
        for _ in 0..=self.layout.members {
            let view = self.members.view();
            let n = view.len();
            let mut bufs: Vec<Option<Vec<u8>>> = (0..n)
                .map(|m| {
                    (view[m].readable(end) && !bad.contains(&m))
                        .then(|| vec![0u8; (w1 - w0) as usize])
                })
                .collect();
            let missing: Vec<usize> = (0..n).filter(|&m| bufs[m].is_none()).collect();
            if !tolerates(self.layout.level, n, &missing) {
                if bad.is_empty() {
                    return Err(self.failed_error(Op::Read, start, w1 - w0));
                }
                if w1 - w0 > self.unit {
                    // Bad blocks of several members, perhaps in different rows: unit by
                    // unit, each row may still be rebuilt.
                    return self.load_rows_by_unit(s, r0, r1);
                }
                return Err(self.unrecoverable(Op::Read, start, w1 - w0));
            }
            let failures = io::read_into(&view, &mut bufs, start);
            if failures.is_empty() {
                let rows = self
                    .reconstruct(s, bufs)
                    .ok_or_else(|| self.failed_error(Op::Read, start, w1 - w0))?;
                self.repair_rows(&view, s, start, &rows, &bad)?;
                return Ok(rows.trim((r0 - w0) as usize, (r1 - w0) as usize));
            }
            bad.extend(self.sort_read_failures(&view, failures)?);
        }
        Err(self.failed_error(Op::Read, start, w1 - w0))
    }

    /// [`RaidSet::load_rows`] one checksum unit at a time, joined.
    fn load_rows_by_unit(&self, s: u64, r0: u64, r1: u64) -> Result<StripeRows, BlockError> {
        let (w0, w1) = self.widen(r0, r1);
        let mut all: Option<StripeRows> = None;
        let mut u = w0;
        while u < w1 {
            let part = self.load_rows(s, u, u + self.unit)?;
            match &mut all {
                None => all = Some(part),
                Some(a) => {
                    for (d, p) in a.data.iter_mut().zip(part.data) {
                        d.extend_from_slice(&p);
                    }
                    a.p.extend_from_slice(&part.p);
                    a.q.extend_from_slice(&part.q);
                }
            }
            u += self.unit;
        }
        let all =
            all.ok_or_else(|| self.failed_error(Op::Read, s * self.layout.chunk + r0, r1 - r0))?;
        Ok(all.trim((r0 - w0) as usize, (r1 - w0) as usize))
    }

    /// Rewrites the rows of members `bad` (data column, P or Q) from `rows`, read at
    /// member offset `start`.
    fn repair_rows(
        &self,
        view: &[View],
        s: u64,
        start: u64,
        rows: &StripeRows,
        bad: &[usize],
    ) -> Result<(), BlockError> {
        let ops: Vec<WriteOp<'_>> = bad
            .iter()
            .filter(|&&m| view[m].writable())
            .map(|&m| WriteOp {
                member: m,
                offset: start,
                buf: match self.layout.role(s, m) {
                    Role::Data(c) => &rows.data[c],
                    Role::P => &rows.p,
                    Role::Q => &rows.q,
                },
            })
            .collect();
        let len = rows.p.len() as u64;
        let failures = io::write(view, ops);
        let failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
        self.handle_failures(view, failures)?;
        for &m in bad.iter().filter(|m| !failed.contains(m)) {
            self.repaired(view, m, start, len);
        }
        Ok(())
    }

    pub(crate) fn parity_read(&self, buf: &mut [u8], offset: u64) -> Result<(), BlockError> {
        let len = buf.len() as u64;
        let chunk = self.layout.chunk;
        let segs = self.layout.segments(offset, len);
        let mut pieces: Vec<(Segment, &mut [u8])> =
            segs.iter().copied().zip(split_mut(buf, &segs)).collect();
        let view = self.members.view();
        let member_of = |seg: &Segment| self.layout.data_member(seg.stripe, seg.col);
        let (mut fast, mut slow): (Vec<_>, Vec<_>) = pieces.iter_mut().partition(|(seg, _)| {
            view[member_of(seg)].readable(seg.member_offset(chunk) + seg.len)
        });
        let ops = fast
            .iter_mut()
            .map(|(seg, b)| ReadOp {
                member: member_of(seg),
                offset: seg.member_offset(chunk),
                buf: b,
            })
            .collect();
        let failures = io::read(&view, ops);
        if !failures.is_empty() {
            // Failed members (I/O errors) and members with bad blocks alike: their pieces
            // are rebuilt from the others below (and the bad blocks rewritten).
            let failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
            self.sort_read_failures(&view, failures)
                .map_err(|e| e.at(Op::Read, offset, len))?;
            slow.extend(
                fast.into_iter()
                    .filter(|(seg, _)| failed.contains(&member_of(seg))),
            );
        }
        // Degraded pieces, one stripe at a time, under its lock.
        slow.sort_by_key(|(seg, _)| seg.buf_off);
        let mut i = 0;
        while i < slow.len() {
            let s = slow[i].0.stripe;
            let mut j = i;
            while j < slow.len() && slow[j].0.stripe == s {
                j += 1;
            }
            let group = &mut slow[i..j];
            let r0 = group.iter().map(|(g, _)| g.within).min().unwrap_or(0);
            let r1 = group
                .iter()
                .map(|(g, _)| g.within + g.len)
                .max()
                .unwrap_or(0);
            let _guard = self.locks.lock(s, s);
            let rows = self
                .load_rows(s, r0, r1)
                .map_err(|e| e.at(Op::Read, offset, len))?;
            for (seg, b) in group.iter_mut() {
                let from = (seg.within - r0) as usize;
                b.copy_from_slice(&rows.data[seg.col][from..from + seg.len as usize]);
            }
            i = j;
        }
        Ok(())
    }

    /// Writes `buf` at `offset` (a batch the lock table can hold at once).
    pub(crate) fn parity_write(&self, buf: &[u8], offset: u64) -> Result<(), BlockError> {
        let len = buf.len() as u64;
        let segs = self.layout.segments(offset, len);
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            return Ok(());
        };
        let (s0, s1) = (first.stripe, last.stripe);
        self.with_stripes(s0, s1, |view| {
            let mut works: Vec<Work<'_>> = Vec::new();
            for seg in &segs {
                match works.last_mut() {
                    Some(w) if w.stripe == seg.stripe => w.segs.push(*seg),
                    _ => works.push(Work::new(seg.stripe, *seg)),
                }
            }
            self.gather_old_data(view, &mut works)
                .map_err(|e| e.at(Op::Write, offset, len))?;
            let chunk = self.layout.chunk;
            let (cols, raid6) = (self.layout.data_cols(), self.raid6());
            let per_row = if raid6 { 2 } else { 1 };
            let total = works.iter().map(|w| w.rows() * per_row).sum();
            // P and Q of every stripe, computed straight from the caller's buffer for the
            // columns the write covers entirely, into one reused aligned buffer.
            scratch::with(total, |scratch| {
                let mut rest: &mut [u8] = scratch;
                let mut parity: Vec<(&[u8], &[u8])> = Vec::with_capacity(works.len());
                for w in &mut works {
                    w.fill(buf);
                    let rows = w.rows();
                    let (p, tail) = std::mem::take(&mut rest).split_at_mut(rows);
                    let (q, tail) = tail.split_at_mut(if raid6 { rows } else { 0 });
                    rest = tail;
                    let data = w.columns(buf, cols);
                    if raid6 {
                        gf256::gen_pq(&data, p, q);
                    } else {
                        gf256::gen_p(&data, p);
                    }
                    parity.push((p, q));
                }
                let mut ops = Vec::new();
                for (w, &(p, q)) in works.iter().zip(&parity) {
                    let base = w.stripe * chunk;
                    let mut written = vec![false; cols];
                    for seg in &w.segs {
                        let m = self.layout.data_member(w.stripe, seg.col);
                        if !view[m].writable() || written[seg.col] {
                            continue;
                        }
                        written[seg.col] = true;
                        // A piece that does not cover whole units goes down widened: the
                        // rows read, with the new bytes laid over them.
                        let (a, b) = self.widen(seg.within, seg.within + seg.len);
                        let (offset, data) = match &w.data[seg.col] {
                            Some(d) if (a, b) != (seg.within, seg.within + seg.len) => {
                                (base + a, &d[(a - w.r0) as usize..(b - w.r0) as usize])
                            }
                            _ => (
                                seg.member_offset(chunk),
                                &buf[seg.buf_off..seg.buf_off + seg.len as usize],
                            ),
                        };
                        ops.push(WriteOp {
                            member: m,
                            offset,
                            buf: data,
                        });
                    }
                    let pm = self.layout.p_member(w.stripe);
                    if view[pm].writable() {
                        ops.push(WriteOp {
                            member: pm,
                            offset: base + w.r0,
                            buf: p,
                        });
                    }
                    if raid6 {
                        let qm = self.layout.q_member(w.stripe);
                        if view[qm].writable() {
                            ops.push(WriteOp {
                                member: qm,
                                offset: base + w.r0,
                                buf: q,
                            });
                        }
                    }
                }
                self.finish_write(view, ops, offset, len)
            })
        })
    }

    /// Issues a write's member I/O and checks the set still holds the data.
    fn finish_write(
        &self,
        view: &[View],
        ops: Vec<WriteOp<'_>>,
        offset: u64,
        len: u64,
    ) -> Result<(), BlockError> {
        let failures = io::write(view, ops);
        let failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
        self.handle_failures(view, failures)
            .map_err(|e| e.at(Op::Write, offset, len))?;
        let missing: Vec<usize> = (0..view.len())
            .filter(|&m| !view[m].writable() || failed.contains(&m))
            .collect();
        if !tolerates(self.layout.level, view.len(), &missing) {
            return Err(self.failed_error(Op::Write, offset, len));
        }
        Ok(())
    }

    /// Fills each work's data columns with the current contents of its row range, except
    /// columns the write covers entirely. Stripes with a missing member are reconstructed.
    fn gather_old_data(&self, view: &[View], works: &mut [Work<'_>]) -> Result<(), BlockError> {
        let cols = self.layout.data_cols();
        let chunk = self.layout.chunk;
        for w in works.iter_mut() {
            // Whole units of the members' checksums, so no member write is partial.
            (w.r0, w.r1) = self.widen(
                w.segs.iter().map(|g| g.within).min().unwrap_or(0),
                w.segs.iter().map(|g| g.within + g.len).max().unwrap_or(0),
            );
            let rows = w.rows();
            w.need = (0..cols)
                .map(|c| {
                    !w.segs
                        .iter()
                        .any(|g| g.col == c && g.within == w.r0 && g.len as usize == rows)
                })
                .collect();
            // Columns the write covers entirely are taken from the caller's buffer.
            w.data = w.need.iter().map(|&n| n.then(|| vec![0u8; rows])).collect();
            let end = w.stripe * chunk + w.r1;
            w.degraded = (0..cols)
                .any(|c| w.need[c] && !view[self.layout.data_member(w.stripe, c)].readable(end));
        }
        let mut ops = Vec::new();
        for w in works.iter_mut().filter(|w| !w.degraded) {
            let off = w.stripe * chunk + w.r0;
            for (c, d) in w.data.iter_mut().enumerate() {
                if let Some(d) = d {
                    ops.push(ReadOp {
                        member: self.layout.data_member(w.stripe, c),
                        offset: off,
                        buf: d.as_mut_slice(),
                    });
                }
            }
        }
        let failures = io::read(view, ops);
        if !failures.is_empty() {
            let failed: Vec<usize> = failures.iter().map(|f| f.0).collect();
            self.sort_read_failures(view, failures)?;
            for w in works.iter_mut() {
                if (0..cols)
                    .any(|c| w.need[c] && failed.contains(&self.layout.data_member(w.stripe, c)))
                {
                    w.degraded = true;
                }
            }
        }
        for w in works.iter_mut().filter(|w| w.degraded) {
            let rows = self.load_rows(w.stripe, w.r0, w.r1)?;
            w.data = rows.data.into_iter().map(Some).collect();
        }
        Ok(())
    }
}

/// One stripe of a write.
#[derive(Debug)]
struct Work<'a> {
    stripe: u64,
    segs: Vec<Segment>,
    r0: u64,
    r1: u64,
    /// The row range of each data column, for columns the write does not cover entirely
    /// (`None`: the caller's buffer has it).
    data: Vec<Option<Vec<u8>>>,
    need: Vec<bool>,
    degraded: bool,
    _buf: std::marker::PhantomData<&'a [u8]>,
}

impl Work<'_> {
    fn new(stripe: u64, seg: Segment) -> Self {
        Work {
            stripe,
            segs: vec![seg],
            r0: 0,
            r1: 0,
            data: Vec::new(),
            need: Vec::new(),
            degraded: false,
            _buf: std::marker::PhantomData,
        }
    }

    fn rows(&self) -> usize {
        (self.r1 - self.r0) as usize
    }

    /// Lays the write's pieces over the columns read from the members.
    fn fill(&mut self, buf: &[u8]) {
        for seg in &self.segs {
            if let Some(d) = &mut self.data[seg.col] {
                let from = (seg.within - self.r0) as usize;
                d[from..from + seg.len as usize]
                    .copy_from_slice(&buf[seg.buf_off..seg.buf_off + seg.len as usize]);
            }
        }
    }

    /// The new contents of rows `[r0, r1)` of every data column.
    fn columns<'b>(&'b self, buf: &'b [u8], cols: usize) -> Vec<&'b [u8]> {
        (0..cols)
            .map(|c| match &self.data[c] {
                Some(d) => d.as_slice(),
                None => self
                    .segs
                    .iter()
                    .find(|g| g.col == c)
                    .map_or(&[][..], |g| &buf[g.buf_off..g.buf_off + g.len as usize]),
            })
            .collect()
    }
}
