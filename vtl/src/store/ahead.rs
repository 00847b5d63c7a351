//! [`Ahead`]: a window of bytes read ahead, so reading consecutive records (or their
//! chunks) costs one large volume read instead of one per record.

/// Bytes from `start`, as read.
#[derive(Debug, Default)]
pub struct Ahead {
    start: u64,
    bytes: Vec<u8>,
    /// Where the last request ended: a request starting there is sequential.
    next: u64,
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
        if sequential {
            len.max(Self::LEN)
        } else {
            len
        }
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
        assert_eq!(a.want(0, 10), Ahead::LEN, "from the start is in sequence");
        assert_eq!(a.want(5, 10), 10);
        assert_eq!(a.want(15, 10), Ahead::LEN);
        assert_eq!(a.get(0, 0), Some(&[][..]));
        assert_eq!(a.get(0, 1), None);
        a.fill(10, vec![1, 2, 3, 4]);
        assert_eq!(a.get(11, 2), Some(&[2, 3][..]));
        assert_eq!(a.get(9, 2), None);
        assert_eq!(a.get(12, 3), None);
        assert_eq!(a.get(u64::MAX, 2), None);
        assert_eq!(a.want(11, 2), 2);
        assert_eq!(a.want(13, 100), Ahead::LEN);
        a.clear();
        assert_eq!(a.get(10, 1), None);
    }
}
