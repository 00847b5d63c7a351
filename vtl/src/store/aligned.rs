//! [`Buf`]: a buffer whose bytes start at a 4096-byte boundary of memory, so the pool's
//! members, which use direct I/O, read a stream's read-ahead windows straight into it
//! and write staged chunks straight from it (a buffer at any other address goes through
//! a bounce buffer: a copy of every byte).

use std::ops::{Deref, DerefMut};

/// Memory alignment of a [`Buf`]'s bytes.
const ALIGN: usize = 4096;

/// Bytes `at..at + len` of `v`, `at` chosen so they start at an [`ALIGN`] boundary (when
/// the buffer was made by [`Buf::sized`]; one made from a `Vec` starts where it does).
#[derive(Debug, Default)]
pub struct Buf {
    v: Vec<u8>,
    at: usize,
    len: usize,
}

impl From<Vec<u8>> for Buf {
    fn from(v: Vec<u8>) -> Self {
        let len = v.len();
        Buf { v, at: 0, len }
    }
}

impl Clone for Buf {
    /// A copy in aligned memory of its own.
    fn clone(&self) -> Buf {
        let mut b = Buf::with_capacity(self.len);
        b.extend_from_slice(self);
        b
    }
}

impl Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.v.get(self.at..self.at + self.len).unwrap_or_default()
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.v
            .get_mut(self.at..self.at + self.len)
            .unwrap_or_default()
    }
}

impl Buf {
    /// `self` made `n` bytes long and aligned, to be read into: what it held is to be
    /// overwritten by the read (it may have moved within the buffer), so only memory it
    /// never had is zeroed first.
    pub fn sized(self, n: usize) -> Buf {
        let mut v = self.v;
        if v.len() < n + ALIGN {
            v.resize(n + ALIGN, 0);
        }
        let at = v.as_ptr().align_offset(ALIGN);
        // align_offset may in theory give up: the bytes are then merely unaligned (a
        // direct-I/O member bounces them).
        let at = if at < ALIGN { at } else { 0 };
        Buf { v, at, len: n }
    }

    /// Keeps the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// An empty buffer with room for `n` bytes at an aligned address.
    pub fn with_capacity(n: usize) -> Buf {
        let mut v: Vec<u8> = Vec::with_capacity(n + ALIGN);
        let at = v.as_ptr().align_offset(ALIGN);
        let at = if at < ALIGN { at } else { 0 };
        v.resize(at, 0);
        Buf { v, at, len: 0 }
    }

    /// Bytes it can hold without moving.
    pub fn capacity(&self) -> usize {
        self.v.capacity().saturating_sub(self.at)
    }

    /// Makes room for `more` bytes after the ones it holds; when it must move, the new
    /// memory is aligned again.
    pub fn reserve(&mut self, more: usize) {
        let need = self.len + more;
        if need > self.capacity() {
            let mut grown = Buf::with_capacity(need);
            grown.v.extend_from_slice(self);
            grown.len = self.len;
            *self = grown;
        }
    }

    /// Appends `s`, growing (to twice the room, aligned) when it is full.
    pub fn extend_from_slice(&mut self, s: &[u8]) {
        if self.len + s.len() > self.capacity() {
            self.reserve(s.len().max(self.capacity()));
        }
        self.v.truncate(self.at + self.len);
        self.v.extend_from_slice(s);
        self.len += s.len();
    }

    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Drops the first `n` bytes: the rest moves to the front (and stays aligned).
    pub fn drain_front(&mut self, n: usize) {
        let n = n.min(self.len);
        let start = self.at;
        self.v.copy_within(start + n..start + self.len, start);
        self.len -= n;
    }

    /// Whether the bytes start at an [`ALIGN`] boundary.
    #[cfg(test)]
    pub fn is_aligned(&self) -> bool {
        self.as_ptr().align_offset(ALIGN) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sized_buffer_is_aligned_and_as_long_as_asked() {
        let b = Buf::default().sized(10_000);
        assert!(b.is_aligned());
        assert_eq!(&*b, &[0u8; 10_000][..]);
        let mut b = Buf::from(vec![1, 2, 3]).sized(5000);
        assert!(b.is_aligned());
        assert_eq!(b.len(), 5000);
        b[..3].copy_from_slice(&[7, 8, 9]);
        b.truncate(3);
        assert_eq!(&*b, &[7, 8, 9]);
        b.extend_from_slice(&[10]);
        assert_eq!(&*b, &[7, 8, 9, 10]);
        // Reused: the same memory, no new allocation.
        let at = b.as_ptr();
        let b = b.sized(4096);
        assert_eq!(b.as_ptr(), at);
        assert_eq!(b.len(), 4096);
        let mut b = Buf::from(vec![1, 2]);
        b.truncate(9);
        assert_eq!(&*b, &[1, 2], "truncate never lengthens");
    }

    #[test]
    fn a_growing_buffer_stays_aligned_and_keeps_its_bytes() {
        let mut b = Buf::with_capacity(100);
        assert!(b.is_aligned() && b.is_empty() && b.capacity() >= 100);
        let mut want = Vec::new();
        for i in 0..50u32 {
            let piece: Vec<u8> = (0..(i * 37 % 700)).map(|k| (k + i) as u8).collect();
            b.extend_from_slice(&piece);
            want.extend_from_slice(&piece);
            assert!(b.is_aligned(), "after {i} appends");
        }
        assert_eq!(&*b, &want[..]);
        let c = b.clone();
        assert!(c.is_aligned());
        assert_eq!(&*c, &want[..]);
        b.drain_front(1000);
        assert!(b.is_aligned());
        assert_eq!(&*b, &want[1000..]);
        let at = b.as_ptr();
        let n = b.capacity().min(want.len());
        b.clear();
        b.extend_from_slice(&want[..n]);
        assert_eq!(b.as_ptr(), at, "a cleared buffer is refilled in place");
        b.reserve(b.capacity() + 1);
        assert!(b.is_aligned());
        assert_ne!(b.as_ptr(), at, "it moved to grow");
        assert_eq!(&*b, &want[..n]);
        // A buffer made from a Vec is aligned once it grows.
        let mut v = Buf::from(vec![9u8; 3]);
        v.extend_from_slice(&[1; 5000]);
        assert!(v.is_aligned());
        assert_eq!(v.len(), 5003);
        assert_eq!(&v[..4], &[9, 9, 9, 1]);
    }
}
