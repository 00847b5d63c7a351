//! CHAP authentication (RFC 1994 as used by RFC 7143 12.1.3): one-way and mutual, with
//! MD5 (`CHAP_A=5`) and SHA-256 (`CHAP_A=7`).
//!
//! Secrets never appear in `Debug` output or logs; names and responses are compared in
//! constant time ([`subtle`]); challenges and identifiers come from the operating
//! system's random number generator. Binary values are read as hex or base64 and written
//! as hex ([`text::binary`], [`text::encode_hex`]).

use md5::{Digest as _, Md5};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::text;

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
        text::list(list).into_iter().find_map(|v| match v.trim() {
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
    a.ct_eq(b).into()
}

/// Decodes a CHAP binary value: `0x` hex or `0b` base64 ([`text::binary`]).
pub fn decode_binary(v: &str) -> Option<Vec<u8>> {
    text::binary(v)
}

/// Encodes binary as `0x` hex ([`text::encode_hex`]).
pub fn encode_hex(b: &[u8]) -> String {
    text::encode_hex(b)
}

/// Fills `buf` from the operating system's random number generator.
fn random(buf: &mut [u8]) -> Result<(), ChapError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|_| ChapError::NoRandomness)
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
    #[error("the operating system's random number generator failed")]
    NoRandomness,
}

impl ChapChallenge {
    /// A fresh random challenge for the algorithm chosen from `chap_a`.
    pub fn new(chap_a: &str) -> Result<Self, ChapError> {
        let algorithm = ChapAlgorithm::choose(chap_a).ok_or(ChapError::NoAlgorithm)?;
        let mut challenge = vec![0u8; algorithm.challenge_len()];
        random(&mut challenge)?;
        let mut id = [0u8];
        random(&mut id)?;
        Ok(Self {
            algorithm,
            id: id[0],
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
        let ok = name.as_bytes().ct_eq(creds.user.as_bytes()) & resp.ct_eq(&want);
        if !bool::from(ok) {
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
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
        assert!(!format!("{creds:?}").contains("0123456789ab"));
    }

    #[test]
    fn written_keys_parse_back_and_base64_responses_pass() {
        let creds = ChapCredentials {
            user: "u".into(),
            secret: "0123456789ab".into(),
        };
        let c = ChapChallenge::new("7").unwrap();
        let keys = text::parse(&text::encode(&c.keys())).unwrap();
        assert_eq!(keys, c.keys());
        assert_eq!(text::number(&keys[1].1), Some(u64::from(c.id)));
        assert_eq!(decode_binary(&keys[2].1).as_ref(), Some(&c.challenge));
        let r = c
            .algorithm
            .response(c.id, creds.secret.as_bytes(), &c.challenge);
        let b64 = text::encode_base64(&r);
        assert_eq!(
            c.verify(Some("u"), Some(&b64), None, None, &creds, None),
            Ok(vec![])
        );
        assert_eq!(
            c.verify(Some("u"), Some("0bAAAA"), None, None, &creds, None),
            Err(ChapError::BadResponse)
        );
        assert_eq!(
            c.verify(Some("u"), Some("zz"), None, None, &creds, None),
            Err(ChapError::Malformed)
        );
        assert_ne!(ChapChallenge::new("7").unwrap().challenge, c.challenge);
    }
}
