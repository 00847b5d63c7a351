//! `vsa ns ...`: namespaces, their folders, links and targets, sites, referrals, and the
//! health changes the probes made.

use super::api::*;
use super::migrate::cli::{self as migrate_cli, MigrationCmd};
use super::replicate::cli::{self as replicate_cli, ReplicationCmd};
use super::types::*;
use crate::core::output::{fields, list, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use clap::{FromArgMatches, Subcommand};
use std::collections::BTreeMap;

/// Namespace verbs.
#[derive(Debug, Subcommand)]
pub enum NsCmd {
    /// Create a namespace, e.g. `vsa ns create corp`.
    Create {
        /// Its root name.
        ns: String,
    },
    /// List namespaces.
    List,
    /// Show a namespace as a tree: folders, links, each target with its state.
    Show { ns: String },
    /// Delete a namespace with its folders and links (the targets' data stays).
    Delete { ns: String },
    /// Folders: the shape of the tree.
    #[command(subcommand)]
    Folder(FolderCmd),
    /// Links: where the tree leaves for file servers.
    #[command(subcommand)]
    Link(LinkCmd),
    /// A link's targets.
    #[command(subcommand)]
    Target(TargetCmd),
    /// Sites: client subnets, and costs between sites.
    #[command(subcommand)]
    Site(SiteCmd),
    /// Resolve a path as a client would: the covering link and its targets in order.
    Resolve {
        ns: String,
        /// A path inside the namespace, e.g. eng/docs/specs/a.txt.
        path: String,
        /// The client's IP address (its site decides the order).
        #[arg(long)]
        client: Option<String>,
    },
    /// Write the namespace's msdfs tree into DIR (on the appliance) for Samba to serve as
    /// a DFS root, and keep it current as the namespace and its targets' health change;
    /// prints the smb.conf share section.
    ExportSamba {
        ns: String,
        /// An absolute directory, created if missing; it may hold only what vsa writes.
        dir: String,
        /// The share's name (default: the namespace's).
        #[arg(long)]
        share: Option<String>,
    },
    /// Show the namespace as one tree at MOUNTPOINT on the appliance (FUSE), for clients
    /// that cannot follow DFS referrals: `ls`, `cat`, writes and renames inside links go
    /// to each link's best reachable target.
    Mount {
        ns: String,
        /// An empty directory (absolute path).
        mountpoint: String,
    },
    /// Unmount a namespace's FUSE mount.
    Umount {
        /// The mount point.
        mountpoint: String,
    },
    /// List the namespaces' FUSE mounts.
    Mounts,
    /// Move a link's data to a new target while clients keep working: copy, re-sync what
    /// changed, switch the referral; the old target stays as a fallback until
    /// `vsa ns migration confirm`. Shows progress until the switch.
    Migrate {
        ns: String,
        /// The link, e.g. eng/docs.
        path: String,
        /// The new target: smb://server/share[/path] or file:///dir (made if missing).
        #[arg(long)]
        to: String,
        /// The target to copy from (default: the link's best healthy target).
        #[arg(long)]
        from: Option<String>,
        /// Start it and return (`vsa ns migration show` follows it).
        #[arg(long)]
        no_wait: bool,
    },
    /// List migrations.
    Migrations,
    /// Keep one target of a link a copy of another, one way (DFS-R's job): every run
    /// sends what changed as block deltas and removes what the source lost; a new replica
    /// is referred once its first run has ended.
    Replicate {
        ns: String,
        /// The link, e.g. eng/docs.
        path: String,
        /// The target replicated from.
        #[arg(long)]
        from: String,
        /// The replica: smb://server/share[/path] or file:///dir (added to the link).
        #[arg(long)]
        to: String,
        /// Seconds between runs (default 300).
        #[arg(long, value_name = "SECS", conflicts_with = "continuous")]
        every: Option<u64>,
        /// Run every 5 seconds.
        #[arg(long)]
        continuous: bool,
        /// Take a replica directory that holds files already (what the source lacks is
        /// removed from it).
        #[arg(long)]
        force: bool,
    },
    /// List replications.
    Replications,
    /// One replication: show, run now, remove.
    #[command(subcommand)]
    Replication(ReplicationCmd),
    /// One migration: show, confirm, cancel.
    #[command(subcommand)]
    Migration(MigrationCmd),
    /// SMB credentials the appliance logs on to a file server with (health probes, FUSE
    /// mounts); servers without are reached as a guest.
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// The last health changes of targets (the probes' verdicts), oldest first.
    Events {
        /// Only those of this namespace.
        #[arg(long = "namespace", value_name = "NS")]
        ns: Option<String>,
    },
}

/// Folder verbs.
#[derive(Debug, Subcommand)]
pub enum FolderCmd {
    /// Add a folder, e.g. `vsa ns folder add corp eng`.
    Add { ns: String, path: String },
    /// Remove an empty folder.
    Remove { ns: String, path: String },
}

/// Where added targets go in referrals.
#[derive(Debug, Clone, clap::Args)]
pub struct PlacementArgs {
    /// CLASS[:RANK]: global-high, site-cost-high, site-cost-normal (default),
    /// site-cost-low or global-low; rank 0 (best) to 255.
    #[arg(long, value_name = "CLASS[:RANK]")]
    priority: Option<String>,
    /// The site the servers are in (see `vsa ns site list`).
    #[arg(long)]
    site: Option<String>,
    /// Add targets that fail the reachability check (a server still being set up).
    #[arg(long)]
    force: bool,
}

/// Link verbs.
#[derive(Debug, Subcommand)]
pub enum LinkCmd {
    /// Add a link, e.g. `vsa ns link add corp eng/docs smb://fs1/docs smb://fs2/docs`.
    Add {
        ns: String,
        path: String,
        /// Target URLs in referral order: smb://server/share[/path],
        /// nfs://server/export[/path], file:///local/dir.
        #[arg(required = true)]
        targets: Vec<String>,
        #[command(flatten)]
        placement: PlacementArgs,
        /// Keep equal targets in the given order instead of spreading clients over them.
        #[arg(long)]
        stable: bool,
        /// How long clients may cache a referral, in seconds (default 300).
        #[arg(long, value_name = "SECS")]
        ttl: Option<u32>,
        /// Refer clients of a known site only to targets in their site.
        #[arg(long)]
        in_site_only: bool,
        /// Tell clients to go back to a better target once it is healthy again.
        #[arg(long, overrides_with = "no_failback")]
        failback: bool,
        /// Clients stay on the target they failed over to (the default).
        #[arg(long)]
        no_failback: bool,
    },
    /// Remove a link.
    Remove { ns: String, path: String },
}

/// Target verbs.
#[derive(Debug, Subcommand)]
pub enum TargetCmd {
    /// Add a target to a link (after its other targets).
    Add {
        ns: String,
        path: String,
        target: String,
        #[command(flatten)]
        placement: PlacementArgs,
    },
    /// Remove a target from a link (not its last: remove the link instead).
    Remove {
        ns: String,
        path: String,
        target: String,
    },
    /// Enable a target: referrals include it again.
    Enable {
        ns: String,
        path: String,
        target: String,
    },
    /// Disable a target: referrals leave it out.
    Disable {
        ns: String,
        path: String,
        target: String,
    },
}

/// Credential verbs.
#[derive(Debug, Subcommand)]
pub enum CredentialCmd {
    /// Set (or replace) a server's credentials, e.g.
    /// `vsa ns credential set fs1 --user 'CORP\svc-vsa' --secret ...` (or the secret in
    /// VSA_NS_SECRET, kept out of the shell's history). Stored on the appliance, never
    /// shown or logged.
    Set {
        /// The server as the targets' URLs name it: fs1 for smb://fs1/docs.
        server: String,
        /// The user: NAME, DOMAIN\NAME or NAME@DOMAIN.
        #[arg(long)]
        user: String,
        /// The user's domain or workgroup.
        #[arg(long)]
        domain: Option<String>,
        /// The password.
        #[arg(long, env = "VSA_NS_SECRET", hide_env_values = true)]
        secret: String,
    },
    /// List the servers with credentials (users; never secrets).
    List,
    /// Forget a server's credentials: its shares are reached as a guest again.
    Remove { server: String },
}

/// Site verbs.
#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Add a site, e.g. `vsa ns site add paris 10.1.0.0/16 --cost lyon=10`.
    Add {
        name: String,
        /// Its client subnets.
        #[arg(required = true)]
        subnets: Vec<String>,
        /// The cost of reaching another site from it (both ways unless set the other way).
        #[arg(long = "cost", value_name = "SITE=N", value_parser = parse_cost)]
        costs: Vec<(String, u32)>,
    },
    /// List sites.
    List,
    /// Remove a site no target is in.
    Remove { name: String },
}

fn parse_cost(s: &str) -> Result<(String, u32), String> {
    let bad = || format!("'{s}' is not SITE=COST, e.g. lyon=10");
    let (site, cost) = s.split_once('=').ok_or_else(bad)?;
    let cost = cost.trim().parse::<u32>().map_err(|_| bad())?;
    Ok((site.trim().to_owned(), cost))
}

/// The `ns` noun.
pub fn command() -> clap::Command {
    NsCmd::augment_subcommands(clap::Command::new("ns"))
        .about("The global namespace: folders and links over file servers, sites, referrals")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn ns(name: String) -> NsPath {
    NsPath { name }
}

fn node(name: String, path: String) -> NodePath {
    NodePath { name, path }
}

/// Unix seconds as `2026-01-05 10:31:02 UTC`.
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn target_line(t: &TargetView) -> String {
    let rank = if t.rank > 0 {
        format!(":{}", t.rank)
    } else {
        String::new()
    };
    let since = match t.health_since {
        Some(at) => format!(" since {}", utc(at)),
        None => String::new(),
    };
    format!(
        "{}  {}, {}{since}, {}{rank}, site {}",
        t.url,
        if t.enabled { "enabled" } else { "disabled" },
        t.health,
        t.priority,
        or_dash(t.site.as_ref())
    )
}

fn link_text(l: &LinkView) -> String {
    let mut s = format!("link, ttl {} s, {}", l.ttl_secs, l.ordering);
    if l.in_site_only {
        s.push_str(", in-site only");
    }
    if l.failback {
        s.push_str(", failback");
    }
    s
}

fn list_events(v: &[HealthEventView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|e| {
            vec![
                utc(e.at),
                e.namespace.clone(),
                e.link.clone(),
                e.target.clone(),
                format!("{} -> {}", e.from, e.to),
                e.reason.clone(),
            ]
        })
        .collect();
    table(
        &["TIME", "NAMESPACE", "LINK", "TARGET", "HEALTH", "REASON"],
        &rows,
    );
}

/// Prints the namespace as an indented tree: folders end in `/`, links list their targets.
fn show_tree(v: &NsView) {
    enum Node<'a> {
        Folder(String),
        Link(&'a LinkView),
    }
    let mut nodes: BTreeMap<Vec<String>, Node<'_>> = BTreeMap::new();
    let ancestors = |path: &str, nodes: &mut BTreeMap<Vec<String>, Node<'_>>| {
        let names: Vec<&str> = path.split('/').collect();
        for n in 1..names.len() {
            let key = names[..n].iter().map(|s| s.to_lowercase()).collect();
            nodes
                .entry(key)
                .or_insert_with(|| Node::Folder(names[n - 1].to_owned()));
        }
        names.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>()
    };
    for f in &v.folders {
        let key = ancestors(f, &mut nodes);
        let name = f.rsplit('/').next().unwrap_or(f).to_owned();
        nodes.insert(key, Node::Folder(name));
    }
    for l in &v.links {
        let key = ancestors(&l.path, &mut nodes);
        nodes.insert(key, Node::Link(l));
    }
    let n = v.links.len();
    println!(
        "{}  (version {}, {n} link{})",
        v.name,
        v.version,
        if n == 1 { "" } else { "s" }
    );
    for (key, node) in &nodes {
        let indent = "  ".repeat(key.len());
        match node {
            Node::Folder(name) => println!("{indent}{name}/"),
            Node::Link(l) => {
                let name = l.path.rsplit('/').next().unwrap_or(&l.path);
                println!("{indent}{name}  -> {}", link_text(l));
                for (i, t) in l.targets.iter().enumerate() {
                    println!("{indent}     {}. {}", i + 1, target_line(t));
                }
            }
        }
    }
}

fn show_link(l: &LinkView) {
    println!(
        "{}/{}  -> {}  (version {})",
        l.namespace,
        l.path,
        link_text(l),
        l.version
    );
    for (i, t) in l.targets.iter().enumerate() {
        println!("  {}. {}", i + 1, target_line(t));
    }
}

fn list_ns(v: &[NsSummary]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.version.to_string(),
                n.folders.to_string(),
                n.links.to_string(),
                n.targets.to_string(),
            ]
        })
        .collect();
    table(
        &["NAMESPACE", "VERSION", "FOLDERS", "LINKS", "TARGETS"],
        &rows,
    );
}

fn costs_text(s: &SiteView) -> String {
    let c: Vec<String> = s.costs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    list(&c, ", ")
}

fn list_sites(v: &[SiteView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|s| vec![s.name.clone(), list(&s.subnets, ", "), costs_text(s)])
        .collect();
    table(&["SITE", "SUBNETS", "COSTS"], &rows);
}

fn show_referral(r: &ReferralView) {
    let client = match (&r.client, &r.client_site) {
        (Some(c), Some(s)) => format!("{c}, site {s}"),
        (Some(c), None) => format!("{c}, in no site"),
        (None, _) => "-".into(),
    };
    fields(&[
        ("link", r.link.clone()),
        ("remainder", or_dash(r.remainder.as_ref())),
        ("ttl", format!("{} s", r.ttl_secs)),
        ("failback", if r.failback { "yes" } else { "no" }.into()),
        ("client", client),
    ]);
    let rows: Vec<Vec<String>> = r
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                t.url.clone(),
                or_dash(t.site.as_ref()),
                t.why.clone(),
            ]
        })
        .collect();
    table(&["#", "TARGET", "SITE", "WHY"], &rows);
}

/// Runs a namespace verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match NsCmd::from_arg_matches(m)? {
        NsCmd::Create { ns: name } => {
            let v = c.call::<CreateNs>(&NoParams {}, &CreateNsBody { name })?;
            ctx.print(&v, |v| println!("created namespace {}", v.name));
        }
        NsCmd::List => ctx.print(&c.call::<ListNs>(&NoParams {}, &Empty {})?, |v| list_ns(v)),
        NsCmd::Show { ns: name } => ctx.print(&c.call::<ShowNs>(&ns(name), &Empty {})?, show_tree),
        NsCmd::Delete { ns: name } => {
            let v = c.call::<DeleteNs>(&ns(name), &Empty {})?;
            ctx.print(&v, |v| println!("deleted namespace {}", v.deleted));
        }
        NsCmd::Folder(FolderCmd::Add { ns: name, path }) => {
            let v = c.call::<AddFolder>(&ns(name), &FolderBody { path })?;
            ctx.print(&v, show_tree);
        }
        NsCmd::Folder(FolderCmd::Remove { ns: name, path }) => {
            let v = c.call::<RemoveFolder>(&node(name, path), &Empty {})?;
            ctx.print(&v, show_tree);
        }
        NsCmd::Link(LinkCmd::Add {
            ns: name,
            path,
            targets,
            placement,
            stable,
            ttl,
            in_site_only,
            failback,
            no_failback: _,
        }) => {
            let body = AddLinkBody {
                path,
                targets,
                priority: placement.priority,
                site: placement.site,
                stable,
                ttl_secs: ttl,
                in_site_only,
                failback,
                force: placement.force,
            };
            ctx.print(&c.call::<AddLink>(&ns(name), &body)?, show_link);
        }
        NsCmd::Link(LinkCmd::Remove { ns: name, path }) => {
            let v = c.call::<RemoveLink>(&node(name, path), &Empty {})?;
            ctx.print(&v, |v| println!("removed link {}", v.deleted));
        }
        NsCmd::Target(TargetCmd::Add {
            ns: name,
            path,
            target,
            placement,
        }) => {
            let body = AddTargetBody {
                target,
                priority: placement.priority,
                site: placement.site,
                force: placement.force,
            };
            ctx.print(&c.call::<AddTarget>(&node(name, path), &body)?, show_link);
        }
        NsCmd::Target(TargetCmd::Remove { ns, path, target }) => {
            let p = TargetPath {
                name: ns,
                path,
                target,
            };
            ctx.print(&c.call::<RemoveTarget>(&p, &Empty {})?, show_link);
        }
        NsCmd::Target(TargetCmd::Enable { ns, path, target }) => {
            let p = TargetPath {
                name: ns,
                path,
                target,
            };
            ctx.print(&c.call::<EnableTarget>(&p, &Empty {})?, show_link);
        }
        NsCmd::Target(TargetCmd::Disable { ns, path, target }) => {
            let p = TargetPath {
                name: ns,
                path,
                target,
            };
            ctx.print(&c.call::<DisableTarget>(&p, &Empty {})?, show_link);
        }
        NsCmd::Site(SiteCmd::Add {
            name,
            subnets,
            costs,
        }) => {
            let body = AddSiteBody {
                name,
                subnets,
                costs: costs.into_iter().collect(),
            };
            let v = c.call::<AddSite>(&NoParams {}, &body)?;
            ctx.print(&v, |v| list_sites(std::slice::from_ref(v)));
        }
        NsCmd::Site(SiteCmd::List) => {
            ctx.print(&c.call::<ListSites>(&NoParams {}, &Empty {})?, |v| {
                list_sites(v)
            });
        }
        NsCmd::Site(SiteCmd::Remove { name }) => {
            let v = c.call::<RemoveSite>(&SitePath { site: name }, &Empty {})?;
            ctx.print(&v, |v| println!("removed site {}", v.deleted));
        }
        NsCmd::Resolve {
            ns: name,
            path,
            client,
        } => {
            let v = c.call::<Resolve>(&ns(name), &ResolveBody { path, client })?;
            ctx.print(&v, show_referral);
        }
        NsCmd::ExportSamba {
            ns: name,
            dir,
            share,
        } => {
            let v = c.call::<ExportSamba>(&ns(name), &ExportSambaBody { dir, share })?;
            ctx.print(&v, show_export);
        }
        NsCmd::Mount {
            ns: name,
            mountpoint,
        } => {
            let v = c.call::<MountNs>(&ns(name), &MountBody { mountpoint })?;
            ctx.print(&v, |v| {
                println!(
                    "namespace {} is at {} (vsa ns umount {})",
                    v.namespace, v.mountpoint, v.mountpoint
                )
            });
        }
        NsCmd::Umount { mountpoint } => {
            let v = c.call::<UmountNs>(&NoParams {}, &UmountBody { mountpoint })?;
            ctx.print(&v, |v| {
                println!("unmounted {} from {}", v.namespace, v.mountpoint)
            });
        }
        NsCmd::Mounts => {
            let v = c.call::<ListMounts>(&NoParams {}, &Empty {})?;
            ctx.print(&v, |v| {
                let rows: Vec<Vec<String>> = v
                    .iter()
                    .map(|m| {
                        let o = m.opens;
                        vec![
                            m.namespace.clone(),
                            m.mountpoint.clone(),
                            format!("{}/{}/{}", o.passthrough, o.cached, o.direct),
                        ]
                    })
                    .collect();
                table(
                    &["NAMESPACE", "MOUNT POINT", "OPENS KERNEL/CACHED/DIRECT"],
                    &rows,
                );
            });
        }
        NsCmd::Credential(cmd) => credential(ctx, cmd)?,
        NsCmd::Migrate {
            ns: name,
            path,
            to,
            from,
            no_wait,
        } => {
            let body = MigrateBody {
                path: path.clone(),
                to,
                from,
            };
            migrate_cli::start(ctx, name, path, body, !no_wait)?;
        }
        NsCmd::Migrations => migrate_cli::list_all(ctx)?,
        NsCmd::Replicate {
            ns: name,
            path,
            from,
            to,
            every,
            continuous,
            force,
        } => {
            let body = ReplicateBody {
                path,
                from,
                to,
                every_secs: if continuous { Some(5) } else { every },
                force,
            };
            replicate_cli::start(ctx, name, body)?;
        }
        NsCmd::Replications => replicate_cli::list_all(ctx)?,
        NsCmd::Replication(cmd) => replicate_cli::run(ctx, cmd)?,
        NsCmd::Migration(cmd) => migrate_cli::run(ctx, cmd)?,
        NsCmd::Events { ns: Some(name) } => {
            let v = c.call::<NsEvents>(&ns(name), &Empty {})?;
            ctx.print(&v, |v| list_events(v));
        }
        NsCmd::Events { ns: None } => {
            let v = c.call::<ListEvents>(&NoParams {}, &Empty {})?;
            ctx.print(&v, |v| list_events(v));
        }
    }
    Ok(())
}

fn list_credentials(v: &[CredentialView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|c| {
            vec![
                c.server.clone(),
                c.user.clone(),
                or_dash(Some(&c.domain).filter(|d| !d.is_empty())),
            ]
        })
        .collect();
    table(&["SERVER", "USER", "DOMAIN"], &rows);
}

fn credential(ctx: &CliCtx, cmd: CredentialCmd) -> anyhow::Result<()> {
    let c = &ctx.client;
    match cmd {
        CredentialCmd::Set {
            server,
            user,
            domain,
            secret,
        } => {
            let body = SetCredentialBody {
                server,
                user,
                domain,
                secret,
            };
            let v = c.call::<SetCredential>(&NoParams {}, &body)?;
            ctx.print(&v, |v| {
                println!(
                    "credentials set for {}: user {} (new connections to it log on with them)",
                    v.server,
                    if v.domain.is_empty() {
                        v.user.clone()
                    } else {
                        format!("{}\\{}", v.domain, v.user)
                    }
                )
            });
        }
        CredentialCmd::List => {
            let v = c.call::<ListCredentials>(&NoParams {}, &Empty {})?;
            ctx.print(&v, |v| list_credentials(v));
        }
        CredentialCmd::Remove { server } => {
            let v = c.call::<RemoveCredential>(&ServerPath { server }, &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "removed the credentials of {} (guest sessions from now on)",
                    v.deleted
                )
            });
        }
    }
    Ok(())
}

fn show_export(v: &ExportView) {
    println!(
        "wrote the msdfs tree of {} into {}: {} folders, {} links ({} changed), {} removed",
        v.namespace, v.dir, v.folders, v.links, v.changed, v.removed
    );
    for t in &v.left_out {
        println!("left out (SMB referrals carry SMB targets only, enabled ones): {t}");
    }
    for l in &v.skipped {
        println!("not exported (no SMB target): {l}");
    }
    println!(
        "\nthe smb.conf share section (Samba's [global] needs host msdfs = yes, its default):\n"
    );
    print!("{}", v.smb_conf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_767_611_462), "2026-01-05 11:11:02 UTC");
    }
}
