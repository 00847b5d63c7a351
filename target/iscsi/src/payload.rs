//! [`Payload`]: the data segment of an outgoing PDU, as one buffer or as several sent back
//! to back (a READ served from the pool's cache answers with the cached pages themselves),
//! so read data reaches the socket's `writev` without being copied on the way.

use bytes::Bytes;

/// An outgoing data segment: shared buffers, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    One(Bytes),
    /// Several buffers, with their total length.
    Parts(Vec<Bytes>, usize),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::One(Bytes::new())
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload::One(b)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload::One(Bytes::from(v))
    }
}

impl Payload {
    /// `parts` sent one after the other.
    pub fn from_parts(mut parts: Vec<Bytes>) -> Self {
        parts.retain(|p| !p.is_empty());
        if parts.len() <= 1 {
            return Payload::One(parts.pop().unwrap_or_default());
        }
        let len = parts.iter().map(Bytes::len).sum();
        Payload::Parts(parts, len)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Payload::One(b) => b.len(),
            Payload::Parts(_, len) => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffers, in order.
    pub fn parts(&self) -> &[Bytes] {
        match self {
            Payload::One(b) => std::slice::from_ref(b),
            Payload::Parts(parts, _) => parts,
        }
    }

    /// The bytes in one buffer (a copy when there are several parts).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Payload::One(b) => b.clone(),
            Payload::Parts(parts, _) => Bytes::from(parts.concat()),
        }
    }

    /// Cuts the payload into consecutive pieces, front to back.
    pub fn cutter(self) -> Cutter {
        let parts = match self {
            Payload::One(b) => vec![b],
            Payload::Parts(parts, _) => parts,
        };
        Cutter {
            parts: parts.into_iter(),
            current: Bytes::new(),
        }
    }
}

/// Takes consecutive pieces off the front of a [`Payload`] (see [`Payload::cutter`]);
/// each piece shares the payload's buffers.
#[derive(Debug)]
pub struct Cutter {
    parts: std::vec::IntoIter<Bytes>,
    current: Bytes,
}

impl Cutter {
    /// The next `n` bytes (fewer if the payload ends first).
    pub fn take(&mut self, n: usize) -> Payload {
        if self.current.is_empty() {
            self.current = self.parts.next().unwrap_or_default();
        }
        if self.current.len() >= n {
            // Within one part (always, for one contiguous buffer): no list to build.
            return Payload::One(self.current.split_to(n));
        }
        let mut out = Vec::new();
        let mut want = n;
        while want > 0 {
            if self.current.is_empty() {
                match self.parts.next() {
                    Some(p) => self.current = p,
                    None => break,
                }
                continue;
            }
            let k = want.min(self.current.len());
            out.push(self.current.split_to(k));
            want -= k;
        }
        Payload::from_parts(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_part_stays_one_buffer() {
        let p = Payload::from_parts(vec![Bytes::new(), Bytes::from_static(b"abc")]);
        assert_eq!(p, Payload::One(Bytes::from_static(b"abc")));
        assert_eq!(Payload::from_parts(Vec::new()), Payload::default());
        assert!(Payload::default().is_empty());
        assert_eq!(Payload::default().parts().len(), 1);
    }

    proptest! {
        /// Cutting any payload into any pieces gives back its bytes, in order, with each
        /// piece as long as asked until the bytes run out.
        #[test]
        fn cutting_keeps_every_byte_in_order(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..8),
            sizes in proptest::collection::vec(0..70usize, 1..12),
        ) {
            let whole: Vec<u8> = parts.concat();
            let p = Payload::from_parts(parts.into_iter().map(Bytes::from).collect());
            prop_assert_eq!(p.len(), whole.len());
            prop_assert_eq!(&p.to_bytes()[..], &whole[..]);
            let mut c = p.cutter();
            let mut got = Vec::new();
            for n in sizes {
                let piece = c.take(n);
                prop_assert_eq!(piece.len(), n.min(whole.len() - got.len()));
                prop_assert_eq!(piece.parts().iter().map(Bytes::len).sum::<usize>(), piece.len());
                got.extend_from_slice(&piece.to_bytes());
            }
            got.extend_from_slice(&c.take(usize::MAX).to_bytes());
            prop_assert_eq!(got, whole);
        }
    }
}
