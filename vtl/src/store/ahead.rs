//! [`Ahead`]: a window of bytes read ahead, so reading consecutive records (or their
//! chunks) costs one large volume read instead of one per record.

/// Bytes from `start`, as read.
#[derive(Debug, Default)]
pub struct Ahead {
    start: u64,
    bytes: Vec<u8>,
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

    /// Holds `bytes`, read from `start`.
    pub fn fill(&mut self, start: u64, bytes: Vec<u8>) {
        self.start = start;
        self.bytes = bytes;
    }

    /// Forgets everything (what it held may have changed).
    pub fn clear(&mut self) {
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_what_it_holds_only() {
        let mut a = Ahead::default();
        assert_eq!(a.get(0, 0), Some(&[][..]));
        assert_eq!(a.get(0, 1), None);
        a.fill(10, vec![1, 2, 3, 4]);
        assert_eq!(a.get(11, 2), Some(&[2, 3][..]));
        assert_eq!(a.get(9, 2), None);
        assert_eq!(a.get(12, 3), None);
        assert_eq!(a.get(u64::MAX, 2), None);
        a.clear();
        assert_eq!(a.get(10, 1), None);
    }
}
