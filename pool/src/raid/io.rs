//! Member I/O execution: a request's pieces are grouped per member, pieces contiguous on a
//! member are merged into one larger I/O, and the members are driven in parallel (scoped
//! threads, the calling thread taking one member itself) when the request is large enough
//! for that to pay; small requests run inline with no thread overhead.

use super::members::View;
use std::collections::BTreeMap;
use vsa_blockdev::BlockError;

/// Requests smaller than this run on the calling thread.
const PARALLEL_MIN: usize = 128 * 1024;

/// Read `buf.len()` bytes of `member` at `offset` into `buf`.
#[derive(Debug)]
pub(crate) struct ReadOp<'a> {
    pub member: usize,
    pub offset: u64,
    pub buf: &'a mut [u8],
}

/// Write `buf` to `member` at `offset`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteOp<'a> {
    pub member: usize,
    pub offset: u64,
    pub buf: &'a [u8],
}

/// A member that failed, with its error.
pub(crate) type Failure = (usize, BlockError);

fn group<T>(
    ops: Vec<T>,
    member: impl Fn(&T) -> usize,
    offset: impl Fn(&T) -> u64,
) -> Vec<(usize, Vec<T>)> {
    let mut map: BTreeMap<usize, Vec<T>> = BTreeMap::new();
    for op in ops {
        map.entry(member(&op)).or_default().push(op);
    }
    map.into_iter()
        .map(|(m, mut v)| {
            v.sort_by_key(&offset);
            (m, v)
        })
        .collect()
}

/// Runs `work` for each group, in parallel when worth it; returns the failures.
fn run_groups<T: Send>(
    groups: Vec<(usize, Vec<T>)>,
    bytes: usize,
    work: impl Fn(usize, Vec<T>) -> Option<Failure> + Sync,
) -> Vec<Failure> {
    if groups.len() < 2 || bytes < PARALLEL_MIN {
        return groups
            .into_iter()
            .filter_map(|(m, ops)| work(m, ops))
            .collect();
    }
    let work = &work;
    std::thread::scope(|s| {
        let mut iter = groups.into_iter();
        let mine = iter.next();
        let handles: Vec<_> = iter.map(|(m, ops)| s.spawn(move || work(m, ops))).collect();
        let mut out: Vec<Failure> = mine.and_then(|(m, ops)| work(m, ops)).into_iter().collect();
        for h in handles {
            match h.join() {
                Ok(r) => out.extend(r),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}

/// Performs `ops`; returns the members whose reads failed (each once, with its first error).
pub(crate) fn read(view: &[View], ops: Vec<ReadOp<'_>>) -> Vec<Failure> {
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let groups = group(ops, |o| o.member, |o| o.offset);
    run_groups(groups, bytes, |m, mut ops| {
        let dev = &view[m].dev;
        let mut i = 0;
        while i < ops.len() {
            // The run of pieces contiguous on the member starting at i.
            let mut j = i + 1;
            let mut end = ops[i].offset + ops[i].buf.len() as u64;
            while j < ops.len() && ops[j].offset == end {
                end += ops[j].buf.len() as u64;
                j += 1;
            }
            let start = ops[i].offset;
            let r = if j == i + 1 {
                dev.read_at(ops[i].buf, start)
            } else {
                let mut tmp = vec![0u8; (end - start) as usize];
                dev.read_at(&mut tmp, start).map(|()| {
                    let mut pos = 0;
                    for op in &mut ops[i..j] {
                        let n = op.buf.len();
                        op.buf.copy_from_slice(&tmp[pos..pos + n]);
                        pos += n;
                    }
                })
            };
            if let Err(e) = r {
                return Some((m, e));
            }
            i = j;
        }
        None
    })
}

/// Performs `ops`; returns the members whose writes failed.
pub(crate) fn write(view: &[View], ops: Vec<WriteOp<'_>>) -> Vec<Failure> {
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let groups = group(ops, |o| o.member, |o| o.offset);
    run_groups(groups, bytes, |m, ops| {
        let dev = &view[m].dev;
        let mut i = 0;
        while i < ops.len() {
            let mut j = i + 1;
            let mut end = ops[i].offset + ops[i].buf.len() as u64;
            while j < ops.len() && ops[j].offset == end {
                end += ops[j].buf.len() as u64;
                j += 1;
            }
            let r = if j == i + 1 {
                dev.write_at(ops[i].buf, ops[i].offset)
            } else {
                let mut tmp = Vec::with_capacity((end - ops[i].offset) as usize);
                for op in &ops[i..j] {
                    tmp.extend_from_slice(op.buf);
                }
                dev.write_at(&tmp, ops[i].offset)
            };
            if let Err(e) = r {
                return Some((m, e));
            }
            i = j;
        }
        None
    })
}

/// Calls `f` on each listed member, in parallel when there are several; returns failures.
pub(crate) fn each_member(
    view: &[View],
    members: Vec<usize>,
    f: impl Fn(&View) -> vsa_blockdev::Result<()> + Sync,
) -> Vec<Failure> {
    let groups: Vec<(usize, Vec<()>)> = members.into_iter().map(|m| (m, vec![()])).collect();
    run_groups(groups, PARALLEL_MIN, |m, _| {
        f(&view[m]).err().map(|e| (m, e))
    })
}
