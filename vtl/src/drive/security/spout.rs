//! SECURITY PROTOCOL OUT: the Set Data Encryption page, checked field by field.

use super::super::State;
use super::*;
use vsa_scsi::cdb::{be16, byte};
use vsa_scsi::{Command, Response, Sense, UnitCtx};

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
pub(in crate::drive) fn security_out(
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
