//! `vsa volume ...`

use super::output::{bytes, fields, json, table, text};
use super::{size_arg, Ctx};
use crate::action::Action;
use clap::Subcommand;
use serde_json::Value;

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

fn kind(v: &Value) -> &'static str {
    if v["thick"].as_bool().unwrap_or(false) {
        "thick"
    } else {
        "thin"
    }
}

fn show(v: &Value) {
    let snaps: Vec<String> = v["snapshots"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    fields(&[
        ("name", text(&v["name"])),
        ("pool", text(&v["pool"])),
        ("size", bytes(&v["size"])),
        ("allocated", bytes(&v["allocated"])),
        ("type", kind(v).into()),
        ("origin", text(&v["origin"])),
        ("uuid", text(&v["uuid"])),
        (
            "snapshots",
            if snaps.is_empty() {
                "-".into()
            } else {
                snaps.join(", ")
            },
        ),
    ]);
}

/// Prints an answer for people.
type Printer = Box<dyn Fn(&Value)>;

/// Runs a volume verb.
pub fn run(ctx: &Ctx, cmd: VolumeCmd) -> anyhow::Result<()> {
    let (action, done): (Action, Printer) = match cmd {
        VolumeCmd::Create {
            name,
            size,
            pool,
            thick,
        } => (
            Action::CreateVolume {
                name,
                size,
                pool,
                thick,
            },
            Box::new(|v: &Value| {
                println!(
                    "created {} volume '{}' of {} in pool '{}'",
                    kind(v),
                    text(&v["name"]),
                    bytes(&v["size"]),
                    text(&v["pool"])
                )
            }),
        ),
        VolumeCmd::List => (
            Action::ListVolumes,
            Box::new(|v: &Value| {
                let rows: Vec<Vec<String>> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| {
                                vec![
                                    text(&v["name"]),
                                    text(&v["pool"]),
                                    bytes(&v["size"]),
                                    bytes(&v["allocated"]),
                                    kind(v).into(),
                                    v["snapshots"]
                                        .as_array()
                                        .map(|s| s.len())
                                        .unwrap_or(0)
                                        .to_string(),
                                    text(&v["origin"]),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
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
            }),
        ),
        VolumeCmd::Show { name } => (Action::ShowVolume { name }, Box::new(show)),
        VolumeCmd::Resize { name, size } => (
            Action::ResizeVolume { name, size },
            Box::new(|v: &Value| {
                println!("volume '{}' is now {}", text(&v["name"]), bytes(&v["size"]))
            }),
        ),
        VolumeCmd::Delete { name } => (
            Action::DeleteVolume { name },
            Box::new(|v: &Value| println!("deleted volume '{}'", text(&v["deleted"]))),
        ),
        VolumeCmd::Snapshot { volume, snapshot } => (
            Action::CreateSnapshot {
                volume,
                name: snapshot,
            },
            Box::new(|v: &Value| {
                println!(
                    "created snapshot {}@{}",
                    text(&v["volume"]),
                    text(&v["name"])
                )
            }),
        ),
        VolumeCmd::Snapshots { volume } => (
            Action::ListSnapshots { volume },
            Box::new(|v: &Value| {
                let rows: Vec<Vec<String>> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|s| {
                                let clones: Vec<String> = s["clones"]
                                    .as_array()
                                    .map(|c| c.iter().map(text).collect())
                                    .unwrap_or_default();
                                vec![
                                    format!("{}@{}", text(&s["volume"]), text(&s["name"])),
                                    bytes(&s["size"]),
                                    bytes(&s["allocated"]),
                                    text(&s["created"]),
                                    if clones.is_empty() {
                                        "-".into()
                                    } else {
                                        clones.join(",")
                                    },
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(
                    &["SNAPSHOT", "SIZE", "ALLOCATED", "CREATED", "CLONES"],
                    &rows,
                );
            }),
        ),
        VolumeCmd::Clone { source, new } => (
            Action::CloneSnapshot {
                volume: source.volume,
                snapshot: source.snapshot,
                new,
            },
            Box::new(|v: &Value| {
                println!(
                    "created volume '{}' as a clone of {}",
                    text(&v["name"]),
                    text(&v["origin"])
                )
            }),
        ),
        VolumeCmd::Rollback { source } => {
            let what = format!("{}@{}", source.volume, source.snapshot);
            (
                Action::Rollback {
                    volume: source.volume,
                    snapshot: source.snapshot,
                },
                Box::new(move |_: &Value| println!("rolled back to {what}")),
            )
        }
        VolumeCmd::DeleteSnapshot { source } => (
            Action::DeleteSnapshot {
                volume: source.volume,
                snapshot: source.snapshot,
            },
            Box::new(|v: &Value| println!("deleted snapshot {}", text(&v["deleted"]))),
        ),
    };
    let v = ctx.call(&action)?;
    if ctx.json {
        json(&v);
    } else {
        done(&v);
    }
    Ok(())
}
