//! The credentials' side of the service: set, remove and list what the appliance logs on
//! to each SMB server with (`credentials.rs`), stored before it is used.

use super::*;
use crate::ns::credentials::server_key;
use crate::ns::model::cred_key;

fn view(server: &str, c: &Credential) -> CredentialView {
    CredentialView {
        server: server.to_owned(),
        user: c.user.clone(),
        domain: c.domain.clone(),
    }
}

impl Namespaces {
    /// What the probes and the mounts log on with.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Sets (or replaces) the credential of a server.
    pub fn set_credential(&self, b: SetCredentialBody) -> Result<CredentialView> {
        let key = server_key(&b.server)?;
        let c = Credential::new(&b.user, b.domain.as_deref(), &b.secret)?;
        self.persist(&[(cred_key(&key), MetaStore::encode(&c))], &[])?;
        let v = view(&key, &c);
        self.creds.set(key, c);
        tracing::info!(
            server = v.server,
            user = v.user,
            "SMB credentials set (new connections to the server log on with them)"
        );
        Ok(v)
    }

    /// Forgets the credential of a server: its shares are reached as a guest again.
    pub fn remove_credential(&self, server: &str) -> Result<Deleted> {
        let key = server_key(server)?;
        if self.creds.get(&key).is_none() {
            return Err(NsError::NoSuchCredential(server.to_owned()));
        }
        self.persist(&[], &[cred_key(&key)])?;
        self.creds.remove(&key);
        tracing::info!(server = key, "SMB credentials removed");
        Ok(Deleted { deleted: key })
    }

    /// Every server with a credential: server, user, domain (never the secret).
    pub fn list_credentials(&self) -> Vec<CredentialView> {
        self.creds.each(view)
    }
}
