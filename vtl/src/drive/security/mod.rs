//! Application-managed tape data encryption (SSC-4 4.2.27, 8.5; SPC-4 SECURITY PROTOCOL
//! IN/OUT 6.40/6.41): the data encryption parameters of each I_T nexus, the pages of the
//! tape data encryption security protocol (20h), and the read and write rules.
//!
//! ```text
//!  SPIN  00h/0000h  supported protocols (00h, 20h)     00h/0001h  certificate (none)
//!  SPIN  20h/0000h  in support pages   0001h out support pages   0010h capabilities
//!        0011h key formats   0012h management capabilities
//!        0020h data encryption status   0021h next block encryption status
//!  SPOUT 20h/0010h  set data encryption
//! ```
//!
//! One algorithm (index 1): AES-256-GCM, 32-byte plain-text keys, sealed per record by
//! [`crate::store::crypt`]. Encryption modes DISABLE and ENCRYPT; decryption modes DISABLE,
//! DECRYPT and MIXED. EXTERNAL and RAW are refused (capabilities say so): a raw read would
//! hand out this store's sealed bytes, which no other drive can use. Keys are only in
//! memory, cleared at power on and reset, with I_T nexus loss (local scope), and when a
//! cartridge leaves the drive if CKOD was set.

mod spin;
mod spout;

pub(super) use spin::security_in;
pub(super) use spout::security_out;

use super::{motion, Loaded, State};
use crate::media::MediaKind;
use crate::store::crypt::{Cipher, Key, KEY_LEN, OVERHEAD};
use crate::store::index::Object;
use crate::store::ReadError;
use std::collections::BTreeMap;
use vsa_scsi::cdb::{be32, byte};
use vsa_scsi::{Command, Nexus, Response, Sense, SenseKey};

/// The security protocol information protocol.
const PROTOCOL_INFO: u8 = 0x00;
/// The tape data encryption protocol.
const PROTOCOL_TAPE: u8 = 0x20;

const PAGE_IN_SUPPORT: u16 = 0x0000;
const PAGE_OUT_SUPPORT: u16 = 0x0001;
const PAGE_CAPABILITIES: u16 = 0x0010;
const PAGE_KEY_FORMATS: u16 = 0x0011;
const PAGE_MANAGEMENT: u16 = 0x0012;
const PAGE_STATUS: u16 = 0x0020;
const PAGE_NEXT_BLOCK: u16 = 0x0021;
/// The SPOUT page that sets the parameters.
const PAGE_SET: u16 = 0x0010;

/// The one algorithm's index.
const ALGORITHM: u8 = 0x01;
/// SECURITY ALGORITHM CODE of AES-GCM with a 16-byte tag and a 256-bit key.
const AES_256_GCM: u32 = 0x0001_0014;
/// The longest U-KAD kept.
const MAX_UKAD: usize = 32;

/// ENCRYPTION MODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum EncryptMode {
    #[default]
    Disable = 0,
    Encrypt = 2,
}

/// DECRYPTION MODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum DecryptMode {
    #[default]
    Disable = 0,
    /// Encrypted records only.
    Decrypt = 2,
    /// Encrypted and plain records.
    Mixed = 3,
}

/// SCOPE of a Set Data Encryption page, and the KEY SCOPE the status page reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Scope {
    #[default]
    Public = 0,
    Local = 1,
    AllNexus = 2,
}

/// One set of data encryption parameters.
#[derive(Debug, Default)]
struct Params {
    encrypt: EncryptMode,
    decrypt: DecryptMode,
    /// The key, when a mode needs it.
    cipher: Option<Cipher>,
    /// Clear key on demount.
    ckod: bool,
    /// RDMC 11b: raw reads disabled (always true in effect: raw mode is not supported).
    rdmd: bool,
    ceem: u8,
    /// The unauthenticated key-associated data sent with the key.
    ukad: Vec<u8>,
    /// Who set them: the key scope reported.
    scope: Scope,
    /// The key instance counter when they were set.
    instance: u32,
}

impl Params {
    fn active(&self) -> bool {
        self.encrypt != EncryptMode::Disable || self.decrypt != DecryptMode::Disable
    }

    /// Default parameters keeping what identifies the set (scope, instance).
    fn cleared(&self) -> Params {
        Params {
            scope: self.scope,
            instance: self.instance,
            ..Params::default()
        }
    }
}

/// The drive's data encryption state (behind the drive's lock with the rest of [`State`]).
#[derive(Debug, Default)]
pub(crate) struct Crypt {
    /// The parameters shared by every nexus without local ones (set with scope ALL I_T
    /// NEXUS).
    public: Params,
    /// Parameters of nexuses that set LOCAL scope.
    local: BTreeMap<Nexus, Params>,
    /// Nexuses that set LOCK, and the key instance they locked to.
    locks: BTreeMap<Nexus, u32>,
    /// Counts parameter sets established (KEY INSTANCE COUNTER).
    instances: u32,
}

impl Crypt {
    fn params(&self, n: &Nexus) -> &Params {
        self.local.get(n).unwrap_or(&self.public)
    }

    fn params_mut(&mut self, n: &Nexus) -> &mut Params {
        match self.local.get_mut(n) {
            Some(p) => p,
            None => &mut self.public,
        }
    }

    /// Fails if `n` locked its parameters and they have changed since.
    fn check_lock(&self, n: &Nexus) -> Result<(), Sense> {
        match self.locks.get(n) {
            Some(&i) if i != self.params(n).instance => Err(instance_changed()),
            _ => Ok(()),
        }
    }

    /// The key to seal what `n` writes, if it encrypts.
    pub(crate) fn seal_key(&mut self, n: &Nexus) -> Result<Option<&mut Cipher>, Sense> {
        self.check_lock(n)?;
        let p = self.params_mut(n);
        Ok(match p.encrypt {
            EncryptMode::Encrypt => p.cipher.as_mut(),
            EncryptMode::Disable => None,
        })
    }

    /// How `n` reads.
    pub(crate) fn read_key(&self, n: &Nexus) -> Result<ReadKey<'_>, Sense> {
        self.check_lock(n)?;
        let p = self.params(n);
        Ok(ReadKey {
            mode: p.decrypt,
            cipher: match p.decrypt {
                DecryptMode::Disable => None,
                _ => p.cipher.as_ref(),
            },
        })
    }

    /// The cartridge left the drive: parameters set with CKOD go back to defaults.
    pub(crate) fn demounted(&mut self) {
        for p in std::iter::once(&mut self.public).chain(self.local.values_mut()) {
            if p.ckod {
                *p = p.cleared();
            }
        }
    }

    /// Power on, hard reset: every key is forgotten.
    pub(crate) fn reset(&mut self) {
        let instances = self.instances;
        *self = Crypt {
            instances,
            ..Crypt::default()
        };
    }

    /// The I_T nexus is gone: its local parameters and lock with it.
    pub(crate) fn nexus_lost(&mut self, n: &Nexus) {
        self.local.remove(n);
        self.locks.remove(n);
    }
}

/// How a READ treats encrypted records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadKey<'a> {
    mode: DecryptMode,
    cipher: Option<&'a Cipher>,
}

impl Default for ReadKey<'_> {
    fn default() -> Self {
        ReadKey {
            mode: DecryptMode::Disable,
            cipher: None,
        }
    }
}

impl<'a> Loaded<'a> {
    /// This cartridge, read with `key`.
    pub(crate) fn decrypting(self, key: ReadKey<'a>) -> Loaded<'a> {
        Loaded { key, ..self }
    }

    /// Data record `obj` as the read key allows. An encrypted record that cannot be
    /// opened, or a plain one in DECRYPT mode, is skipped: the position moves past it
    /// and nothing of it is returned (SSC-4 4.2.27).
    pub(crate) fn read(&mut self, obj: &Object) -> Result<vsa_blockdev::Bytes, ReadError> {
        let r = match self.tape.read_record(obj, self.key.cipher) {
            Ok(r) if !r.encrypted && self.key.mode == DecryptMode::Decrypt => {
                Err(ReadError::Unencrypted { object: obj.number })
            }
            r => r,
        };
        match r {
            Ok(r) => Ok(r.data),
            Err(e) => {
                if matches!(
                    e,
                    ReadError::Sealed { .. }
                        | ReadError::WrongKey { .. }
                        | ReadError::Unencrypted { .. }
                ) {
                    *self.pos += 1;
                }
                Err(e)
            }
        }
    }
}

/// The sense of a READ that stopped at a record it could not return, with `residual`.
pub(crate) fn read_failed(e: &ReadError, residual: i64) -> Sense {
    let s = match e {
        ReadError::Sealed { .. } => unable_to_decrypt(),
        ReadError::Unencrypted { .. } => unencrypted_while_decrypting(),
        ReadError::WrongKey { .. } => incorrect_key(),
        _ => return super::sense::read_error(residual),
    };
    s.with_residual(residual)
}

/// Bytes sealing adds to each record `n` writes.
pub(crate) fn overhead(sealing: bool) -> u64 {
    if sealing {
        OVERHEAD as u64
    } else {
        0
    }
}

/// DATA PROTECT, UNABLE TO DECRYPT DATA: an encrypted record and no key to read it.
pub fn unable_to_decrypt() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x74, 0x01)
}

/// DATA PROTECT, UNENCRYPTED DATA ENCOUNTERED WHILE DECRYPTING (DECRYPT mode).
pub fn unencrypted_while_decrypting() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x74, 0x02)
}

/// DATA PROTECT, INCORRECT DATA ENCRYPTION KEY.
pub fn incorrect_key() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x74, 0x03)
}

/// DATA PROTECT, DATA ENCRYPTION KEY INSTANCE COUNTER HAS CHANGED: the nexus locked its
/// parameters and another changed them.
pub fn instance_changed() -> Sense {
    Sense::new(SenseKey::DataProtect, 0x2A, 0x13)
}

/// LOAD UNLOAD, then CKOD: unloading is a demount.
pub(super) fn load_unload(st: &mut State, cmd: &Command<'_>) -> Result<Response, Sense> {
    let r = motion::load_unload(st, cmd)?;
    if byte(cmd.cdb, 4) & 0x01 == 0 {
        st.crypt.demounted();
    }
    Ok(r)
}

/// The transfer or allocation length of a SPIN/SPOUT CDB (INC_512: in 512-byte units).
fn length(cdb: &[u8]) -> usize {
    let n = be32(cdb, 6) as usize;
    if byte(cdb, 4) & 0x80 != 0 {
        n.saturating_mul(512)
    } else {
        n
    }
}
