//! SMB credentials per file server (`vsa ns credential set SERVER --user U --secret S`):
//! what the appliance logs on with when it reaches that server's shares itself, for the
//! health probes' look into a share and for the FUSE mount. Servers without credentials
//! get a guest session.
//!
//! A secret is kept in the `namespace` column family (the appliance must present it, so it
//! cannot be hashed) and goes nowhere else: replies and lists show the server, the user and
//! the domain only, `Debug` hides it, and nothing logs a request body. Every change bumps
//! [`Credentials::version`], so a mount's connections made with the old identity are made
//! again on their next call.

use super::error::NsError;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use vsa_namespace::TargetUrl;

/// The longest user, domain or secret taken, in bytes.
const MAX_LEN: usize = 256;

/// What the appliance logs on to one server with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub user: String,
    /// The user's domain or workgroup (empty: the server's own accounts).
    #[serde(default)]
    pub domain: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl Credential {
    /// `DOMAIN\user`, or `user`.
    pub fn who(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}\\{}", self.domain, self.user)
        }
    }

    /// Checks what `vsa ns credential set` was given; `DOMAIN\user` (or `user@domain`)
    /// in `user` names the domain when `domain` is empty.
    pub fn new(user: &str, domain: Option<&str>, secret: &str) -> Result<Credential, NsError> {
        let bad = |what: String| Err(NsError::Invalid(what));
        let (mut domain, mut user) = (domain.unwrap_or("").trim().to_owned(), user.trim());
        if domain.is_empty() {
            if let Some((d, u)) = user.split_once('\\') {
                (domain, user) = (d.to_owned(), u);
            } else if let Some((u, d)) = user.split_once('@') {
                (domain, user) = (d.to_owned(), u);
            }
        }
        for (what, text) in [("user", user), ("domain", domain.as_str())] {
            if text.len() > MAX_LEN || text.chars().any(|c| c.is_control()) {
                return bad(format!(
                    "the {what} must be at most {MAX_LEN} bytes without control characters"
                ));
            }
            if text.contains(['\\', '@', '/']) {
                return bad(format!(
                    "the {what} '{text}' may not hold '\\', '@' or '/': write the user as \
                     DOMAIN\\user or give --domain"
                ));
            }
        }
        if user.is_empty() {
            return bad("the user is empty; give --user NAME (or DOMAIN\\NAME)".into());
        }
        if secret.is_empty() || secret.len() > MAX_LEN || secret.contains('\0') {
            return bad(format!(
                "the secret must be 1 to {MAX_LEN} bytes without NUL (it is {} bytes)",
                secret.len()
            ));
        }
        Ok(Credential {
            user: user.to_owned(),
            domain,
            secret: secret.to_owned(),
        })
    }
}

/// The server a credential is for, folded to lower case as target URLs name it (a host
/// name, an IPv4 address, or an IPv6 address in `[ ]`).
pub fn server_key(server: &str) -> Result<String, NsError> {
    let url = TargetUrl::parse(&format!("smb://{}/share", server.trim()))?;
    match url.server() {
        Some(s) if s.eq_ignore_ascii_case(server.trim()) => Ok(s.to_lowercase()),
        _ => Err(NsError::Invalid(format!(
            "'{server}' is not a server name: give the host name or address as the targets' \
             URLs have it, e.g. fs1 for smb://fs1/docs"
        ))),
    }
}

#[derive(Debug, Default)]
struct Book {
    by_server: BTreeMap<String, Credential>,
    version: u64,
}

/// The credentials of every server, shared by the service, the probes and the mounts.
#[derive(Debug, Clone, Default)]
pub struct Credentials(Arc<RwLock<Book>>);

impl Credentials {
    /// The credential for `server` (any case), if one is set.
    pub fn get(&self, server: &str) -> Option<Credential> {
        let book = self.0.read();
        if book.by_server.is_empty() {
            return None;
        }
        book.by_server.get(&server.to_lowercase()).cloned()
    }

    /// Counts the changes: a connection made at an older version may hold an old identity.
    pub fn version(&self) -> u64 {
        self.0.read().version
    }

    /// Sets the credential of folded server `key`.
    pub fn set(&self, key: String, c: Credential) {
        let mut book = self.0.write();
        book.by_server.insert(key, c);
        book.version += 1;
    }

    /// Forgets the credential of folded server `key`; whether there was one.
    pub fn remove(&self, key: &str) -> bool {
        let mut book = self.0.write();
        let had = book.by_server.remove(key).is_some();
        book.version += u64::from(had);
        had
    }

    /// `f` of every server and its credential, by server.
    pub fn each<T>(&self, f: impl Fn(&str, &Credential) -> T) -> Vec<T> {
        let book = self.0.read();
        book.by_server.iter().map(|(s, c)| f(s, c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_domains_and_secrets_are_checked() {
        let c = Credential::new("CORP\\alice", None, "pw").unwrap();
        assert_eq!((c.user.as_str(), c.domain.as_str()), ("alice", "CORP"));
        assert_eq!(c.who(), "CORP\\alice");
        let c = Credential::new("bob@corp.example", None, "pw").unwrap();
        assert_eq!(
            (c.user.as_str(), c.domain.as_str()),
            ("bob", "corp.example")
        );
        let c = Credential::new("carol", Some("WG"), "pw").unwrap();
        assert_eq!(c.who(), "WG\\carol");
        assert!(Credential::new("", None, "pw").is_err());
        assert!(Credential::new("a", None, "").is_err());
        assert!(Credential::new("a", None, "x\0y").is_err());
        assert!(Credential::new("a\\b", Some("D"), "pw").is_err());
        assert!(Credential::new(&"u".repeat(300), None, "pw").is_err());
        assert!(Credential::new("a\nb", None, "pw").is_err());
    }

    #[test]
    fn the_secret_is_never_in_debug_output() {
        let c = Credential::new("alice", None, "s3cr3t-value").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("alice"));
    }

    #[test]
    fn servers_are_named_as_in_target_urls() {
        assert_eq!(server_key("FS1.corp").unwrap(), "fs1.corp");
        assert_eq!(server_key("127.0.0.2").unwrap(), "127.0.0.2");
        assert_eq!(server_key("[::1]").unwrap(), "[::1]");
        for bad in ["", "fs1/docs", "fs1:445", "a b", "user@fs1"] {
            assert!(server_key(bad).is_err(), "{bad} taken");
        }
    }

    #[test]
    fn changes_bump_the_version() {
        let book = Credentials::default();
        let v0 = book.version();
        book.set("fs1".into(), Credential::new("a", None, "pw").unwrap());
        assert!(book.version() > v0);
        assert_eq!(book.get("FS1").map(|c| c.user), Some("a".into()));
        let v1 = book.version();
        assert!(!book.remove("fs2"));
        assert_eq!(book.version(), v1);
        assert!(book.remove("fs1"));
        assert!(book.version() > v1);
        assert!(book.get("fs1").is_none());
    }
}
