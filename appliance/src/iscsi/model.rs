//! The durable model of iSCSI targets: what `vsa target ...` configures, kept in the
//! `target` column family as JSON, one key per target (`t/<iqn>`), and the persistent
//! reservations of each LUN (`pr/<iqn>/<lun>`, bytes owned by the SCSI layer).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The column family of targets, LUNs, ACLs, CHAP and reservations.
pub const CF_TARGET: &str = "target";

/// Key of a target record.
pub fn target_key(iqn: &str) -> Vec<u8> {
    format!("t/{iqn}").into_bytes()
}

/// Key of a LUN's persistent-reservation state.
pub fn pr_key(iqn: &str, lun: u64) -> Vec<u8> {
    format!("pr/{iqn}/{lun}").into_bytes()
}

/// CHAP credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapRecord {
    /// CHAP name.
    pub user: String,
    /// CHAP secret (never shown by the API or logs).
    pub secret: String,
}

impl std::fmt::Debug for ChapRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChapRecord")
            .field("user", &self.user)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// What kind of logical unit a LUN is; the component that owns that kind builds its
/// device server. Records from before kinds existed are disks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LunKind {
    /// A direct-access block device (SBC) over a pool volume.
    #[default]
    Disk,
}

/// One LUN of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LunRecord {
    /// What kind of logical unit it is.
    #[serde(default)]
    pub kind: LunKind,
    /// The volume it serves.
    pub volume: String,
    /// Writes fail with DATA PROTECT.
    #[serde(default)]
    pub read_only: bool,
    /// Reported as removable medium (START STOP UNIT ejects, PREVENT ALLOW locks).
    #[serde(default)]
    pub removable: bool,
    /// Unit serial number (VPD 0x80), fixed when the LUN is added.
    pub serial: String,
    /// NAA 6 designator (VPD 0x83), 32 hex digits, fixed when the LUN is added.
    pub naa: String,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The iSCSI name (iqn., eui. or naa.).
    pub name: String,
    /// TargetAlias sent at login.
    #[serde(default)]
    pub alias: Option<String>,
    /// LUNs by number.
    #[serde(default)]
    pub luns: BTreeMap<u64, LunRecord>,
    /// Initiator names allowed to log in; empty admits every initiator.
    #[serde(default)]
    pub acl: BTreeSet<String>,
    /// CHAP the initiator must pass.
    #[serde(default)]
    pub chap: Option<ChapRecord>,
    /// Mutual CHAP: the target's own credentials, for initiators that authenticate it.
    #[serde(default)]
    pub mutual_chap: Option<ChapRecord>,
}

/// Why an iSCSI name is not valid (RFC 7143 4.2.7, RFC 3722), in a sentence with an
/// example of a valid one.
pub fn check_iscsi_name(name: &str) -> Result<(), String> {
    vsa_iscsi::name::check(name).map_err(|e| e.to_string())
}

/// Checks CHAP credentials: a name, and a secret of 12 to 255 bytes (RFC 7143 9.2.1 asks
/// for at least 96 bits; Windows initiators insist on 12 to 16 characters).
pub fn check_chap(user: &str, secret: &str, what: &str) -> Result<(), String> {
    if user.is_empty() || user.len() > 255 || user.chars().any(|c| c.is_control()) {
        return Err(format!(
            "the {what} user name must be 1 to 255 printable characters"
        ));
    }
    if secret.len() < 12 || secret.len() > 255 {
        return Err(format!(
            "the {what} secret must be 12 to 255 bytes long (it is {}); Windows initiators \
             accept 12 to 16",
            secret.len()
        ));
    }
    Ok(())
}

/// Derives a LUN's stable identity from the volume's UUID and the target and LUN: the
/// serial number and the NAA 6 designator (locally administered company id 0x0AC5A0
/// "vsa" is not registered; the 100 vendor-specific bits come from a hash).
pub fn lun_identity(volume_uuid: &str, target: &str, lun: u64) -> (String, String) {
    let mut h1 = crc32c::crc32c(volume_uuid.as_bytes());
    h1 = crc32c::crc32c_append(h1, target.as_bytes());
    h1 = crc32c::crc32c_append(h1, &lun.to_be_bytes());
    let h2 = crc32c::crc32c_append(h1, b"naa");
    let h3 = crc32c::crc32c_append(h2, b"ext");
    let h4 = crc32c::crc32c_append(h3, b"ext2");
    let serial = format!("VSA{h1:08X}{h2:08X}");
    // NAA 6 | company id 0x0AC5A0 | 36 bits + 64 bits vendor specific.
    let mut naa = [0u8; 16];
    naa[0] = 0x60;
    naa[1] = 0xAC;
    naa[2] = 0x5A;
    naa[3] = (h2 as u8) & 0x0F; // company id's low nibble (0) | 4 vendor bits
    naa[4..8].copy_from_slice(&h1.to_be_bytes());
    naa[8..12].copy_from_slice(&h3.to_be_bytes());
    naa[12..16].copy_from_slice(&h4.to_be_bytes());
    (serial, hex::encode(naa))
}

/// Parses a 32-hex-digit NAA designator.
pub fn naa_bytes(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iscsi_names() {
        for ok in [
            "iqn.2026-01.com.example:db",
            "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
            "eui.0123456789abcdef",
            "naa.0123456789abcdef0123456789abcdef",
        ] {
            assert!(check_iscsi_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "iqn.2026-01",
            "IQN.2026-01.com.example:db",
            "iqn.26-01.com.x",
            "eui.123",
            "foo",
            "iqn.2026-01.com.example:a b",
        ] {
            assert!(check_iscsi_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identities_are_stable_and_distinct() {
        let a = lun_identity("u1", "iqn.2026-01.x:t", 0);
        assert_eq!(a, lun_identity("u1", "iqn.2026-01.x:t", 0));
        assert_ne!(a, lun_identity("u1", "iqn.2026-01.x:t", 1));
        assert_ne!(a, lun_identity("u2", "iqn.2026-01.x:t", 0));
        let naa = naa_bytes(&a.1).unwrap();
        assert_eq!(naa[0] >> 4, 6);
        assert_eq!(hex::encode(naa), a.1);
        assert!(naa_bytes("60ac5a").is_none());
        assert!(naa_bytes(&"g".repeat(32)).is_none());
    }

    #[test]
    fn chap_rules() {
        assert!(check_chap("u", "123456789012", "CHAP").is_ok());
        assert!(check_chap("u", "short", "CHAP").is_err());
        assert!(check_chap("", "123456789012", "CHAP").is_err());
    }
}
