//! Persistence of persistent reservation state: the [`PrStore`] trait the appliance
//! implements (over RocksDB), an in-memory [`MemPrStore`] for tests, and the byte encoding
//! of the state.
//!
//! The encoding is documented on [`PrStore`].

use std::fmt::Debug;

use parking_lot::Mutex;

use super::pr::{valid_type, PrState, Registration};
use crate::cdb::{be16, be32, be64, byte};

/// Why persistent reservation state could not be loaded or saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrStoreError {
    /// The store could not read or write the state.
    #[error("The persistent reservation store failed: {0}.")]
    Io(String),
    /// The stored bytes are not a state this version understands.
    #[error("The stored persistent reservation state is corrupt: {0}.")]
    Corrupt(&'static str),
}

impl From<String> for PrStoreError {
    fn from(message: String) -> Self {
        Self::Io(message)
    }
}

/// Where one logical unit's persistent reservation state is kept.
///
/// # Encoding (version 1), all integers big-endian
///
/// ```text
/// 0   4  magic "VPR1"
/// 4   1  flags: bit 0 APTPL
/// 5   4  PRgeneration
/// 9   1  reservation type (0: no reservation; scope is always logical unit)
/// 10  4  number of registrations, then for each:
///        8  reservation key
///        1  flags: bit 0 reservation holder, bit 1 ISID present, bit 2 target port present
///        8  ISID (0 when absent)
///        2  relative target port identifier (TPGT; 0 when absent = ALL_TG_PT)
///        2  length of the initiator name, then the name (UTF-8)
///        2  length of the target name, then the name (UTF-8)
/// ```
///
/// [`crate::spc::Unit`] calls [`PrStore::save`] after every change of the state and before
/// GOOD status goes back. On start it loads the state and keeps it only if APTPL was set
/// (SPC-4 5.13.4: without APTPL, registrations do not survive a power loss), unless
/// [`crate::spc::UnitOptions::keep_pr_without_aptpl`] says to keep them anyway. The
/// PRgeneration restarts at zero either way, as after a power on.
pub trait PrStore: Send + Sync + Debug {
    /// The last saved state, if any.
    fn load(&self) -> Result<Option<Vec<u8>>, PrStoreError>;

    /// Replaces the saved state; durable when it returns `Ok`.
    fn save(&self, state: &[u8]) -> Result<(), PrStoreError>;
}

/// An in-memory [`PrStore`] (tests; units whose reservations need not survive restarts).
#[derive(Debug, Default)]
pub struct MemPrStore {
    state: Mutex<Option<Vec<u8>>>,
    fail: Mutex<bool>,
}

impl MemPrStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later `save` fail (or succeed again).
    pub fn fail_saves(&self, fail: bool) {
        *self.fail.lock() = fail;
    }

    /// The bytes last saved.
    pub fn saved(&self) -> Option<Vec<u8>> {
        self.state.lock().clone()
    }
}

impl PrStore for MemPrStore {
    fn load(&self) -> Result<Option<Vec<u8>>, PrStoreError> {
        Ok(self.state.lock().clone())
    }

    fn save(&self, state: &[u8]) -> Result<(), PrStoreError> {
        if *self.fail.lock() {
            return Err(PrStoreError::Io("saves are set to fail".into()));
        }
        *self.state.lock() = Some(state.to_vec());
        Ok(())
    }
}

const MAGIC: &[u8; 4] = b"VPR1";

/// Encodes `st` (format above).
pub(crate) fn encode(st: &PrState) -> Vec<u8> {
    let mut d = Vec::with_capacity(14 + 64 * st.regs.len());
    d.extend_from_slice(MAGIC);
    d.push(u8::from(st.aptpl));
    d.extend_from_slice(&st.generation.to_be_bytes());
    d.push(st.res.unwrap_or(0));
    d.extend_from_slice(&(st.regs.len() as u32).to_be_bytes());
    for r in &st.regs {
        d.extend_from_slice(&r.key.to_be_bytes());
        let flags =
            u8::from(r.holder) | u8::from(r.isid.is_some()) << 1 | u8::from(r.tpgt.is_some()) << 2;
        d.push(flags);
        d.extend_from_slice(&r.isid.unwrap_or(0).to_be_bytes());
        d.extend_from_slice(&r.tpgt.unwrap_or(0).to_be_bytes());
        for s in [&r.initiator, &r.target] {
            let b = s.as_bytes();
            let b = b.get(..usize::from(u16::MAX)).unwrap_or(b);
            d.extend_from_slice(&(b.len() as u16).to_be_bytes());
            d.extend_from_slice(b);
        }
    }
    d
}

/// Decodes a state written by [`encode`].
pub(crate) fn decode(b: &[u8]) -> Result<PrState, PrStoreError> {
    if b.get(..4) != Some(MAGIC.as_slice()) || b.len() < 14 {
        return Err(PrStoreError::Corrupt("bad header"));
    }
    let res = byte(b, 9);
    let mut st = PrState {
        aptpl: byte(b, 4) & 0x01 != 0,
        generation: be32(b, 5),
        res: (res != 0).then_some(res),
        regs: Vec::new(),
    };
    if st.res.is_some_and(|t| !valid_type(t)) {
        return Err(PrStoreError::Corrupt("bad reservation type"));
    }
    let count = be32(b, 10);
    let mut at = 14;
    for _ in 0..count {
        let (r, next) = decode_registration(b, at)?;
        st.regs.push(r);
        at = next;
    }
    if at != b.len() {
        return Err(PrStoreError::Corrupt("trailing bytes"));
    }
    Ok(st)
}

fn decode_registration(b: &[u8], at: usize) -> Result<(Registration, usize), PrStoreError> {
    if b.len() < at + 19 {
        return Err(PrStoreError::Corrupt("truncated registration"));
    }
    let flags = byte(b, at + 8);
    let (initiator, next) = decode_string(b, at + 19)?;
    let (target, next) = decode_string(b, next)?;
    let r = Registration {
        key: be64(b, at),
        holder: flags & 0x01 != 0,
        isid: (flags & 0x02 != 0).then(|| be64(b, at + 9)),
        tpgt: (flags & 0x04 != 0).then(|| be16(b, at + 17)),
        initiator,
        target,
    };
    Ok((r, next))
}

fn decode_string(b: &[u8], at: usize) -> Result<(String, usize), PrStoreError> {
    let len = usize::from(be16(b, at));
    let raw = b
        .get(at + 2..at + 2 + len)
        .ok_or(PrStoreError::Corrupt("truncated name"))?;
    let s = std::str::from_utf8(raw).map_err(|_| PrStoreError::Corrupt("name is not UTF-8"))?;
    Ok((s.to_string(), at + 2 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let st = PrState {
            generation: 7,
            aptpl: true,
            res: Some(0x6),
            regs: vec![
                Registration {
                    key: 0x1122,
                    initiator: "iqn.a".into(),
                    isid: Some(0x23D000001),
                    target: "iqn.t".into(),
                    tpgt: Some(1),
                    holder: true,
                },
                Registration {
                    key: 9,
                    initiator: "iqn.b".into(),
                    isid: None,
                    target: "iqn.t".into(),
                    tpgt: None,
                    holder: false,
                },
            ],
        };
        assert_eq!(decode(&encode(&st)), Ok(st));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"VPR1\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff").is_err());
        let mut ok = encode(&PrState::default());
        ok.push(0);
        assert!(decode(&ok).is_err());
    }
}
