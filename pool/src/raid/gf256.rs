//! Arithmetic in GF(2^8) (polynomial 0x11d, generator 2) for RAID 5/6 parity.
//!
//! P is the XOR of the data chunks; Q is `sum(g^i * D_i)` over the data chunks `D_0..D_k`.
//! The hot paths ([`xor_into`], [`gen_p`], [`gen_pq`]) work on 64-bit lanes: XOR is plain
//! and the multiply-by-2 that Horner's rule needs for Q is done on eight bytes at once
//! (shift, then fold the carried-out top bits back in as 0x1d). Recovery, which is rare,
//! multiplies through 256-entry tables built from the log/exp tables.

/// The reducing polynomial x^8 + x^4 + x^3 + x^2 + 1.
const POLY: u16 = 0x11d;

const fn build_exp() -> [u8; 512] {
    let mut exp = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    exp[510] = exp[0];
    exp[511] = exp[1];
    exp
}

const fn build_log(exp: &[u8; 512]) -> [u8; 256] {
    let mut log = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        log[exp[i] as usize] = i as u8;
        i += 1;
    }
    log
}

static EXP: [u8; 512] = build_exp();
static LOG: [u8; 256] = build_log(&EXP);

/// `g^n` for the generator g = 2.
pub fn exp(n: usize) -> u8 {
    EXP[n % 255]
}

/// The discrete logarithm of a non-zero `a` (0 for 0, which has none).
pub fn log(a: u8) -> usize {
    usize::from(LOG[usize::from(a)])
}

/// `a * b` in GF(2^8).
pub fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    EXP[log(a) + log(b)]
}

/// The multiplicative inverse of a non-zero `a` (0 for 0).
pub fn inv(a: u8) -> u8 {
    if a == 0 {
        return 0;
    }
    EXP[255 - log(a)]
}

/// `a / b` in GF(2^8); `b` must be non-zero (0 is returned otherwise).
pub fn div(a: u8, b: u8) -> u8 {
    mul(a, inv(b))
}

const LANE: usize = 8;
const HI: u64 = 0x8080_8080_8080_8080;
const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

fn load(b: &[u8]) -> u64 {
    let mut a = [0u8; LANE];
    a.copy_from_slice(b);
    u64::from_ne_bytes(a)
}

/// Multiplies each of the eight bytes of `x` by 2.
#[inline]
fn mul2_lane(x: u64) -> u64 {
    let hi = x & HI;
    let shifted = (x & LO7) << 1;
    shifted ^ ((hi >> 7) * 0x1d)
}

/// `dst ^= src`, byte by byte (the lengths must match; extra bytes are ignored).
pub fn xor_into(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut d = dst.chunks_exact_mut(LANE);
    let mut s = src.chunks_exact(LANE);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let v = load(dc) ^ load(sc);
        dc.copy_from_slice(&v.to_ne_bytes());
    }
    for (db, sb) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *db ^= sb;
    }
}

/// `dst = dst * 2 ^ src`, byte by byte: one Horner step of Q.
fn mul2_xor_into(dst: &mut [u8], src: &[u8]) {
    let mut d = dst.chunks_exact_mut(LANE);
    let mut s = src.chunks_exact(LANE);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let v = mul2_lane(load(dc)) ^ load(sc);
        dc.copy_from_slice(&v.to_ne_bytes());
    }
    for (db, sb) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *db = mul(*db, 2) ^ sb;
    }
}

/// Work in blocks this large so P, Q and the data stay in the L1 cache.
const BLOCK: usize = 4096;

/// Computes P, the XOR of `data`, into `p` (all slices the same length as `p`).
pub fn gen_p(data: &[&[u8]], p: &mut [u8]) {
    let Some((first, rest)) = data.split_first() else {
        p.fill(0);
        return;
    };
    let len = data.iter().map(|d| d.len()).fold(p.len(), usize::min);
    p[len..].fill(0);
    let mut start = 0;
    while start < len {
        let end = (start + BLOCK).min(len);
        let pb = &mut p[start..end];
        pb.copy_from_slice(&first[start..end]);
        for d in rest {
            xor_into(pb, &d[start..end]);
        }
        start = end;
    }
}

/// Computes P (XOR) and Q (`sum(g^i * data[i])`) of `data` into `p` and `q`.
/// Every slice must be as long as `p`.
pub fn gen_pq(data: &[&[u8]], p: &mut [u8], q: &mut [u8]) {
    let len = p.len().min(q.len());
    let Some((last, rest)) = data.split_last() else {
        p.fill(0);
        q.fill(0);
        return;
    };
    let mut start = 0;
    while start < len {
        let end = (start + BLOCK).min(len);
        let (pb, qb) = (&mut p[start..end], &mut q[start..end]);
        pb.copy_from_slice(&last[start..end]);
        qb.copy_from_slice(&last[start..end]);
        for d in rest.iter().rev() {
            let db = &d[start..end];
            xor_into(pb, db);
            mul2_xor_into(qb, db);
        }
        start = end;
    }
}

/// The table of `c * v` for every byte `v`.
fn mul_table(c: u8) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (v, out) in t.iter_mut().enumerate() {
        *out = mul(c, v as u8);
    }
    t
}

/// `dst ^= c * src`, byte by byte.
pub fn mul_xor_into(dst: &mut [u8], src: &[u8], c: u8) {
    let t = mul_table(c);
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= t[usize::from(*s)];
    }
}

/// `buf = c * buf`, byte by byte.
pub fn mul_in_place(buf: &mut [u8], c: u8) {
    let t = mul_table(c);
    for b in buf.iter_mut() {
        *b = t[usize::from(*b)];
    }
}

/// Recovers data chunk `x` from the Q syndrome alone: `qx` is `Q ^ Q'`, where `Q'` was
/// computed with chunk `x` zeroed. On return `qx` holds `D_x`.
pub fn recover_from_q(x: usize, qx: &mut [u8]) {
    mul_in_place(qx, inv(exp(x)));
}

/// Recovers data chunks `x < y` from the P and Q syndromes: `pxy = P ^ P'` and
/// `qxy = Q ^ Q'`, where `P'`, `Q'` were computed with both chunks zeroed. On return
/// `pxy` holds `D_x` and `qxy` holds `D_y`.
pub fn recover_two(x: usize, y: usize, pxy: &mut [u8], qxy: &mut [u8]) {
    // D_x = (g^(y-x) * Pxy + g^(-x) * Qxy) / (g^(y-x) + 1); D_y = Pxy + D_x.
    let gyx = exp(y + 255 - x);
    let denom = inv(gyx ^ 1);
    let a = mul(gyx, denom);
    let b = mul(inv(exp(x)), denom);
    let ta = mul_table(a);
    let tb = mul_table(b);
    for (p, q) in pxy.iter_mut().zip(qxy.iter_mut()) {
        let dx = ta[usize::from(*p)] ^ tb[usize::from(*q)];
        let dy = *p ^ dx;
        *p = dx;
        *q = dy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow_mul(mut a: u8, mut b: u8) -> u8 {
        let mut r = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                r ^= a;
            }
            let carry = a & 0x80 != 0;
            a <<= 1;
            if carry {
                a ^= 0x1d;
            }
            b >>= 1;
        }
        r
    }

    #[test]
    fn tables_agree_with_shift_and_add() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b), "{a} * {b}");
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1);
                assert_eq!(div(mul(a, 7), 7), a);
            }
        }
        let mut lane = [0u8; 8];
        for v in 0..=255u8 {
            lane.fill(v);
            let got = mul2_lane(u64::from_ne_bytes(lane)).to_ne_bytes();
            assert!(got.iter().all(|&g| g == slow_mul(v, 2)));
        }
    }

    fn pattern(k: usize, len: usize, seed: u8) -> Vec<Vec<u8>> {
        (0..k)
            .map(|i| {
                (0..len)
                    .map(|j| {
                        (j as u8)
                            .wrapping_mul(31)
                            .wrapping_add(seed ^ (i as u8).wrapping_mul(57))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn gen_pq_matches_the_definition() {
        let data = pattern(5, 4099, 3);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let (mut p, mut q) = (vec![0; 4099], vec![0; 4099]);
        gen_pq(&refs, &mut p, &mut q);
        for j in 0..4099 {
            let mut ep = 0;
            let mut eq = 0;
            for (i, d) in data.iter().enumerate() {
                ep ^= d[j];
                eq ^= mul(exp(i), d[j]);
            }
            assert_eq!((p[j], q[j]), (ep, eq), "byte {j}");
        }
        let mut p2 = vec![0; 4099];
        gen_p(&refs, &mut p2);
        assert_eq!(p, p2);
    }

    /// Every pair of missing chunks among data, P and Q, for stripes of 2 to 6 data chunks.
    #[test]
    fn recovers_every_pair_of_missing_chunks() {
        for k in 2..=6 {
            let len = 67;
            let data = pattern(k, len, k as u8);
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let (mut p, mut q) = (vec![0; len], vec![0; len]);
            gen_pq(&refs, &mut p, &mut q);
            // Chunks 0..k are data, k is P, k+1 is Q.
            for a in 0..k + 2 {
                for b in a + 1..k + 2 {
                    let mut d = data.clone();
                    for m in [a, b] {
                        if m < k {
                            d[m].fill(0);
                        }
                    }
                    let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
                    let (mut p2, mut q2) = (vec![0; len], vec![0; len]);
                    gen_pq(&refs, &mut p2, &mut q2);
                    match (a < k, b < k, b == k + 1) {
                        (true, true, _) => {
                            xor_into(&mut p2, &p);
                            xor_into(&mut q2, &q);
                            recover_two(a, b, &mut p2, &mut q2);
                            assert_eq!(p2, data[a]);
                            assert_eq!(q2, data[b]);
                        }
                        (true, false, true) => {
                            // data + Q: P alone gives the chunk back.
                            xor_into(&mut p2, &p);
                            assert_eq!(p2, data[a]);
                        }
                        (true, false, false) => {
                            // data + P: Q alone gives the chunk back.
                            xor_into(&mut q2, &q);
                            recover_from_q(a, &mut q2);
                            assert_eq!(q2, data[a]);
                        }
                        _ => {
                            // P + Q: recomputed from the data.
                            assert_eq!((p2, q2), (p.clone(), q.clone()));
                        }
                    }
                }
            }
        }
    }
}
