//! `vsa vhost ...`: pool volumes served to VMMs over vhost-user-blk sockets.

use super::api::*;
use super::types::*;
use crate::core::output::{bytes, fields, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use clap::{FromArgMatches, Subcommand};

/// vhost verbs.
#[derive(Debug, Subcommand)]
pub enum VhostCmd {
    /// Serve a volume on a vhost-user-blk socket, e.g. `vsa vhost export db --socket
    /// /run/vsa/db.sock`; then `qemu ... -chardev socket,id=d,path=/run/vsa/db.sock
    /// -device vhost-user-blk-pci,chardev=d` (guest memory must be shared: `-object
    /// memory-backend-memfd,id=mem,size=1G,share=on -machine memory-backend=mem`).
    Export {
        /// The volume.
        volume: String,
        /// The Unix socket to listen on (a relative path is taken from here).
        #[arg(long)]
        socket: std::path::PathBuf,
        /// Guests may read but not write.
        #[arg(long)]
        read_only: bool,
        /// Request queues to offer, 1 to 16 (default 4).
        #[arg(long)]
        queues: Option<u16>,
    },
    /// List exports.
    List,
    /// Show an export.
    Show {
        /// The volume.
        volume: String,
    },
    /// Stop serving a volume (a connected VMM loses the disk; the volume stays).
    Unexport {
        /// The volume.
        volume: String,
    },
}

/// The `vhost` noun.
pub fn command() -> clap::Command {
    VhostCmd::augment_subcommands(clap::Command::new("vhost"))
        .about(
            "vhost-user-blk: pool volumes as disks of VMMs on this host (qemu, Cloud Hypervisor)",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn show(v: &ExportView) {
    fields(&[
        ("volume", v.volume.clone()),
        ("socket", v.socket.clone()),
        ("size", bytes(v.size)),
        ("access", access(v).into()),
        ("queues", v.queues.to_string()),
        ("state", v.state.clone()),
        ("connections", v.connections.to_string()),
        ("problem", or_dash(v.problem.as_ref())),
    ]);
}

fn access(v: &ExportView) -> &'static str {
    if v.read_only {
        "read-only"
    } else {
        "read-write"
    }
}

fn list(v: &[ExportView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|x| {
            vec![
                x.volume.clone(),
                x.socket.clone(),
                access(x).into(),
                x.state.clone(),
                or_dash(x.problem.as_ref()),
            ]
        })
        .collect();
    table(&["VOLUME", "SOCKET", "ACCESS", "STATE", "PROBLEM"], &rows);
}

/// Runs a vhost verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match VhostCmd::from_arg_matches(m)? {
        VhostCmd::Export {
            volume,
            socket,
            read_only,
            queues,
        } => {
            let socket = std::path::absolute(&socket)?;
            let body = ExportBody {
                volume,
                socket: socket.to_string_lossy().into_owned(),
                read_only,
                queues,
            };
            let v = c.call::<CreateExport>(&NoParams {}, &body)?;
            ctx.print(&v, |v| println!("exported {} on {}", v.volume, v.socket));
        }
        VhostCmd::List => ctx.print(&c.call::<ListExports>(&NoParams {}, &Empty {})?, |v| {
            list(v)
        }),
        VhostCmd::Show { volume } => ctx.print(
            &c.call::<ShowExport>(&ExportPath { volume }, &Empty {})?,
            show,
        ),
        VhostCmd::Unexport { volume } => {
            let v = c.call::<DeleteExport>(&ExportPath { volume }, &Empty {})?;
            ctx.print(&v, |v| println!("unexported {}", v.deleted));
        }
    }
    Ok(())
}
