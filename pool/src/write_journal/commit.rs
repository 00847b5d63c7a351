//! Group commit: writers queue their records; the first that finds no commit under way
//! leads, storing everything queued in one append, and goes on until the queue is empty.
//! Writers that came meanwhile wait for the leader, so a queue of 32 writes costs one log
//! write, not 32 (and a flush after them one sync: `sync_log`).

use super::record::encode;
use super::{Shared, BLOCK};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vsa_blockdev::{BlockDevice, BlockError, Bytes, ErrorKind, Op, Result};

/// The writes waiting for the next commit.
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// The sequence number of the next record.
    pub next_seq: u64,
    waiting: Vec<Pending>,
    /// A writer is committing.
    pub(super) leading: bool,
}

impl Queue {
    /// Writes waiting for a commit (for tests).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.waiting.len()
    }

    pub fn starting_at(next_seq: u64) -> Self {
        Queue {
            next_seq,
            ..Queue::default()
        }
    }
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    offset: u64,
    data: Bytes,
    ticket: Arc<Ticket>,
}

/// What a writer waits on: the outcome of the commit that took its records.
#[derive(Debug, Default)]
struct Ticket {
    outcome: Mutex<Option<std::result::Result<(), (ErrorKind, String)>>>,
    done: Condvar,
}

impl Ticket {
    fn settle(&self, r: &std::result::Result<(), (ErrorKind, String)>) {
        *self.outcome.lock() = Some(r.clone());
        self.done.notify_all();
    }

    fn wait(&self) -> std::result::Result<(), (ErrorKind, String)> {
        let mut g = self.outcome.lock();
        loop {
            if let Some(r) = g.as_ref() {
                return r.clone();
            }
            self.done.wait(&mut g);
        }
    }
}

impl<D: BlockDevice> Shared<D> {
    /// Journals `pieces` (offset, whole blocks), in groups of at most a quarter of the
    /// log's budget; returns when all are in the log (with the operating system) and
    /// visible to reads.
    pub(super) fn journal(&self, pieces: Vec<(u64, Bytes)>) -> Result<()> {
        let mut group: Vec<(u64, Bytes)> = Vec::new();
        let mut bytes = 0u64;
        for p in pieces {
            if bytes + p.1.len() as u64 > self.max_group && !group.is_empty() {
                self.journal_group(std::mem::take(&mut group), bytes)?;
                bytes = 0;
            }
            bytes += p.1.len() as u64;
            group.push(p);
        }
        if group.is_empty() {
            return Ok(());
        }
        self.journal_group(group, bytes)
    }

    fn journal_group(&self, group: Vec<(u64, Bytes)>, bytes: u64) -> Result<()> {
        let (first, len) = (group[0].0, bytes);
        self.reserve(bytes)?;
        let ticket = Arc::new(Ticket::default());
        let lead = {
            let mut q = self.queue.lock();
            for (offset, data) in group {
                let seq = q.next_seq;
                q.next_seq += 1;
                q.waiting.push(Pending {
                    seq,
                    offset,
                    data,
                    ticket: ticket.clone(),
                });
            }
            !std::mem::replace(&mut q.leading, true)
        };
        if lead {
            self.lead();
        }
        ticket.wait().map_err(|(kind, why)| {
            BlockError::new(kind, Op::Write, first, len)
                .with_device("write journal")
                .with_detail(why)
        })
    }

    /// Journals one piece if that needs no waiting: room in the log, and no commit under
    /// way (this writer leads it, then commits what queued meanwhile). `None`: nothing done.
    pub(super) fn try_journal(&self, offset: u64, data: &[u8]) -> Option<Result<()>> {
        let len = data.len() as u64;
        if !self.try_reserve(len) {
            return None;
        }
        let seq = {
            let q = self.queue.try_lock();
            match q {
                Some(mut q) if !q.leading => {
                    q.leading = true;
                    q.next_seq += 1;
                    q.next_seq - 1
                }
                _ => {
                    self.release(len);
                    return None;
                }
            }
        };
        let ticket = Arc::new(Ticket::default());
        self.commit(vec![Pending {
            seq,
            offset,
            data: Bytes::copy_from_slice(data),
            ticket: ticket.clone(),
        }]);
        self.lead();
        let outcome = ticket.outcome.lock().take()?;
        Some(outcome.map_err(|(kind, why)| {
            BlockError::new(kind, Op::Write, offset, len)
                .with_device("write journal")
                .with_detail(why)
        }))
    }

    /// See [`super::WriteJournal::switch_log`]. Leading the commits (and so holding
    /// every new record in the queue) is what keeps the log still meanwhile.
    pub(super) fn switch_log(
        &self,
        make: impl FnOnce() -> Result<Arc<dyn super::LogStore>>,
    ) -> Result<()> {
        loop {
            let mut q = self.queue.lock();
            if !q.leading {
                q.leading = true;
                break;
            }
            drop(q);
            // A commit is under way; it ends soon (one append).
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let switched = self.destage_pass().and_then(|_| {
            let log = make()?;
            *self.log.write() = log;
            Ok(())
        });
        // What queued meanwhile goes to whichever log is current.
        self.lead();
        switched
    }

    /// Commits what is queued until nothing is.
    fn lead(&self) {
        loop {
            let batch = {
                let mut q = self.queue.lock();
                if q.waiting.is_empty() {
                    q.leading = false;
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            self.commit(batch);
        }
    }

    /// Appends `batch` to the log, indexes it, and settles its writers' tickets.
    fn commit(&self, batch: Vec<Pending>) {
        let records: Vec<(u64, Vec<u8>)> = batch
            .iter()
            .map(|p| (p.seq, encode(p.offset, &p.data)))
            .collect();
        let outcome = self
            .log()
            .append(&records)
            .map_err(|e| (e.kind(), e.to_string()));
        let bytes: u64 = batch.iter().map(|p| p.data.len() as u64).sum();
        match &outcome {
            Ok(()) => {
                if let Some(last) = batch.last() {
                    self.appended.fetch_max(last.seq, Ordering::SeqCst);
                }
                self.space_committed(batch.iter().map(|p| (p.seq, p.data.len() as u64)));
                let mut ix = self.index.write();
                for p in &batch {
                    ix.insert(p.offset, p.seq, &p.data);
                }
                drop(ix);
                let s = &self.stats;
                s.commits.fetch_add(1, Ordering::Relaxed);
                s.records.fetch_add(batch.len() as u64, Ordering::Relaxed);
                s.journaled_bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err((_, why)) => {
                tracing::error!("write journal: a log append failed: {why}");
                self.release(bytes);
            }
        }
        for p in &batch {
            p.ticket.settle(&outcome);
        }
    }
}

/// Whether `offset` and `len` are whole journal blocks.
pub(super) fn aligned(offset: u64, len: u64) -> bool {
    offset % BLOCK == 0 && len % BLOCK == 0
}
