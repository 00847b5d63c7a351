//! Member I/O execution: a request's pieces are grouped per member, pieces contiguous on a
//! member go down as one vectored I/O (no copy to put them together), and the members are driven in parallel (scoped
//! tasks on a long-lived I/O thread pool, the calling thread taking one member itself) when the request is large enough
//! for that to pay; small requests run inline with no thread overhead.

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
/// pool has more threads than cores.
fn io_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(32)
            .thread_name(|i| format!("vsa-raid-io-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// The end of the run of `pieces` contiguous on the member from `i`: pieces `i..j` lie
/// side by side there (pieces sorted by offset, as `(offset, len)`).
fn run_end(pieces: impl Iterator<Item = (u64, u64)>) -> usize {
    let mut end = None;
    let mut j = 0;
    for (offset, len) in pieces {
        if end.is_some_and(|e| e != offset) {
            break;
        }
        end = Some(offset + len);
        j += 1;
    }
    j
}

/// Performs `ops`; returns the members whose reads failed (each once, with its first error).
/// Pieces side by side on a member go down as one vectored read.
pub(crate) fn read(view: &[View], ops: Vec<ReadOp<'_>>) -> Vec<Failure> {
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let groups = group(ops, |o| o.member, |o| o.offset);
    run_groups(groups, bytes, |m, mut ops| {
        let dev = &view[m].dev;
        let mut i = 0;
        while i < ops.len() {
            let j = i + run_end(ops[i..].iter().map(|o| (o.offset, o.buf.len() as u64)));
            let start = ops[i].offset;
            let mut bufs: Vec<&mut [u8]> = ops[i..j].iter_mut().map(|o| &mut *o.buf).collect();
            if let Err(e) = dev.read_vectored_at(&mut bufs, start) {
                return Some((m, e));
            }
            i = j;
        }
        None
    })
}

/// Performs `ops`; returns the members whose writes failed. Pieces side by side on a
/// member go down as one vectored write.
pub(crate) fn write(view: &[View], ops: Vec<WriteOp<'_>>) -> Vec<Failure> {
    let bytes = ops.iter().map(|o| o.buf.len()).sum();
    let groups = group(ops, |o| o.member, |o| o.offset);
    run_groups(groups, bytes, |m, ops| {
        let dev = &view[m].dev;
        let mut i = 0;
        while i < ops.len() {
            let j = i + run_end(ops[i..].iter().map(|o| (o.offset, o.buf.len() as u64)));
            let bufs: Vec<&[u8]> = ops[i..j].iter().map(|o| o.buf).collect();
            if let Err(e) = dev.write_vectored_at(&bufs, ops[i].offset) {
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
