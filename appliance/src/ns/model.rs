//! The namespace component's records and their keys.
//!
//! | key (column family `namespace`) | value |
//! | --- | --- |
//! | `ns/<name>` | a [`vsa_namespace::Namespace`] as JSON (folders, links, targets, version), `<name>` its root folded to lower case |
//! | `sites` | the appliance's [`vsa_namespace::Sites`] as JSON (sites, subnets, costs) |
//! | `samba/<name>` | a [`SambaExport`]: where `vsa ns export-samba` writes the namespace's msdfs tree, kept current after every change |
//! | `migrate/<name>/<link>` | a [`MigrationRecord`]: a migration of a link's data to a new target, from its start until it is confirmed or cancelled (`<link>` the link's folded path) |
//! | `repl/<name>/<link>/<to>` | a [`ReplicaRecord`]: a one-way replication from one target of a link to another (`<to>` the replica's folded URL) |
//! | `cred/<server>` | a [`super::credentials::Credential`] as JSON (user, domain, secret): what the appliance logs on to that SMB server with, `<server>` folded to lower case |
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

/// The prefix of the migrations' keys.
pub const MIGRATE_PREFIX: &[u8] = b"migrate/";

/// The key of the migration of link `link` (folded path) of namespace `ns` (folded).
pub fn migrate_key(ns: &str, link: &str) -> Vec<u8> {
    let mut k = MIGRATE_PREFIX.to_vec();
    k.extend_from_slice(ns.as_bytes());
    k.push(b'/');
    k.extend_from_slice(link.as_bytes());
    k
}

/// A migration as stored: enough to resume it after a restart, confirm it or undo its
/// switch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MigrationRecord {
    /// The namespace's root and the link's path, as named.
    pub namespace: String,
    pub link: String,
    pub from: String,
    pub to: String,
    /// The source target's priority before the switch (put back by a cancel).
    pub old_priority: vsa_namespace::Priority,
    /// When the referral switched (unix seconds); `None` while copying.
    pub switched_at: Option<u64>,
    /// When it started (unix seconds).
    pub started_at: u64,
}

/// The prefix of the replications' keys.
pub const REPL_PREFIX: &[u8] = b"repl/";

/// The key of the replication of link `link` of `ns` (both folded) to target `to`
/// (folded URL).
pub fn repl_key(ns: &str, link: &str, to: &str) -> Vec<u8> {
    let mut k = REPL_PREFIX.to_vec();
    for part in [ns, "/", link, "/", to] {
        k.extend_from_slice(part.as_bytes());
    }
    k
}

/// A replication as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaRecord {
    pub namespace: String,
    pub link: String,
    pub from: String,
    pub to: String,
    pub every_secs: u64,
    /// Its first run has ended: the replica is referred.
    pub in_sync: bool,
}

/// The prefix of the SMB credentials' keys.
pub const CRED_PREFIX: &[u8] = b"cred/";

/// The key of the credential of folded server `server`.
pub fn cred_key(server: &str) -> Vec<u8> {
    let mut k = CRED_PREFIX.to_vec();
    k.extend_from_slice(server.as_bytes());
    k
}

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
