//! The migrations' side of the service: start one (a thread running `crate::ns::migrate`),
//! show them, confirm or cancel one. A migration's record is stored when it starts and
//! when its referral switches, in the same batch as the namespace change; it is deleted
//! when the migration is confirmed, cancelled or fails before its switch.

use super::*;
use crate::ns::fuse::smb::SmbClients;
use crate::ns::migrate::side::Side;
use crate::ns::migrate::{Job, CANCELLED};
use crate::ns::model::{migrate_key, MigrationRecord, MIGRATE_PREFIX};
use std::sync::atomic::{AtomicBool, Ordering};

/// A migration the service knows of.
#[derive(Debug)]
pub struct Migration {
    record: MigrationRecord,
    view: Arc<Mutex<MigrationView>>,
    cancel: Arc<AtomicBool>,
    /// Whether its thread still runs.
    running: Arc<AtomicBool>,
}

fn view_of(r: &MigrationRecord, state: &str) -> MigrationView {
    MigrationView {
        namespace: r.namespace.clone(),
        link: r.link.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        state: state.into(),
        started_at: r.started_at,
        switched_at: r.switched_at,
        ..MigrationView::default()
    }
}

/// The stored migrations: a switched one waits for its confirmation; one that was
/// copying when the daemon stopped is interrupted (the same command resumes it).
pub fn load(core: &Core) -> Result<BTreeMap<(String, String), Migration>> {
    let mut all = BTreeMap::new();
    for (k, v) in core
        .store()
        .scan(CF_NAMESPACE, MIGRATE_PREFIX)
        .map_err(meta)?
    {
        let r: MigrationRecord = MigrationRecord::decode_from(&k, &v)?;
        let mut view = view_of(
            &r,
            if r.switched_at.is_some() {
                "switched"
            } else {
                "interrupted"
            },
        );
        if r.switched_at.is_none() {
            view.error = Some(format!(
                "the daemon stopped during the copy; run `vsa ns migrate {} {} --to {}` again to \
                 resume (what was copied is not copied again)",
                r.namespace, r.link, r.to
            ));
        }
        all.insert(
            (ns_key_of(&r.namespace)?, path(&r.link)?.key().to_owned()),
            Migration {
                record: r,
                view: Arc::new(Mutex::new(view)),
                cancel: Arc::default(),
                running: Arc::default(),
            },
        );
    }
    Ok(all)
}

impl MigrationRecord {
    fn decode_from(k: &[u8], v: &[u8]) -> Result<MigrationRecord> {
        MetaStore::decode(k, v).map_err(meta)
    }
}

fn refused(why: String) -> NsError {
    NsError::Migration(why)
}

/// Puts `to` in front of `from` in the link (the switch), or back (`undo`), storing the
/// namespace and the record (`None`: deleted) in one batch.
fn switch_in(core: &Core, state: &RwLock<State>, r: &MigrationRecord, undo: bool) -> Result<()> {
    let key = ns_key_of(&r.namespace)?;
    let (p, from, to) = (path(&r.link)?, url(&r.from)?, url(&r.to)?);
    let record_key = migrate_key(&key, p.key());
    let f = |ns: &mut Namespace, _: &Sites| {
        if undo {
            if ns.link(&p).and_then(|l| l.target(&to)).is_some() {
                ns.remove_target(&p, &to)?;
            }
            if ns.link(&p).and_then(|l| l.target(&from)).is_some() {
                ns.update_target(&p, &from, |t| t.priority = r.old_priority)?;
            }
            let delete = vec![record_key];
            return Ok((
                (),
                Extra {
                    put: Vec::new(),
                    delete,
                },
            ));
        }
        let old = ns
            .link(&p)
            .and_then(|l| l.target(&from))
            .cloned()
            .ok_or_else(|| {
                refused(format!(
                    "{} is no longer a target of link {}",
                    r.from, r.link
                ))
            })?;
        let mut t = Target::new(to.clone());
        t.priority = old.priority;
        t.site = old.site.clone();
        t.health = Health::Healthy;
        ns.add_target(&p, t)?;
        ns.update_target(&p, &from, |t| t.priority.class = PriorityClass::GlobalLow)?;
        let mut switched = r.clone();
        switched.switched_at = Some(now());
        let put = vec![(record_key, MetaStore::encode(&switched))];
        Ok((
            (),
            Extra {
                put,
                delete: Vec::new(),
            },
        ))
    };
    change_in(core, state, &r.namespace, f, |_, _, ()| ())
}

impl Namespaces {
    /// Starts copying link `b.path`'s data to `b.to` (see `crate::ns::migrate`).
    pub fn migrate(&self, name: &str, b: MigrateBody) -> Result<MigrationView> {
        let key = ns_key_of(name)?;
        let (p, to) = (path(&b.path)?, url(&b.to)?);
        let (root, link, from) = self.read(name, |ns, st| {
            let l = ns.link(&p).ok_or_else(|| {
                refused(format!(
                    "'{p}' is not a link of namespace '{}'; migrate a whole link (`vsa ns show {}` lists them)",
                    ns.root(),
                    ns.root()
                ))
            })?;
            if l.target(&to).is_some() {
                return Err(refused(format!(
                    "{to} is a target of link {p} already; migrate to a new target"
                )));
            }
            let from = match &b.from {
                Some(f) => {
                    let f = url(f)?;
                    l.target(&f).map(|t| t.url.clone()).ok_or_else(|| {
                        refused(format!("{f} is not a target of link {p}"))
                    })?
                }
                None => resolve(ns, &p, None, &st.sites, 0)?
                    .targets
                    .iter()
                    .find(|t| !t.unhealthy)
                    .map(|t| t.target.url.clone())
                    .ok_or_else(|| {
                        refused(format!(
                            "link {p} has no healthy enabled target to copy from; name one with --from"
                        ))
                    })?,
            };
            Ok((ns.root().to_owned(), l.path().to_string(), from))
        })?;
        let (from_side, to_side) = (
            Side::of(&from).map_err(refused)?,
            Side::of(&to).map_err(refused)?,
        );
        if from_side == to_side {
            return Err(refused(format!("{from} and {to} are the same directory")));
        }
        let mk = (key.clone(), p.key().to_owned());
        let mut all = self.migrations.lock();
        if let Some(m) = all.get(&mk) {
            let state = m.view.lock().state.clone();
            if m.running.load(Ordering::Relaxed) || state == "switched" {
                return Err(refused(format!(
                    "link {link} is being migrated to {} already ({state}); `vsa ns migration \
                     show {root} {link}` shows it, `vsa ns migration confirm|cancel` ends it",
                    m.record.to
                )));
            }
        }
        let record = MigrationRecord {
            namespace: root,
            link,
            from: from.to_string(),
            to: to.to_string(),
            old_priority: self
                .read(name, |ns, _| {
                    Ok(ns
                        .link(&p)
                        .and_then(|l| l.target(&from))
                        .map(|t| t.priority))
                })?
                .unwrap_or_default(),
            switched_at: None,
            started_at: now(),
        };
        self.persist(
            &[(migrate_key(&key, p.key()), MetaStore::encode(&record))],
            &[],
        )?;
        let view = Arc::new(Mutex::new(view_of(&record, "starting")));
        let m = Migration {
            record: record.clone(),
            view: view.clone(),
            cancel: Arc::default(),
            running: Arc::new(AtomicBool::new(true)),
        };
        let smb = SmbClients::new(self.creds.clone())
            .map_err(|e| refused(format!("cannot start the SMB client: {e}")))?;
        let job = Job::new(from_side, to_side, smb, view.clone(), m.cancel.clone());
        let (core, state, running) = (self.core.clone(), self.state.clone(), m.running.clone());
        let spawned = std::thread::Builder::new()
            .name("ns-migrate".into())
            .spawn(move || run(job, &core, &state, &record, &running));
        if let Err(e) = spawned {
            let _ = self.persist(&[], &[migrate_key(&key, p.key())]);
            return Err(refused(format!("cannot start the migration: {e}")));
        }
        all.insert(mk, m);
        let v = view.lock().clone();
        Ok(v)
    }

    fn migration(&self, name: &str, link: &str) -> Result<(String, String)> {
        let mk = (ns_key_of(name)?, path(link)?.key().to_owned());
        if self.migrations.lock().contains_key(&mk) {
            Ok(mk)
        } else {
            Err(NsError::NoSuchMigration(format!("{name}/{link}")))
        }
    }

    /// A migration as it goes.
    pub fn show_migration(&self, name: &str, link: &str) -> Result<MigrationView> {
        let mk = self.migration(name, link)?;
        let all = self.migrations.lock();
        Ok(all
            .get(&mk)
            .map(|m| m.view.lock().clone())
            .unwrap_or_default())
    }

    /// Every migration the daemon knows of (since it started, and the stored ones).
    pub fn list_migrations(&self) -> Vec<MigrationView> {
        let all = self.migrations.lock();
        all.values().map(|m| m.view.lock().clone()).collect()
    }

    /// Ends a switched migration: the old target leaves the link.
    pub fn confirm_migration(&self, name: &str, link: &str) -> Result<MigrationView> {
        let mk = self.migration(name, link)?;
        let mut all = self.migrations.lock();
        let Some(m) = all.get_mut(&mk) else {
            return Err(NsError::NoSuchMigration(format!("{name}/{link}")));
        };
        let state = m.view.lock().state.clone();
        if state != "switched" || m.running.load(Ordering::Relaxed) {
            return Err(refused(format!(
                "the migration of {link} is {state}: only a switched migration whose last pass \
                 has ended can be confirmed"
            )));
        }
        let r = &m.record;
        let (p, from) = (path(&r.link)?, url(&r.from)?);
        self.change(
            name,
            |ns, _| {
                if ns.link(&p).and_then(|l| l.target(&from)).is_some() {
                    ns.remove_target(&p, &from)?;
                }
                Ok(())
            },
            |_, _, ()| (),
        )?;
        self.persist(&[], &[migrate_key(&mk.0, &mk.1)])?;
        let mut v = m.view.lock();
        v.state = "confirmed".into();
        v.report
            .push(format!("confirmed: {} left the link", r.from));
        Ok(v.clone())
    }

    /// Stops a migration; a switched one is switched back (the new target leaves the link,
    /// the old one gets its priority back). What was copied stays where it is.
    pub fn cancel_migration(&self, name: &str, link: &str) -> Result<MigrationView> {
        let mk = self.migration(name, link)?;
        let all = self.migrations.lock();
        let Some(m) = all.get(&mk) else {
            return Err(NsError::NoSuchMigration(format!("{name}/{link}")));
        };
        let state = m.view.lock().state.clone();
        if matches!(state.as_str(), "confirmed" | "cancelled" | "failed") {
            return Err(refused(format!(
                "the migration of {link} is {state} already"
            )));
        }
        m.cancel.store(true, Ordering::Relaxed);
        let switched = m.view.lock().switched_at.is_some();
        if switched {
            switch_in(&self.core, &self.state, &m.record, true)?;
        } else if !m.running.load(Ordering::Relaxed) {
            self.persist(&[], &[migrate_key(&mk.0, &mk.1)])?;
        }
        let mut v = m.view.lock();
        if switched || !m.running.load(Ordering::Relaxed) {
            v.state = "cancelled".into();
        } else {
            v.state = "cancelling".into();
        }
        v.report.push(if switched {
            format!("cancelled: the referral is back on {}", m.record.from)
        } else {
            "cancelled before the switch".into()
        });
        Ok(v.clone())
    }
}

/// The migration's thread: the job, then its end recorded in its view (and its record
/// deleted if it ended before the switch).
fn run(
    mut job: Job,
    core: &Core,
    state: &RwLock<State>,
    record: &MigrationRecord,
    running: &AtomicBool,
) {
    let view = job.view.clone();
    let switch = || {
        switch_in(core, state, record, false).map_err(|e| e.to_string())?;
        view.lock().switched_at = Some(now());
        Ok(())
    };
    let r = job.run(switch);
    let switched = view.lock().switched_at.is_some();
    // Cancelled between its switch and the cancel's look at it: switched back here (a
    // second switch back, after the cancel's own, changes nothing).
    if switched && r.as_ref().is_err_and(|e| e == CANCELLED) {
        if let Err(e) = switch_in(core, state, record, true) {
            tracing::error!("cannot switch the migration of {} back: {e}", record.link);
        }
    }
    let key =
        ns_key_of(&record.namespace).and_then(|ns| Ok(migrate_key(&ns, path(&record.link)?.key())));
    {
        let mut v = view.lock();
        match &r {
            Ok(()) => {}
            Err(e) if e == CANCELLED => v.state = "cancelled".into(),
            Err(e) if switched => v.report.push(format!("the catch-up pass failed: {e}")),
            Err(e) => {
                v.state = "failed".into();
                v.error = Some(e.clone());
            }
        }
        if switched && r.is_err() && v.state != "cancelled" {
            v.state = "switched".into();
        }
        v.current.clear();
    }
    if !switched && r.is_err() {
        if let Ok(k) = key {
            if let Err(e) = persist_to(core, &[], &[k]) {
                tracing::error!("cannot forget the migration of {}: {e}", record.link);
            }
        }
    }
    match &r {
        Ok(()) => tracing::info!(
            namespace = record.namespace,
            link = record.link,
            "migrated {} to {}; `vsa ns migration confirm` removes the old target",
            record.from,
            record.to
        ),
        Err(e) => tracing::warn!(
            namespace = record.namespace,
            link = record.link,
            "the migration of {} to {} ended: {e}",
            record.from,
            record.to
        ),
    }
    running.store(false, Ordering::Relaxed);
}
