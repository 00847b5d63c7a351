//! Write-behind of deduplicated records: a drive's WRITE is acknowledged once its records
//! are queued (buffered mode, SSC-4 4.2.10), and a thread of the cartridge cuts them into
//! chunks, names them (SHA-256) and, with compression on, packs them (LZ4) while the
//! initiator sends the next ones. The cartridge then places each queued write in order
//! ([`super::Tape::settle`]): looks its chunks up, stages the new ones and adds the chunk
//! lists to its stream, as the next writes come or before anything else uses it.
//!
//! ```text
//!  drive WRITE ──► Job (its data-out) ──► cut thread: chunks, hashes, LZ4, CRC
//!                                                │
//!  next WRITE, or any other command ◄── Cut ◄────┘   placed in order
//! ```

use super::dedup::chunk::{self, Hash};
use super::record::HEADER_LEN;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::mpsc;
use vsa_blockdev::Bytes;

/// Bytes of queued records, at most, before a write waits for the oldest to be placed.
pub const QUEUE_BYTES: u64 = 8 << 20;

/// One WRITE's records.
#[derive(Debug)]
pub struct Job {
    /// The records back to back: the command's data-out as the transport received it
    /// (held, not copied, until the records are placed).
    pub data: Bytes,
    /// Each record's length (all but the last are this; a WRITE in fixed-block mode
    /// carries several records of the block length).
    pub rec_len: usize,
    /// Pack chunks with LZ4 where that makes them smaller (the drive's DCE).
    pub compress: bool,
}

impl Job {
    /// A job of copies of `records`.
    pub fn new(records: &[&[u8]], compress: bool) -> Job {
        Job::shared(
            Bytes::from(records.concat()),
            records.first().map_or(0, |r| r.len()),
            compress,
        )
    }

    /// A job of the records in `data`, `rec_len` bytes each (the last may be shorter),
    /// holding `data` itself.
    pub fn shared(data: Bytes, rec_len: usize, compress: bool) -> Job {
        Job {
            data,
            rec_len: rec_len.max(1),
            compress,
        }
    }

    /// The records, as the write gave them.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.data.chunks(self.rec_len)
    }

    /// How many records it holds.
    pub fn count(&self) -> u64 {
        self.data.len().div_ceil(self.rec_len) as u64
    }

    /// What its records count against the capacity at most until they are placed (the
    /// stored bytes of a record never exceed its length: a chunk is packed only when that
    /// makes it smaller, and a chunk already held costs what it costs its first holder).
    pub fn charge(&self) -> u64 {
        self.count() * HEADER_LEN + self.data.len() as u64
    }

    /// Cuts and names every record's chunks.
    pub fn cut(&self) -> Vec<Cut> {
        let base = self.data.as_ptr() as usize;
        self.records()
            .map(|r| Cut {
                len: r.len() as u32,
                pieces: chunk::split(r)
                    .map(|c| {
                        let at = c.as_ptr() as usize - base;
                        let packed = self
                            .compress
                            .then(|| lz4_flex::block::compress(c))
                            .filter(|p| p.len() < c.len());
                        let crc = crc32c::crc32c(packed.as_deref().unwrap_or(c));
                        Piece {
                            hash: chunk::hash(c),
                            range: at..at + c.len(),
                            packed,
                            crc,
                        }
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A record cut into chunks.
#[derive(Debug)]
pub struct Cut {
    /// The record's length (records are at most 8 MiB: it fits).
    pub len: u32,
    pub pieces: Vec<Piece>,
}

/// One chunk of a record.
#[derive(Debug)]
pub struct Piece {
    pub hash: Hash,
    /// Where its bytes are in the job's data.
    pub range: Range<usize>,
    /// Its LZ4 form, when compression is on and that is smaller.
    pub packed: Option<Vec<u8>>,
    /// CRC-32C of the bytes stored: the packed form if there is one.
    pub crc: u32,
}

impl Piece {
    /// The bytes to store for it, from its job's data.
    pub fn stored<'a>(&'a self, data: &'a [u8]) -> &'a [u8] {
        self.packed.as_deref().unwrap_or(&data[self.range.clone()])
    }
}

/// A cartridge's queue of writes being cut, and the thread that cuts them (started with
/// the first write; when it cannot be started, writes are cut as they come).
#[derive(Debug, Default)]
pub struct Behind {
    thread: Option<Cutter>,
    /// Jobs cut where no thread could be had, waiting to be placed.
    cut_here: VecDeque<(Job, Vec<Cut>)>,
    /// Jobs handed to the thread and not taken back.
    in_thread: usize,
    /// Records queued and not placed.
    records: u64,
    /// Their [`Job::charge`].
    charge: u64,
    /// The thread ended with jobs in it (it never panics; if it did): they are lost, and
    /// nothing queued after them may be placed.
    broken: bool,
}

#[derive(Debug)]
struct Cutter {
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<(Job, Vec<Cut>)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Cutter {
    fn start() -> std::io::Result<Cutter> {
        let (jobs, todo) = mpsc::channel::<Job>();
        let (tell, done) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("vsa-tape-cut".into())
            .spawn(move || {
                for job in todo {
                    let cuts = job.cut();
                    if tell.send((job, cuts)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Cutter {
            jobs: Some(jobs),
            done,
            handle: Some(handle),
        })
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the job it is on.
        self.jobs = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Behind {
    /// Records queued and not placed.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// What they count against the capacity at most.
    pub fn charge(&self) -> u64 {
        self.charge
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Whether `job` may join without the queue going over [`QUEUE_BYTES`] (an empty
    /// queue takes any job).
    pub fn has_room(&self, job: &Job) -> bool {
        self.is_empty() || self.charge + job.charge() <= QUEUE_BYTES
    }

    /// Queues `job` to be cut.
    pub fn push(&mut self, job: Job) {
        self.records += job.count();
        self.charge += job.charge();
        if self.thread.is_none() && self.in_thread > 0 {
            // The thread went with jobs in it: they are lost (see `pop`).
            self.broken = true;
        }
        // A thread starts only with nothing queued before this job (order is kept).
        if self.thread.is_none() && self.in_thread == 0 && self.cut_here.is_empty() {
            match Cutter::start() {
                Ok(c) => self.thread = Some(c),
                Err(e) => tracing::warn!("no thread to cut tape records in: {e}"),
            }
        }
        let job = match self.thread.as_ref().and_then(|t| t.jobs.as_ref()) {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => {
                    self.in_thread += 1;
                    return;
                }
                // The thread is gone (it never panics; if it did): what it held is lost.
                Err(mpsc::SendError(job)) => {
                    self.thread = None;
                    self.broken |= self.in_thread > 0;
                    job
                }
            },
            None => job,
        };
        let cuts = job.cut();
        self.cut_here.push_back((job, cuts));
    }

    /// The oldest queued job, cut: waiting for it if `wait`, else only if it is ready.
    /// `None` when nothing is queued, or (without `wait`) nothing is ready, or the queue is
    /// [`Behind::broken`].
    pub fn pop(&mut self, wait: bool) -> Option<(Job, Vec<Cut>)> {
        if self.broken {
            return None;
        }
        // Jobs in the thread are older than those cut here: these are cut here only when
        // no thread could be had, or after it ended (then it is broken).
        let got = if self.in_thread > 0 {
            let Some(t) = self.thread.as_ref() else {
                self.broken = true;
                return None;
            };
            let got = if wait {
                t.done.recv().map_err(|_| mpsc::TryRecvError::Disconnected)
            } else {
                t.done.try_recv()
            };
            match got {
                Ok(done) => {
                    self.in_thread -= 1;
                    Some(done)
                }
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.thread = None;
                    self.broken = true;
                    None
                }
            }
        } else {
            self.cut_here.pop_front()
        };
        if let Some((job, _)) = &got {
            self.records -= job.count();
            self.charge -= job.charge();
        }
        got
    }

    /// Whether queued jobs were lost (the thread cutting them ended): see
    /// [`Behind::drop_all`].
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// Forgets everything queued (it will not be placed); how many records that was.
    pub fn drop_all(&mut self) -> u64 {
        let lost = self.records;
        self.cut_here.clear();
        // The thread's jobs: wait for each (they are in order behind the channel), so the
        // next write's cut is not taken for one of these.
        while self.in_thread > 0 {
            let got = self.thread.as_ref().and_then(|t| t.done.recv().ok());
            self.in_thread -= 1;
            if got.is_none() {
                // The thread ended: nothing more will come.
                self.in_thread = 0;
                self.thread = None;
            }
        }
        self.records = 0;
        self.charge = 0;
        self.broken = false;
        lost
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::dedup::chunk::noise;

    #[test]
    fn a_job_holds_the_write_s_data_out_uncopied() {
        let mut b = Behind::default();
        let data = Bytes::from(vec![5u8; 1000]);
        b.push(Job::shared(data.slice(..800), 400, false));
        let (job, cuts) = b.pop(true).unwrap();
        assert_eq!(job.data.as_ptr(), data.as_ptr(), "the same memory");
        assert_eq!((job.data.len(), job.count(), cuts.len()), (800, 2, 2));
        let odd = Job::shared(data.clone(), 300, false);
        let lens: Vec<usize> = odd.records().map(<[u8]>::len).collect();
        assert_eq!(lens, [300, 300, 300, 100]);
    }

    #[test]
    fn cuts_cover_each_record_and_name_its_chunks() {
        let a = noise(1, 300_000);
        let b = noise(2, 300_000);
        let job = Job::new(&[&a, &b], false);
        assert_eq!(job.count(), 2);
        assert_eq!(job.charge(), 2 * HEADER_LEN + 600_000);
        let cuts = job.cut();
        assert_eq!(cuts.len(), 2);
        for (cut, rec) in cuts.iter().zip([&a, &b]) {
            assert_eq!(cut.len as usize, rec.len());
            let joined: Vec<u8> = cut
                .pieces
                .iter()
                .flat_map(|p| job.data[p.range.clone()].to_vec())
                .collect();
            assert!(&joined == rec);
            for p in &cut.pieces {
                let bytes = &job.data[p.range.clone()];
                assert_eq!(p.hash, chunk::hash(bytes));
                assert!(p.packed.is_none());
                assert_eq!(p.crc, crc32c::crc32c(bytes));
            }
        }
        // The same cuts as cutting each record alone.
        let alone: Vec<usize> = chunk::split(&b).map(<[u8]>::len).collect();
        let here: Vec<usize> = cuts[1].pieces.iter().map(|p| p.range.len()).collect();
        assert_eq!(alone, here);
    }

    #[test]
    fn compression_packs_what_shrinks() {
        let zeros = vec![0u8; 100_000];
        let job = Job::new(&[&zeros], true);
        let cuts = job.cut();
        let p = &cuts[0].pieces[0];
        let packed = p.packed.as_ref().unwrap();
        assert!(packed.len() < p.range.len());
        assert_eq!(p.crc, crc32c::crc32c(packed));
        assert_eq!(p.stored(&job.data), &packed[..]);
        let noisy = noise(3, 100_000);
        let job = Job::new(&[&noisy], true);
        assert!(job.cut()[0].pieces.iter().all(|p| p.packed.is_none()));
    }

    #[test]
    fn jobs_come_back_in_order_and_the_counts_follow() {
        let mut b = Behind::default();
        for i in 0..20u64 {
            let r = noise(i, 70_000 + i as usize);
            b.push(Job::new(&[&r], false));
        }
        assert_eq!(b.records(), 20);
        for i in 0..20u64 {
            let (job, cuts) = b.pop(true).unwrap();
            assert_eq!(job.data.len(), 70_000 + i as usize);
            assert_eq!(cuts.len(), 1);
            assert_eq!(b.records(), 19 - i);
        }
        assert!(b.pop(true).is_none());
        assert!(b.pop(false).is_none());
        assert_eq!(b.charge(), 0);
    }

    #[test]
    fn a_thread_gone_with_jobs_breaks_the_queue_until_it_is_dropped() {
        let mut b = Behind::default();
        let r = noise(5, 100_000);
        b.push(Job::new(&[&r], false));
        b.push(Job::new(&[&r], false));
        // As if the thread had died with them (its results can no longer come).
        b.thread = None;
        b.push(Job::new(&[&r], false));
        assert!(b.pop(false).is_none());
        assert!(b.pop(true).is_none());
        assert!(
            b.broken(),
            "the third job must not be placed before the first two"
        );
        assert_eq!(b.drop_all(), 3);
        assert!(!b.broken());
        b.push(Job::new(&[&r], false));
        assert_eq!(b.pop(true).unwrap().0.data, r);
    }

    #[test]
    fn the_queue_has_a_bound_and_drops_cleanly() {
        let mut b = Behind::default();
        let big = noise(9, 4 << 20);
        let job = || Job::new(&[&big], false);
        assert!(b.has_room(&job()));
        b.push(job());
        assert!(
            !b.has_room(&job()),
            "8 MiB with the headers is over the bound"
        );
        let one = noise(10, 1000);
        b.push(Job::new(&[&one], false));
        assert_eq!(b.drop_all(), 2);
        assert!(b.is_empty());
        assert!(b.pop(true).is_none());
        // The next job is the next one out.
        b.push(Job::new(&[&one], false));
        assert_eq!(b.pop(true).unwrap().0.data, one);
    }
}
