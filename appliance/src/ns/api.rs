//! The namespace component's API: `/ns` (namespaces, folders, links, targets, referrals),
//! `/ns-sites` (the appliance's sites), `/ns-events` (health changes) and
//! `/ns-credentials` (what the appliance logs on to SMB servers with), `/ns-migrations`
//! and `/ns-replicas`. One type per operation; the route table binds
//! each to a [`Namespaces`] method. Link paths and target URLs inside a request path are
//! one percent-encoded segment each (`eng%2Fdocs`).

use super::service::Namespaces;
use super::types::*;
use crate::core::endpoint::endpoint;
use crate::core::{Deleted, Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

endpoint!(/// `GET /ns`.
    ListNs: Get "/ns", NoParams, Empty => Vec<NsSummary>, OK, "List namespaces");
endpoint!(/// `POST /ns`.
    CreateNs: Post "/ns", NoParams, CreateNsBody => NsView, CREATED, "Create a namespace");
endpoint!(/// `GET /ns/{name}`.
    ShowNs: Get "/ns/{name}", NsPath, Empty => NsView, OK,
    "Show a namespace: folders, links and their targets");
endpoint!(/// `DELETE /ns/{name}`.
    DeleteNs: Delete "/ns/{name}", NsPath, Empty => Deleted, OK,
    "Delete a namespace (the targets' data stays where it is)");
endpoint!(/// `POST /ns/{name}/folders`.
    AddFolder: Post "/ns/{name}/folders", NsPath, FolderBody => NsView, CREATED,
    "Add a folder");
endpoint!(/// `DELETE /ns/{name}/folders/{path}`.
    RemoveFolder: Delete "/ns/{name}/folders/{path}", NodePath, Empty => NsView, OK,
    "Remove an empty folder");
endpoint!(/// `POST /ns/{name}/links`.
    AddLink: Post "/ns/{name}/links", NsPath, AddLinkBody => LinkView, CREATED,
    "Add a link to one or more targets (each checked for reachability unless forced)");
endpoint!(/// `DELETE /ns/{name}/links/{path}`.
    RemoveLink: Delete "/ns/{name}/links/{path}", NodePath, Empty => Deleted, OK,
    "Remove a link");
endpoint!(/// `POST /ns/{name}/links/{path}/targets`.
    AddTarget: Post "/ns/{name}/links/{path}/targets", NodePath, AddTargetBody => LinkView,
    CREATED, "Add a target to a link (checked for reachability unless forced)");
endpoint!(/// `DELETE /ns/{name}/links/{path}/targets/{target}`.
    RemoveTarget: Delete "/ns/{name}/links/{path}/targets/{target}", TargetPath, Empty => LinkView,
    OK, "Remove a target from a link (not its last)");
endpoint!(/// `POST /ns/{name}/links/{path}/targets/{target}/enable`.
    EnableTarget: Post "/ns/{name}/links/{path}/targets/{target}/enable", TargetPath, Empty
    => LinkView, OK, "Enable a target (referrals include it again)");
endpoint!(/// `POST /ns/{name}/links/{path}/targets/{target}/disable`.
    DisableTarget: Post "/ns/{name}/links/{path}/targets/{target}/disable", TargetPath, Empty
    => LinkView, OK, "Disable a target (referrals leave it out)");
endpoint!(/// `POST /ns/{name}/resolve`.
    Resolve: Post "/ns/{name}/resolve", NsPath, ResolveBody => ReferralView, OK,
    "Resolve a path for a client: the covering link and its targets in referral order");
endpoint!(/// `GET /ns/{name}/events`.
    NsEvents: Get "/ns/{name}/events", NsPath, Empty => Vec<HealthEventView>, OK,
    "The last health changes of a namespace's targets, oldest first");
endpoint!(/// `GET /ns-events`.
    ListEvents: Get "/ns-events", NoParams, Empty => Vec<HealthEventView>, OK,
    "The last 1000 health changes of every namespace's targets, oldest first");
endpoint!(/// `POST /ns/{name}/export-samba`.
    ExportSamba: Post "/ns/{name}/export-samba", NsPath, ExportSambaBody => ExportView, OK,
    "Write the namespace's msdfs tree into a directory for Samba (kept current after)");
endpoint!(/// `GET /ns-sites`.
    ListSites: Get "/ns-sites", NoParams, Empty => Vec<SiteView>, OK,
    "List sites (client subnets and costs between sites)");
endpoint!(/// `POST /ns-sites`.
    AddSite: Post "/ns-sites", NoParams, AddSiteBody => SiteView, CREATED,
    "Add a site with its subnets and its costs to other sites");
endpoint!(/// `DELETE /ns-sites/{site}`.
    RemoveSite: Delete "/ns-sites/{site}", SitePath, Empty => Deleted, OK,
    "Remove a site no target is in");
endpoint!(/// `POST /ns/{name}/mount`.
    MountNs: Post "/ns/{name}/mount", NsPath, MountBody => MountView, CREATED,
    "Show the namespace as one tree at a mount point on the appliance (FUSE)");
endpoint!(/// `POST /ns-umount`.
    UmountNs: Post "/ns-umount", NoParams, UmountBody => MountView, OK,
    "Unmount a namespace's FUSE mount");
endpoint!(/// `GET /ns-mounts`.
    ListMounts: Get "/ns-mounts", NoParams, Empty => Vec<MountView>, OK,
    "List the namespaces' FUSE mounts");
endpoint!(/// `GET /ns-credentials`.
    ListCredentials: Get "/ns-credentials", NoParams, Empty => Vec<CredentialView>, OK,
    "List the servers the appliance has SMB credentials for (users, never secrets)");
endpoint!(/// `POST /ns-credentials`.
    SetCredential: Post "/ns-credentials", NoParams, SetCredentialBody => CredentialView, OK,
    "Set the SMB credentials the appliance logs on to a server with (probes, FUSE mounts)");
endpoint!(/// `DELETE /ns-credentials/{server}`.
    RemoveCredential: Delete "/ns-credentials/{server}", ServerPath, Empty => Deleted, OK,
    "Forget a server's SMB credentials (its shares are reached as a guest again)");
endpoint!(/// `POST /ns/{name}/migrations`.
    StartMigration: Post "/ns/{name}/migrations", NsPath, MigrateBody => MigrationView, CREATED,
    "Migrate a link's data to a new target: copy, re-sync, switch the referral (the old target stays as a fallback until confirmed)");
endpoint!(/// `GET /ns-migrations`.
    ListMigrations: Get "/ns-migrations", NoParams, Empty => Vec<MigrationView>, OK,
    "List migrations: running, switched (waiting for confirm or cancel) and ended");
endpoint!(/// `GET /ns/{name}/migrations/{path}`.
    ShowMigration: Get "/ns/{name}/migrations/{path}", NodePath, Empty => MigrationView, OK,
    "Show a migration's progress: pass, files, bytes, rate, ETA");
endpoint!(/// `POST /ns/{name}/migrations/{path}/confirm`.
    ConfirmMigration: Post "/ns/{name}/migrations/{path}/confirm", NodePath, Empty => MigrationView,
    OK, "Confirm a switched migration: the old target leaves the link");
endpoint!(/// `POST /ns/{name}/migrations/{path}/cancel`.
    CancelMigration: Post "/ns/{name}/migrations/{path}/cancel", NodePath, Empty => MigrationView,
    OK, "Cancel a migration (a switched one is switched back)");
endpoint!(/// `POST /ns/{name}/replicas`.
    StartReplication: Post "/ns/{name}/replicas", NsPath, ReplicateBody => ReplicationView,
    CREATED, "Replicate one target of a link to another, one way, every so often (block deltas; the replica is referred once in sync)");
endpoint!(/// `GET /ns-replicas`.
    ListReplications: Get "/ns-replicas", NoParams, Empty => Vec<ReplicationView>, OK,
    "List replications and their last runs");
endpoint!(/// `GET /ns/{name}/links/{path}/replicas/{target}`.
    ShowReplication: Get "/ns/{name}/links/{path}/replicas/{target}", TargetPath, Empty
    => ReplicationView, OK, "Show a replication and what its last run did");
endpoint!(/// `POST /ns/{name}/links/{path}/replicas/{target}/run`.
    RunReplication: Post "/ns/{name}/links/{path}/replicas/{target}/run", TargetPath, Empty
    => ReplicationView, OK, "Run a replication now");
endpoint!(/// `DELETE /ns/{name}/links/{path}/replicas/{target}`.
    RemoveReplication: Delete "/ns/{name}/links/{path}/replicas/{target}", TargetPath, Empty
    => Deleted, OK, "Stop a replication (the replica stays a target of the link)");

/// The namespace component's routes.
pub fn routes() -> Routes<Namespaces> {
    Routes::<Namespaces>::default()
        .route::<ListNs>(|n, _, _| Ok(n.list()))
        .route::<CreateNs>(|n, _, b| Ok(n.create(b)?))
        .route::<ShowNs>(|n, p, _| Ok(n.show(&p.name)?))
        .route::<DeleteNs>(|n, p, _| Ok(n.delete(&p.name)?))
        .route::<AddFolder>(|n, p, b| Ok(n.add_folder(&p.name, b)?))
        .route::<RemoveFolder>(|n, p, _| Ok(n.remove_folder(&p.name, &p.path)?))
        .route::<AddLink>(|n, p, b| Ok(n.add_link(&p.name, b)?))
        .route::<RemoveLink>(|n, p, _| Ok(n.remove_link(&p.name, &p.path)?))
        .route::<AddTarget>(|n, p, b| Ok(n.add_target(&p.name, &p.path, b)?))
        .route::<RemoveTarget>(|n, p, _| Ok(n.remove_target(&p.name, &p.path, &p.target)?))
        .route::<EnableTarget>(|n, p, _| Ok(n.set_enabled(&p.name, &p.path, &p.target, true)?))
        .route::<DisableTarget>(|n, p, _| Ok(n.set_enabled(&p.name, &p.path, &p.target, false)?))
        .route::<Resolve>(|n, p, b| Ok(n.resolve(&p.name, b)?))
        .route::<ExportSamba>(|n, p, b| Ok(n.export_samba(&p.name, b)?))
        .route::<NsEvents>(|n, p, _| Ok(n.events(Some(&p.name))?))
        .route::<ListEvents>(|n, _, _| Ok(n.events(None)?))
        .route::<ListSites>(|n, _, _| Ok(n.sites()))
        .route::<AddSite>(|n, _, b| Ok(n.add_site(b)?))
        .route::<RemoveSite>(|n, p, _| Ok(n.remove_site(&p.site)?))
        .route::<MountNs>(|n, p, b| Ok(n.mount(&p.name, b)?))
        .route::<UmountNs>(|n, _, b| Ok(n.umount(b)?))
        .route::<ListMounts>(|n, _, _| Ok(n.list_mounts()))
        .route::<ListCredentials>(|n, _, _| Ok(n.list_credentials()))
        .route::<SetCredential>(|n, _, b| Ok(n.set_credential(b)?))
        .route::<RemoveCredential>(|n, p, _| Ok(n.remove_credential(&p.server)?))
        .route::<StartMigration>(|n, p, b| Ok(n.migrate(&p.name, b)?))
        .route::<ListMigrations>(|n, _, _| Ok(n.list_migrations()))
        .route::<ShowMigration>(|n, p, _| Ok(n.show_migration(&p.name, &p.path)?))
        .route::<ConfirmMigration>(|n, p, _| Ok(n.confirm_migration(&p.name, &p.path)?))
        .route::<CancelMigration>(|n, p, _| Ok(n.cancel_migration(&p.name, &p.path)?))
        .route::<StartReplication>(|n, p, b| Ok(n.replicate(&p.name, b)?))
        .route::<ListReplications>(|n, _, _| Ok(n.list_replications()))
        .route::<ShowReplication>(|n, p, _| Ok(n.show_replication(&p.name, &p.path, &p.target)?))
        .route::<RunReplication>(|n, p, _| Ok(n.run_replication(&p.name, &p.path, &p.target)?))
        .route::<RemoveReplication>(
            |n, p, _| Ok(n.remove_replication(&p.name, &p.path, &p.target)?),
        )
}
