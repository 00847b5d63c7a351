//! Sealing and opening a record's stored bytes with AES-256-GCM (tape data encryption,
//! SSC-4 4.2.27; `vtl/FORMAT.md` gives the layout).
//!
//! ```text
//!  sealed = nonce (12) | ciphertext (as long as the bytes sealed) | tag (16)
//!  nonce  = prefix (8, random) | counter (4, big-endian)
//!  associated data = "VTR1" | object number (u64 LE) | logical length (u32 LE) | flags (u8)
//! ```
//!
//! The associated data binds a sealed record to its place and its header: moved to another
//! object number, given another length, or with its compression flag flipped, it no longer
//! opens. A key lives only in memory ([`Key`], [`Cipher`]): nothing here writes it anywhere,
//! `Debug` prints `<key>`, and its bytes (and the expanded AES key) are wiped on drop.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

/// Bytes of a key (AES-256).
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// What sealing adds to a record's stored bytes.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Why a record could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// The operating system's random source failed (no nonce prefix can be drawn).
    #[error("the system random source failed")]
    Random,
    /// The cipher refused to seal (a record too long for GCM).
    #[error("the record cannot be sealed")]
    Seal,
    /// The bytes are too short to be a sealed record.
    #[error("the sealed record is truncated")]
    Truncated,
    /// The tag does not match: another key, or bytes changed since they were sealed.
    #[error("the record does not open with this key")]
    Open,
}

/// A plain-text data encryption key. Never persisted or logged: `Debug` prints `<key>`
/// and the bytes are zeroed when it is dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// The key in `bytes`; `None` unless it has exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Key> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return None;
        }
        k.copy_from_slice(bytes);
        Some(Key(k))
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<key>")
    }
}

/// A key ready to seal and open records, with the nonce sequence of the records it seals.
///
/// Nonces are never reused under one `Cipher`: an 8-byte prefix drawn from the operating
/// system's CSPRNG when the cipher is made, and again every 2^32 records, followed by a
/// 4-byte counter. Setting the same key again makes a new `Cipher` with a new prefix, so
/// two key loads collide only if two random 64-bit prefixes do.
pub struct Cipher {
    aead: Aes256Gcm,
    prefix: [u8; 8],
    counter: u32,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("key", &format_args!("<key>"))
            .field("counter", &self.counter)
            .finish()
    }
}

fn random_prefix() -> Result<[u8; 8], CryptError> {
    let mut p = [0u8; 8];
    getrandom::getrandom(&mut p).map_err(|_| CryptError::Random)?;
    Ok(p)
}

/// The associated data of a record.
fn aad(object: u64, logical_len: u32, flags: u8) -> [u8; 17] {
    let mut a = [0u8; 17];
    a[..4].copy_from_slice(b"VTR1");
    a[4..12].copy_from_slice(&object.to_le_bytes());
    a[12..16].copy_from_slice(&logical_len.to_le_bytes());
    a[16] = flags;
    a
}

impl Cipher {
    /// A cipher of `key` with a fresh nonce prefix.
    pub fn new(key: &Key) -> Result<Cipher, CryptError> {
        Ok(Cipher {
            aead: Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&key.0[..])),
            prefix: random_prefix()?,
            counter: 0,
        })
    }

    fn next_nonce(&mut self) -> Result<[u8; NONCE_LEN], CryptError> {
        if self.counter == u32::MAX {
            self.prefix = random_prefix()?;
            self.counter = 0;
        }
        let mut n = [0u8; NONCE_LEN];
        n[..8].copy_from_slice(&self.prefix);
        n[8..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter += 1;
        Ok(n)
    }

    /// Seals `bytes` (the record's stored bytes before sealing: compressed or not) of
    /// record `object`, whose header will say `logical_len` and `flags`.
    pub fn seal(
        &mut self,
        object: u64,
        logical_len: u32,
        flags: u8,
        bytes: &[u8],
    ) -> Result<Vec<u8>, CryptError> {
        let nonce = self.next_nonce()?;
        let ad = aad(object, logical_len, flags);
        let ct = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: bytes,
                    aad: &ad,
                },
            )
            .map_err(|_| CryptError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens the sealed bytes of record `object` (header values `logical_len`, `flags`).
    pub fn open(
        &self,
        object: u64,
        logical_len: u32,
        flags: u8,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptError> {
        if sealed.len() < OVERHEAD {
            return Err(CryptError::Truncated);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let ad = aad(object, logical_len, flags);
        self.aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &ad })
            .map_err(|_| CryptError::Open)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn cipher(b: u8) -> Cipher {
        Cipher::new(&Key::from_slice(&[b; KEY_LEN]).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_record_opens_only_with_its_key_place_and_header() {
        let mut c = cipher(7);
        let s = c.seal(5, 3, 2, b"abc").unwrap();
        assert_eq!(s.len(), 3 + OVERHEAD);
        assert_eq!(c.open(5, 3, 2, &s).unwrap(), b"abc");
        assert_eq!(cipher(8).open(5, 3, 2, &s), Err(CryptError::Open));
        assert_eq!(c.open(6, 3, 2, &s), Err(CryptError::Open));
        assert_eq!(c.open(5, 4, 2, &s), Err(CryptError::Open));
        assert_eq!(c.open(5, 3, 3, &s), Err(CryptError::Open));
        assert_eq!(c.open(5, 3, 2, &s[..20]), Err(CryptError::Truncated));
        let mut bad = s.clone();
        bad[14] ^= 1;
        assert_eq!(c.open(5, 3, 2, &bad), Err(CryptError::Open));
    }

    #[test]
    fn nonces_never_repeat_and_keys_never_print() {
        let mut c = cipher(1);
        let a = c.seal(0, 1, 2, b"x").unwrap();
        let b = c.seal(0, 1, 2, b"x").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert_ne!(a, b);
        // Another cipher of the same key draws another prefix.
        let d = cipher(1).seal(0, 1, 2, b"x").unwrap();
        assert_ne!(a[..8], d[..8]);
        c.counter = u32::MAX;
        let e = c.seal(0, 1, 2, b"x").unwrap();
        assert_ne!(a[..8], e[..8]);
        let k = Key::from_slice(&[0x5A; KEY_LEN]).unwrap();
        assert_eq!(format!("{k:?}"), "<key>");
        assert!(!format!("{c:?}").contains("5a"));
        assert!(Key::from_slice(&[0; 31]).is_none());
    }

    proptest! {
        #[test]
        fn opening_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = cipher(3).open(1, 2, 2, &b);
        }
    }
}
