//! CHAP authentication (RFC 1994 as used by RFC 7143 12.1.3): one-way and mutual, with
//! MD5 (`CHAP_A=5`) and SHA-256 (`CHAP_A=7`).
//!
//! Secrets never appear in `Debug` output or logs; responses are compared in constant
//! time.

use md5::{Digest as _, Md5};
use rand::RngCore;
use sha2::Sha256;

/// A CHAP user name and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ChapCredentials {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for ChapCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChapCredentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// CHAP digest algorithms the target supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapAlgorithm {
    Md5 = 5,
    Sha256 = 7,
}

impl ChapAlgorithm {
    /// Picks the first algorithm of a `CHAP_A` list the target supports.
    pub fn choose(list: &str) -> Option<Self> {
        list.split(',').find_map(|v| match v.trim() {
            "5" => Some(Self::Md5),
            "7" => Some(Self::Sha256),
            _ => None,
        })
    }

    /// Challenge length to send (the digest size).
    pub fn challenge_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha256 => 32,
        }
    }

    /// `H(id || secret || challenge)`.
    pub fn response(self, id: u8, secret: &[u8], challenge: &[u8]) -> Vec<u8> {
        match self {
            Self::Md5 => {
                let mut h = Md5::new();
                h.update([id]);
                h.update(secret);
                h.update(challenge);
                h.finalize().to_vec()
            }
            Self::Sha256 => {
                let mut h = Sha256::new();
                h.update([id]);
                h.update(secret);
                h.update(challenge);
                h.finalize().to_vec()
            }
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decodes a CHAP binary value: `0x` hex or `0b` base64.
pub fn decode_binary(v: &str) -> Option<Vec<u8>> {
    if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        let h = h.as_bytes();
        let mut out = Vec::with_capacity(h.len().div_ceil(2));
        // An odd number of digits has an implied leading zero.
        let (first, rest) = if h.len() % 2 == 1 {
            h.split_at(1)
        } else {
            h.split_at(0)
        };
        if !first.is_empty() {
            out.push(hex_digit(first[0])?);
        }
        for pair in rest.chunks(2) {
            out.push(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?);
        }
        (!out.is_empty()).then_some(out)
    } else if let Some(b) = v.strip_prefix("0b").or_else(|| v.strip_prefix("0B")) {
        base64_decode(b)
    } else {
        None
    }
}

/// Encodes binary as `0x` hex.
pub fn encode_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The target's side of one CHAP exchange.
#[derive(Debug)]
pub struct ChapChallenge {
    pub algorithm: ChapAlgorithm,
    pub id: u8,
    pub challenge: Vec<u8>,
}

/// Why a CHAP exchange failed (all map to an authentication failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChapError {
    #[error("no supported CHAP algorithm was offered")]
    NoAlgorithm,
    #[error("a CHAP key is missing or malformed")]
    Malformed,
    #[error("the CHAP name or response is wrong")]
    BadResponse,
    #[error("the initiator asked for mutual CHAP, which is not configured")]
    MutualNotConfigured,
    #[error("the initiator's challenge repeats the target's")]
    ReflectedChallenge,
}

impl ChapChallenge {
    /// A fresh random challenge for the algorithm chosen from `chap_a`.
    pub fn new(chap_a: &str) -> Result<Self, ChapError> {
        let algorithm = ChapAlgorithm::choose(chap_a).ok_or(ChapError::NoAlgorithm)?;
        let mut rng = rand::thread_rng();
        let mut challenge = vec![0u8; algorithm.challenge_len()];
        rng.fill_bytes(&mut challenge);
        let id = (rng.next_u32() & 0xFF) as u8;
        Ok(Self {
            algorithm,
            id,
            challenge,
        })
    }

    /// The keys to send: `CHAP_A`, `CHAP_I`, `CHAP_C`.
    pub fn keys(&self) -> Vec<(String, String)> {
        vec![
            ("CHAP_A".into(), (self.algorithm as u8).to_string()),
            ("CHAP_I".into(), self.id.to_string()),
            ("CHAP_C".into(), encode_hex(&self.challenge)),
        ]
    }

    /// Checks the initiator's `CHAP_N`/`CHAP_R` against `creds`, and if it sent
    /// `CHAP_I`/`CHAP_C` (mutual CHAP) returns the target's `CHAP_N`/`CHAP_R` answer.
    pub fn verify(
        &self,
        name: Option<&str>,
        response: Option<&str>,
        mutual_id: Option<&str>,
        mutual_challenge: Option<&str>,
        creds: &ChapCredentials,
        mutual: Option<&ChapCredentials>,
    ) -> Result<Vec<(String, String)>, ChapError> {
        let name = name.ok_or(ChapError::Malformed)?;
        let resp = response
            .and_then(decode_binary)
            .ok_or(ChapError::Malformed)?;
        let want = self
            .algorithm
            .response(self.id, creds.secret.as_bytes(), &self.challenge);
        // Compare both name and response without an early exit on the name.
        let name_ok = ct_eq(name.as_bytes(), creds.user.as_bytes());
        let resp_ok = ct_eq(&resp, &want);
        if !(name_ok & resp_ok) {
            return Err(ChapError::BadResponse);
        }
        match (mutual_id, mutual_challenge) {
            (None, None) => Ok(Vec::new()),
            (Some(i), Some(c)) => {
                let m = mutual.ok_or(ChapError::MutualNotConfigured)?;
                let id = crate::params::parse_number(i)
                    .filter(|&i| i <= 255)
                    .ok_or(ChapError::Malformed)? as u8;
                let c = decode_binary(c).ok_or(ChapError::Malformed)?;
                if ct_eq(&c, &self.challenge) {
                    return Err(ChapError::ReflectedChallenge);
                }
                let r = self.algorithm.response(id, m.secret.as_bytes(), &c);
                Ok(vec![
                    ("CHAP_N".into(), m.user.clone()),
                    ("CHAP_R".into(), encode_hex(&r)),
                ])
            }
            _ => Err(ChapError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vector() {
        // RFC 1994 CHAP with MD5: id 1, secret "secret", challenge 16 bytes 0..16 —
        // checked against an independent MD5 of the concatenation.
        let ch: Vec<u8> = (0..16).collect();
        let r = ChapAlgorithm::Md5.response(1, b"secret", &ch);
        let mut h = Md5::new();
        h.update([1u8]);
        h.update(b"secret");
        h.update(&ch);
        assert_eq!(r, h.finalize().to_vec());
        // MD5("") vector sanity.
        assert_eq!(
            encode_hex(&Md5::digest(b"")),
            "0xd41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            encode_hex(&Sha256::digest(b"abc")),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn binary_values() {
        assert_eq!(decode_binary("0x0102ff"), Some(vec![1, 2, 255]));
        assert_eq!(decode_binary("0x102"), Some(vec![1, 2]));
        assert_eq!(decode_binary("0bAQL/"), Some(vec![1, 2, 255]));
        assert_eq!(decode_binary("0bAQI="), Some(vec![1, 2]));
        assert_eq!(decode_binary("0x"), None);
        assert_eq!(decode_binary("0xzz"), None);
        assert_eq!(decode_binary("12"), None);
    }

    #[test]
    fn one_way_and_mutual() {
        let creds = ChapCredentials {
            user: "u".into(),
            secret: "0123456789ab".into(),
        };
        let tgt = ChapCredentials {
            user: "t".into(),
            secret: "ba9876543210".into(),
        };
        for a in ["5", "7", "7,5"] {
            let c = ChapChallenge::new(a).unwrap();
            let r = encode_hex(
                &c.algorithm
                    .response(c.id, creds.secret.as_bytes(), &c.challenge),
            );
            assert_eq!(
                c.verify(Some("u"), Some(&r), None, None, &creds, None),
                Ok(vec![])
            );
            assert_eq!(
                c.verify(Some("x"), Some(&r), None, None, &creds, None),
                Err(ChapError::BadResponse)
            );
            let back = c
                .verify(
                    Some("u"),
                    Some(&r),
                    Some("9"),
                    Some("0x00112233"),
                    &creds,
                    Some(&tgt),
                )
                .unwrap();
            let want = c
                .algorithm
                .response(9, tgt.secret.as_bytes(), &[0, 0x11, 0x22, 0x33]);
            assert_eq!(back[1].1, encode_hex(&want));
            let own = encode_hex(&c.challenge);
            assert_eq!(
                c.verify(
                    Some("u"),
                    Some(&r),
                    Some("9"),
                    Some(&own),
                    &creds,
                    Some(&tgt)
                ),
                Err(ChapError::ReflectedChallenge)
            );
        }
        assert!(ChapChallenge::new("6").is_err());
        assert!(!format!("{creds:?}").contains("0123456789ab"));
    }
}
