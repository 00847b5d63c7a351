//! `vsa vtl ...`: tape libraries and their cartridges.

use super::api::*;
use super::types::*;
use crate::core::output::{bytes, fields, or_dash, table};
use crate::core::size::SizeArg;
use crate::core::{CliCtx, Empty, NoParams};
use clap::{FromArgMatches, Subcommand};

/// Library verbs.
#[derive(Debug, Subcommand)]
pub enum VtlCmd {
    /// Create a library, e.g. `vsa vtl create lib1 --slots 20 --drives 2`.
    Create {
        /// Its name.
        name: String,
        /// Storage slots.
        #[arg(long)]
        slots: u16,
        /// Tape drives (LUN 1..N of its target; the changer is LUN 0).
        #[arg(long)]
        drives: u16,
        /// Import/export (mail) slots.
        #[arg(long, default_value_t = 4)]
        mailslots: u16,
        /// stk-l700, ibm-3584 or hp-msl-g3.
        #[arg(long, default_value = "stk-l700")]
        library_model: String,
        /// ibm-lto5..ibm-lto9 or hp-lto5..hp-lto9.
        #[arg(long, default_value = "ibm-lto8")]
        drive_model: String,
        /// The iSCSI name of its target (default iqn.2026-12.io.vsa:vtl.NAME).
        #[arg(long)]
        target: Option<String>,
        /// The pool its cartridges go to.
        #[arg(long)]
        pool: Option<String>,
        /// A target per device (TARGET.changer, TARGET.drive1, ..., each at LUN 0).
        #[arg(long)]
        target_per_device: bool,
        #[command(flatten)]
        scratch: ScratchArgs,
    },
    /// Change a library's settings (scratch cartridges, cleaning).
    Set {
        name: String,
        #[command(flatten)]
        scratch: ScratchArgs,
    },
    /// List libraries.
    List,
    /// Show a library: every element, what is loaded where, each drive's position.
    Show { name: String },
    /// Delete a library.
    Delete {
        name: String,
        /// Also when it holds cartridges (what they hold is destroyed).
        #[arg(long)]
        force: bool,
    },
    /// Cartridges.
    #[command(subcommand)]
    Tape(TapeCmd),
}

/// A library's settings: automatic scratch cartridges, cleaning.
#[derive(Debug, clap::Args)]
pub struct ScratchArgs {
    /// Keep this many blank cartridges in the slots, creating new ones as they are used
    /// (0: off).
    #[arg(long)]
    scratch: Option<u16>,
    /// Their labels' first characters (default SCR: SCR001L8, ...).
    #[arg(long)]
    scratch_prefix: Option<String>,
    /// Their capacity, e.g. 2G (default: native).
    #[arg(long)]
    scratch_capacity: Option<String>,
    /// Drives ask for cleaning (TapeAlert CLEAN NOW) after this many mounts (0: never).
    #[arg(long)]
    clean_every: Option<u64>,
    /// Deduplicate new records across the library's cartridges: on (the default) or off.
    #[arg(long, value_parser = on_off)]
    dedup: Option<bool>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("'{s}' is not on or off")),
    }
}

impl ScratchArgs {
    fn body(self) -> ScratchBody {
        ScratchBody {
            scratch: self.scratch,
            scratch_prefix: self.scratch_prefix,
            scratch_capacity: size(self.scratch_capacity),
            clean_every: self.clean_every,
            dedup: self.dedup,
        }
    }
}

/// Cartridge verbs.
#[derive(Debug, Subcommand)]
pub enum TapeCmd {
    /// Create cartridges in free slots: barcodes or ranges (VSA000L8..VSA099L8).
    Create {
        library: String,
        #[arg(required = true)]
        barcodes: Vec<String>,
        /// LTO5..LTO9 (must agree with the labels' media identifiers).
        #[arg(long)]
        media: Option<String>,
        /// Write-once cartridges (labels ending LV..LZ).
        #[arg(long)]
        worm: bool,
        /// A capacity below the native one, e.g. 2G.
        #[arg(long)]
        capacity: Option<String>,
    },
    /// List a library's cartridges.
    List { library: String },
    /// Show a cartridge.
    Show { library: String, barcode: String },
    /// Erase a cartridge (its space goes back to the pool).
    Erase { library: String, barcode: String },
    /// Delete a cartridge and what it holds.
    Delete { library: String, barcode: String },
    /// Put a cartridge into a mail slot (a new one, or one exported before).
    Import {
        library: String,
        barcode: String,
        #[arg(long)]
        media: Option<String>,
        #[arg(long)]
        worm: bool,
        #[arg(long)]
        capacity: Option<String>,
    },
    /// Take a cartridge out of the library through a mail slot (it stays known, on the
    /// shelf, with its data).
    Export { library: String, barcode: String },
    /// Move a cartridge with the robot: FROM and TO are slot:N, drive:N, mail:N or an
    /// element address.
    Move {
        library: String,
        from: String,
        to: String,
    },
}

/// The `vtl` noun.
pub fn command() -> clap::Command {
    VtlCmd::augment_subcommands(clap::Command::new("vtl"))
        .about("Virtual tape libraries: medium changers and LTO drives over iSCSI")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn lib(name: String) -> LibraryPath {
    LibraryPath { name }
}

fn tape_path(name: String, barcode: String) -> TapePath {
    TapePath { name, barcode }
}

fn show_library(v: &LibraryView) {
    fields(&[
        ("name", v.name.clone()),
        (
            "devices",
            v.devices
                .iter()
                .map(|(t, l)| format!("{t} LUN {l}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "models",
            format!("{} with {} drives", v.library_model, v.drive_model),
        ),
        (
            "elements",
            format!(
                "{} slots ({} free), {} drives, {} mail slots",
                v.slots, v.free_slots, v.drives, v.mailslots
            ),
        ),
        (
            "cartridges",
            if v.scratch_min > 0 {
                format!("{} (at least {} blank kept)", v.cartridges, v.scratch_min)
            } else {
                v.cartridges.to_string()
            },
        ),
        (
            "store",
            format!(
                "volume {}, {} used",
                v.volume,
                bytes(v.segments_used * super::service::SEGMENT_BYTES)
            ),
        ),
        (
            "dedup",
            format!(
                "{}, {:.2}x: {} saved, {} distinct chunks in {}",
                if v.dedup { "on" } else { "off" },
                v.dedup_ratio,
                bytes(v.dedup_saved_bytes),
                v.dedup_chunks,
                bytes(v.dedup_unique_bytes)
            ),
        ),
    ]);
    if !v.drive_status.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = v
            .drive_status
            .iter()
            .map(|d| {
                let clean = if d.cleaning_due {
                    " (needs cleaning)"
                } else {
                    ""
                };
                let cart = match (&d.barcode, d.loaded) {
                    (Some(b), true) => b.clone(),
                    (Some(b), false) => format!("{b} (unloaded)"),
                    (None, _) => "-".into(),
                };
                vec![
                    format!("drive {}", d.number),
                    d.serial.clone(),
                    format!("{cart}{clean}"),
                    format!("file {} object {}", d.file, d.position),
                    if d.block_len == 0 {
                        "variable".into()
                    } else {
                        d.block_len.to_string()
                    },
                    format!("{} / {}", bytes(d.bytes_written), bytes(d.bytes_read)),
                ]
            })
            .collect();
        table(
            &[
                "DRIVE",
                "SERIAL",
                "CARTRIDGE",
                "POSITION",
                "BLOCK",
                "WRITTEN / READ",
            ],
            &rows,
        );
    }
    if !v.elements.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = v
            .elements
            .iter()
            .map(|e| {
                vec![
                    e.address.to_string(),
                    e.name.clone(),
                    or_dash(e.barcode.as_ref()),
                ]
            })
            .collect();
        table(&["ADDRESS", "ELEMENT", "CARTRIDGE"], &rows);
    }
}

fn list_libraries(v: &[LibraryView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.target.clone(),
                format!("{}/{}", l.cartridges, l.slots),
                l.drives.to_string(),
                bytes(l.segments_used * super::service::SEGMENT_BYTES),
            ]
        })
        .collect();
    table(
        &["LIBRARY", "TARGET", "CARTRIDGES/SLOTS", "DRIVES", "STORE"],
        &rows,
    );
}

fn list_tapes(v: &[TapeView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|t| {
            let ratio = if t.stored_bytes == 0 {
                "-".into()
            } else {
                format!("{:.2}", t.logical_bytes as f64 / t.stored_bytes as f64)
            };
            vec![
                t.barcode.clone(),
                format!("{} {}", t.generation, t.kind),
                t.location.clone(),
                bytes(t.logical_bytes),
                ratio,
                bytes(t.dedup_saved),
                t.filemarks.to_string(),
                bytes(t.capacity),
            ]
        })
        .collect();
    table(
        &[
            "BARCODE",
            "MEDIA",
            "WHERE",
            "DATA",
            "RATIO",
            "DEDUP SAVED",
            "FILEMARKS",
            "CAPACITY",
        ],
        &rows,
    );
}

fn size(s: Option<String>) -> Option<SizeArg> {
    s.map(|s| SizeArg(s.into()))
}

/// Runs a `vtl` verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match VtlCmd::from_arg_matches(m)? {
        VtlCmd::Create {
            name,
            slots,
            drives,
            mailslots,
            library_model,
            drive_model,
            target,
            pool,
            target_per_device,
            scratch,
        } => {
            let s = scratch.body();
            let body = CreateLibraryBody {
                target_per_device,
                scratch: s.scratch,
                scratch_prefix: s.scratch_prefix,
                scratch_capacity: s.scratch_capacity,
                clean_every: s.clean_every,
                dedup: s.dedup,
                name,
                slots,
                drives,
                mailslots: Some(mailslots),
                library_model: Some(library_model),
                drive_model: Some(drive_model),
                target,
                pool,
            };
            ctx.print(&c.call::<CreateLibrary>(&NoParams {}, &body)?, show_library);
        }
        VtlCmd::List => ctx.print(&c.call::<ListLibraries>(&NoParams {}, &Empty {})?, |v| {
            list_libraries(v)
        }),
        VtlCmd::Show { name } => {
            ctx.print(&c.call::<ShowLibrary>(&lib(name), &Empty {})?, show_library)
        }
        VtlCmd::Delete { name, force } => {
            let v = c.call::<DeleteLibrary>(&lib(name), &DeleteLibraryBody { force })?;
            ctx.print(&v, |v| println!("deleted tape library {}", v.deleted));
        }
        VtlCmd::Set { name, scratch } => {
            let v = c.call::<SetLibrary>(&lib(name), &scratch.body())?;
            ctx.print(&v, show_library);
        }
        VtlCmd::Tape(t) => run_tape(ctx, t)?,
    }
    Ok(())
}

fn run_tape(ctx: &CliCtx, t: TapeCmd) -> anyhow::Result<()> {
    let c = &ctx.client;
    match t {
        TapeCmd::Create {
            library,
            barcodes,
            media,
            worm,
            capacity,
        } => {
            let body = CreateTapesBody {
                barcodes,
                media,
                worm,
                capacity: size(capacity),
            };
            ctx.print(&c.call::<CreateTapes>(&lib(library), &body)?, |v| {
                list_tapes(v)
            });
        }
        TapeCmd::List { library } => ctx
            .print(&c.call::<ListTapes>(&lib(library), &Empty {})?, |v| {
                list_tapes(v)
            }),
        TapeCmd::Show { library, barcode } => {
            let v = c.call::<ShowTape>(&tape_path(library, barcode), &Empty {})?;
            ctx.print(&v, |t| list_tapes(std::slice::from_ref(t)));
        }
        TapeCmd::Erase { library, barcode } => {
            let v = c.call::<EraseTape>(&tape_path(library, barcode), &Empty {})?;
            ctx.print(&v, |t| println!("erased {}", t.barcode));
        }
        TapeCmd::Delete { library, barcode } => {
            let v = c.call::<DeleteTape>(&tape_path(library, barcode), &Empty {})?;
            ctx.print(&v, |v| println!("deleted cartridge {}", v.deleted));
        }
        TapeCmd::Import {
            library,
            barcode,
            media,
            worm,
            capacity,
        } => {
            let body = ImportBody {
                media,
                worm,
                capacity: size(capacity),
            };
            let v = c.call::<ImportTape>(&tape_path(library, barcode), &body)?;
            ctx.print(&v, |t| println!("{} is in {}", t.barcode, t.location));
        }
        TapeCmd::Export { library, barcode } => {
            let v = c.call::<ExportTape>(&tape_path(library, barcode), &Empty {})?;
            ctx.print(&v, |t| {
                println!(
                    "{} left the library through a mail slot and is on the shelf (`vsa vtl \
                     tape import` brings it back)",
                    t.barcode
                )
            });
        }
        TapeCmd::Move { library, from, to } => {
            let v = c.call::<MoveTape>(&lib(library), &MoveBody { from, to })?;
            ctx.print(&v, show_library);
        }
    }
    Ok(())
}
