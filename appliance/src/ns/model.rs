//! The namespace component's records and their keys.
//!
//! | key (column family `namespace`) | value |
//! | --- | --- |
//! | `ns/<name>` | a [`vsa_namespace::Namespace`] as JSON (folders, links, targets, version), `<name>` its root folded to lower case |
//! | `sites` | the appliance's [`vsa_namespace::Sites`] as JSON (sites, subnets, costs) |
//! | `samba/<name>` | a [`SambaExport`]: where `vsa ns export-samba` writes the namespace's msdfs tree, kept current after every change |
//!
//! Reading a namespace back re-checks every rule of the tree (`vsa_namespace`), so a
//! record that does not hold together is refused with its key named. Every change is one
//! synced `WriteBatch`, written before the service's state changes and before the API
//! answers.

/// The column family.
pub const CF_NAMESPACE: &str = "namespace";

/// The prefix of every namespace's key.
pub const NS_PREFIX: &[u8] = b"ns/";

/// The key of the sites record.
pub const SITES_KEY: &[u8] = b"sites";

/// The prefix of the Samba exports' keys.
pub const SAMBA_PREFIX: &[u8] = b"samba/";

/// Where a namespace's msdfs tree is written for Samba, and the share serving it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SambaExport {
    pub dir: String,
    pub share: String,
}

/// The key of the Samba export of the namespace whose folded root is `key`.
pub fn samba_key(key: &str) -> Vec<u8> {
    let mut k = SAMBA_PREFIX.to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

/// The key of the namespace whose folded root is `key`.
pub fn ns_key(key: &str) -> Vec<u8> {
    let mut k = NS_PREFIX.to_vec();
    k.extend_from_slice(key.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(ns_key("corp"), b"ns/corp");
        assert!(!ns_key("x").starts_with(SITES_KEY));
    }
}
