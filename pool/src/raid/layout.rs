//! Where each byte of a RAID set lives on its members.
//!
//! The address space is cut into *stripes*. Stripe `s` occupies the chunk at member offset
//! `s * chunk` on every member and holds `data_cols()` chunks of data, numbered left to
//! right as *columns*:
//!
//! ```text
//!  RAID 0 (4)     RAID 10 (4)      RAID 5 (4), left-symmetric   RAID 6 (4)
//!  m0 m1 m2 m3    m0 m1 m2 m3      m0 m1 m2 m3                 m0 m1 m2 m3
//!  D0 D1 D2 D3    D0 D0 D1 D1      D0 D1 D2 P    s=0           D0 D1 P  Q
//!  D4 D5 D6 D7    D2 D2 D3 D3      D4 D5 P  D3   s=1           D2 P  Q  D3
//!                                  D8 P  D6 D7   s=2           P  Q  D4 D5
//!                                  P  D9 D10 D11 s=3           Q  D6 D7 P
//! ```
//!
//! RAID 1 has one column per stripe, copied to every member. In RAID 5/6 the parity
//! member of stripe `s` is `n - 1 - s % n`, Q follows P, and data columns start right
//! after the parity and wrap around (so sequential reads visit every member in turn).

use super::RaidLevel;

/// What a member holds in one stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The data column with this index (for mirrors: a copy of it).
    Data(usize),
    /// The XOR parity.
    P,
    /// The Reed-Solomon syndrome.
    Q,
}

/// A piece of a request that lies in one column of one stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub stripe: u64,
    pub col: usize,
    /// Offset inside the chunk.
    pub within: u64,
    pub len: u64,
    /// Offset of this piece in the caller's buffer.
    pub buf_off: usize,
}

impl Segment {
    /// The member offset of this piece.
    pub fn member_offset(&self, chunk: u64) -> u64 {
        self.stripe * chunk + self.within
    }
}

/// The geometry of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub level: RaidLevel,
    pub members: usize,
    pub chunk: u64,
    /// Usable bytes per member: a multiple of `chunk`.
    pub member_size: u64,
}

impl Layout {
    /// Data columns per stripe.
    pub fn data_cols(&self) -> usize {
        match self.level {
            RaidLevel::Raid0 => self.members,
            RaidLevel::Raid1 => 1,
            RaidLevel::Raid10 => self.members / 2,
            RaidLevel::Raid5 => self.members - 1,
            RaidLevel::Raid6 => self.members - 2,
        }
    }

    /// Whether the level keeps parity (5, 6) rather than copies (0, 1, 10).
    pub fn is_parity(&self) -> bool {
        matches!(self.level, RaidLevel::Raid5 | RaidLevel::Raid6)
    }

    /// Bytes of data per stripe.
    pub fn stripe_width(&self) -> u64 {
        self.data_cols() as u64 * self.chunk
    }

    /// Number of stripes.
    pub fn stripes(&self) -> u64 {
        self.member_size / self.chunk
    }

    /// Bytes the set can store.
    pub fn capacity(&self) -> u64 {
        self.stripes() * self.stripe_width()
    }

    /// The P member of stripe `s` (RAID 5/6).
    pub fn p_member(&self, s: u64) -> usize {
        let n = self.members as u64;
        (n - 1 - s % n) as usize
    }

    /// The Q member of stripe `s` (RAID 6).
    pub fn q_member(&self, s: u64) -> usize {
        (self.p_member(s) + 1) % self.members
    }

    /// The members holding data column `col` of stripe `s` (one for RAID 0/5/6, the
    /// mirror copies for RAID 1/10).
    pub fn copies(&self, s: u64, col: usize) -> std::ops::Range<usize> {
        match self.level {
            RaidLevel::Raid0 => col..col + 1,
            RaidLevel::Raid1 => 0..self.members,
            RaidLevel::Raid10 => 2 * col..2 * col + 2,
            RaidLevel::Raid5 => {
                let m = (self.p_member(s) + 1 + col) % self.members;
                m..m + 1
            }
            RaidLevel::Raid6 => {
                let m = (self.p_member(s) + 2 + col) % self.members;
                m..m + 1
            }
        }
    }

    /// The member holding data column `col` of stripe `s` (its first copy).
    pub fn data_member(&self, s: u64, col: usize) -> usize {
        self.copies(s, col).start
    }

    /// What `member` holds in stripe `s`.
    pub fn role(&self, s: u64, member: usize) -> Role {
        let n = self.members;
        match self.level {
            RaidLevel::Raid0 => Role::Data(member),
            RaidLevel::Raid1 => Role::Data(0),
            RaidLevel::Raid10 => Role::Data(member / 2),
            RaidLevel::Raid5 => {
                let p = self.p_member(s);
                if member == p {
                    Role::P
                } else {
                    Role::Data((member + n - p - 1) % n)
                }
            }
            RaidLevel::Raid6 => {
                let p = self.p_member(s);
                if member == p {
                    Role::P
                } else if member == self.q_member(s) {
                    Role::Q
                } else {
                    Role::Data((member + n - p - 2) % n)
                }
            }
        }
    }

    /// Splits `[offset, offset + len)` of the set into per-column pieces, in address order.
    pub fn segments(&self, offset: u64, len: u64) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            let stripe = pos / self.stripe_width();
            let in_stripe = pos % self.stripe_width();
            let col = (in_stripe / self.chunk) as usize;
            let within = in_stripe % self.chunk;
            let n = (self.chunk - within).min(end - pos);
            out.push(Segment {
                stripe,
                col,
                within,
                len: n,
                buf_off: (pos - offset) as usize,
            });
            pos += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(level: RaidLevel, members: usize) -> Layout {
        Layout {
            level,
            members,
            chunk: 4096,
            member_size: 4096 * 16,
        }
    }

    #[test]
    fn capacity_per_level() {
        let m = 4096 * 16;
        assert_eq!(layout(RaidLevel::Raid0, 4).capacity(), 4 * m);
        assert_eq!(layout(RaidLevel::Raid1, 3).capacity(), m);
        assert_eq!(layout(RaidLevel::Raid5, 4).capacity(), 3 * m);
        assert_eq!(layout(RaidLevel::Raid6, 5).capacity(), 3 * m);
        assert_eq!(layout(RaidLevel::Raid10, 6).capacity(), 3 * m);
    }

    #[test]
    fn raid5_is_left_symmetric() {
        let l = layout(RaidLevel::Raid5, 4);
        // Stripe 0: D0 D1 D2 P; stripe 1: D4 D5 P D3 (D3 is column 0).
        assert_eq!(l.p_member(0), 3);
        assert_eq!(
            (0..3).map(|c| l.data_member(0, c)).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(l.p_member(1), 2);
        assert_eq!(
            (0..3).map(|c| l.data_member(1, c)).collect::<Vec<_>>(),
            [3, 0, 1]
        );
        assert_eq!(l.p_member(3), 0);
        assert_eq!(l.p_member(4), 3);
        for s in 0..8 {
            for m in 0..4 {
                match l.role(s, m) {
                    Role::P => assert_eq!(m, l.p_member(s)),
                    Role::Data(c) => assert_eq!(l.data_member(s, c), m),
                    Role::Q => panic!("RAID 5 has no Q"),
                }
            }
        }
    }

    #[test]
    fn raid6_puts_q_after_p() {
        let l = layout(RaidLevel::Raid6, 4);
        assert_eq!((l.p_member(0), l.q_member(0)), (3, 0));
        assert_eq!(
            (0..2).map(|c| l.data_member(0, c)).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!((l.p_member(1), l.q_member(1)), (2, 3));
        assert_eq!(
            (0..2).map(|c| l.data_member(1, c)).collect::<Vec<_>>(),
            [0, 1]
        );
        for s in 0..8 {
            let mut seen = [0; 4];
            for (m, count) in seen.iter_mut().enumerate() {
                match l.role(s, m) {
                    Role::P => assert_eq!(m, l.p_member(s)),
                    Role::Q => assert_eq!(m, l.q_member(s)),
                    Role::Data(c) => assert_eq!(l.data_member(s, c), m),
                }
                *count += 1;
            }
            assert_eq!(seen, [1; 4]);
        }
    }

    #[test]
    fn raid10_pairs_and_raid0_columns() {
        let l = layout(RaidLevel::Raid10, 6);
        assert_eq!(l.copies(5, 2), 4..6);
        assert_eq!(l.role(0, 3), Role::Data(1));
        let l = layout(RaidLevel::Raid0, 3);
        let segs = l.segments(4096 * 4 + 2048, 4096 * 2);
        assert_eq!(segs.len(), 3);
        assert_eq!((segs[0].stripe, segs[0].col, segs[0].within), (1, 1, 2048));
        assert_eq!(segs[0].member_offset(4096), 4096 + 2048);
        assert_eq!((segs[2].stripe, segs[2].col, segs[2].len), (2, 0, 2048));
        let total: u64 = segs.iter().map(|s| s.len).sum();
        assert_eq!(total, 8192);
        assert_eq!(segs[1].buf_off as u64, segs[0].len);
    }

    #[test]
    fn raid1_maps_addresses_straight_through() {
        let l = layout(RaidLevel::Raid1, 2);
        for seg in l.segments(12345 * 512 % (4096 * 16), 8192) {
            assert_eq!(seg.col, 0);
            assert_eq!(
                seg.member_offset(4096),
                12345 * 512 % (4096 * 16) + seg.buf_off as u64
            );
        }
    }
}
