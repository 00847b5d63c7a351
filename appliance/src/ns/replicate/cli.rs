//! `vsa ns replicate`, `vsa ns replications` and `vsa ns replication show|run|remove`.

use crate::core::output::{bytes, fields, table};
use crate::core::{CliCtx, Empty, NoParams};
use crate::ns::api::*;
use crate::ns::types::*;
use clap::Subcommand;

/// Replication verbs.
#[derive(Debug, Subcommand)]
pub enum ReplicationCmd {
    /// A replication and what its last run did.
    Show {
        ns: String,
        path: String,
        /// The replica's URL.
        to: String,
    },
    /// Run it now.
    Run {
        ns: String,
        path: String,
        to: String,
    },
    /// Stop it (the replica stays a target of the link).
    Remove {
        ns: String,
        path: String,
        to: String,
    },
}

fn at(name: String, path: String, target: String) -> TargetPath {
    TargetPath { name, path, target }
}

/// One line for a run.
pub fn run_line(r: &ReplicaRunView) -> String {
    format!(
        "{} files looked at, {} sent ({} of {} blocks, {} written, {} not needed), {} directories \
         made, {} removed, in {} ms",
        r.files_checked,
        r.files_sent,
        r.blocks_sent,
        r.blocks_total,
        bytes(r.bytes_sent),
        bytes(r.bytes_saved),
        r.dirs_made,
        r.removed,
        r.millis
    )
}

fn show(v: &ReplicationView) {
    fields(&[
        ("link", format!("{}/{}", v.namespace, v.link)),
        ("from", v.from.clone()),
        ("to", v.to.clone()),
        ("every", format!("{} s", v.every_secs)),
        ("state", v.state.clone()),
        (
            "referred",
            if v.in_sync {
                "yes"
            } else {
                "no (not in sync yet)"
            }
            .into(),
        ),
        ("runs", v.runs.to_string()),
        ("last run", v.last.as_ref().map_or("-".into(), run_line)),
        (
            "sent so far",
            format!(
                "{} ({} not needed)",
                bytes(v.bytes_sent),
                bytes(v.bytes_saved)
            ),
        ),
        ("error", v.error.clone().unwrap_or_else(|| "-".into())),
    ]);
    for s in v.last.iter().flat_map(|l| &l.skipped) {
        println!("  not replicated (neither file nor directory): {s}");
    }
}

/// `vsa ns replicate ...`.
pub fn start(ctx: &CliCtx, name: String, body: ReplicateBody) -> anyhow::Result<()> {
    let v = ctx
        .client
        .call::<StartReplication>(&NsPath { name }, &body)?;
    ctx.print(&v, |v| {
        println!(
            "replicating {} to {} every {} s; the replica is referred once its first run ends \
             (`vsa ns replication show {} {} {}`)",
            v.from, v.to, v.every_secs, v.namespace, v.link, v.to
        )
    });
    Ok(())
}

/// `vsa ns replications`.
pub fn list_all(ctx: &CliCtx) -> anyhow::Result<()> {
    let v = ctx
        .client
        .call::<ListReplications>(&NoParams {}, &Empty {})?;
    ctx.print(&v, |v| {
        let rows: Vec<Vec<String>> = v
            .iter()
            .map(|r| {
                vec![
                    format!("{}/{}", r.namespace, r.link),
                    r.from.clone(),
                    r.to.clone(),
                    format!("{} s", r.every_secs),
                    r.state.clone(),
                    r.runs.to_string(),
                ]
            })
            .collect();
        table(&["LINK", "FROM", "TO", "EVERY", "STATE", "RUNS"], &rows);
    });
    Ok(())
}

/// `vsa ns replication ...`.
pub fn run(ctx: &CliCtx, cmd: ReplicationCmd) -> anyhow::Result<()> {
    let c = &ctx.client;
    match cmd {
        ReplicationCmd::Show { ns, path, to } => {
            ctx.print(
                &c.call::<ShowReplication>(&at(ns, path, to), &Empty {})?,
                show,
            );
        }
        ReplicationCmd::Run { ns, path, to } => {
            let v = c.call::<RunReplication>(&at(ns, path, to), &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "a run of the replication of {}/{} to {} is on its way",
                    v.namespace, v.link, v.to
                )
            });
        }
        ReplicationCmd::Remove { ns, path, to } => {
            let v = c.call::<RemoveReplication>(&at(ns, path, to), &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "stopped replicating {}; the replica stays a target of the link",
                    v.deleted
                )
            });
        }
    }
    Ok(())
}
