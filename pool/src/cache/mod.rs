//! [`ReadCache`]: a RAM read cache in front of a block device (the pool's RAID set), so
//! that reads of hot data do not go to members opened with `O_DIRECT`.
//!
//! ```text
//!  Volume ──read_at/write_at──▶ ReadCache ──misses, every write──▶ RaidSet
//!                                  │ 128 shards by hash of 16-page runs, each a Mutex<Shard>
//!                                  └ page index ─▶ 4 KiB page, CLOCK eviction per shard
//! ```
//!
//! The cache is write-through: writes and unmaps always reach the device before they
//! return, so it never holds data the device lacks and a crash loses nothing it would not
//! lose without it. Pages are allocated when filled and the capacity is a byte budget split
//! evenly over the shards; capacity 0 turns the cache off.
//!
//! Reads bring pages in; writes do not (no write-allocate): a write refreshes the pages it
//! covers that are cached already and drops the ones it covers in part. Streams of writes
//! (backups, image copies) then neither evict what readers use nor pay for copying their
//! data into the cache, and data an initiator just wrote is in its own page cache anyway.
//!
//! # Coherence
//!
//! A reader and a writer of the same pages may run at once. Each shard has a `generation`
//! and a count of `writers` under way:
//!
//! - a write (or unmap) bumps the generation and the writer count of every shard it
//!   touches and drops its pages there, *then* writes the device; afterwards, per shard, it
//!   caches again the pages it dropped and fully covered, only if no other write touched
//!   the shard meanwhile
//!   (generation unchanged since its own bump, it is the only writer), drops them again if
//!   the device write failed, and bumps the generation again as it leaves;
//! - a reader that misses notes the shard's generation and whether a writer was under way
//!   *before* reading the device, and inserts the page only if no writer was under way and
//!   the generation is unchanged afterwards.
//!
//! So a page is inserted only from a device read or write that no other write overlapped
//! in time, and every write that completes leaves no older copy of its pages behind.
//! Changes made below the cache (a repairing scrub) call [`ReadCache::invalidate_all`].
//!
//! Pages are shared buffers ([`Bytes`]): a non-blocking read may hand a page itself to its
//! caller ([`BlockDevice::try_read_shared`], so the iSCSI target sends it without a copy).
//! A page is never changed in place while anyone else holds it: new contents go into new
//! memory, and the holder keeps what it read.
//!
//! # Off and on
//!
//! With capacity 0, reads go straight to the device after one atomic load, and writes
//! after two atomic increments (no lock): they are counted while under way, so that
//! turning the cache on can wait for them. Turning it off sets the capacity to 0 (no page
//! can be inserted any more), empties every shard, and only then lets writes bypass the
//! protocol. Turning it on stops writes bypassing, waits until those under way are done,
//! empties every shard (bumping its generation), and only then sets the capacity. Resizes
//! are serialized.

mod shard;
#[cfg(test)]
mod tests;

use parking_lot::Mutex;
use serde::Serialize;
use shard::Shard;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use vsa_blockdev::{BlockDevice, BlockError, Bytes, Extent, Op, Result};

/// The default read cache capacity of a pool: 1 GiB (pages are allocated only when filled).
pub const DEFAULT_READ_CACHE_BYTES: u64 = 1 << 30;

/// The smallest page; devices with larger blocks use their block size.
const MIN_PAGE: u64 = 4096;

/// log2 of the number of shards.
const SHARD_BITS: u32 = 7;
const SHARDS: usize = 1 << SHARD_BITS;

/// The read cache's counters. Hits and misses count pages looked up by reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadCacheStats {
    /// Pages reads found in the cache.
    pub hits: u64,
    /// Pages reads had to fetch from the device.
    pub misses: u64,
    /// Pages dropped to make room (or because the capacity shrank).
    pub evictions: u64,
    /// Bytes of pages held now.
    pub bytes_cached: u64,
    /// The capacity in bytes (0: the cache is off).
    pub capacity: u64,
    /// The page size in bytes.
    pub page_size: u64,
}

/// A page a read missed, with its shard's state before the device read.
struct Miss {
    page: u64,
    generation: u64,
    /// No write of the shard was under way.
    quiet: bool,
}

/// A sharded, write-through RAM read cache over `D`; itself a [`BlockDevice`] that reads
/// exactly what `D` holds. See the module documentation for the coherence rules.
pub struct ReadCache<D> {
    inner: D,
    page: u64,
    /// Bytes the pages may take; 0 while off (and while being turned on).
    capacity: AtomicU64,
    /// Writes may skip the coherence protocol: the cache is off and empty.
    bypass: AtomicBool,
    /// Writes under way that skipped the protocol.
    bypassing: AtomicU64,
    /// Serializes [`ReadCache::set_capacity`].
    resize: Mutex<()>,
    shards: Box<[Mutex<Shard>]>,
}

impl<D> std::fmt::Debug for ReadCache<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("page", &self.page)
            .field("capacity", &self.capacity.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// log2 of the pages in a run that share a shard: a large read takes one shard's lock
/// per run instead of one per page.
const RUN_BITS: u32 = 4;

/// The smallest capacity at which every shard can hold a whole run of 4 KiB pages (8
/// MiB). A smaller cache works, but a shard then drops pages of a run it is filling and
/// a large read hits less; the appliance's configuration refuses such sizes.
pub const MIN_READ_CACHE_BYTES: u64 = ((SHARDS as u64) << RUN_BITS) * MIN_PAGE;

/// The shard of `page`: the run it is in, scattered over the shards.
fn shard_of(page: u64) -> usize {
    ((page >> RUN_BITS).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARD_BITS)) as usize
}

impl<D: BlockDevice> ReadCache<D> {
    /// A cache of at most `capacity` bytes in front of `inner` (0: off; below
    /// [`MIN_READ_CACHE_BYTES`] it works, but holds less of what is read).
    pub fn new(inner: D, capacity: u64) -> Self {
        let page = MIN_PAGE.max(u64::from(inner.block_size()));
        ReadCache {
            inner,
            page,
            capacity: AtomicU64::new(capacity),
            bypass: AtomicBool::new(capacity == 0),
            bypassing: AtomicU64::new(0),
            resize: Mutex::new(()),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    /// The device behind the cache. Writing it directly bypasses the cache: call
    /// [`ReadCache::invalidate_all`] afterwards.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The page size in bytes.
    pub fn page_size(&self) -> u64 {
        self.page
    }

    /// Changes the capacity; shrinking evicts at once, 0 turns the cache off and frees it.
    /// Turning the cache on waits for writes that started while it was off to finish.
    pub fn set_capacity(&self, bytes: u64) {
        let _serial = self.resize.lock();
        let old = self.capacity.load(Ordering::SeqCst);
        if old != 0 && bytes != 0 {
            self.capacity.store(bytes, Ordering::SeqCst);
            for (i, shard) in self.shards.iter().enumerate() {
                // Under the lock, so an insert that follows sees the new capacity.
                let mut sh = shard.lock();
                sh.shrink_to(self.limit(i));
            }
        } else if bytes == 0 {
            // Inserts see 0 from now on; once the shards are empty, writes may bypass.
            self.capacity.store(0, Ordering::SeqCst);
            for shard in self.shards.iter() {
                let mut sh = shard.lock();
                sh.generation = sh.generation.wrapping_add(1);
                sh.shrink_to(0);
            }
            self.bypass.store(true, Ordering::SeqCst);
        } else {
            // A bypassing write counts itself before it checks `bypass`, and this reads the
            // count after clearing `bypass`: every write either saw it cleared (and follows
            // the protocol) or is waited for here.
            self.bypass.store(false, Ordering::SeqCst);
            while self.bypassing.load(Ordering::SeqCst) != 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            self.invalidate_all();
            self.capacity.store(bytes, Ordering::SeqCst);
        }
    }

    /// The counters.
    pub fn stats(&self) -> ReadCacheStats {
        let mut s = ReadCacheStats {
            capacity: self.capacity.load(Ordering::Relaxed),
            page_size: self.page,
            ..ReadCacheStats::default()
        };
        for shard in self.shards.iter() {
            let sh = shard.lock();
            s.hits += sh.hits;
            s.misses += sh.misses;
            s.evictions += sh.evictions;
            s.bytes_cached += sh.len() as u64 * self.page;
        }
        s
    }

    /// Drops every cached page, and keeps reads under way from inserting what they read.
    /// For content changed below the cache.
    pub fn invalidate_all(&self) {
        for shard in self.shards.iter() {
            let mut sh = shard.lock();
            sh.generation = sh.generation.wrapping_add(1);
            sh.release();
        }
    }

    /// Pages shard `i` may hold under the current capacity (shard lock held, or the answer
    /// may be stale).
    fn limit(&self, i: usize) -> usize {
        let pages = self.capacity.load(Ordering::SeqCst) / self.page;
        let (base, extra) = (pages / SHARDS as u64, pages % SHARDS as u64);
        usize::try_from(base + u64::from((i as u64) < extra)).unwrap_or(usize::MAX)
    }

    /// Whether a request may use the cache: non-empty, aligned and inside the device.
    /// Others go straight to the device, which rejects them with its own error.
    fn cacheable(&self, offset: u64, len: u64) -> bool {
        let bs = u64::from(self.inner.block_size());
        len > 0
            && offset % bs == 0
            && len % bs == 0
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= self.inner.size())
    }

    /// Pages `[first, last]` touched by `[offset, offset + len)` (non-empty).
    fn page_span(&self, offset: u64, len: u64) -> (u64, u64) {
        (offset / self.page, (offset + len - 1) / self.page)
    }

    /// The pages of `[offset, offset + len)` as `(shard, page)`, sorted by shard.
    fn by_shard(&self, offset: u64, len: u64) -> Vec<(usize, u64)> {
        let (first, last) = self.page_span(offset, len);
        let mut pages: Vec<(usize, u64)> = (first..=last).map(|p| (shard_of(p), p)).collect();
        pages.sort_unstable();
        pages
    }

    /// Reads through the cache; `[offset, offset + buf.len())` is cacheable.
    fn read_cached(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let len = buf.len() as u64;
        let end = offset + len;
        let (first, last) = self.page_span(offset, len);
        let mut misses = Vec::new();
        for page in first..=last {
            let lo = (page * self.page).max(offset);
            let hi = ((page + 1) * self.page).min(end);
            let dst = &mut buf[(lo - offset) as usize..(hi - offset) as usize];
            let mut sh = self.shards[shard_of(page)].lock();
            if !sh.read(page, (lo - page * self.page) as usize, dst) {
                misses.push(Miss {
                    page,
                    generation: sh.generation,
                    quiet: sh.writers == 0,
                });
            }
        }
        for run in misses.chunk_by(|a, b| a.page + 1 == b.page) {
            self.fill(buf, offset, run)?;
        }
        Ok(())
    }

    /// Copies `[offset, offset + buf.len())` (cacheable) into `buf` if every page of it is
    /// cached and no shard lock is contended; `None` otherwise, with `buf` partly written
    /// and the pages found counted as hits.
    fn read_hot(&self, buf: &mut [u8], offset: u64) -> Option<()> {
        let mut pos = 0;
        self.visit_hot(offset, buf.len() as u64, |page, part| {
            buf[pos..pos + part.len()].copy_from_slice(&page[part.clone()]);
            pos += part.len();
        })
    }

    /// Hands the cached pages of `[offset, offset + len)` (cacheable) to `take` in order,
    /// each with the range of it the request covers, while every page is cached and no
    /// shard lock is contended; `None` at the first that is not (after the pages before
    /// it), the pages found counted as hits.
    fn visit_hot(
        &self,
        offset: u64,
        len: u64,
        mut take: impl FnMut(&Bytes, Range<usize>),
    ) -> Option<()> {
        let end = offset + len;
        let (first, last) = self.page_span(offset, len);
        let mut held = None;
        for page in first..=last {
            let lo = (page * self.page).max(offset);
            let hi = ((page + 1) * self.page).min(end);
            let i = shard_of(page);
            let sh = match &mut held {
                Some((at, guard)) if *at == i => guard,
                _ => &mut held.insert((i, self.shards[i].try_lock()?)).1,
            };
            let at = (lo - page * self.page) as usize;
            take(sh.hit(page)?, at..at + (hi - lo) as usize);
        }
        Some(())
    }

    /// Reads the consecutive missed pages `run` from the device with one call, copies the
    /// requested part to `buf` (which holds `[offset, ..)`) and caches the whole pages.
    fn fill(&self, buf: &mut [u8], offset: u64, run: &[Miss]) -> Result<()> {
        let (Some(a), Some(b)) = (run.first(), run.last()) else {
            return Ok(());
        };
        let want = buf.len() as u64;
        let end = offset + want;
        let size = self.inner.size();
        let lo = a.page * self.page;
        let hi = ((b.page + 1) * self.page).min(size);
        let (want_lo, want_hi) = (lo.max(offset), hi.min(end));
        // Errors name the caller's range, as the volume layer's do.
        let relabel = |e: BlockError| e.at(Op::Read, offset, want);
        let scratch;
        let src: &[u8] = if (lo, hi) == (want_lo, want_hi) {
            let dst = &mut buf[(lo - offset) as usize..(hi - offset) as usize];
            self.inner.read_at(dst, lo).map_err(relabel)?;
            dst
        } else {
            // The run starts or ends in a page the caller wants only part of: read whole
            // pages aside.
            let mut tmp = vec![0u8; (hi - lo) as usize];
            self.inner.read_at(&mut tmp, lo).map_err(relabel)?;
            buf[(want_lo - offset) as usize..(want_hi - offset) as usize]
                .copy_from_slice(&tmp[(want_lo - lo) as usize..(want_hi - lo) as usize]);
            scratch = tmp;
            &scratch
        };
        for m in run {
            let at = m.page * self.page - lo;
            let Some(data) = src.get(at as usize..(at + self.page) as usize) else {
                continue; // A partial page at the end of the device is not cached.
            };
            let i = shard_of(m.page);
            let mut sh = self.shards[i].lock();
            if m.quiet && sh.generation == m.generation {
                let limit = self.limit(i);
                sh.insert(m.page, data, limit);
            }
        }
        Ok(())
    }

    /// Runs `op`, a write (`data`: its buffer) or unmap of `[offset, offset + len)`, under
    /// the coherence protocol of the module documentation. `op` answers `None` when it
    /// declined (a write that would wait, nothing done): the pages go back as they were.
    fn mutate(
        &self,
        offset: u64,
        len: u64,
        data: Option<&[u8]>,
        op: impl FnOnce() -> Option<Result<()>>,
    ) -> Option<Result<()>> {
        let pages = self.by_shard(offset, len);
        let mut starts = Vec::with_capacity(pages.len());
        // What each page held (`None`: not cached): only those pages are cached again, in
        // the same memory where no reader holds it.
        let mut was: Vec<Option<Bytes>> = Vec::with_capacity(pages.len());
        for group in pages.chunk_by(|a, b| a.0 == b.0) {
            let mut sh = self.shards[group[0].0].lock();
            sh.generation = sh.generation.wrapping_add(1);
            sh.writers += 1;
            was.extend(group.iter().map(|&(_, page)| sh.remove(page)));
            starts.push(sh.generation);
        }
        let result = op();
        let mut base = 0;
        for (group, start) in pages.chunk_by(|a, b| a.0 == b.0).zip(starts) {
            let olds = &mut was[base..base + group.len()];
            base += group.len();
            let i = group[0].0;
            let mut sh = self.shards[i].lock();
            let alone = sh.generation == start && sh.writers == 1;
            match (&result, data) {
                (Some(Ok(())), Some(buf)) if alone => {
                    let limit = self.limit(i);
                    for (&(_, page), old) in group.iter().zip(olds) {
                        let lo = page * self.page;
                        let whole = lo >= offset && lo + self.page <= offset + len;
                        if let (Some(old), true) = (old.take(), whole) {
                            let at = (lo - offset) as usize;
                            let src = &buf[at..at + self.page as usize];
                            sh.insert_reusing(page, src, limit, Some(old));
                        }
                    }
                }
                // Nothing can have cached these pages since they were dropped above (this
                // write was under way), but a failed write must surely leave none behind.
                (Some(Err(_)), _) => {
                    for &(_, page) in group {
                        sh.remove(page);
                    }
                }
                (None, _) if alone => {
                    let limit = self.limit(i);
                    for (&(_, page), old) in group.iter().zip(olds) {
                        if let Some(old) = old.take() {
                            sh.restore(page, old, limit);
                        }
                    }
                }
                _ => {}
            }
            sh.generation = sh.generation.wrapping_add(1);
            sh.writers -= 1;
        }
        result
    }

    /// Runs `op` (a write or unmap) without the coherence protocol if the cache is off and
    /// empty; `None` if it must follow the protocol.
    fn try_bypass<T>(&self, op: impl FnOnce() -> T) -> Option<T> {
        if !self.bypass.load(Ordering::Relaxed) {
            return None;
        }
        self.bypassing.fetch_add(1, Ordering::SeqCst);
        let result = self.bypass.load(Ordering::SeqCst).then(op);
        self.bypassing.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Runs `op`, a write or unmap of a range the cache does not handle (the device will
    /// refuse it). Should the device take it after all, nothing cached is trusted.
    fn uncacheable(&self, len: u64, op: impl FnOnce() -> Result<()>) -> Result<()> {
        let result = op();
        if result.is_ok() && len > 0 {
            self.invalidate_all();
        }
        result
    }

    /// Every cached page that differs from the device (or cannot be read from it).
    #[cfg(test)]
    pub(crate) fn stale_pages(&self) -> Vec<u64> {
        let mut stale = Vec::new();
        let mut disk = vec![0u8; self.page as usize];
        for shard in self.shards.iter() {
            let sh = shard.lock();
            for (page, data) in sh.pages() {
                let ok = self.inner.read_at(&mut disk, page * self.page).is_ok();
                if !ok || disk != data {
                    stale.push(page);
                }
            }
        }
        stale.sort_unstable();
        stale
    }
}

/// The result of an operation that never declines (`mutate` of `|| Some(op())`).
fn answered(r: Option<Result<()>>) -> Result<()> {
    r.unwrap_or(Ok(()))
}

impl<D: BlockDevice> BlockDevice for ReadCache<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        if self.capacity.load(Ordering::Relaxed) == 0 || !self.cacheable(offset, buf.len() as u64) {
            return self.inner.read_at(buf, offset);
        }
        self.read_cached(buf, offset)
    }

    /// From the device below, whatever is cached: the device holds every acknowledged
    /// write (writes reach it before they complete), and nothing read is inserted.
    fn read_once_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.inner.read_at(buf, offset)
    }

    /// Served only when every page is cached (then it cannot fail).
    fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<Result<()>> {
        if self.capacity.load(Ordering::Relaxed) == 0 || !self.cacheable(offset, buf.len() as u64) {
            return self.inner.try_read_at(buf, offset);
        }
        self.read_hot(buf, offset).map(Ok)
    }

    /// Served only when every page is cached: hands out the cached pages themselves
    /// (pages are never changed in place, so they stay as read).
    fn try_read_shared(&self, out: &mut Vec<Bytes>, offset: u64, len: usize) -> Option<Result<()>> {
        if self.capacity.load(Ordering::Relaxed) == 0 || !self.cacheable(offset, len as u64) {
            return self.inner.try_read_shared(out, offset, len);
        }
        let start = out.len();
        let r = self.visit_hot(offset, len as u64, |page, part| {
            out.push(if part.len() == page.len() {
                page.clone()
            } else {
                page.slice(part)
            });
        });
        if r.is_none() {
            out.truncate(start);
        }
        r.map(Ok)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let len = buf.len() as u64;
        let op = || self.inner.write_at(buf, offset);
        if !self.cacheable(offset, len) {
            return self.uncacheable(len, op);
        }
        if let Some(result) = self.try_bypass(op) {
            return result;
        }
        answered(self.mutate(offset, len, Some(buf), || Some(op())))
    }

    /// Through the same coherence protocol as `write_at`; a write the device below
    /// declines leaves the cache as it was.
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<Result<()>> {
        let len = buf.len() as u64;
        if !self.cacheable(offset, len) {
            return None;
        }
        let attempt = || self.inner.try_write_at(buf, offset);
        match self.try_bypass(attempt) {
            Some(r) => r,
            None => self.mutate(offset, len, Some(buf), attempt),
        }
    }

    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    fn unmap(&self, offset: u64, len: u64) -> Result<()> {
        let op = || self.inner.unmap(offset, len);
        if !self.cacheable(offset, len) {
            return self.uncacheable(len, op);
        }
        if let Some(result) = self.try_bypass(op) {
            return result;
        }
        answered(self.mutate(offset, len, None, || Some(op())))
    }

    fn allocation(&self, offset: u64, len: u64) -> Result<Vec<Extent>> {
        self.inner.allocation(offset, len)
    }

    fn io_granularity(&self) -> u64 {
        self.inner.io_granularity()
    }

    fn space_low(&self) -> bool {
        self.inner.space_low()
    }
}
