//! [`Ahead`]: a window of bytes read ahead, so reading consecutive records (or their
//! chunks) costs one large volume read instead of one per record; while a program reads
//! in sequence, the window after it is read in the background, so the volume read overlaps
//! sending what the window holds. What it gives out are slices of the window itself
//! ([`Bytes`] sharing it), so a record goes from the window to the socket uncopied.

use super::aligned::Buf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use vsa_blockdev::{BlockError, Bytes};

/// What a read for a window gives: bytes from a start, which may lie before what was
/// asked (reads begin at a device block; the bytes before are kept, not moved out).
pub type Read<E> = Result<(u64, Buf), E>;

/// Bytes from `start`, as read.
#[derive(Debug, Default)]
pub struct Ahead {
    start: u64,
    /// Shared with the slices given out (until they are sent).
    bytes: Arc<Buf>,
    /// The buffer of the window before, for the next read ([`Ahead::buffer`]): a stream
    /// read in sequence goes on in two buffers instead of a new one per window (whose
    /// pages would all be faulted in and zeroed again), unless a slice of it is still
    /// held (then the next read gets a new one).
    spare: Buf,
    /// Where the last request ended: a request starting there is sequential.
    next: u64,
    /// Whether the last request was.
    sequential: bool,
    /// The window after this one, being read.
    coming: Option<Coming>,
}

/// A window being read in the background: `len` bytes from `start`.
#[derive(Debug)]
struct Coming {
    start: u64,
    len: u64,
    read: Receiver<Read<BlockError>>,
}

impl Ahead {
    /// How far a read reaches ahead.
    pub const LEN: u64 = 4 << 20;

    /// Bytes `off..off + len` if the window holds them.
    pub fn get(&self, off: u64, len: u64) -> Option<&[u8]> {
        let a = off.checked_sub(self.start)?;
        let b = a.checked_add(len)?;
        self.bytes
            .get(usize::try_from(a).ok()?..usize::try_from(b).ok()?)
    }

    /// Notes a request of `off..off + len` (ask before [`Ahead::get`]); how much to read
    /// if the window does not hold it: [`Ahead::LEN`] when it follows the last request
    /// (reading in sequence), else only what is asked (positioning: reading ahead would
    /// waste the read).
    pub fn want(&mut self, off: u64, len: u64) -> u64 {
        let sequential = off == self.next;
        self.next = off.saturating_add(len);
        self.sequential = sequential;
        if sequential {
            len.max(Self::LEN)
        } else {
            len
        }
    }

    /// Bytes `off..off + len` as a slice of the window (shared, not copied).
    pub fn slice(&self, off: u64, len: u64) -> Option<Bytes> {
        let a = usize::try_from(off.checked_sub(self.start)?).ok()?;
        let b = a.checked_add(usize::try_from(len).ok()?)?;
        (b <= self.bytes.len()).then(|| Bytes::from_owner(Window(self.bytes.clone(), a..b)))
    }

    /// Holds `bytes`, read from `start`.
    pub fn fill(&mut self, start: u64, bytes: Buf) {
        self.start = start;
        let old = std::mem::replace(&mut self.bytes, Arc::new(bytes));
        self.spare = Arc::try_unwrap(old).unwrap_or_default();
    }

    /// A buffer to read the next window into (see [`Buf::sized`]).
    pub fn buffer(&mut self) -> Buf {
        std::mem::take(&mut self.spare)
    }

    /// Forgets everything (what it held, or is reading, may have changed).
    pub fn clear(&mut self) {
        self.fill(0, Buf::default());
        self.coming = None;
    }

    /// The window read ahead becomes this one if it holds `off..off + len`, or the rest
    /// of a request that straddles the two: then the requested bytes (it is waited for;
    /// one that failed or does not fit is dropped). A straddling request is put together
    /// from the two windows; the new one is not copied behind what is left of this one.
    pub fn adopt(&mut self, off: u64, len: u64) -> Option<Bytes> {
        let c = self.coming.take()?;
        let end = self.start + self.bytes.len() as u64;
        let reaches = c.start.saturating_add(c.len) >= off.saturating_add(len);
        let alone = c.start <= off && reaches;
        let joined = c.start == end && self.start <= off && off < end && reaches;
        if !alone && !joined {
            return None; // not waited for: the reader went elsewhere
        }
        match c.read.recv() {
            Ok(Ok((from, bytes)))
                if from <= c.start && from + bytes.len() as u64 == c.start + c.len =>
            {
                let mut out = Vec::new();
                if !alone {
                    let rest = usize::try_from(c.start - from).ok()?
                        ..usize::try_from(off + len - from).ok()?;
                    out.reserve_exact(usize::try_from(len).ok()?);
                    out.extend_from_slice(self.bytes.get((off - self.start) as usize..)?);
                    out.extend_from_slice(bytes.get(rest)?);
                }
                self.fill(from, bytes);
                if alone {
                    return self.slice(off, len);
                }
                Some(Bytes::from(out))
            }
            _ => None,
        }
    }

    /// Bytes `off..off + len`: from the window, or the window read ahead ([`Ahead::adopt`]),
    /// or else from `read(from, n, buffer)`, which the window then holds; `n` is what
    /// [`Ahead::want`] said (asked first), cut by the caller's `read` as it must be.
    pub fn take<E>(
        &mut self,
        off: u64,
        len: u64,
        want: u64,
        read: impl FnOnce(u64, u64, Buf) -> Read<E>,
    ) -> Result<Bytes, E> {
        if let Some(b) = self.slice(off, len) {
            return Ok(b);
        }
        if let Some(b) = self.adopt(off, len) {
            return Ok(b);
        }
        let (from, bytes) = read(off, want, self.buffer())?;
        self.fill(from, bytes);
        Ok(self.slice(off, len).unwrap_or_default())
    }

    /// Where the next window starts, and how long it is, if it should be read now: when
    /// the last request was in sequence (not after positioning: a read there would be
    /// wasted) and ended in this window, none is being read, and something lies before
    /// `limit`.
    pub fn next_window(&self, limit: u64) -> Option<(u64, u64)> {
        let end = self.start + self.bytes.len() as u64;
        let inside = self.start < self.next && self.next <= end;
        if !self.sequential || self.coming.is_some() || !inside || end >= limit {
            return None;
        }
        Some((end, Self::LEN.min(limit - end)))
    }

    /// Starts reading the window `start..start + len` with `read` (into a buffer it is
    /// given), on a thread of its own.
    pub fn prefetch<F>(&mut self, start: u64, len: u64, read: F)
    where
        F: FnOnce(Buf) -> Read<BlockError> + Send + 'static,
    {
        let (tx, rx) = channel();
        let buf = self.buffer();
        let spawned = std::thread::Builder::new()
            .name("vtl-read-ahead".into())
            .spawn(move || {
                let _ = tx.send(read(buf)); // the reader may have moved on
            });
        if spawned.is_ok() {
            self.coming = Some(Coming {
                start,
                len,
                read: rx,
            });
        }
    }

    /// The window being read in the background, if any: (start, length).
    #[cfg(test)]
    fn coming(&self) -> Option<(u64, u64)> {
        self.coming.as_ref().map(|c| (c.start, c.len))
    }
}

/// A slice of a window, as the [`Bytes`] given out own it.
struct Window(Arc<Buf>, std::ops::Range<usize>);

impl AsRef<[u8]> for Window {
    fn as_ref(&self) -> &[u8] {
        self.0.get(self.1.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsa_blockdev::{ErrorKind, Op};

    #[test]
    fn gives_what_it_holds_only() {
        let mut a = Ahead::default();
        assert_eq!(a.want(0, 10), Ahead::LEN, "from the start is in sequence");
        assert_eq!(a.want(5, 10), 10);
        assert_eq!(a.want(15, 10), Ahead::LEN);
        assert_eq!(a.get(0, 0), Some(&[][..]));
        assert_eq!(a.get(0, 1), None);
        a.fill(10, vec![1, 2, 3, 4].into());
        assert_eq!(a.get(11, 2), Some(&[2, 3][..]));
        assert_eq!(a.get(9, 2), None);
        assert_eq!(a.get(12, 3), None);
        assert_eq!(a.get(u64::MAX, 2), None);
        assert_eq!(a.want(11, 2), 2);
        assert_eq!(a.want(13, 100), Ahead::LEN);
        a.clear();
        assert_eq!(a.get(10, 1), None);
    }

    fn bytes(from: u64, len: u64) -> Vec<u8> {
        (from..from + len).map(|i| i as u8).collect()
    }

    #[test]
    fn reading_in_sequence_reads_the_next_window_meanwhile() {
        let mut a = Ahead::default();
        assert_eq!(a.want(0, 10), Ahead::LEN);
        a.fill(0, bytes(0, 100).into());
        assert_eq!(a.next_window(1000), Some((100, 900.min(Ahead::LEN))));
        assert_eq!(a.next_window(100), None, "nothing past the limit");
        a.prefetch(100, 100, |_| Ok((100, bytes(100, 100).into())));
        assert_eq!(a.coming(), Some((100, 100)));
        assert_eq!(a.next_window(1000), None, "one at a time");
        // A request straddling the two windows: the tail of this one and the next.
        a.want(95, 10);
        assert_eq!(a.get(95, 10), None);
        assert_eq!(a.adopt(95, 10).as_deref(), Some(&bytes(95, 10)[..]));
        assert_eq!(
            a.get(95, 10),
            None,
            "the new window starts where it was read"
        );
        assert_eq!(a.get(100, 100), Some(&bytes(100, 100)[..]));
        assert_eq!(a.coming(), None);
        // A request the next window holds alone.
        a.want(200, 10);
        a.prefetch(200, 50, |_| Ok((200, bytes(200, 50).into())));
        assert_eq!(a.adopt(200, 10).as_deref(), Some(&bytes(200, 10)[..]));
        assert_eq!(a.get(240, 10), Some(&bytes(240, 10)[..]));
    }

    #[test]
    fn a_window_may_start_before_what_was_asked_and_reuses_the_buffer_before_it() {
        let mut a = Ahead::default();
        a.want(0, 10);
        let first = bytes(0, 100);
        let ptr = first.as_ptr();
        a.fill(0, first.into());
        // Read from a block boundary before the window asked for (100..200).
        a.prefetch(100, 100, |_| Ok((96, bytes(96, 104).into())));
        a.want(95, 10);
        assert_eq!(a.adopt(95, 10).as_deref(), Some(&bytes(95, 10)[..]));
        assert_eq!(a.get(96, 104), Some(&bytes(96, 104)[..]));
        // The window before is the buffer of the next read.
        let spare = a.buffer();
        assert_eq!(spare.as_ptr(), ptr);
        let spare = spare.sized(40);
        assert!(
            spare.is_aligned() && spare.len() == 40,
            "made ready to be read into"
        );
        // A read that does not end where the window asked for ends is dropped.
        a.prefetch(200, 100, |_| Ok((196, bytes(196, 50).into())));
        a.want(200, 10);
        assert_eq!(a.adopt(200, 10), None);
    }

    #[test]
    fn a_slice_given_out_keeps_its_bytes_after_the_window_moves_on() {
        let mut a = Ahead::default();
        a.want(0, 10);
        a.fill(0, bytes(0, 100).into());
        let held = a.slice(10, 10).unwrap();
        assert_eq!(a.slice(95, 10), None, "past the window");
        a.fill(100, bytes(100, 100).into());
        assert!(
            a.buffer().is_empty(),
            "a window a slice still holds is not read into"
        );
        a.fill(200, vec![0xee; 100].into());
        assert_eq!(held, bytes(10, 10));
        // Windows no slice holds are read into again.
        a.fill(300, bytes(300, 100).into());
        assert_eq!(&*a.buffer(), &[0xee; 100][..]);
        let mut a = Ahead::default();
        a.want(0, 10);
        let taken = a.take(0, 10, 100, |at, n, _| {
            Ok::<_, ()>((at, bytes(at, n).into()))
        });
        assert_eq!(taken.as_deref(), Ok(&bytes(0, 10)[..]));
        let again = a.take(10, 10, 100, |_, _, _| Err(()));
        assert_eq!(
            again.as_deref(),
            Ok(&bytes(10, 10)[..]),
            "from the window, not read"
        );
    }

    #[test]
    fn a_window_read_ahead_that_fails_or_does_not_fit_is_dropped() {
        let mut a = Ahead::default();
        a.want(0, 10);
        a.fill(0, bytes(0, 100).into());
        a.prefetch(100, 100, |_| {
            Err(BlockError::new(ErrorKind::Io, Op::Read, 100, 100))
        });
        assert_eq!(a.adopt(150, 10), None);
        assert_eq!(a.coming(), None);
        a.prefetch(100, 100, |_| Ok((100, bytes(100, 100).into())));
        assert_eq!(a.adopt(500, 10), None, "a jump elsewhere");
        a.prefetch(100, 100, |_| Ok((100, bytes(100, 100).into())));
        a.clear();
        assert_eq!(a.coming(), None, "what was written since is not served");
    }

    #[test]
    fn positioning_reads_nothing_ahead() {
        let mut a = Ahead::default();
        a.want(0, 10);
        a.fill(0, bytes(0, 100).into());
        a.want(500, 10); // a jump: the last request is not in this window
        assert_eq!(a.next_window(1000), None);
        a.fill(500, bytes(500, 10).into()); // what positioning reads: the block asked for
        assert_eq!(a.next_window(1000), None, "not after a jump");
        a.want(510, 10); // reading on from there is in sequence again
        a.fill(510, bytes(510, 100).into());
        assert_eq!(a.next_window(1000), Some((610, 390)));
    }
}
