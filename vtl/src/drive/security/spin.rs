//! SECURITY PROTOCOL IN: the supported protocols and the pages of the tape data
//! encryption protocol (20h).

use super::super::{ready, State, TapeDrive};
use super::*;
use vsa_scsi::cdb::{be16, byte, data_in};
use vsa_scsi::{Command, Nexus, Response, Sense};

/// SECURITY PROTOCOL IN.
pub(in crate::drive) fn security_in(
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
