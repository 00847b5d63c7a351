//! Member I/O execution: a request's pieces are split into runs (pieces side by side on one
//! member), each run goes down as one vectored I/O (no copy to put its pieces together),
//! and the runs are driven in parallel (scoped tasks on a long-lived I/O thread pool, the
//! calling thread taking one run itself) when the request is large enough for that to pay;
//! small requests run inline with no thread overhead.

use super::members::View;
use std::collections::BTreeMap;
use vsa_blockdev::BlockError;

/// Requests smaller than this run on the calling thread: below it, handing members to the
/// I/O pool costs more (thread wake-ups, idle workers yielding) than it saves, and a busy
/// target already has many requests in flight at once.
const PARALLEL_MIN: usize = 512 * 1024;

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

/// Splits `ops` into runs: the pieces of one member that lie side by side there, each run
/// in offset order, as `(member, run)`.
fn runs<T>(
    ops: Vec<T>,
    member: impl Fn(&T) -> usize,
    span: impl Fn(&T) -> (u64, u64),
) -> Vec<(usize, Vec<T>)> {
    let mut map: BTreeMap<usize, Vec<T>> = BTreeMap::new();
    for op in ops {
        map.entry(member(&op)).or_default().push(op);
    }
    let mut out: Vec<(usize, Vec<T>)> = Vec::new();
    for (m, mut v) in map {
        v.sort_by_key(|op| span(op).0);
        let mut end = None;
        for op in v {
            let (offset, len) = span(&op);
            match out.last_mut() {
                Some((lm, run)) if *lm == m && end == Some(offset) => run.push(op),
                _ => out.push((m, vec![op])),
            }
            end = Some(offset + len);
        }
    }
    out
}

/// The first failure of each member in `failures`.
fn first_per_member(failures: Vec<Failure>) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    for f in failures {
        if !out.iter().any(|o| o.0 == f.0) {
            out.push(f);
        }
    }
    out
}

/// Runs `work` for each group (a run, or a member), in parallel when worth it; returns
/// the failures.
fn run_groups<T: Send>(
    groups: Vec<(usize, Vec<T>)>,
    bytes: usize,
    work: impl Fn(usize, Vec<T>) -> Option<Failure> + Sync,
) -> Vec<Failure> {
    let pool = match io_pool() {
        Some(pool) if groups.len() >= 2 && bytes >= PARALLEL_MIN => pool,
        // Small requests, or no threads to be had: run on the caller.
        _ => {
            return groups
                .into_iter()
                .filter_map(|(m, ops)| work(m, ops))
                .collect()
        }
    };
    let work = &work;
    let mut results: Vec<Option<Failure>> = Vec::new();
    results.resize_with(groups.len(), || None);
    let mut iter = groups.into_iter().zip(results.iter_mut());
    let mine = iter.next();
    pool.in_place_scope(|s| {
        for ((m, ops), slot) in iter {
            s.spawn(move |_| *slot = work(m, ops));
        }
        if let Some(((m, ops), slot)) = mine {
            *slot = work(m, ops);
        }
    });
    results.into_iter().flatten().collect()
}

/// The threads that drive members in parallel: long-lived, so a large request pays a task
/// hand-off (about a microsecond) rather than a thread spawn. Member I/O blocks, so the
/// pool has more threads than cores, but not many more: an idle rayon worker yields the
/// CPU in a loop for a while before it sleeps, and on a 2-core machine 32 of them cost
/// 10-20% of sequential throughput against 8 (measured with the pool bench, 2026-12-03).
fn io_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads((4 * cores).clamp(8, 64))
            .thread_name(|i| format!("vsa-raid-io-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Performs `ops`; returns the members whose reads failed (each once, with its first error).
/// Pieces side by side on a member go down as one vectored read, and the runs of one
/// request go down in parallel, a member's too.
pub(crate) fn read(view: &[View], mut ops: Vec<ReadOp<'_>>) -> Vec<Failure> {
    if let [op] = &mut ops[..] {
        // One piece (a small request): straight to the member, nothing to sort or gather.
        let m = op.member;
        return view[m]
            .dev
            .read_at(op.buf, op.offset)
            .err()
            .map(|e| (m, e))
            .into_iter()
            .collect();
    }
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let runs = runs(ops, |o| o.member, |o| (o.offset, o.buf.len() as u64));
    first_per_member(run_groups(runs, bytes, |m, mut run| {
        let offset = run.first()?.offset;
        let mut bufs: Vec<&mut [u8]> = run.iter_mut().map(|o| &mut *o.buf).collect();
        view[m]
            .dev
            .read_vectored_at(&mut bufs, offset)
            .err()
            .map(|e| (m, e))
    }))
}

/// Reads bytes `pos..end` of every member readable up to `end` (rebuild and scrub look at
/// a range of the whole set): one buffer per member, `None` for those not read, and the
/// members whose reads failed (each once).
pub(crate) fn read_members(
    view: &[View],
    pos: u64,
    end: u64,
) -> (Vec<Option<Vec<u8>>>, Vec<Failure>) {
    let len = (end - pos) as usize;
    let mut bufs: Vec<Option<Vec<u8>>> = view
        .iter()
        .map(|v| v.readable(end).then(|| vec![0u8; len]))
        .collect();
    let failures = read_into(view, &mut bufs, pos);
    (bufs, failures)
}

/// Reads each member `m` that has a buffer in `bufs[m]` at `offset` into it; the members
/// whose reads failed (each once).
pub(crate) fn read_into(view: &[View], bufs: &mut [Option<Vec<u8>>], offset: u64) -> Vec<Failure> {
    let ops = bufs
        .iter_mut()
        .enumerate()
        .filter_map(|(m, b)| {
            b.as_mut().map(|b| ReadOp {
                member: m,
                offset,
                buf: b,
            })
        })
        .collect();
    read(view, ops)
}

/// Performs `ops`; returns the members whose writes failed (each once). Pieces side by
/// side on a member go down as one vectored write, the runs in parallel.
pub(crate) fn write(view: &[View], ops: Vec<WriteOp<'_>>) -> Vec<Failure> {
    if let [op] = &ops[..] {
        let m = op.member;
        return view[m]
            .dev
            .write_at(op.buf, op.offset)
            .err()
            .map(|e| (m, e))
            .into_iter()
            .collect();
    }
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let runs = runs(ops, |o| o.member, |o| (o.offset, o.buf.len() as u64));
    first_per_member(run_groups(runs, bytes, |m, run| {
        let offset = run.first()?.offset;
        let bufs: Vec<&[u8]> = run.iter().map(|o| o.buf).collect();
        view[m]
            .dev
            .write_vectored_at(&bufs, offset)
            .err()
            .map(|e| (m, e))
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_by_member_and_split_where_pieces_do_not_touch() {
        // (member, offset, len), out of order.
        let ops = vec![
            (1, 8, 4),
            (0, 4, 4),
            (1, 0, 4),
            (0, 0, 4),
            (1, 4, 4),
            (0, 12, 4),
        ];
        let got = runs(ops, |o| o.0, |o| (o.1, o.2));
        let got: Vec<(usize, Vec<u64>)> = got
            .into_iter()
            .map(|(m, run)| (m, run.iter().map(|o| o.1).collect()))
            .collect();
        assert_eq!(
            got,
            vec![(0, vec![0, 4]), (0, vec![12]), (1, vec![0, 4, 8])]
        );
    }

    #[test]
    fn first_per_member_keeps_each_members_first_error() {
        let e = |n| BlockError::new(vsa_blockdev::ErrorKind::Io, vsa_blockdev::Op::Read, n, 1);
        let got = first_per_member(vec![(2, e(1)), (0, e(2)), (2, e(3))]);
        let got: Vec<(usize, u64)> = got.iter().map(|(m, e)| (*m, e.offset())).collect();
        assert_eq!(got, vec![(2, 1), (0, 2)]);
    }
}
