//! The iSCSI target names of the appliance, one namespace for every component that serves
//! SCSI devices: the iSCSI component's own targets (LUNs over volumes) and the targets other
//! components publish (a tape library's changer and drives). A name belongs to one owner;
//! the iSCSI portal finds published targets here at login and discovery.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who holds a target name.
#[derive(Debug, Clone)]
struct Holder {
    /// The component, e.g. `vtl`.
    owner: &'static str,
    /// What the owner calls it, for messages (e.g. `tape library 'lib1'`).
    what: String,
    /// The target, when the owner publishes it for the portal to serve; `None` when the
    /// owner serves it itself (the iSCSI component).
    entry: Option<Arc<vsa_iscsi::TargetEntry>>,
}

/// A name someone else holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the iSCSI name '{name}' is taken by {what}")]
pub struct NameTaken {
    pub name: String,
    pub what: String,
}

/// Ends the sessions of a target that stops being served (the iSCSI portal's).
pub type SessionDropper = Arc<dyn Fn(&str) + Send + Sync>;

/// The appliance's target names.
#[derive(Default)]
pub struct TargetNames {
    names: RwLock<BTreeMap<String, Holder>>,
    dropper: RwLock<Option<SessionDropper>>,
}

impl std::fmt::Debug for TargetNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetNames")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl TargetNames {
    /// Takes `name` for `owner` (again is fine for the same owner; the entry is replaced).
    pub fn hold(
        &self,
        name: &str,
        owner: &'static str,
        what: &str,
        entry: Option<Arc<vsa_iscsi::TargetEntry>>,
    ) -> Result<(), NameTaken> {
        let mut names = self.names.write();
        let key = name.to_ascii_lowercase();
        if let Some(h) = names.get(&key) {
            if h.owner != owner || h.what != what {
                return Err(NameTaken {
                    name: name.to_owned(),
                    what: h.what.clone(),
                });
            }
        }
        names.insert(
            key,
            Holder {
                owner,
                what: what.to_owned(),
                entry,
            },
        );
        Ok(())
    }

    /// Gives `name` up (if `owner` holds it); the sessions of a published target end.
    pub fn release(&self, name: &str, owner: &'static str) {
        let mut names = self.names.write();
        let key = name.to_ascii_lowercase();
        if names.get(&key).is_none_or(|h| h.owner != owner) {
            return;
        }
        let published = names.remove(&key).is_some_and(|h| h.entry.is_some());
        drop(names);
        if published {
            if let Some(drop_sessions) = self.dropper.read().clone() {
                drop_sessions(name);
            }
        }
    }

    /// Sets (or clears) what ends a target's sessions: the running iSCSI portal's.
    pub fn set_session_dropper(&self, dropper: Option<SessionDropper>) {
        *self.dropper.write() = dropper;
    }

    /// The published target called `name` (iSCSI names compare case-insensitively).
    pub fn published(&self, name: &str) -> Option<Arc<vsa_iscsi::TargetEntry>> {
        self.names
            .read()
            .get(&name.to_ascii_lowercase())
            .and_then(|h| h.entry.clone())
    }

    /// Every published target.
    pub fn all_published(&self) -> Vec<Arc<vsa_iscsi::TargetEntry>> {
        self.names
            .read()
            .values()
            .filter_map(|h| h.entry.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_has_one_holder() {
        let t = TargetNames::default();
        assert!(t
            .hold("iqn.x:a", "iscsi", "iSCSI target iqn.x:a", None)
            .is_ok());
        let e = t.hold("IQN.X:A", "vtl", "tape library 'l'", None);
        assert_eq!(
            e.map_err(|e| e.what),
            Err("iSCSI target iqn.x:a".to_owned())
        );
        t.release("iqn.x:a", "vtl");
        assert!(t.hold("iqn.x:a", "vtl", "tape library 'l'", None).is_err());
        t.release("iqn.x:a", "iscsi");
        assert!(t.hold("iqn.x:a", "vtl", "tape library 'l'", None).is_ok());
        assert!(t.published("iqn.x:a").is_none());
    }
}
