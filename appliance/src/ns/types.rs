//! The namespace component's request and reply bodies, shared by the handlers, the CLI and
//! the OpenAPI document. Paths and target URLs travel as text and are parsed by the
//! service (`vsa_namespace` refuses bad ones with a message saying how to fix them).

use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `{name}`: a namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NsPath {
    pub name: String,
}

impl PathParams for NsPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "namespace (root name)")];
}

/// `{name}/folders/{path}` or `{name}/links/{path}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodePath {
    pub name: String,
    pub path: String,
}

impl PathParams for NodePath {
    const DOC: &'static [(&'static str, &'static str)] = &[
        ("name", "namespace (root name)"),
        ("path", "folder or link path inside it, e.g. eng%2Fdocs"),
    ];
}

/// `{name}/links/{path}/targets/{target}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetPath {
    pub name: String,
    pub path: String,
    pub target: String,
}

impl PathParams for TargetPath {
    const DOC: &'static [(&'static str, &'static str)] = &[
        ("name", "namespace (root name)"),
        ("path", "link path, e.g. eng%2Fdocs"),
        ("target", "target URL, e.g. smb%3A%2F%2Ffs1%2Fdocs"),
    ];
}

/// `{site}`: a site.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SitePath {
    pub site: String,
}

impl PathParams for SitePath {
    const DOC: &'static [(&'static str, &'static str)] = &[("site", "site name")];
}

/// `{server}`: a file server, as target URLs name it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerPath {
    pub server: String,
}

impl PathParams for ServerPath {
    const DOC: &'static [(&'static str, &'static str)] =
        &[("server", "file server (host name or address), e.g. fs1")];
}

/// `POST /ns-credentials`. No `Debug`: it holds the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCredentialBody {
    /// The server, as target URLs name it: `fs1` for `smb://fs1/docs`.
    pub server: String,
    /// The user, `alice` or `CORP\alice`.
    pub user: String,
    /// The user's domain or workgroup (or give it in `user`).
    #[serde(default)]
    pub domain: Option<String>,
    /// The password. Stored on the appliance; never shown or logged.
    pub secret: String,
}

impl std::fmt::Debug for SetCredentialBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetCredentialBody")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// A server's credential as shown: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CredentialView {
    pub server: String,
    pub user: String,
    /// Empty: the server's own accounts.
    pub domain: String,
}

/// `POST /ns/{name}/replicas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicateBody {
    /// The link, e.g. `eng/docs`.
    pub path: String,
    /// The target replicated from (one of the link's).
    pub from: String,
    /// The replica: a target of the link, or a new one (added, left out of referrals
    /// until its first run has made it a copy).
    pub to: String,
    /// Seconds between runs (default 300; `continuous` is 5).
    #[serde(default)]
    pub every_secs: Option<u64>,
    /// Take a replica directory that holds files already (they are made a copy of the
    /// source: what the source lacks is removed).
    #[serde(default)]
    pub force: bool,
}

/// What one replication run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaRunView {
    /// Files of the source looked at, and sent (whole or as a delta).
    pub files_checked: u64,
    pub files_sent: u64,
    /// Directories made, and files or directories removed from the replica.
    pub dirs_made: u64,
    pub removed: u64,
    /// Blocks of the files sent, and the blocks that differed and were written.
    pub blocks_total: u64,
    pub blocks_sent: u64,
    pub bytes_sent: u64,
    /// Bytes of the files sent that the replica had already (not written).
    pub bytes_saved: u64,
    pub millis: u64,
    /// Entries that are neither file nor directory (not replicated).
    pub skipped: Vec<String>,
}

/// A replication between two targets of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicationView {
    pub namespace: String,
    pub link: String,
    pub from: String,
    pub to: String,
    pub every_secs: u64,
    /// syncing (before its first run ends), in-sync, failed (the last run), stopped.
    pub state: String,
    /// The replica has been a copy since its first run ended; referrals include it.
    pub in_sync: bool,
    pub runs: u64,
    /// Unix seconds.
    pub last_run_at: Option<u64>,
    pub last: Option<ReplicaRunView>,
    pub error: Option<String>,
    /// Over every run since the daemon started.
    pub bytes_sent: u64,
    pub bytes_saved: u64,
}

/// `POST /ns/{name}/migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateBody {
    /// The link whose data moves, e.g. `eng/docs`.
    pub path: String,
    /// The new target, e.g. `smb://fs3/docs` (its directory is made if missing).
    pub to: String,
    /// The target to copy from (default: the link's best healthy target).
    #[serde(default)]
    pub from: Option<String>,
}

/// A migration as it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MigrationView {
    pub namespace: String,
    pub link: String,
    pub from: String,
    pub to: String,
    /// starting, copying, syncing, catching-up, switched (waiting for confirm or cancel),
    /// confirmed, cancelling, cancelled, failed, interrupted (the daemon stopped).
    pub state: String,
    /// The current pass (1: the first copy, then re-syncs).
    pub pass: u32,
    /// This pass's files and bytes to copy, and copied so far.
    pub files_total: u64,
    pub files_done: u64,
    pub bytes_total: u64,
    pub bytes_done: u64,
    /// Bytes per second over the whole migration.
    pub rate_bytes_per_sec: u64,
    /// Seconds left in this pass at that rate.
    pub eta_secs: Option<u64>,
    /// The path being copied.
    pub current: String,
    /// Entries that are neither file nor directory (not migrated).
    pub skipped: Vec<String>,
    /// A line per pass and per step.
    pub report: Vec<String>,
    pub error: Option<String>,
    /// Unix seconds.
    pub started_at: u64,
    pub switched_at: Option<u64>,
}

/// `POST /ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNsBody {
    /// The root name, one name such as `corp`.
    pub name: String,
}

/// `POST /ns/{name}/folders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderBody {
    /// The folder's path from the root, e.g. `eng`.
    pub path: String,
}

/// `POST /ns/{name}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLinkBody {
    /// The link's path from the root, e.g. `eng/docs`.
    pub path: String,
    /// Target URLs in referral order: `smb://server/share[/path]`,
    /// `nfs://server/export[/path]`, `file:///local/dir`.
    pub targets: Vec<String>,
    /// `CLASS[:RANK]`: class `global-high`, `site-cost-high`, `site-cost-normal`
    /// (default), `site-cost-low` or `global-low`; rank 0 (default, best) to 255.
    pub priority: Option<String>,
    /// The site the servers are in (one of `vsa ns site list`).
    pub site: Option<String>,
    /// Keep equal targets in the configured order instead of shuffling them per client.
    #[serde(default)]
    pub stable: bool,
    /// How long clients may cache a referral, in seconds (default 300).
    pub ttl_secs: Option<u32>,
    /// Refer clients of a known site only to targets in their site.
    #[serde(default)]
    pub in_site_only: bool,
    /// Tell clients to go back to a better target once it is healthy again (off by
    /// default: a client stays where it failed over to).
    #[serde(default)]
    pub failback: bool,
    /// Add targets that fail the reachability check (with unknown health).
    #[serde(default)]
    pub force: bool,
}

/// `POST /ns/{name}/links/{path}/targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTargetBody {
    /// The target URL.
    pub target: String,
    /// `CLASS[:RANK]`: class `global-high`, `site-cost-high`, `site-cost-normal`
    /// (default), `site-cost-low` or `global-low`; rank 0 (default, best) to 255.
    pub priority: Option<String>,
    /// The site the servers are in (one of `vsa ns site list`).
    pub site: Option<String>,
    /// Add it even if it fails the reachability check (with unknown health).
    #[serde(default)]
    pub force: bool,
}

/// `POST /ns/{name}/resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// A path inside the namespace, e.g. `eng/docs/specs/a.txt`.
    pub path: String,
    /// The client's IP address (decides its site, and seeds the order of equal targets).
    pub client: Option<String>,
}

/// `POST /ns-sites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSiteBody {
    /// The site's name, e.g. `paris`.
    pub name: String,
    /// Its client subnets, e.g. `10.1.0.0/16`.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// The cost of reaching other sites from it (and back, unless set the other way).
    #[serde(default)]
    pub costs: BTreeMap<String, u32>,
}

/// A namespace in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NsSummary {
    /// The root name.
    pub name: String,
    /// Changes made so far.
    pub version: u64,
    /// Folders added explicitly.
    pub folders: usize,
    /// Links.
    pub links: usize,
    /// Targets of all links.
    pub targets: usize,
}

/// One target of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetView {
    /// The URL.
    pub url: String,
    /// Disabled targets are left out of referrals.
    pub enabled: bool,
    /// `healthy`, `unhealthy` or `unknown`.
    pub health: String,
    /// When the health probes last changed it, unix seconds (none since the daemon
    /// started: it is as it was stored, or as the target was added).
    pub health_since: Option<u64>,
    /// The priority class (`site-cost-normal`, ...).
    pub priority: String,
    /// The rank within the class (0 is best).
    pub rank: u8,
    /// The site of its server, if set.
    pub site: Option<String>,
}

/// A link and its targets in configured order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkView {
    /// The namespace.
    pub namespace: String,
    /// The namespace's version after the change.
    pub version: u64,
    /// The link's path.
    pub path: String,
    /// Referral time-to-live, seconds.
    pub ttl_secs: u32,
    /// `shuffled` or `stable`.
    pub ordering: String,
    /// Clients of a known site are referred only in their site.
    pub in_site_only: bool,
    /// Clients go back to a better target once it is healthy again.
    pub failback: bool,
    /// The targets, in configured order.
    pub targets: Vec<TargetView>,
}

/// A namespace: its folders and links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NsView {
    /// The root name.
    pub name: String,
    /// Changes made so far.
    pub version: u64,
    /// Folders added explicitly, sorted.
    pub folders: Vec<String>,
    /// Links, sorted by path.
    pub links: Vec<LinkView>,
}

/// A site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteView {
    /// Its name.
    pub name: String,
    /// Its client subnets.
    pub subnets: Vec<String>,
    /// The cost of reaching each other site from it, where one is set.
    pub costs: BTreeMap<String, u32>,
}

/// One target of a referral, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RankedView {
    /// The URL.
    pub url: String,
    /// The site of its server, if set.
    pub site: Option<String>,
    /// What placed it: `global high`, `in-site`, `site cost N`, `site cost unknown` or
    /// `global low`.
    pub reason: String,
    /// The reason with class, rank and health, e.g. `in-site, class high, rank 3,
    /// unhealthy`.
    pub why: String,
    /// `healthy`, `unhealthy` or `unknown`.
    pub health: String,
    /// Moved after the healthy targets.
    pub unhealthy: bool,
}

/// The answer to a referral request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    /// The namespace.
    pub namespace: String,
    /// The path asked for.
    pub path: String,
    /// The link that covers it.
    pub link: String,
    /// The rest of the path below the link.
    pub remainder: Option<String>,
    /// How long the client may cache the answer, seconds.
    pub ttl_secs: u32,
    /// The client should go back to a better target once it is healthy again.
    pub failback: bool,
    /// The client's address, if given.
    pub client: Option<String>,
    /// The client's site, if its address is in a site's subnet.
    pub client_site: Option<String>,
    /// The targets, best first (disabled ones left out).
    pub targets: Vec<RankedView>,
}

/// A target's health as the probes changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthEventView {
    /// Its number, counting from 1 since the daemon started.
    pub seq: u64,
    /// When, unix seconds.
    pub at: u64,
    /// The namespace.
    pub namespace: String,
    /// The link.
    pub link: String,
    /// The target's URL.
    pub target: String,
    /// The health before: `healthy`, `unhealthy` or `unknown`.
    pub from: String,
    /// The health after.
    pub to: String,
    /// Why, from the last check, e.g. `... timed out after 2 s (2 failed checks in a row)`.
    pub reason: String,
}

/// `POST /ns/{name}/export-samba`: write the namespace's msdfs tree into `dir` (on the
/// appliance; created if missing, may hold only what vsa wrote there) for Samba to serve as
/// share `share` (default: the namespace's name). It is kept current after every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSambaBody {
    pub dir: String,
    pub share: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExportView {
    pub namespace: String,
    pub dir: String,
    pub share: String,
    /// The `smb.conf` section serving the tree.
    pub smb_conf: String,
    pub folders: usize,
    pub links: usize,
    /// Links written or rewritten by this export, and entries removed.
    pub changed: usize,
    pub removed: usize,
    /// Targets an SMB referral cannot carry (`file://`, `nfs://`) or disabled ones.
    pub left_out: Vec<String>,
    /// Links with no SMB target left (not in the tree).
    pub skipped: Vec<String>,
}

/// `POST /ns/{name}/mount`: show the namespace as one tree at `mountpoint` (an empty
/// directory, absolute path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MountBody {
    pub mountpoint: String,
}

/// `POST /ns-umount`: unmount `mountpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UmountBody {
    pub mountpoint: String,
}

/// A namespace mounted by the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MountView {
    pub namespace: String,
    pub mountpoint: String,
    /// Files opened through the mount since it was mounted, by how they are served.
    #[serde(default)]
    pub opens: MountOpens,
}

/// Files opened through a mount, by how they are served.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MountOpens {
    /// By the kernel straight from the target's file (FUSE passthrough; local targets).
    pub passthrough: u64,
    /// By the daemon through the kernel's page cache.
    pub cached: u64,
    /// By the daemon without the page cache (a file open both ways at once, as when a
    /// link switched targets while a file of the old one was open).
    pub direct: u64,
}
