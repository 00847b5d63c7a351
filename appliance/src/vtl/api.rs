//! The tape library component's API: `/vtl`. One type per operation; the route table
//! binds each to a [`Libraries`] method.

use super::service::Libraries;
use super::types::*;
use crate::core::endpoint::endpoint;
use crate::core::{Deleted, Empty, NoParams, Routes};
use axum::http::StatusCode;

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

endpoint!(/// `GET /vtl`.
    ListLibraries: Get "/vtl", NoParams, Empty => Vec<LibraryView>, OK, "List tape libraries");
endpoint!(/// `POST /vtl`.
    CreateLibrary: Post "/vtl", NoParams, CreateLibraryBody => LibraryView, CREATED,
    "Create a tape library (changer and drives on an iSCSI target)");
endpoint!(/// `GET /vtl/{name}`.
    ShowLibrary: Get "/vtl/{name}", LibraryPath, Empty => LibraryView, OK,
    "Show a tape library: elements, drives");
endpoint!(/// `PATCH /vtl/{name}`.
    SetLibrary: Patch "/vtl/{name}", LibraryPath, ScratchBody => LibraryView, OK,
    "Change a library's automatic scratch cartridges");
endpoint!(/// `DELETE /vtl/{name}`.
    DeleteLibrary: Delete "/vtl/{name}", LibraryPath, DeleteLibraryBody => Deleted, OK,
    "Delete a tape library (with its cartridges only if forced)");
endpoint!(/// `GET /vtl/{name}/tapes`.
    ListTapes: Get "/vtl/{name}/tapes", LibraryPath, Empty => Vec<TapeView>, OK,
    "List a library's cartridges");
endpoint!(/// `POST /vtl/{name}/tapes`.
    CreateTapes: Post "/vtl/{name}/tapes", LibraryPath, CreateTapesBody => Vec<TapeView>, CREATED,
    "Create cartridges in free slots");
endpoint!(/// `GET /vtl/{name}/tapes/{barcode}`.
    ShowTape: Get "/vtl/{name}/tapes/{barcode}", TapePath, Empty => TapeView, OK,
    "Show a cartridge");
endpoint!(/// `DELETE /vtl/{name}/tapes/{barcode}`.
    DeleteTape: Delete "/vtl/{name}/tapes/{barcode}", TapePath, Empty => Deleted, OK,
    "Delete a cartridge and what it holds");
endpoint!(/// `POST /vtl/{name}/tapes/{barcode}/erase`.
    EraseTape: Post "/vtl/{name}/tapes/{barcode}/erase", TapePath, Empty => TapeView, OK,
    "Erase a cartridge (its space goes back to the pool)");
endpoint!(/// `POST /vtl/{name}/tapes/{barcode}/import`.
    ImportTape: Post "/vtl/{name}/tapes/{barcode}/import", TapePath, ImportBody => TapeView, OK,
    "Put a cartridge into a mail slot");
endpoint!(/// `POST /vtl/{name}/tapes/{barcode}/export`.
    ExportTape: Post "/vtl/{name}/tapes/{barcode}/export", TapePath, Empty => TapeView, OK,
    "Take a cartridge out through a mail slot");
endpoint!(/// `POST /vtl/{name}/moves`.
    MoveTape: Post "/vtl/{name}/moves", LibraryPath, MoveBody => LibraryView, OK,
    "Move a cartridge with the robot");

/// The tape library component's routes.
pub fn routes() -> Routes<Libraries> {
    Routes::<Libraries>::default()
        .route::<ListLibraries>(|l, _, _| Ok(l.list()))
        .route::<CreateLibrary>(|l, _, b| Ok(l.create(b)?))
        .route::<ShowLibrary>(|l, p, _| Ok(l.show(&p.name)?))
        .route::<SetLibrary>(|l, p, b| Ok(l.set_scratch(&p.name, b)?))
        .route::<DeleteLibrary>(|l, p, b| Ok(l.delete(&p.name, b.force)?))
        .route::<ListTapes>(|l, p, _| Ok(l.tapes(&p.name)?))
        .route::<CreateTapes>(|l, p, b| Ok(l.create_tapes(&p.name, b)?))
        .route::<ShowTape>(|l, p, _| Ok(l.tape(&p.name, &p.barcode)?))
        .route::<DeleteTape>(|l, p, _| Ok(l.delete_tape(&p.name, &p.barcode)?))
        .route::<EraseTape>(|l, p, _| Ok(l.erase(&p.name, &p.barcode)?))
        .route::<ImportTape>(|l, p, b| Ok(l.import(&p.name, &p.barcode, b)?))
        .route::<ExportTape>(|l, p, _| Ok(l.export(&p.name, &p.barcode)?))
        .route::<MoveTape>(|l, p, b| Ok(l.move_tape(&p.name, b)?))
}
