//! [`Namespaces`]: the namespaces of the appliance and its sites, kept in memory and in the
//! `namespace` column family (`model.rs`).
//!
//! A change is made on a copy of the namespace (or of the sites); if `vsa_namespace`
//! refuses it, nothing changed. Otherwise the copy is written in one synced batch and then
//! replaces the one in memory, before the API answers. Adding targets runs their
//! reachability check (`probe.rs`) after the change has been tried on a copy and before it
//! is made, outside the lock, so a slow server holds up no other request.
//!
//! The health probes (`health.rs`) hand each check's result to [`Namespaces::record_probe`],
//! which keeps each target's run of results (in memory) and stores a target's new health,
//! the same way as any other change, only when the run decides a change. The last changes
//! are kept in memory as events, with the time of each target's last change.

use super::credentials::{Credential, Credentials};
use super::error::{meta, NsError};
use super::health::{EventLog, Streak, Thresholds};
use super::model::{
    ns_key, samba_key, SambaExport, CF_NAMESPACE, CRED_PREFIX, NS_PREFIX, SAMBA_PREFIX, SITES_KEY,
};
use super::probe;
use super::samba;
use super::types::*;
use crate::core::{Core, Deleted};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use vsa_namespace::{
    msdfs, resolve, Health, Link, LinkSettings, LogicalPath, Namespace, PriorityClass, Sites,
    Subnet, Target, TargetUrl, TieOrder, UNKNOWN_COST,
};
use vsa_pool::MetaStore;

type Result<T> = std::result::Result<T, NsError>;

/// What the service holds: every namespace by folded root name, the sites, and when
/// each target's health last changed (unix seconds, since the daemon started).
#[derive(Debug, Clone, Default)]
struct State {
    namespaces: BTreeMap<String, Namespace>,
    sites: Sites,
    since: Since,
    /// Where each namespace's msdfs tree is written, by folded root.
    exports: BTreeMap<String, SambaExport>,
}

/// When each target's health last changed, unix seconds.
type Since = HashMap<TargetKey, u64>;

/// One target of one link of one namespace, by folded keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetKey {
    ns: String,
    link: String,
    url: String,
}

impl TargetKey {
    fn of(ns_key: &str, link: &LogicalPath, url: &TargetUrl) -> TargetKey {
        TargetKey {
            ns: ns_key.to_owned(),
            link: link.key().to_owned(),
            url: url.key(),
        }
    }
}

/// A target for the health probes to check.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// Which one.
    pub key: TargetKey,
    /// Its link.
    pub link: LogicalPath,
    /// Its URL.
    pub url: TargetUrl,
}

/// What one check changed, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The namespace's root name.
    pub namespace: String,
    /// The check failed.
    pub failed: bool,
    /// The target's health changed.
    pub changed: bool,
}

/// The namespaces and sites of the appliance.
#[derive(Debug)]
pub struct Namespaces {
    core: Arc<Core>,
    state: Arc<RwLock<State>>,
    /// Each target's run of check results (locked after `state`).
    streaks: Mutex<HashMap<TargetKey, Streak>>,
    /// The last health changes.
    events: Mutex<EventLog>,
    /// Where namespaces without a Samba export get one, when the daemon runs smbd.
    samba_root: Mutex<Option<std::path::PathBuf>>,
    /// Told when the set of Samba exports changes (smbd's configuration follows).
    samba_changed: tokio::sync::Notify,
    /// The FUSE mounts, by mount point.
    mounts: Mutex<BTreeMap<std::path::PathBuf, Box<dyn Mount>>>,
    /// What the appliance logs on to SMB servers with.
    creds: Credentials,
    /// Migrations by folded namespace and link keys: running, switched, or ended.
    migrations: Mutex<BTreeMap<(String, String), migrations::Migration>>,
    /// Replications by folded namespace, link and replica keys.
    replications: Mutex<BTreeMap<(String, String, String), replicas::Replication>>,
}

/// A mount of a namespace the daemon serves (`crate::ns::fuse`).
pub trait Mount: Send + std::fmt::Debug {
    /// The namespace it shows.
    fn namespace(&self) -> &str;
    /// Files opened through it, by how they are served.
    fn opens(&self) -> crate::ns::types::MountOpens;
    /// Unmounts it and waits for its thread.
    fn unmount(self: Box<Self>) -> std::io::Result<()>;
}

/// Reads the namespaces from another thread (a FUSE mount's), as they are at each call.
#[derive(Debug, Clone)]
pub struct NsReader(Arc<RwLock<State>>);

impl NsReader {
    /// `f` of namespace `name` and the sites; `None` when there is no such namespace.
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&Namespace, &Sites) -> T) -> Option<T> {
        let key = ns_key_of(name).ok()?;
        let state = self.0.read();
        state.namespaces.get(&key).map(|ns| f(ns, &state.sites))
    }
}

/// Per namespace, for the metrics: links, and targets by health
/// (healthy, unhealthy, unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub namespace: String,
    pub links: usize,
    pub targets: [usize; 3],
}

/// A value's serde name (`site-cost-normal`, `healthy`, `stable`).
fn kebab<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Parses `CLASS[:RANK]`.
pub fn parse_priority(text: &str) -> Result<vsa_namespace::Priority> {
    let bad = || {
        NsError::Priority(format!(
            "priority '{text}' is not CLASS[:RANK]: the class is one of global-high, \
             site-cost-high, site-cost-normal, site-cost-low, global-low, the rank 0 (best) \
             to 255, e.g. site-cost-high:2"
        ))
    };
    let (class, rank) = match text.split_once(':') {
        Some((c, r)) => (c, r.parse::<u8>().map_err(|_| bad())?),
        None => (text, 0),
    };
    let class: PriorityClass =
        serde_json::from_value(serde_json::Value::String(class.to_owned())).map_err(|_| bad())?;
    Ok(vsa_namespace::Priority { class, rank })
}

/// The folded key of namespace `name`, or "no such namespace" if it cannot be one.
fn ns_key_of(name: &str) -> Result<String> {
    match LogicalPath::parse(name) {
        Ok(p) if p.depth() == 1 => Ok(p.key().to_owned()),
        _ => Err(NsError::NoSuchNamespace(name.to_owned())),
    }
}

fn path(text: &str) -> Result<LogicalPath> {
    Ok(LogicalPath::parse(text)?)
}

fn url(text: &str) -> Result<TargetUrl> {
    Ok(TargetUrl::parse(text)?)
}

fn check_site(sites: &Sites, site: Option<&str>) -> Result<()> {
    match site {
        Some(s) if sites.subnets(s).is_none() => {
            Err(vsa_namespace::SiteError::UnknownSite(s.to_owned()).into())
        }
        _ => Ok(()),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn target_view(t: &Target, since: Option<u64>) -> TargetView {
    TargetView {
        url: t.url.to_string(),
        enabled: t.enabled,
        health: kebab(&t.health),
        health_since: since,
        priority: kebab(&t.priority.class),
        rank: t.priority.rank,
        site: t.site.clone(),
    }
}

fn link_view(ns: &Namespace, l: &Link, since: &Since) -> LinkView {
    let key = ns_key_of(ns.root()).unwrap_or_default();
    LinkView {
        namespace: ns.root().to_owned(),
        version: ns.version(),
        path: l.path().to_string(),
        ttl_secs: l.settings().ttl_secs,
        ordering: kebab(&l.settings().ordering),
        in_site_only: l.settings().in_site_only,
        failback: l.settings().failback,
        targets: l
            .targets()
            .iter()
            .map(|t| {
                let at = since.get(&TargetKey::of(&key, l.path(), &t.url)).copied();
                target_view(t, at)
            })
            .collect(),
    }
}

fn ns_view(ns: &Namespace, since: &Since) -> NsView {
    let mut folders: Vec<&LogicalPath> = ns.folders().collect();
    folders.sort();
    let mut links: Vec<&Link> = ns.links().collect();
    links.sort_by(|a, b| a.path().cmp(b.path()));
    NsView {
        name: ns.root().to_owned(),
        version: ns.version(),
        folders: folders.iter().map(|f| f.to_string()).collect(),
        links: links.iter().map(|l| link_view(ns, l, since)).collect(),
    }
}

fn summary(ns: &Namespace) -> NsSummary {
    NsSummary {
        name: ns.root().to_owned(),
        version: ns.version(),
        folders: ns.folders().count(),
        links: ns.link_count(),
        targets: ns.links().map(|l| l.targets().len()).sum(),
    }
}

fn site_view(sites: &Sites, name: &str) -> SiteView {
    let costs = sites
        .names()
        .filter(|o| *o != name)
        .map(|o| (o.to_owned(), sites.cost(name, o)))
        .filter(|(_, c)| *c != UNKNOWN_COST)
        .collect();
    SiteView {
        name: name.to_owned(),
        subnets: sites
            .subnets(name)
            .unwrap_or_default()
            .iter()
            .map(Subnet::to_string)
            .collect(),
        costs,
    }
}

/// The tie-break seed of a client: its address, so each client keeps to one target.
fn seed(client: Option<IpAddr>) -> u64 {
    match client.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => u64::from(u32::from(v4)),
        Some(IpAddr::V6(v6)) => {
            let n = u128::from(v6);
            (n >> 64) as u64 ^ n as u64
        }
        None => 0,
    }
}

/// Targets for `urls` with this priority and site; health is unknown unless checked.
fn targets(
    urls: &[TargetUrl],
    priority: Option<&str>,
    site: Option<&str>,
    checked: bool,
) -> Result<Vec<Target>> {
    let priority = priority
        .map(parse_priority)
        .transpose()?
        .unwrap_or_default();
    Ok(urls
        .iter()
        .map(|u| {
            let mut t = Target::new(u.clone());
            t.priority = priority;
            t.site = site.map(str::to_owned);
            t.health = if checked {
                Health::Healthy
            } else {
                Health::Unknown
            };
            t
        })
        .collect())
}

/// The view of link `p` of `ns` (an empty one if there is none).
fn link_of(ns: &Namespace, p: &LogicalPath, since: &Since) -> LinkView {
    match ns.link(p) {
        Some(l) => link_view(ns, l, since),
        None => LinkView {
            namespace: ns.root().to_owned(),
            version: ns.version(),
            path: p.to_string(),
            ttl_secs: 0,
            ordering: String::new(),
            in_site_only: false,
            failback: false,
            targets: Vec::new(),
        },
    }
}

/// Writes namespace `ns` (folded root `key`) to its Samba export, if it has one. A
/// failure is logged: the change it follows is made and stored already.
fn reexport(state: &State, key: &str, ns: &Namespace) {
    let Some(e) = state.exports.get(key) else {
        return;
    };
    let tree = msdfs::tree(ns, &state.sites);
    if let Err(err) = samba::write_tree(std::path::Path::new(&e.dir), &tree) {
        tracing::error!(
            namespace = ns.root(),
            dir = e.dir,
            "cannot keep the msdfs tree current: {err}"
        );
    }
}

/// Writes `put` and `delete` to the namespace records in one synced batch.
fn persist_to(core: &Core, put: &[(Vec<u8>, Vec<u8>)], delete: &[Vec<u8>]) -> Result<()> {
    let store = core.store();
    let cf = store.cf(CF_NAMESPACE).map_err(meta)?;
    let mut b = rocksdb::WriteBatch::default();
    for (k, v) in put {
        b.put_cf(cf, k, v);
    }
    for k in delete {
        b.delete_cf(cf, k);
    }
    store.commit(b, true).map_err(meta)
}

/// Records stored in the same batch as a namespace change.
#[derive(Debug, Default)]
struct Extra {
    put: Vec<(Vec<u8>, Vec<u8>)>,
    delete: Vec<Vec<u8>>,
}

/// Applies `f` to a copy of namespace `name` (nothing changes if it fails), stores the
/// copy with the records `f` adds in one synced batch, re-exports it and keeps it; returns
/// a view made from the new namespace.
fn change_in<T, V>(
    core: &Core,
    state: &RwLock<State>,
    name: &str,
    f: impl FnOnce(&mut Namespace, &Sites) -> Result<(T, Extra)>,
    view: impl FnOnce(&Namespace, &Since, T) -> V,
) -> Result<V> {
    let key = ns_key_of(name)?;
    let mut st = state.write();
    let mut ns = st
        .namespaces
        .get(&key)
        .cloned()
        .ok_or_else(|| NsError::NoSuchNamespace(name.to_owned()))?;
    let (out, extra) = f(&mut ns, &st.sites)?;
    let mut put = vec![(ns_key(&key), MetaStore::encode(&ns))];
    put.extend(extra.put);
    persist_to(core, &put, &extra.delete)?;
    let v = view(&ns, &st.since, out);
    reexport(&st, &key, &ns);
    st.namespaces.insert(key, ns);
    Ok(v)
}

/// Runs the reachability check unless forced.
fn reachable(urls: &[TargetUrl], force: bool, creds: &Credentials) -> Result<()> {
    if force {
        return Ok(());
    }
    probe::check_all(urls, creds).map_err(|(url, why)| NsError::Unreachable {
        target: url.to_string(),
        why,
    })
}

impl Namespaces {
    /// Reads every namespace and the sites. A record that does not hold together stops
    /// the component with its key named.
    pub fn open(core: Arc<Core>) -> Result<Namespaces> {
        let store = core.store();
        let mut state = State::default();
        for (k, v) in store.scan(CF_NAMESPACE, NS_PREFIX).map_err(meta)? {
            let ns: Namespace = MetaStore::decode(&k, &v).map_err(meta)?;
            state.namespaces.insert(ns_key_of(ns.root())?, ns);
        }
        if let Some(v) = store.get(CF_NAMESPACE, SITES_KEY).map_err(meta)? {
            state.sites = MetaStore::decode(SITES_KEY, &v).map_err(meta)?;
        }
        for (k, v) in store.scan(CF_NAMESPACE, SAMBA_PREFIX).map_err(meta)? {
            let e: SambaExport = MetaStore::decode(&k, &v).map_err(meta)?;
            let key = String::from_utf8_lossy(&k[SAMBA_PREFIX.len()..]).into_owned();
            state.exports.insert(key, e);
        }
        let creds = Credentials::default();
        for (k, v) in store.scan(CF_NAMESPACE, CRED_PREFIX).map_err(meta)? {
            let c: Credential = MetaStore::decode(&k, &v).map_err(meta)?;
            creds.set(
                String::from_utf8_lossy(&k[CRED_PREFIX.len()..]).into_owned(),
                c,
            );
        }
        let migrations = migrations::load(&core)?;
        let replications = replicas::load(&core)?;
        Ok(Namespaces {
            migrations: Mutex::new(migrations),
            replications: Mutex::new(replications),
            creds,
            core,
            state: Arc::new(RwLock::new(state)),
            mounts: Mutex::default(),
            streaks: Mutex::new(HashMap::new()),
            events: Mutex::new(EventLog::default()),
            samba_root: Mutex::new(None),
            samba_changed: tokio::sync::Notify::new(),
        })
    }

    /// Writes `put` and `delete` in one synced batch.
    fn persist(&self, put: &[(Vec<u8>, Vec<u8>)], delete: &[Vec<u8>]) -> Result<()> {
        persist_to(&self.core, put, delete)
    }

    /// Tries `f` on a copy of namespace `name`, changing nothing.
    fn try_change<T>(
        &self,
        name: &str,
        f: impl Fn(&mut Namespace, &Sites) -> Result<T>,
    ) -> Result<()> {
        let key = ns_key_of(name)?;
        let state = self.state.read();
        let mut ns = state
            .namespaces
            .get(&key)
            .cloned()
            .ok_or_else(|| NsError::NoSuchNamespace(name.to_owned()))?;
        f(&mut ns, &state.sites).map(|_| ())
    }

    /// Applies `f` to a copy of namespace `name`, stores the copy, and keeps it; returns
    /// what `f` gave and a view made from the new namespace.
    fn change<T, V>(
        &self,
        name: &str,
        f: impl Fn(&mut Namespace, &Sites) -> Result<T>,
        view: impl FnOnce(&Namespace, &Since, T) -> V,
    ) -> Result<V> {
        let f = |ns: &mut Namespace, sites: &Sites| Ok((f(ns, sites)?, Extra::default()));
        change_in(&self.core, &self.state, name, f, view)
    }

    /// Applies `f` to a copy of namespace `name` and stores the copy with `extra` records
    /// in one batch, then keeps it; returns what `f` gave.
    fn change_storing<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Namespace, &Sites) -> Result<T>,
        extra: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<T> {
        let put = extra.to_vec();
        let f = |ns: &mut Namespace, sites: &Sites| {
            let out = f(ns, sites)?;
            Ok((
                out,
                Extra {
                    put,
                    delete: Vec::new(),
                },
            ))
        };
        change_in(&self.core, &self.state, name, f, |_, _, out| out)
    }

    fn read<T>(&self, name: &str, f: impl FnOnce(&Namespace, &State) -> Result<T>) -> Result<T> {
        let key = ns_key_of(name)?;
        let state = self.state.read();
        let ns = state
            .namespaces
            .get(&key)
            .ok_or_else(|| NsError::NoSuchNamespace(name.to_owned()))?;
        f(ns, &state)
    }

    /// A reader of the namespaces for a FUSE mount.
    pub fn reader(&self) -> NsReader {
        NsReader(self.state.clone())
    }

    /// The FUSE mounts.
    pub(crate) fn mounts(&self) -> &Mutex<BTreeMap<std::path::PathBuf, Box<dyn Mount>>> {
        &self.mounts
    }

    /// Every namespace, by name.
    pub fn list(&self) -> Vec<NsSummary> {
        self.state.read().namespaces.values().map(summary).collect()
    }

    pub fn show(&self, name: &str) -> Result<NsView> {
        self.read(name, |ns, s| Ok(ns_view(ns, &s.since)))
    }

    /// Creates an empty namespace.
    pub fn create(&self, b: CreateNsBody) -> Result<NsView> {
        let ns = Namespace::new(&b.name)?;
        let key = ns_key_of(ns.root())?;
        let mut state = self.state.write();
        if let Some(old) = state.namespaces.get(&key) {
            return Err(NsError::NamespaceExists(old.root().to_owned()));
        }
        self.persist(&[(ns_key(&key), MetaStore::encode(&ns))], &[])?;
        let v = ns_view(&ns, &state.since);
        state.namespaces.insert(key.clone(), ns);
        drop(state);
        let root = self.samba_root.lock().clone();
        if let Some(root) = root {
            self.export_to(&key, &root);
        }
        Ok(v)
    }

    /// Exports namespace `key` for the daemon's smbd, into `root/<key>`.
    fn export_to(&self, key: &str, root: &std::path::Path) {
        let b = ExportSambaBody {
            dir: root.join(key).display().to_string(),
            share: None,
        };
        if let Err(e) = self.export_samba(key, b) {
            tracing::error!(namespace = key, "cannot export the namespace for smbd: {e}");
        }
    }

    /// Deletes a namespace with its folders and links (the targets' data stays where it
    /// is).
    pub fn delete(&self, name: &str) -> Result<Deleted> {
        let key = ns_key_of(name)?;
        let mut state = self.state.write();
        let Some(ns) = state.namespaces.get(&key) else {
            return Err(NsError::NoSuchNamespace(name.to_owned()));
        };
        let deleted = ns.root().to_owned();
        self.persist(&[], &[ns_key(&key), samba_key(&key)])?;
        state.namespaces.remove(&key);
        if state.exports.remove(&key).is_some() {
            self.samba_changed.notify_one();
        }
        Ok(Deleted { deleted })
    }

    pub fn add_folder(&self, name: &str, b: FolderBody) -> Result<NsView> {
        let p = path(&b.path)?;
        self.change(
            name,
            |ns, _| Ok(ns.add_folder(&p)?),
            |ns, s, ()| ns_view(ns, s),
        )
    }

    pub fn remove_folder(&self, name: &str, folder: &str) -> Result<NsView> {
        let p = path(folder)?;
        self.change(
            name,
            |ns, _| Ok(ns.remove_folder(&p)?),
            |ns, s, ()| ns_view(ns, s),
        )
    }

    /// Adds a link to targets that pass their reachability check (any, when forced).
    pub fn add_link(&self, name: &str, b: AddLinkBody) -> Result<LinkView> {
        let p = path(&b.path)?;
        if b.targets.is_empty() {
            return Err(NsError::Invalid(format!(
                "link '{p}' needs at least one target, e.g. smb://server/share"
            )));
        }
        let urls = b
            .targets
            .iter()
            .map(|t| url(t))
            .collect::<Result<Vec<_>>>()?;
        let targets = targets(&urls, b.priority.as_deref(), b.site.as_deref(), !b.force)?;
        let settings = LinkSettings {
            ordering: if b.stable {
                TieOrder::Stable
            } else {
                TieOrder::Shuffled
            },
            ttl_secs: b.ttl_secs.unwrap_or(vsa_namespace::DEFAULT_TTL_SECS),
            in_site_only: b.in_site_only,
            failback: b.failback,
        };
        let f = |ns: &mut Namespace, sites: &Sites| {
            check_site(sites, b.site.as_deref())?;
            Ok(ns.add_link(&p, targets.clone(), settings)?)
        };
        self.try_change(name, f)?;
        reachable(&urls, b.force, &self.creds)?;
        self.change(name, f, |ns, s, ()| link_of(ns, &p, s))
    }

    pub fn remove_link(&self, name: &str, link: &str) -> Result<Deleted> {
        let p = path(link)?;
        self.change(
            name,
            |ns, _| Ok(ns.remove_link(&p)?),
            |_, _, l| Deleted {
                deleted: l.path().to_string(),
            },
        )
    }

    /// Adds a target to a link, after its reachability check (none when forced).
    pub fn add_target(&self, name: &str, link: &str, b: AddTargetBody) -> Result<LinkView> {
        let p = path(link)?;
        let urls = [url(&b.target)?];
        let target = targets(&urls, b.priority.as_deref(), b.site.as_deref(), !b.force)?;
        let f = |ns: &mut Namespace, sites: &Sites| {
            check_site(sites, b.site.as_deref())?;
            for t in &target {
                ns.add_target(&p, t.clone())?;
            }
            Ok(())
        };
        self.try_change(name, f)?;
        reachable(&urls, b.force, &self.creds)?;
        self.change(name, f, |ns, s, ()| link_of(ns, &p, s))
    }

    pub fn remove_target(&self, name: &str, link: &str, target: &str) -> Result<LinkView> {
        let (p, u) = (path(link)?, url(target)?);
        self.change(
            name,
            |ns, _| Ok(ns.remove_target(&p, &u)?),
            |ns, s, _| link_of(ns, &p, s),
        )
    }

    /// Enables or disables a target (referrals leave disabled ones out).
    pub fn set_enabled(
        &self,
        name: &str,
        link: &str,
        target: &str,
        enabled: bool,
    ) -> Result<LinkView> {
        let (p, u) = (path(link)?, url(target)?);
        self.change(
            name,
            |ns, _| Ok(ns.set_enabled(&p, &u, enabled)?),
            |ns, s, ()| link_of(ns, &p, s),
        )
    }

    /// The referral for a path: the covering link and its targets in the order a client
    /// at `client` should try them.
    pub fn resolve(&self, name: &str, b: ResolveBody) -> Result<ReferralView> {
        let p = path(&b.path)?;
        let client = match &b.client {
            Some(c) => Some(
                c.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| NsError::Client(c.clone()))?,
            ),
            None => None,
        };
        self.read(name, |ns, state| {
            let r = resolve(ns, &p, client, &state.sites, seed(client))?;
            Ok(ReferralView {
                namespace: ns.root().to_owned(),
                path: p.to_string(),
                link: r.link.to_string(),
                remainder: r.remainder.as_ref().map(LogicalPath::to_string),
                ttl_secs: r.ttl_secs,
                failback: r.failback,
                client: client.map(|c| c.to_string()),
                client_site: r.client_site.map(str::to_owned),
                targets: r
                    .targets
                    .iter()
                    .map(|t| RankedView {
                        url: t.target.url.to_string(),
                        site: t.target.site.clone(),
                        reason: t.reason.to_string(),
                        why: t.to_string(),
                        health: kebab(&t.target.health),
                        unhealthy: t.unhealthy,
                    })
                    .collect(),
            })
        })
    }

    /// Every site.
    pub fn sites(&self) -> Vec<SiteView> {
        let state = self.state.read();
        let sites = &state.sites;
        sites.names().map(|n| site_view(sites, n)).collect()
    }

    /// Adds a site with its subnets and its costs to other sites, all or nothing.
    pub fn add_site(&self, b: AddSiteBody) -> Result<SiteView> {
        let subnets = b
            .subnets
            .iter()
            .map(|s| Subnet::parse(s.trim()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut state = self.state.write();
        let mut sites = state.sites.clone();
        sites.add_site(&b.name)?;
        for s in subnets {
            sites.add_subnet(&b.name, s)?;
        }
        for (other, cost) in &b.costs {
            sites.set_cost(&b.name, other, *cost)?;
        }
        self.persist(&[(SITES_KEY.to_vec(), MetaStore::encode(&sites))], &[])?;
        let v = site_view(&sites, &b.name);
        state.sites = sites;
        Ok(v)
    }

    /// Removes a site no target names.
    pub fn remove_site(&self, name: &str) -> Result<Deleted> {
        let mut state = self.state.write();
        for ns in state.namespaces.values() {
            for l in ns.links() {
                if let Some(t) = l.targets().iter().find(|t| t.site.as_deref() == Some(name)) {
                    return Err(NsError::SiteInUse {
                        site: name.to_owned(),
                        namespace: ns.root().to_owned(),
                        link: l.path().to_string(),
                        target: t.url.to_string(),
                    });
                }
            }
        }
        let mut sites = state.sites.clone();
        sites.remove_site(name)?;
        self.persist(&[(SITES_KEY.to_vec(), MetaStore::encode(&sites))], &[])?;
        state.sites = sites;
        Ok(Deleted {
            deleted: name.to_owned(),
        })
    }

    /// Links and targets by health, per namespace.
    pub fn counts(&self) -> Vec<Counts> {
        let state = self.state.read();
        state
            .namespaces
            .values()
            .map(|ns| {
                let mut targets = [0; 3];
                for t in ns.links().flat_map(Link::targets) {
                    let i = match t.health {
                        Health::Healthy => 0,
                        Health::Unhealthy => 1,
                        _ => 2,
                    };
                    targets[i] += 1;
                }
                Counts {
                    namespace: ns.root().to_owned(),
                    links: ns.link_count(),
                    targets,
                }
            })
            .collect()
    }
}

mod creds;
mod exports;
mod migrations;
mod probes;
mod replicas;

#[cfg(test)]
mod tests;
