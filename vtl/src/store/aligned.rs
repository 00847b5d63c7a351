//! [`Buf`]: a buffer whose bytes start at a 4096-byte boundary of memory, so the pool's
//! members, which use direct I/O, read a stream's read-ahead windows straight into it
//! (a buffer at any other address is read into a bounce buffer and copied).

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

    /// Appends `s` (the bytes may move in memory, and lose their alignment).
    pub fn extend_from_slice(&mut self, s: &[u8]) {
        self.v.truncate(self.at + self.len);
        self.v.extend_from_slice(s);
        self.len += s.len();
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
}
