//! `vsa volume ...`: create, list, show, resize, delete; snapshots, clones, rollback;
//! images in and out (image.rs).

use crate::core::cli::size_arg;
use crate::core::output::{bytes, fields, list, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use crate::pool::api::*;
use crate::pool::types::*;
use clap::{FromArgMatches, Subcommand};

/// `VOLUME@SNAPSHOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapRef {
    /// The volume.
    pub volume: String,
    /// The snapshot.
    pub snapshot: String,
}

fn snap_ref(s: &str) -> Result<SnapRef, String> {
    match s.split_once('@') {
        Some((v, n)) if !v.is_empty() && !n.is_empty() => Ok(SnapRef {
            volume: v.to_owned(),
            snapshot: n.to_owned(),
        }),
        _ => Err(format!(
            "'{s}' does not name a snapshot; write VOLUME@SNAPSHOT, e.g. db@monday"
        )),
    }
}

/// Volume verbs.
#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume (thin-provisioned unless --thick).
    Create {
        /// The volume's name (unique across pools).
        name: String,
        /// Its size, e.g. 10G.
        #[arg(long, value_parser = size_arg)]
        size: u64,
        /// The pool (default: the only pool, or `default`).
        #[arg(long)]
        pool: Option<String>,
        /// Reserve all its space now.
        #[arg(long)]
        thick: bool,
    },
    /// Create a volume from a disk image (raw, qcow2, vmdk, vhd, vhdx), showing progress,
    /// e.g. `vsa volume import debian.qcow2 web1`.
    Import {
        /// The image file.
        file: std::path::PathBuf,
        /// The new volume's name.
        name: String,
        /// The image's format (default: what qemu-img finds).
        #[arg(long)]
        format: Option<String>,
        /// The pool (default: the only pool, or `default`).
        #[arg(long)]
        pool: Option<String>,
        /// Start it and return (`vsa volume transfers` shows progress).
        #[arg(long)]
        no_wait: bool,
    },
    /// Write a volume into a new disk image file, showing progress, e.g. `vsa volume
    /// export web1 web1.vmdk --format vmdk`.
    Export {
        /// The volume (not in use: export a clone of a snapshot of a volume in use).
        name: String,
        /// The image file to create.
        file: std::path::PathBuf,
        /// Its format: raw, qcow2, vmdk, vhd or vhdx.
        #[arg(long, default_value = "qcow2")]
        format: String,
        /// Start it and return (`vsa volume transfers` shows progress).
        #[arg(long)]
        no_wait: bool,
    },
    /// Image imports and exports since the daemon started (or the last of one volume).
    Transfers {
        /// Only this volume's.
        volume: Option<String>,
    },
    /// List volumes.
    List,
    /// Show a volume.
    Show {
        /// The volume.
        name: String,
    },
    /// Grow or shrink a volume.
    Resize {
        /// The volume.
        name: String,
        /// The new size, e.g. 20G.
        #[arg(value_parser = size_arg)]
        size: u64,
        /// Shrink it even while it is served (an iSCSI LUN): its users get errors past
        /// the new end.
        #[arg(long)]
        force: bool,
    },
    /// Delete a volume and its snapshots.
    Delete {
        /// The volume.
        name: String,
    },
    /// Take a snapshot.
    Snapshot {
        /// The volume.
        volume: String,
        /// The snapshot's name.
        snapshot: String,
    },
    /// List a volume's snapshots.
    Snapshots {
        /// The volume.
        volume: String,
    },
    /// Create a new volume from a snapshot (a linked clone).
    Clone {
        /// The snapshot.
        #[arg(value_name = "VOLUME@SNAPSHOT", value_parser = snap_ref)]
        source: SnapRef,
        /// The new volume's name.
        new: String,
    },
    /// Return a volume to a snapshot (later writes are lost).
    Rollback {
        /// The snapshot.
        #[arg(value_name = "VOLUME@SNAPSHOT", value_parser = snap_ref)]
        source: SnapRef,
    },
    /// Delete a snapshot.
    DeleteSnapshot {
        /// The snapshot.
        #[arg(value_name = "VOLUME@SNAPSHOT", value_parser = snap_ref)]
        source: SnapRef,
    },
}

/// The `volume` noun.
pub fn command() -> clap::Command {
    VolumeCmd::augment_subcommands(clap::Command::new("volume"))
        .about("Volumes: thin or thick block devices in a pool, with snapshots and clones")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn show(v: &VolumeView) {
    fields(&[
        ("name", v.name.clone()),
        ("pool", v.pool.clone()),
        ("size", bytes(v.size)),
        ("allocated", bytes(v.allocated)),
        ("type", v.kind().into()),
        ("origin", or_dash(v.origin.as_ref())),
        ("uuid", v.uuid.clone()),
        ("snapshots", list(&v.snapshots, ", ")),
    ]);
}

fn list_volumes(vols: &[VolumeView]) {
    let rows: Vec<Vec<String>> = vols
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.pool.clone(),
                bytes(v.size),
                bytes(v.allocated),
                v.kind().into(),
                v.snapshots.len().to_string(),
                or_dash(v.origin.as_ref()),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "POOL",
            "SIZE",
            "ALLOCATED",
            "TYPE",
            "SNAPSHOTS",
            "ORIGIN",
        ],
        &rows,
    );
}

fn list_snapshots(snaps: &[SnapshotView]) {
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|s| {
            vec![
                format!("{}@{}", s.volume, s.name),
                bytes(s.size),
                bytes(s.allocated),
                s.created.to_string(),
                list(&s.clones, ","),
            ]
        })
        .collect();
    table(
        &["SNAPSHOT", "SIZE", "ALLOCATED", "CREATED", "CLONES"],
        &rows,
    );
}

fn vol(name: String) -> VolumePath {
    VolumePath { name }
}

fn snap(r: SnapRef) -> SnapPath {
    SnapPath {
        name: r.volume,
        snap: r.snapshot,
    }
}

/// Runs a volume verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match VolumeCmd::from_arg_matches(m)? {
        VolumeCmd::Create {
            name,
            size,
            pool,
            thick,
        } => {
            let body = CreateVolumeBody {
                name,
                size: size.into(),
                pool,
                thick,
            };
            let v = c.call::<CreateVolume>(&NoParams {}, &body)?;
            ctx.print(&v, |v| {
                println!(
                    "created {} volume '{}' of {} in pool '{}'",
                    v.kind(),
                    v.name,
                    bytes(v.size),
                    v.pool
                )
            });
        }
        VolumeCmd::Import {
            file,
            name,
            format,
            pool,
            no_wait,
        } => super::image::import(ctx, &file, name, format, pool, !no_wait)?,
        VolumeCmd::Export {
            name,
            file,
            format,
            no_wait,
        } => super::image::export(ctx, name, &file, format, !no_wait)?,
        VolumeCmd::Transfers { volume } => super::image::list(ctx, volume)?,
        VolumeCmd::List => ctx.print(&c.call::<ListVolumes>(&NoParams {}, &Empty {})?, |v| {
            list_volumes(v)
        }),
        VolumeCmd::Show { name } => ctx.print(&c.call::<ShowVolume>(&vol(name), &Empty {})?, show),
        VolumeCmd::Resize { name, size, force } => {
            let body = ResizeBody {
                size: size.into(),
                force,
            };
            let v = c.call::<ResizeVolume>(&vol(name), &body)?;
            ctx.print(&v, |v| {
                println!("volume '{}' is now {}", v.name, bytes(v.size))
            });
        }
        VolumeCmd::Delete { name } => {
            let v = c.call::<DeleteVolume>(&vol(name), &Empty {})?;
            ctx.print(&v, |v| println!("deleted volume '{}'", v.deleted));
        }
        VolumeCmd::Snapshot { volume, snapshot } => {
            let v = c.call::<CreateSnapshot>(&vol(volume), &NameBody { name: snapshot })?;
            ctx.print(&v, |v| println!("created snapshot {}@{}", v.volume, v.name));
        }
        VolumeCmd::Snapshots { volume } => ctx
            .print(&c.call::<ListSnapshots>(&vol(volume), &Empty {})?, |v| {
                list_snapshots(v)
            }),
        VolumeCmd::Clone { source, new } => {
            let v = c.call::<CloneSnapshot>(&snap(source), &NameBody { name: new })?;
            ctx.print(&v, |v| {
                println!(
                    "created volume '{}' as a clone of {}",
                    v.name,
                    or_dash(v.origin.as_ref())
                )
            });
        }
        VolumeCmd::Rollback { source } => {
            let what = format!("{}@{}", source.volume, source.snapshot);
            let v = c.call::<Rollback>(&snap(source), &Empty {})?;
            ctx.print(&v, |_| println!("rolled back to {what}"));
        }
        VolumeCmd::DeleteSnapshot { source } => {
            let v = c.call::<DeleteSnapshot>(&snap(source), &Empty {})?;
            ctx.print(&v, |v| println!("deleted snapshot {}", v.deleted));
        }
    }
    Ok(())
}
