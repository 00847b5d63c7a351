//! The replications' side of the service: each one a thread that runs
//! `crate::ns::replicate` every so often (or at once when asked), keeps its view, and
//! after its first run lets referrals include the replica. A replication is stored with
//! the namespace change that adds its replica (left out of referrals) in one batch; the
//! replica is let in, in one batch with the record saying so, when the first run ends.

use super::*;
use crate::ns::fuse::smb::SmbClients;
use crate::ns::migrate::side::Side;
use crate::ns::model::{repl_key, ReplicaRecord, REPL_PREFIX};
use crate::ns::replicate::Replica;
use std::sync::mpsc;
use std::time::Duration;

/// Seconds between runs unless told otherwise.
pub const DEFAULT_EVERY_SECS: u64 = 300;
/// The longest time between runs taken (a week).
pub const MAX_EVERY_SECS: u64 = 7 * 86_400;

/// What a replication's thread is told.
#[derive(Debug)]
enum Msg {
    RunNow,
    Stop,
}

/// By folded namespace, link and replica URL.
type Key = (String, String, String);

/// A replication the service knows of.
#[derive(Debug)]
pub struct Replication {
    record: ReplicaRecord,
    view: Arc<Mutex<ReplicationView>>,
    /// Its thread's mailbox, once started.
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
}

fn refused(why: String) -> NsError {
    NsError::Replication(why)
}

fn key_of(r: &ReplicaRecord) -> Result<Key> {
    Ok((
        ns_key_of(&r.namespace)?,
        path(&r.link)?.key().to_owned(),
        url(&r.to)?.key(),
    ))
}

fn new_view(r: &ReplicaRecord) -> ReplicationView {
    ReplicationView {
        namespace: r.namespace.clone(),
        link: r.link.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        every_secs: r.every_secs,
        state: if r.in_sync { "in-sync" } else { "syncing" }.into(),
        in_sync: r.in_sync,
        ..ReplicationView::default()
    }
}

/// The stored replications (their threads start with [`Namespaces::start_replications`]).
pub fn load(core: &Core) -> Result<BTreeMap<Key, Replication>> {
    let mut all = BTreeMap::new();
    for (k, v) in core.store().scan(CF_NAMESPACE, REPL_PREFIX).map_err(meta)? {
        let r: ReplicaRecord = MetaStore::decode(&k, &v).map_err(meta)?;
        all.insert(
            key_of(&r)?,
            Replication {
                view: Arc::new(Mutex::new(new_view(&r))),
                record: r,
                tx: Mutex::new(None),
            },
        );
    }
    Ok(all)
}

/// Whether link and both targets of `r` are still there.
fn still_there(state: &RwLock<State>, r: &ReplicaRecord) -> bool {
    let (Ok(key), Ok(p), Ok(from), Ok(to)) = (
        ns_key_of(&r.namespace),
        path(&r.link),
        url(&r.from),
        url(&r.to),
    ) else {
        return false;
    };
    let st = state.read();
    st.namespaces
        .get(&key)
        .and_then(|ns| ns.link(&p))
        .is_some_and(|l| l.target(&from).is_some() && l.target(&to).is_some())
}

/// Lets referrals include the replica of `r` and stores that it is in sync.
fn let_in(core: &Core, state: &RwLock<State>, r: &mut ReplicaRecord) -> Result<()> {
    let (key, p, to) = (ns_key_of(&r.namespace)?, path(&r.link)?, url(&r.to)?);
    let mut synced = r.clone();
    synced.in_sync = true;
    let rk = repl_key(&key, p.key(), &to.key());
    let f = |ns: &mut Namespace, _: &Sites| {
        ns.update_target(&p, &to, |t| {
            t.enabled = true;
            t.health = Health::Healthy;
        })?;
        let put = vec![(rk, MetaStore::encode(&synced))];
        Ok((
            (),
            Extra {
                put,
                delete: Vec::new(),
            },
        ))
    };
    change_in(core, state, &r.namespace, f, |_, _, ()| ())?;
    *r = synced;
    Ok(())
}

/// What a replication's thread works with.
struct Worker {
    record: ReplicaRecord,
    view: Arc<Mutex<ReplicationView>>,
    replica: Replica,
    core: Arc<Core>,
    state: Arc<RwLock<State>>,
    rx: mpsc::Receiver<Msg>,
}

impl Worker {
    /// Runs until told to stop, or until its link or a target is gone.
    fn work(mut self) {
        loop {
            if !still_there(&self.state, &self.record) {
                let mut v = self.view.lock();
                v.state = "stopped".into();
                v.error = Some("the link or one of its targets is gone".into());
                drop(v);
                if let Ok((ns, link, to)) = key_of(&self.record) {
                    let _ = persist_to(&self.core, &[], &[repl_key(&ns, &link, &to)]);
                }
                return;
            }
            self.view.lock().state = if self.record.in_sync {
                "running"
            } else {
                "syncing"
            }
            .into();
            let result = self.replica.run();
            self.record_run(result);
            let every = Duration::from_secs(self.record.every_secs);
            match self.rx.recv_timeout(every) {
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Ok(Msg::RunNow) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn record_run(&mut self, result: std::result::Result<ReplicaRunView, String>) {
        let r = &self.record;
        match result {
            Ok(run) => {
                if !r.in_sync {
                    if let Err(e) = let_in(&self.core, &self.state, &mut self.record) {
                        let mut v = self.view.lock();
                        v.state = "failed".into();
                        v.error = Some(format!("cannot let the replica into referrals: {e}"));
                        return;
                    }
                    tracing::info!(
                        namespace = self.record.namespace,
                        link = self.record.link,
                        "replica {} is a copy of {}: referrals include it",
                        self.record.to,
                        self.record.from
                    );
                }
                let mut v = self.view.lock();
                v.runs += 1;
                v.last_run_at = Some(now());
                v.bytes_sent += run.bytes_sent;
                v.bytes_saved += run.bytes_saved;
                v.last = Some(run);
                v.error = None;
                v.in_sync = true;
                v.state = "in-sync".into();
            }
            Err(e) => {
                tracing::warn!(
                    namespace = r.namespace,
                    link = r.link,
                    "the replication of {} to {} failed: {e}",
                    r.from,
                    r.to
                );
                let mut v = self.view.lock();
                v.runs += 1;
                v.last_run_at = Some(now());
                v.state = "failed".into();
                v.error = Some(e);
            }
        }
    }
}

impl Namespaces {
    /// Starts the thread of replication `rep`.
    fn spawn_replication(&self, rep: &Replication) -> Result<()> {
        let r = &rep.record;
        let side = |u: &str| url(u).and_then(|u| Side::of(&u).map_err(refused));
        let smb = SmbClients::new(self.creds.clone())
            .map_err(|e| refused(format!("cannot start the SMB client: {e}")))?;
        let (tx, rx) = mpsc::channel();
        let w = Worker {
            record: r.clone(),
            view: rep.view.clone(),
            replica: Replica::new(side(&r.from)?, side(&r.to)?, smb),
            core: self.core.clone(),
            state: self.state.clone(),
            rx,
        };
        std::thread::Builder::new()
            .name("ns-replicate".into())
            .spawn(move || w.work())
            .map_err(|e| refused(format!("cannot start the replication: {e}")))?;
        *rep.tx.lock() = Some(tx);
        Ok(())
    }

    /// Starts every stored replication's thread (when the daemon starts).
    pub fn start_replications(&self) {
        let all = self.replications.lock();
        for rep in all.values() {
            if rep.tx.lock().is_none() {
                if let Err(e) = self.spawn_replication(rep) {
                    tracing::error!("{e}");
                }
            }
        }
    }

    /// Stops every replication's thread (a run under way ends at its next file).
    pub fn stop_replications(&self) {
        for rep in self.replications.lock().values() {
            if let Some(tx) = rep.tx.lock().take() {
                let _ = tx.send(Msg::Stop);
            }
        }
    }

    /// Starts replicating target `b.from` of link `b.path` to `b.to`.
    pub fn replicate(&self, name: &str, b: ReplicateBody) -> Result<ReplicationView> {
        let key = ns_key_of(name)?;
        let (p, from, to) = (path(&b.path)?, url(&b.from)?, url(&b.to)?);
        if from.key() == to.key() {
            return Err(refused(format!("{from} cannot be its own replica")));
        }
        let every = b.every_secs.unwrap_or(DEFAULT_EVERY_SECS);
        if every == 0 || every > MAX_EVERY_SECS {
            return Err(refused(format!(
                "runs every {every} s: give 1 to {MAX_EVERY_SECS} seconds (a week)"
            )));
        }
        let (from_side, to_side) = (
            Side::of(&from).map_err(refused)?,
            Side::of(&to).map_err(refused)?,
        );
        if from_side == to_side {
            return Err(refused(format!("{from} and {to} are the same directory")));
        }
        let rk = (key.clone(), p.key().to_owned(), to.key());
        let mut all = self.replications.lock();
        if all.contains_key(&rk) {
            return Err(refused(format!(
                "{to} is a replica of link {p} already; `vsa ns replication remove {name} {p} {to}` first"
            )));
        }
        let (root, link, source) = self.read(name, |ns, _| {
            let l = ns.link(&p).ok_or_else(|| {
                refused(format!(
                    "'{p}' is not a link of namespace '{}' (`vsa ns show {}` lists them)",
                    ns.root(),
                    ns.root()
                ))
            })?;
            let source = l
                .target(&from)
                .cloned()
                .ok_or_else(|| refused(format!("{from} is not a target of link {p}")))?;
            Ok((ns.root().to_owned(), l.path().to_string(), source))
        })?;
        let smb = SmbClients::new(self.creds.clone())
            .map_err(|e| refused(format!("cannot start the SMB client: {e}")))?;
        if !b.force {
            if let Some(file) = first_file(&to_side, &smb)? {
                return Err(refused(format!(
                    "{to} holds files already (e.g. {file}); a replica is made a copy of its \
                     source, so what {from} lacks would be removed: add --force to go on"
                )));
            }
        }
        drop(smb);
        let record = ReplicaRecord {
            namespace: root,
            link,
            from: from.to_string(),
            to: to.to_string(),
            every_secs: every,
            in_sync: false,
        };
        let stored = (repl_key(&rk.0, &rk.1, &rk.2), MetaStore::encode(&record));
        self.change_storing(
            name,
            |ns, _| {
                if ns.link(&p).and_then(|l| l.target(&to)).is_some() {
                    Ok(ns.set_enabled(&p, &to, false)?)
                } else {
                    let mut t = Target::new(to.clone());
                    t.enabled = false;
                    t.priority = source.priority;
                    t.site = source.site.clone();
                    Ok(ns.add_target(&p, t)?)
                }
            },
            std::slice::from_ref(&stored),
        )?;
        let rep = Replication {
            view: Arc::new(Mutex::new(new_view(&record))),
            record,
            tx: Mutex::new(None),
        };
        // Stored by now: kept (listed, runnable, removable) even if its thread cannot start.
        let started = self.spawn_replication(&rep);
        let v = rep.view.lock().clone();
        all.insert(rk, rep);
        match started {
            Ok(()) => Ok(v),
            Err(e) => Err(refused(format!(
                "replication to {to} is stored, but {e}; it starts with the daemon, or `vsa ns \
                 replication remove` drops it"
            ))),
        }
    }

    fn replication_key(&self, name: &str, link: &str, to: &str) -> Result<Key> {
        let k = (
            ns_key_of(name)?,
            path(link)?.key().to_owned(),
            url(to)?.key(),
        );
        if self.replications.lock().contains_key(&k) {
            Ok(k)
        } else {
            Err(NsError::NoSuchReplication(format!("{name}/{link} to {to}")))
        }
    }

    /// Every replication.
    pub fn list_replications(&self) -> Vec<ReplicationView> {
        let all = self.replications.lock();
        all.values().map(|r| r.view.lock().clone()).collect()
    }

    pub fn show_replication(&self, name: &str, link: &str, to: &str) -> Result<ReplicationView> {
        let k = self.replication_key(name, link, to)?;
        let all = self.replications.lock();
        Ok(all
            .get(&k)
            .map(|r| r.view.lock().clone())
            .unwrap_or_default())
    }

    /// Has a replication run now (after the run under way, if any).
    pub fn run_replication(&self, name: &str, link: &str, to: &str) -> Result<ReplicationView> {
        let k = self.replication_key(name, link, to)?;
        let all = self.replications.lock();
        let Some(rep) = all.get(&k) else {
            return Err(NsError::NoSuchReplication(format!("{name}/{link} to {to}")));
        };
        let sent = rep.tx.lock().as_ref().map(|tx| tx.send(Msg::RunNow));
        if !matches!(sent, Some(Ok(()))) {
            return Err(refused(format!(
                "the replication of {link} to {to} is not running (the daemon's log says why)"
            )));
        }
        let v = rep.view.lock().clone();
        Ok(v)
    }

    /// Stops a replication and forgets it; the replica stays a target of the link (left
    /// out of referrals if its first run never ended).
    pub fn remove_replication(&self, name: &str, link: &str, to: &str) -> Result<Deleted> {
        let k = self.replication_key(name, link, to)?;
        let mut all = self.replications.lock();
        self.persist(&[], &[repl_key(&k.0, &k.1, &k.2)])?;
        if let Some(rep) = all.remove(&k) {
            if let Some(tx) = rep.tx.lock().take() {
                let _ = tx.send(Msg::Stop);
            }
        }
        Ok(Deleted {
            deleted: format!("{link} to {to}"),
        })
    }
}

/// A file or directory in `side`'s directory, if it has any.
fn first_file(side: &Side, smb: &SmbClients) -> Result<Option<String>> {
    let fail = |e: String| refused(format!("cannot look into the replica's directory: {e}"));
    if side.stat(&[], smb).map_err(fail)?.is_none() {
        return Ok(None);
    }
    let (entries, skipped) = side.walk(smb).map_err(fail)?;
    Ok(entries
        .first()
        .map(|e| e.rel.join("/"))
        .or_else(|| skipped.first().cloned()))
}
