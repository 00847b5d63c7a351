//! The VM component's API: `/vms` (virtual machines) and `/vhost` (vhost-user-blk
//! exports). One type per operation; the route table binds each to a method of
//! [`Machines`](super::machines::Machines) or [`Exports`](super::service::Exports).

use super::types::*;
use super::VmService;
use crate::core::endpoint::endpoint;
use crate::core::{Deleted, Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

endpoint!(/// `GET /vhost`.
    ListExports: Get "/vhost", NoParams, Empty => Vec<ExportView>, OK,
    "List vhost-user-blk exports");
endpoint!(/// `POST /vhost`.
    CreateExport: Post "/vhost", NoParams, ExportBody => ExportView, CREATED,
    "Serve a volume on a vhost-user-blk socket");
endpoint!(/// `GET /vhost/{volume}`.
    ShowExport: Get "/vhost/{volume}", ExportPath, Empty => ExportView, OK,
    "Show an export");
endpoint!(/// `DELETE /vhost/{volume}`.
    DeleteExport: Delete "/vhost/{volume}", ExportPath, Empty => Deleted, OK,
    "Stop serving a volume over vhost-user (the VMM loses the disk)");

endpoint!(/// `GET /vms`.
    ListVms: Get "/vms", NoParams, Empty => Vec<VmView>, OK, "List VMs");
endpoint!(/// `POST /vms`.
    CreateVm: Post "/vms", NoParams, CreateVmBody => VmView, CREATED,
    "Define a VM (stopped)");
endpoint!(/// `GET /vms/{name}`.
    ShowVm: Get "/vms/{name}", VmPath, Empty => VmView, OK, "Show a VM");
endpoint!(/// `DELETE /vms/{name}`.
    DeleteVm: Delete "/vms/{name}", VmPath, Empty => Deleted, OK,
    "Delete a stopped VM and its logs");
endpoint!(/// `POST /vms/{name}/start`.
    StartVm: Post "/vms/{name}/start", VmPath, Empty => VmView, OK,
    "Start a VM (its own process)");
endpoint!(/// `POST /vms/{name}/stop`.
    StopVm: Post "/vms/{name}/stop", VmPath, StopVmBody => VmView, OK,
    "Stop a VM: Ctrl+Alt+Del to its guest, powered off if still running after the timeout (or at once with force)");
endpoint!(/// `POST /vms/{name}/pause`.
    PauseVm: Post "/vms/{name}/pause", VmPath, Empty => VmView, OK,
    "Pause a running VM (its vCPUs stop; its memory stays)");
endpoint!(/// `POST /vms/{name}/resume`.
    ResumeVm: Post "/vms/{name}/resume", VmPath, Empty => VmView, OK,
    "Resume a paused VM");
endpoint!(/// `POST /vms/{name}/commit`.
    CommitVm: Post "/vms/{name}/commit", VmPath, Empty => VmView, OK,
    "Keep the changes on a stopped VM's undoable disks");
endpoint!(/// `POST /vms/{name}/discard`.
    DiscardVm: Post "/vms/{name}/discard", VmPath, Empty => VmView, OK,
    "Throw away the changes on a stopped VM's undoable disks");
endpoint!(/// `GET /vms/{name}/console`.
    VmConsole: Get "/vms/{name}/console", VmPath, Empty => ConsoleView, OK,
    "The end of a VM's console log");
endpoint!(/// `POST /vms/{name}/console`.
    VmConsoleExchange: Post "/vms/{name}/console", VmPath, ConsoleBody => ConsoleView, OK,
    "Type on a running VM's serial console, and read its log from an offset (to follow it)");

/// The VM component's routes.
pub fn routes() -> Routes<VmService> {
    Routes::<VmService>::default()
        .route::<ListExports>(|s, _, _| Ok(s.exports.list()))
        .route::<CreateExport>(|s, _, b| Ok(s.exports.export(b)?))
        .route::<ShowExport>(|s, p, _| Ok(s.exports.show(&p.volume)?))
        .route::<DeleteExport>(|s, p, _| Ok(s.exports.unexport(&p.volume)?))
        .route::<ListVms>(|s, _, _| Ok(s.machines.list()))
        .route::<CreateVm>(|s, _, b| Ok(s.machines.create(b)?))
        .route::<ShowVm>(|s, p, _| Ok(s.machines.show(&p.name)?))
        .route::<DeleteVm>(|s, p, _| Ok(s.machines.delete(&p.name)?))
        .route::<StartVm>(|s, p, _| Ok(s.machines.start(&p.name)?))
        .route::<StopVm>(|s, p, b| {
            let grace = (!b.force).then(|| {
                std::time::Duration::from_secs(
                    b.timeout_secs
                        .unwrap_or(super::machines::DEFAULT_STOP_GRACE_SECS),
                )
            });
            Ok(s.machines.stop(&p.name, grace)?)
        })
        .route::<PauseVm>(|s, p, _| Ok(s.machines.pause(&p.name, true)?))
        .route::<ResumeVm>(|s, p, _| Ok(s.machines.pause(&p.name, false)?))
        .route::<CommitVm>(|s, p, _| Ok(s.machines.settle(&p.name, true)?))
        .route::<DiscardVm>(|s, p, _| Ok(s.machines.settle(&p.name, false)?))
        .route::<VmConsole>(|s, p, _| Ok(s.machines.console(&p.name, &ConsoleBody::default())?))
        .route::<VmConsoleExchange>(|s, p, b| Ok(s.machines.console(&p.name, &b)?))
}
