//! `vsa ns migrate`, `vsa ns migrations` and `vsa ns migration show|confirm|cancel`:
//! starting a migration and following its progress (a bar on a terminal, a line per pass
//! and per tenth otherwise), listing them, ending them.

use crate::core::output::{bytes, fields, table};
use crate::core::{CliCtx, Empty, NoParams};
use crate::ns::api::*;
use crate::ns::types::*;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Migration verbs.
#[derive(Debug, Subcommand)]
pub enum MigrationCmd {
    /// A migration's progress and report.
    Show { ns: String, path: String },
    /// End a switched migration: the old target leaves the link.
    Confirm { ns: String, path: String },
    /// Stop a migration; a switched one is switched back to the old target.
    Cancel { ns: String, path: String },
}

fn node(name: String, path: String) -> NodePath {
    NodePath { name, path }
}

fn progress(v: &MigrationView) -> String {
    let eta = v.eta_secs.map_or(String::new(), |s| format!(", eta {s} s"));
    format!(
        "{} pass {}: {}/{} files, {}/{} at {}/s{eta}",
        v.state,
        v.pass,
        v.files_done,
        v.files_total,
        bytes(v.bytes_done),
        bytes(v.bytes_total),
        bytes(v.rate_bytes_per_sec)
    )
}

fn show(v: &MigrationView) {
    fields(&[
        ("link", format!("{}/{}", v.namespace, v.link)),
        ("from", v.from.clone()),
        ("to", v.to.clone()),
        ("state", v.state.clone()),
        ("progress", progress(v)),
        ("error", v.error.clone().unwrap_or_else(|| "-".into())),
    ]);
    for line in &v.report {
        println!("  {line}");
    }
    for s in &v.skipped {
        println!("  not migrated (neither file nor directory): {s}");
    }
}

fn list(v: &[MigrationView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|m| {
            vec![
                format!("{}/{}", m.namespace, m.link),
                m.from.clone(),
                m.to.clone(),
                m.state.clone(),
                format!(
                    "pass {}, {}/{}",
                    m.pass,
                    bytes(m.bytes_done),
                    bytes(m.bytes_total)
                ),
            ]
        })
        .collect();
    table(&["LINK", "FROM", "TO", "STATE", "PROGRESS"], &rows);
}

/// `vsa ns migrate NS PATH --to TARGET [--from TARGET] [--no-wait]`.
pub fn start(
    ctx: &CliCtx,
    name: String,
    path: String,
    body: MigrateBody,
    wait: bool,
) -> anyhow::Result<()> {
    let v = ctx
        .client
        .call::<StartMigration>(&NsPath { name: name.clone() }, &body)?;
    if !wait {
        ctx.print(&v, |v| {
            println!(
                "migration of {}/{} to {} started; `vsa ns migration show {} {}` follows it",
                v.namespace, v.link, v.to, v.namespace, v.link
            )
        });
        return Ok(());
    }
    let end = follow(ctx, node(name, path))?;
    if end.state == "failed" || end.state == "cancelled" {
        anyhow::bail!(
            "the migration of {}/{} {}: {}",
            end.namespace,
            end.link,
            end.state,
            end.error.as_deref().unwrap_or("no reason given")
        );
    }
    ctx.print(&end, |v| {
        show(v);
        println!(
            "clients are referred to {} now; `vsa ns migration confirm {} {}` removes {} from \
             the link, `vsa ns migration cancel` switches back",
            v.to, v.namespace, v.link, v.from
        );
    });
    Ok(())
}

/// Polls the migration until it switches or ends.
fn follow(ctx: &CliCtx, at: NodePath) -> anyhow::Result<MigrationView> {
    let tty = std::io::stdout().is_terminal() && !ctx.json;
    let bar = tty.then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    });
    let mut last = (u32::MAX, u64::MAX);
    loop {
        let v = ctx.client.call::<ShowMigration>(&at, &Empty {})?;
        if let Some(b) = &bar {
            b.set_length(v.bytes_total);
            b.set_position(v.bytes_done);
            b.set_message(format!("{} pass {}", v.state, v.pass));
        } else if !ctx.json {
            let tenth = v
                .bytes_done
                .saturating_mul(10)
                .checked_div(v.bytes_total)
                .unwrap_or(10);
            if last != (v.pass, tenth) {
                println!("{}", progress(&v));
                last = (v.pass, tenth);
            }
        }
        let busy = matches!(
            v.state.as_str(),
            "starting" | "copying" | "syncing" | "catching-up" | "cancelling"
        );
        if !busy {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return Ok(v);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `vsa ns migrations`.
pub fn list_all(ctx: &CliCtx) -> anyhow::Result<()> {
    let v = ctx.client.call::<ListMigrations>(&NoParams {}, &Empty {})?;
    ctx.print(&v, |v| list(v));
    Ok(())
}

/// `vsa ns migration ...`.
pub fn run(ctx: &CliCtx, cmd: MigrationCmd) -> anyhow::Result<()> {
    let c = &ctx.client;
    match cmd {
        MigrationCmd::Show { ns, path } => {
            ctx.print(&c.call::<ShowMigration>(&node(ns, path), &Empty {})?, show);
        }
        MigrationCmd::Confirm { ns, path } => {
            let v = c.call::<ConfirmMigration>(&node(ns, path), &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "confirmed: {}/{} is served from {}; {} left the link",
                    v.namespace, v.link, v.to, v.from
                )
            });
        }
        MigrationCmd::Cancel { ns, path } => {
            let v = c.call::<CancelMigration>(&node(ns, path), &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "{} the migration of {}/{}: {} serves it; what was copied to {} stays there",
                    v.state, v.namespace, v.link, v.from, v.to
                )
            });
        }
    }
    Ok(())
}
