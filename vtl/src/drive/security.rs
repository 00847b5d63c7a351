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

use super::{motion, ready, Loaded, State, TapeDrive};
use crate::media::MediaKind;
use crate::store::crypt::{Cipher, Key, KEY_LEN, OVERHEAD};
use crate::store::index::Object;
use crate::store::ReadError;
use std::collections::BTreeMap;
use vsa_scsi::cdb::{be16, be32, byte, data_in};
use vsa_scsi::{Command, Nexus, Response, Sense, SenseKey, UnitCtx};

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
    pub(crate) fn read(&mut self, obj: &Object) -> Result<Vec<u8>, ReadError> {
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

/// SECURITY PROTOCOL IN.
pub(super) fn security_in(
    d: &TapeDrive,
    st: &mut State,
    cmd: &Command<'_>,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let sps = be16(c, 2);
    let page = match byte(c, 1) {
        PROTOCOL_INFO => match sps {
            0x0000 => vec![0, 0, 0, 0, 0, 0, 0, 2, PROTOCOL_INFO, PROTOCOL_TAPE],
            // No certificate.
            0x0001 => vec![0; 4],
            _ => return Err(Sense::invalid_field_in_cdb(2, None)),
        },
        PROTOCOL_TAPE => match sps {
            PAGE_IN_SUPPORT => list_page(
                sps,
                &[
                    PAGE_IN_SUPPORT,
                    PAGE_OUT_SUPPORT,
                    PAGE_CAPABILITIES,
                    PAGE_KEY_FORMATS,
                    PAGE_MANAGEMENT,
                    PAGE_STATUS,
                    PAGE_NEXT_BLOCK,
                ],
            ),
            PAGE_OUT_SUPPORT => list_page(sps, &[PAGE_SET]),
            PAGE_CAPABILITIES => capabilities(d, st),
            // Plain-text keys only.
            PAGE_KEY_FORMATS => page(sps, &[0x00]),
            PAGE_MANAGEMENT => {
                let mut b = [0u8; 12];
                b[0] = 0x01; // LOCK_C
                b[1] = 0x04; // CKOD_C (no CKORP_C, CKORL_C)
                b[3] = 0x07; // AITN_C, LOCAL_C, PUBLIC_C
                page(sps, &b)
            }
            PAGE_STATUS => status(&st.crypt, cmd.nexus),
            PAGE_NEXT_BLOCK => next_block(d, st, cmd.nexus)?,
            _ => return Err(Sense::invalid_field_in_cdb(2, None)),
        },
        _ => return Err(Sense::invalid_field_in_cdb(1, None)),
    };
    Ok(data_in(page, length(c)))
}

/// A page: code, length, body.
fn page(code: u16, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + body.len());
    b.extend_from_slice(&code.to_be_bytes());
    b.extend_from_slice(&(body.len() as u16).to_be_bytes());
    b.extend_from_slice(body);
    b
}

fn list_page(code: u16, pages: &[u16]) -> Vec<u8> {
    let body: Vec<u8> = pages.iter().flat_map(|p| p.to_be_bytes()).collect();
    page(code, &body)
}

/// Data Encryption Capabilities (0010h): one algorithm descriptor.
fn capabilities(d: &TapeDrive, st: &State) -> Vec<u8> {
    let mounted = st.media.as_ref().is_some_and(|m| {
        m.loaded
            && m.info.kind != MediaKind::Cleaning
            && d.model.generation.reads(m.info.generation)
    });
    let mut body = vec![0u8; 16];
    // EXTDECC 01b (no external data encryption control), CFG_P 01b (may be changed).
    body[0] = 0x05;
    let mut a = vec![ALGORITHM, 0, 0, 20];
    // AVFMV, MAC_C, DELB_C, DECRYPT_C 10b, ENCRYPT_C 10b (in the device).
    a.push((u8::from(mounted) << 7) | 0x20 | 0x10 | 0x08 | 0x02);
    // AVFCP 10b when a cartridge is mounted (valid at any position).
    a.push(if mounted { 0x80 } else { 0 });
    a.extend_from_slice(&(MAX_UKAD as u16).to_be_bytes());
    a.extend_from_slice(&0u16.to_be_bytes()); // no A-KAD
    a.extend_from_slice(&(KEY_LEN as u16).to_be_bytes());
    // DKAD_C 00b, EEMC_C 00b, RDMC_C 001b (raw decryption not supported), EAREM 0.
    a.push(0x02);
    a.extend_from_slice(&[0; 7]);
    a.extend_from_slice(&AES_256_GCM.to_be_bytes());
    body.extend_from_slice(&a);
    page(PAGE_CAPABILITIES, &body)
}

/// Data Encryption Status (0020h) of the parameters `n` uses.
fn status(c: &Crypt, n: &Nexus) -> Vec<u8> {
    let p = c.params(n);
    let nexus_scope = if c.local.contains_key(n) {
        Scope::Local
    } else {
        Scope::Public
    };
    let mut body = vec![0u8; 20];
    body[0] = ((nexus_scope as u8) << 5) | p.scope as u8;
    body[1] = p.encrypt as u8;
    body[2] = p.decrypt as u8;
    body[3] = if p.active() { ALGORITHM } else { 0 };
    body[4..8].copy_from_slice(&p.instance.to_be_bytes());
    body[8] = ((p.ceem & 0x03) << 1) | u8::from(p.rdmd);
    if p.active() && !p.ukad.is_empty() {
        body.extend_from_slice(&[0x00, 0x00]);
        body.extend_from_slice(&(p.ukad.len() as u16).to_be_bytes());
        body.extend_from_slice(&p.ukad);
    }
    page(PAGE_STATUS, &body)
}

/// ENCRYPTION STATUS values of the Next Block Encryption Status page.
mod block_status {
    /// Capable, but not now (end of data, a damaged record).
    pub const UNKNOWN: u8 = 0x1;
    pub const NOT_A_BLOCK: u8 = 0x2;
    pub const PLAIN: u8 = 0x3;
    pub const CAN_DECRYPT: u8 = 0x5;
    pub const CANNOT_DECRYPT: u8 = 0x6;
}

/// Next Block Encryption Status (0021h): the record at the position.
fn next_block(d: &TapeDrive, st: &mut State, n: &Nexus) -> Result<Vec<u8>, Sense> {
    let key = st.crypt.read_key(n).unwrap_or_else(|_| ReadKey::default());
    let l = ready(&d.model, &mut st.media)?;
    let pos = *l.pos;
    let (status, algorithm) = match l.tape.index().get(pos) {
        None => (block_status::UNKNOWN, 0),
        Some(obj) if obj.data.is_none() => (block_status::NOT_A_BLOCK, 0),
        Some(obj) => match l.tape.read_record(&obj, key.cipher) {
            Ok(r) if r.encrypted => (block_status::CAN_DECRYPT, ALGORITHM),
            Ok(_) => (block_status::PLAIN, 0),
            Err(ReadError::Sealed { .. } | ReadError::WrongKey { .. }) => {
                (block_status::CANNOT_DECRYPT, ALGORITHM)
            }
            Err(_) => (block_status::UNKNOWN, 0),
        },
    };
    let mut body = vec![0u8; 12];
    body[..8].copy_from_slice(&pos.to_be_bytes());
    // COMPRESSION STATUS 0h (not reported).
    body[8] = status;
    body[9] = algorithm;
    // RDMDS: every encrypted record is closed to raw reads.
    body[10] = u8::from(status >= block_status::CAN_DECRYPT);
    Ok(page(PAGE_NEXT_BLOCK, &body))
}

/// INVALID FIELD IN PARAMETER LIST at `at` (bit `bit`).
fn bad(at: usize, bit: Option<u8>) -> Sense {
    Sense::invalid_field_in_param(u16::try_from(at).unwrap_or(u16::MAX), bit)
}

/// A Set Data Encryption page, checked.
#[derive(Debug)]
struct SetPage {
    scope: Scope,
    lock: bool,
    params: Params,
}

/// Parses a Set Data Encryption page (the whole parameter list).
fn parse_set(list: &[u8]) -> Result<SetPage, Sense> {
    if list.len() < 4 {
        return Err(Sense::param_list_length_error());
    }
    if be16(list, 0) != PAGE_SET {
        return Err(bad(0, None));
    }
    let end = 4 + usize::from(be16(list, 2));
    if end > list.len() {
        return Err(Sense::param_list_length_error());
    }
    let p = &list[..end];
    if p.len() < 20 {
        return Err(bad(2, None));
    }
    let scope = match p[4] >> 5 {
        0 => Scope::Public,
        1 => Scope::Local,
        2 => Scope::AllNexus,
        _ => return Err(bad(4, Some(7))),
    };
    let lock = p[4] & 0x01 != 0;
    if scope == Scope::Public {
        // The nexus takes the public parameters: every other field is ignored.
        return Ok(SetPage {
            scope,
            lock,
            params: Params::default(),
        });
    }
    let f = p[5];
    let ceem = f >> 6;
    if ceem > 1 {
        // Checking the external encryption mode: there is no EXTERNAL mode to check.
        return Err(bad(5, Some(7)));
    }
    let rdmc = (f >> 4) & 0x03;
    if rdmc == 0x01 || rdmc == 0x02 {
        // Reserved, or enabling raw reads: records are never raw-readable.
        return Err(bad(5, Some(5)));
    }
    for (bit, what) in [(3u8, "SDK"), (1, "CKORP"), (0, "CKORL")] {
        if f & (1 << bit) != 0 {
            tracing::debug!("set data encryption: {what} is not supported");
            return Err(bad(5, Some(bit)));
        }
    }
    let ckod = f & 0x04 != 0;
    let encrypt = match p[6] {
        0 => EncryptMode::Disable,
        2 => EncryptMode::Encrypt,
        _ => return Err(bad(6, None)),
    };
    let decrypt = match p[7] {
        0 => DecryptMode::Disable,
        2 => DecryptMode::Decrypt,
        3 => DecryptMode::Mixed,
        _ => return Err(bad(7, None)),
    };
    let mut params = Params {
        encrypt,
        decrypt,
        ckod,
        rdmd: rdmc == 0x03,
        ceem,
        scope: if scope == Scope::Local {
            Scope::Local
        } else {
            Scope::AllNexus
        },
        ..Params::default()
    };
    if !params.active() {
        // No key is needed: the key and any key-associated data are ignored.
        return Ok(SetPage {
            scope,
            lock,
            params,
        });
    }
    if p[8] != ALGORITHM {
        return Err(bad(8, None));
    }
    if p[9] != 0x00 {
        return Err(bad(9, None));
    }
    if p[10] != 0x00 {
        // KAD FORMAT: only "unspecified".
        return Err(bad(10, None));
    }
    let key_len = usize::from(be16(p, 18));
    let key = p
        .get(20..20 + key_len)
        .filter(|_| key_len == KEY_LEN)
        .and_then(Key::from_slice)
        .ok_or_else(|| bad(18, None))?;
    let mut at = 20 + key_len;
    while at < p.len() {
        if at + 4 > p.len() {
            return Err(bad(at, None));
        }
        let len = usize::from(be16(p, at + 2));
        if p[at] != 0x00 || !params.ukad.is_empty() {
            // Only one U-KAD.
            return Err(bad(at, None));
        }
        if len > MAX_UKAD || at + 4 + len > p.len() {
            return Err(bad(at + 2, None));
        }
        params.ukad = p[at + 4..at + 4 + len].to_vec();
        at += 4 + len;
    }
    params.cipher = Some(Cipher::new(&key).map_err(|e| {
        tracing::error!("cannot set up the data encryption key: {e}");
        Sense::internal_failure()
    })?);
    Ok(SetPage {
        scope,
        lock,
        params,
    })
}

/// SECURITY PROTOCOL OUT.
pub(super) fn security_out(
    st: &mut State,
    cmd: &Command<'_>,
    ctx: &UnitCtx,
) -> Result<Response, Sense> {
    let c = cmd.cdb;
    let len = length(c);
    let with_len = |r: Response| Response {
        data_out_len: Some(u32::try_from(len).unwrap_or(u32::MAX)),
        ..r
    };
    if byte(c, 1) != PROTOCOL_TAPE {
        return Err(Sense::invalid_field_in_cdb(1, None));
    }
    if be16(c, 2) != PAGE_SET {
        return Err(Sense::invalid_field_in_cdb(2, None));
    }
    if len == 0 {
        return Ok(with_len(Response::good()));
    }
    let list = cmd
        .data_out
        .get(..len)
        .ok_or_else(Sense::param_list_length_error)?;
    let set = match parse_set(list) {
        Ok(s) => s,
        Err(s) => return Ok(with_len(ctx.check(&s))),
    };
    let cr = &mut st.crypt;
    let n = cmd.nexus;
    match set.scope {
        Scope::Public => {
            cr.local.remove(n);
        }
        Scope::Local | Scope::AllNexus => {
            cr.instances = cr.instances.wrapping_add(1);
            let params = Params {
                instance: cr.instances,
                ..set.params
            };
            if set.scope == Scope::Local {
                cr.local.insert(n.clone(), params);
            } else {
                cr.local.remove(n);
                cr.public = params;
            }
        }
    }
    if set.lock {
        let i = cr.params(n).instance;
        cr.locks.insert(n.clone(), i);
    } else {
        cr.locks.remove(n);
    }
    Ok(with_len(Response::good()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_set_page_parses_without_panicking(
            mut b in proptest::collection::vec(any::<u8>(), 0..120),
            fix_header in any::<bool>(),
        ) {
            if fix_header && b.len() >= 4 {
                b[0] = 0;
                b[1] = 0x10;
                let n = (b.len() - 4) as u16;
                b[2..4].copy_from_slice(&n.to_be_bytes());
            }
            let _ = parse_set(&b);
        }
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let mut list = vec![
            0, 0x10, 0, 0, 0x40, 0, 2, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32,
        ];
        list.extend_from_slice(&[0xAB; 32]);
        let n = (list.len() - 4) as u16;
        list[2..4].copy_from_slice(&n.to_be_bytes());
        let set = parse_set(&list).unwrap();
        let text = format!("{set:?}");
        assert!(text.contains("<key>"), "{text}");
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, ab"));
    }
}
