//! The pool component's API: `/pools` and `/volumes`. One type per operation; the route
//! table binds each to a [`PoolService`] method.

use super::service::PoolService;
use super::types::*;
use crate::core::endpoint::endpoint;
use crate::core::{Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const ACCEPTED: StatusCode = StatusCode::ACCEPTED;

endpoint!(/// `GET /pools`.
    ListPools: Get "/pools", NoParams, Empty => Vec<PoolView>, OK, "List pools");
endpoint!(/// `POST /pools`.
    CreatePool: Post "/pools", NoParams, CreatePoolBody => PoolView, CREATED, "Create a pool");
endpoint!(/// `GET /pools/{name}`.
    ShowPool: Get "/pools/{name}", PoolPath, Empty => PoolView, OK,
    "Show a pool with member states, rebuild/scrub progress and the last scrub report");
endpoint!(/// `POST /pools/{name}/spares`.
    AddSpare: Post "/pools/{name}/spares", PoolPath, DeviceBody => PoolView, OK,
    "Add a hot spare (it replaces a failed member at once)");
endpoint!(/// `POST /pools/{name}/members/{member}/fail`.
    FailMember: Post "/pools/{name}/members/{member}/fail", MemberPath, Empty => PoolView, OK,
    "Fail a member; a spare takes over and rebuilds");
endpoint!(/// `POST /pools/{name}/members/{member}/replace`.
    ReplaceMember: Post "/pools/{name}/members/{member}/replace", MemberPath, DeviceBody => PoolView,
    ACCEPTED, "Replace a member and rebuild onto the new device in the background");
endpoint!(/// `POST /pools/{name}/log`.
    AddLog: Post "/pools/{name}/log", PoolPath, LogBody => PoolView, OK,
    "Move the write journal's log to a separate log device (writes pause while what is journaled goes home)");
endpoint!(/// `DELETE /pools/{name}/log`.
    RemoveLog: Delete "/pools/{name}/log", PoolPath, Empty => PoolView, OK,
    "Move the write journal's log back to its file in the data directory");
endpoint!(/// `POST /pools/{name}/scrub`.
    StartScrub: Post "/pools/{name}/scrub", PoolPath, ScrubBody => TaskStarted, ACCEPTED,
    "Start a scrub in the background");
endpoint!(/// `POST /pools/{name}/check`.
    CheckPool: Post "/pools/{name}/check", PoolPath, Empty => CheckView, OK,
    "Check the pool's volume metadata for consistency (the daemon also does after an unclean stop)");
endpoint!(/// `GET /volumes`.
    ListVolumes: Get "/volumes", NoParams, Empty => Vec<VolumeView>, OK,
    "List volumes of every pool");
endpoint!(/// `POST /volumes`.
    CreateVolume: Post "/volumes", NoParams, CreateVolumeBody => VolumeView, CREATED,
    "Create a volume (thin unless thick)");
endpoint!(/// `GET /volumes/{name}`.
    ShowVolume: Get "/volumes/{name}", VolumePath, Empty => VolumeView, OK, "Show a volume");
endpoint!(/// `PATCH /volumes/{name}`.
    ResizeVolume: Patch "/volumes/{name}", VolumePath, ResizeBody => VolumeView, OK,
    "Resize a volume (shrinking is refused if data lies past the new size, and while a component serves it unless forced)");
endpoint!(/// `DELETE /volumes/{name}`.
    DeleteVolume: Delete "/volumes/{name}", VolumePath, Empty => Deleted, OK,
    "Delete a volume and its snapshots (refused while clones depend on them or a component holds it)");
endpoint!(/// `GET /volumes/{name}/snapshots`.
    ListSnapshots: Get "/volumes/{name}/snapshots", VolumePath, Empty => Vec<SnapshotView>, OK,
    "List a volume's snapshots");
endpoint!(/// `POST /volumes/{name}/snapshots`.
    CreateSnapshot: Post "/volumes/{name}/snapshots", VolumePath, NameBody => SnapshotView, CREATED,
    "Take a snapshot");
endpoint!(/// `DELETE /volumes/{name}/snapshots/{snap}`.
    DeleteSnapshot: Delete "/volumes/{name}/snapshots/{snap}", SnapPath, Empty => Deleted, OK,
    "Delete a snapshot");
endpoint!(/// `POST /volumes/{name}/snapshots/{snap}/clone`.
    CloneSnapshot: Post "/volumes/{name}/snapshots/{snap}/clone", SnapPath, NameBody => VolumeView,
    CREATED, "Create a volume from a snapshot (linked clone)");
endpoint!(/// `POST /volumes/{name}/snapshots/{snap}/rollback`.
    Rollback: Post "/volumes/{name}/snapshots/{snap}/rollback", SnapPath, Empty => VolumeView, OK,
    "Return a volume to a snapshot");

endpoint!(/// `POST /transfers/import`.
    ImportImage: Post "/transfers/import", NoParams, ImportImageBody => TransferView, ACCEPTED,
    "Create a volume from a disk image (raw, qcow2, vmdk, vhd, vhdx) in the background");
endpoint!(/// `POST /transfers/export`.
    ExportImage: Post "/transfers/export", NoParams, ExportImageBody => TransferView, ACCEPTED,
    "Write a volume into a new disk image file in the background");
endpoint!(/// `GET /transfers`.
    ListTransfers: Get "/transfers", NoParams, Empty => Vec<TransferView>, OK,
    "Image imports and exports since the daemon started");
endpoint!(/// `GET /transfers/{volume}`.
    ShowTransfer: Get "/transfers/{volume}", TransferPath, Empty => TransferView, OK,
    "The last image transfer of a volume, with its progress");

/// The pool component's routes.
pub fn routes() -> Routes<PoolService> {
    Routes::<PoolService>::default()
        .route::<ListPools>(|s, _, _| Ok(s.list_pools()))
        .route::<CreatePool>(|s, _, b| Ok(s.create_pool(b)?))
        .route::<ShowPool>(|s, p, _| Ok(s.show_pool(&p.name)?))
        .route::<AddSpare>(|s, p, b| Ok(s.add_spare(&p.name, b)?))
        .route::<FailMember>(|s, p, _| Ok(s.fail_member(&p.name, &p.member)?))
        .route::<ReplaceMember>(|s, p, b| Ok(s.replace_member(&p.name, &p.member, b)?))
        .route::<AddLog>(|s, p, b| Ok(s.set_log(&p.name, Some(b.device))?))
        .route::<RemoveLog>(|s, p, _| Ok(s.set_log(&p.name, None)?))
        .route::<StartScrub>(|s, p, b| Ok(s.start_scrub(&p.name, b.repair.unwrap_or(true))?))
        .route::<CheckPool>(|s, p, _| Ok(s.check_pool(&p.name)?))
        .route::<ListVolumes>(|s, _, _| Ok(s.list_volumes()))
        .route::<CreateVolume>(|s, _, b| Ok(s.create_volume(b)?))
        .route::<ShowVolume>(|s, p, _| Ok(s.show_volume(&p.name)?))
        .route::<ResizeVolume>(|s, p, b| {
            let size = b.size.bytes()?;
            Ok(s.resize_volume(&p.name, size, b.force)?)
        })
        .route::<DeleteVolume>(|s, p, _| Ok(s.delete_volume(&p.name)?))
        .route::<ListSnapshots>(|s, p, _| Ok(s.snapshots(&p.name)?))
        .route::<CreateSnapshot>(|s, p, b| Ok(s.snapshot(&p.name, &b.name)?))
        .route::<DeleteSnapshot>(|s, p, _| Ok(s.delete_snapshot(&p.name, &p.snap)?))
        .route::<CloneSnapshot>(|s, p, b| Ok(s.clone_snapshot(&p.name, &p.snap, &b.name)?))
        .route::<Rollback>(|s, p, _| Ok(s.rollback(&p.name, &p.snap)?))
        .route::<ImportImage>(|s, _, b| Ok(s.images().import(b)?))
        .route::<ExportImage>(|s, _, b| Ok(s.images().export(b)?))
        .route::<ListTransfers>(|s, _, _| Ok(s.images().list()))
        .route::<ShowTransfer>(|s, p, _| Ok(s.images().show(&p.volume)?))
}
