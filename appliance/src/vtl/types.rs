//! The tape library component's request and reply bodies, shared by the handlers, the CLI
//! and the OpenAPI document.

use crate::core::size::SizeArg;
use crate::core::PathParams;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{name}`: a library.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LibraryPath {
    pub name: String,
}

impl PathParams for LibraryPath {
    const DOC: &'static [(&'static str, &'static str)] = &[("name", "library name")];
}

/// `{name}/tapes/{barcode}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TapePath {
    pub name: String,
    pub barcode: String,
}

impl PathParams for TapePath {
    const DOC: &'static [(&'static str, &'static str)] =
        &[("name", "library name"), ("barcode", "cartridge barcode")];
}

/// `POST /vtl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLibraryBody {
    /// The library's name.
    pub name: String,
    /// Storage slots.
    pub slots: u16,
    /// Tape drives.
    pub drives: u16,
    /// Import/export (mail) slots (default 4).
    pub mailslots: Option<u16>,
    /// `stk-l700` (default), `ibm-3584`, `hp-msl-g3`.
    pub library_model: Option<String>,
    /// `ibm-lto8` (default), `ibm-lto5`..`ibm-lto9`, `hp-lto5`..`hp-lto9`.
    pub drive_model: Option<String>,
    /// The iSCSI name of its target (default `iqn.2026-12.io.vsa:vtl.<name>`).
    pub target: Option<String>,
    /// The pool its cartridges go to (default: the only pool, or `default`).
    pub pool: Option<String>,
    /// One target per device (`<target>.changer`, `<target>.drive1`, ..., each device at
    /// LUN 0) instead of one target with the changer at LUN 0 and drive n at LUN n.
    #[serde(default)]
    pub target_per_device: bool,
    /// Blank cartridges to keep in the slots, created as they are used (see
    /// [`ScratchBody`]).
    pub scratch: Option<u16>,
    pub scratch_prefix: Option<String>,
    pub scratch_capacity: Option<SizeArg>,
    /// Drives ask for cleaning after this many mounts.
    pub clean_every: Option<u64>,
    /// Deduplicate new records across the library's cartridges (default on).
    pub dedup: Option<bool>,
}

/// `PATCH /vtl/{name}`: a library's settings. Automatic scratch cartridges, as a cloud
/// tape gateway makes them: the library keeps at least `scratch` blank cartridges in its
/// storage slots. Cleaning: drives ask for it after `clean_every` mounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScratchBody {
    /// Blank cartridges to keep in the slots (0: off).
    pub scratch: Option<u16>,
    /// Their labels' first characters (default `SCR`: SCR001L8, SCR002L8, ...).
    pub scratch_prefix: Option<String>,
    /// Their capacity (default: native).
    pub scratch_capacity: Option<SizeArg>,
    /// Drives ask for cleaning (TapeAlert CLEAN NOW) after this many mounts (0: never).
    pub clean_every: Option<u64>,
    /// Deduplicate new records across the library's cartridges (records already written
    /// stay as they are).
    pub dedup: Option<bool>,
}

/// `DELETE /vtl/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteLibraryBody {
    /// Delete it with its cartridges and everything on them.
    #[serde(default)]
    pub force: bool,
}

/// `POST /vtl/{name}/tapes`: new cartridges into free storage slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTapesBody {
    /// Barcodes or ranges (`VSA000L8..VSA099L8`).
    pub barcodes: Vec<String>,
    /// The generation (`LTO8`); must agree with the barcodes' media identifiers.
    pub media: Option<String>,
    /// Write-once cartridges (media identifiers `LV`..`LZ`).
    #[serde(default)]
    pub worm: bool,
    /// A capacity below the generation's native one (e.g. `2G`, for tests).
    pub capacity: Option<SizeArg>,
}

/// `POST /vtl/{name}/tapes/{barcode}/import`: a cartridge through a mail slot (a new one
/// takes these settings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    pub media: Option<String>,
    #[serde(default)]
    pub worm: bool,
    pub capacity: Option<SizeArg>,
}

/// `POST /vtl/{name}/moves`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// `slot:N`, `drive:N`, `mail:N` (1-based) or an element address (`1000`, `0x3E8`).
    pub from: String,
    pub to: String,
}

/// An element of a library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ElementView {
    pub address: u16,
    /// `transport`, `slot`, `mail` or `drive`, with its 1-based number (`slot 3`).
    pub name: String,
    pub barcode: Option<String>,
    /// The slot the cartridge came from.
    pub source: Option<u16>,
}

/// A drive of a library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriveView {
    /// 1-based; also its LUN.
    pub number: u16,
    pub address: u16,
    pub model: String,
    pub serial: String,
    pub barcode: Option<String>,
    /// Threaded and ready (false: unloaded, waiting for the robot).
    pub loaded: bool,
    /// Logical object number.
    pub position: u64,
    pub file: u64,
    /// 0: variable blocks.
    pub block_len: u32,
    pub compression: bool,
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub mounts: u64,
    /// The drive asks to be cleaned (move a CLN cartridge into it).
    pub cleaning_due: bool,
}

/// A library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LibraryView {
    pub name: String,
    pub target: String,
    /// Where each device is: (iSCSI name, LUN), the changer first.
    pub devices: Vec<(String, u64)>,
    pub volume: String,
    pub library_model: String,
    pub drive_model: String,
    pub slots: u16,
    pub drives: u16,
    pub mailslots: u16,
    pub cartridges: usize,
    pub free_slots: usize,
    /// Blank cartridges kept in the slots (0: no automatic scratch cartridges).
    pub scratch_min: u16,
    /// Pool space the cartridge store has taken, in 32 MiB segments.
    pub segments_used: u64,
    /// New records are deduplicated.
    pub dedup: bool,
    /// Distinct chunks of deduplicated records, and the bytes they take.
    pub dedup_chunks: u64,
    pub dedup_unique_bytes: u64,
    /// Bytes deduplicated records would take without deduplication, less what they take.
    pub dedup_saved_bytes: u64,
    /// Bytes referred to / bytes stored (1 when nothing repeats).
    pub dedup_ratio: f64,
    /// Every element (`vsa vtl show`).
    pub elements: Vec<ElementView>,
    pub drive_status: Vec<DriveView>,
}

/// A cartridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TapeView {
    pub barcode: String,
    pub generation: String,
    /// `data`, `worm` or `cleaning`.
    pub kind: String,
    pub capacity: u64,
    pub write_protected: bool,
    /// Where it is: `slot 3`, `drive 1`, `mail 1`, `transport`, or `shelf` (exported).
    pub location: String,
    pub address: Option<u16>,
    /// Logical objects (blocks and filemarks) up to the end of data.
    pub objects: u64,
    pub filemarks: u64,
    /// Bytes written by initiators, and stored for them (after compression).
    pub logical_bytes: u64,
    pub stored_bytes: u64,
    /// Bytes of the cartridge used (records and their headers).
    pub used: u64,
    /// Bytes of its records' chunks the library held already when they were written:
    /// the space deduplication saved.
    pub dedup_saved: u64,
}
