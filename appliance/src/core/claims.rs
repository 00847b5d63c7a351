//! Claims on volumes: who uses a volume right now (an iSCSI LUN, a tape library's
//! cartridge store, a VM's disk). A volume has at most one holder, so it cannot be served
//! twice by mistake (two LUNs would let initiators bypass each other's reservations; a
//! LUN and a VM disk would corrupt a filesystem), and it cannot be deleted while held.
//!
//! Claims are not stored: each component claims the volumes its own records name when it
//! opens, and releases them when its records change.

use super::error::ErrorCode;
use axum::http::StatusCode;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Who holds a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The component, e.g. `iscsi`.
    pub component: &'static str,
    /// The holder in people's words, e.g. `iSCSI target iqn.2026-01.com.example:db LUN 0`.
    pub holder: String,
    /// The command that releases it, e.g. `vsa target lun remove iqn... 0`.
    pub release: String,
}

/// A volume someone else holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("volume '{volume}' is in use: {holder} holds it", holder = .claim.holder)]
pub struct InUse {
    /// The volume.
    pub volume: String,
    /// Its holder.
    pub claim: Claim,
}

impl ErrorCode for InUse {
    fn code(&self) -> &'static str {
        "volume_in_use"
    }
    fn status(&self) -> StatusCode {
        StatusCode::CONFLICT
    }
    fn hint(&self) -> Option<String> {
        Some(format!("release it first (`{}`)", self.claim.release))
    }
}

/// The claims of the appliance.
#[derive(Debug, Default)]
pub struct Claims {
    held: Mutex<BTreeMap<String, Claim>>,
}

impl Claims {
    /// Claims `volume` for `claim`'s holder; refused if someone else holds it. Claiming a
    /// volume again for the same holder is fine.
    pub fn claim(&self, volume: &str, claim: Claim) -> Result<(), InUse> {
        let mut held = self.held.lock();
        match held.get(volume) {
            Some(c) if c.holder != claim.holder || c.component != claim.component => Err(InUse {
                volume: volume.to_owned(),
                claim: c.clone(),
            }),
            _ => {
                held.insert(volume.to_owned(), claim);
                Ok(())
            }
        }
    }

    /// Releases `volume` if `component` holds it.
    pub fn release(&self, volume: &str, component: &str) {
        let mut held = self.held.lock();
        if held.get(volume).is_some_and(|c| c.component == component) {
            held.remove(volume);
        }
    }

    /// Who holds `volume`.
    pub fn holder(&self, volume: &str) -> Option<Claim> {
        self.held.lock().get(volume).cloned()
    }

    /// Fails with [`InUse`] if anyone holds `volume`.
    pub fn check_free(&self, volume: &str) -> Result<(), InUse> {
        match self.holder(volume) {
            Some(claim) => Err(InUse {
                volume: volume.to_owned(),
                claim,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ApiError;

    fn lun(n: u32) -> Claim {
        Claim {
            component: "iscsi",
            holder: format!("iSCSI target t LUN {n}"),
            release: format!("vsa target lun remove t {n}"),
        }
    }

    #[test]
    fn one_holder_per_volume() {
        let c = Claims::default();
        c.claim("v", lun(0)).unwrap();
        c.claim("v", lun(0)).unwrap();
        let e = ApiError::from(c.claim("v", lun(1)).unwrap_err());
        assert_eq!((e.status.as_u16(), e.code), (409, "volume_in_use"));
        assert!(
            e.message.contains("LUN 0") && e.message.contains("vsa target lun remove t 0"),
            "{}",
            e.message
        );
        assert!(c.check_free("v").is_err());
        c.release("v", "vm");
        assert!(
            c.holder("v").is_some(),
            "only the holder's component releases"
        );
        c.release("v", "iscsi");
        assert!(c.check_free("v").is_ok());
        c.claim("v", lun(1)).unwrap();
    }
}
