//! `vsa pool ...`

use super::output::{bytes, fields, table, text};
use super::{size_arg, Ctx};
use crate::action::{Action, CreatePool};
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Pool verbs.
#[derive(Debug, Subcommand)]
pub enum PoolCmd {
    /// Create a pool over devices or files.
    Create {
        /// The pool's name.
        name: String,
        /// RAID level.
        #[arg(long, value_parser = ["0", "1", "5", "6", "10"])]
        raid: String,
        /// Member devices or files, in order.
        #[arg(required = true, value_name = "DEV")]
        devices: Vec<PathBuf>,
        /// RAID chunk (stripe unit), e.g. 64K.
        #[arg(long, value_parser = size_arg)]
        chunk: Option<u64>,
        /// Thin-provisioning allocation chunk, e.g. 1M.
        #[arg(long, value_parser = size_arg)]
        alloc_chunk: Option<u64>,
        /// A hot spare (repeat for more).
        #[arg(long, value_name = "DEV")]
        spare: Vec<PathBuf>,
        /// Create missing member files as sparse files of this size.
        #[arg(long, value_parser = size_arg)]
        create_size: Option<u64>,
    },
    /// List pools.
    List,
    /// Show a pool: members, space, rebuild and scrub progress.
    Show {
        /// The pool.
        name: String,
    },
    /// Check (and repair) a pool's redundancy in the background.
    Scrub {
        /// The pool.
        name: String,
        /// Wait for the end, showing progress.
        #[arg(long)]
        wait: bool,
        /// Only report mismatches, do not repair them.
        #[arg(long)]
        no_repair: bool,
    },
    /// Replace a member (path or index) with a new device and rebuild onto it.
    Replace {
        /// The pool.
        name: String,
        /// The member to replace: its path or index.
        old: String,
        /// The new device or file.
        new: PathBuf,
        /// Create the new file as a sparse file of this size if it is missing.
        #[arg(long, value_parser = size_arg)]
        create_size: Option<u64>,
        /// Wait for the rebuild, showing progress.
        #[arg(long)]
        wait: bool,
    },
    /// Mark a member (path or index) failed; a hot spare takes its place.
    Fail {
        /// The pool.
        name: String,
        /// The member: its path or index.
        member: String,
        /// Wait for a spare's rebuild, showing progress.
        #[arg(long)]
        wait: bool,
    },
    /// Add a hot spare.
    Spare {
        /// The pool.
        name: String,
        /// The device or file.
        dev: PathBuf,
        /// Create the file as a sparse file of this size if it is missing.
        #[arg(long, value_parser = size_arg)]
        create_size: Option<u64>,
        /// Wait for a rebuild onto it, showing progress.
        #[arg(long)]
        wait: bool,
    },
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve the path {}", p.display()))
}

/// Prints pools (from `GET /pools` or the status summary) as a table.
pub fn pool_table(pools: &[Value], summary: bool) {
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            let (raid, space) = if summary {
                (text(&p["raid"]), p.clone())
            } else {
                (text(&p["level"]), p["space"].clone())
            };
            let volumes = if summary {
                text(&p["volumes"])
            } else {
                p["volumes"]
                    .as_array()
                    .map(|a| a.len())
                    .unwrap_or(0)
                    .to_string()
            };
            vec![
                text(&p["name"]),
                raid,
                text(&p["health"]),
                bytes(&space["capacity"]),
                bytes(&space["allocated"]),
                bytes(&space["free"]),
                bytes(&space["provisioned"]),
                volumes,
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "RAID",
            "HEALTH",
            "CAPACITY",
            "ALLOCATED",
            "FREE",
            "PROVISIONED",
            "VOLUMES",
        ],
        &rows,
    );
}

fn progress_line(task: &str, p: &Value) -> String {
    let done = p["done"].as_u64().unwrap_or(0);
    let total = p["total"].as_u64().unwrap_or(0);
    let pct = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let state = if p["finished"].as_bool().unwrap_or(false) {
        "finished"
    } else {
        "running"
    };
    let mut s = format!(
        "{task} {state}: {pct:.0}% ({} of {}",
        crate::size::human(done),
        crate::size::human(total)
    );
    if let Some(rate) = p["rate"].as_f64().filter(|r| *r > 0.0) {
        s.push_str(&format!(", {}/s", crate::size::human(rate as u64)));
    }
    if let Some(eta) = p["eta_secs"].as_f64().filter(|_| state == "running") {
        s.push_str(&format!(", {eta:.0} s left"));
    }
    s.push(')');
    s
}

fn show(p: &Value) {
    let space = &p["space"];
    fields(&[
        ("name", text(&p["name"])),
        ("raid", text(&p["level"])),
        ("health", text(&p["health"])),
        ("capacity", bytes(&space["capacity"])),
        ("allocated", bytes(&space["allocated"])),
        ("free", bytes(&space["free"])),
        ("provisioned", bytes(&space["provisioned"])),
        ("chunk size", bytes(&space["chunk_size"])),
        ("raid chunk", bytes(&p["raid_chunk"])),
        (
            "volumes",
            p["volumes"]
                .as_array()
                .map(|a| a.len())
                .unwrap_or(0)
                .to_string(),
        ),
    ]);
    println!();
    let members: Vec<Vec<String>> = p["raid"]["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let mut state = text(&m["state"]);
                    if let Some(r) = m["rebuilt"].as_u64() {
                        state.push_str(&format!(" ({} done)", crate::size::human(r)));
                    }
                    vec![text(&m["index"]), text(&m["name"]), state]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["INDEX", "MEMBER", "STATE"], &members);
    if let Some(spares) = p["raid"]["spares"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<String> = spares.iter().map(text).collect();
        println!("spares: {}", names.join(", "));
    }
    for task in ["rebuild", "scrub"] {
        if p[task].is_object() {
            println!("{}", progress_line(task, &p[task]));
        }
    }
    if p["last_scrub"].is_object() {
        println!("last scrub: {}", scrub_summary(&p["last_scrub"]));
    }
    println!("read cache: {}", cache_summary(&p["read_cache"]));
}

fn cache_summary(c: &Value) -> String {
    if c["capacity"].as_u64().unwrap_or(0) == 0 {
        return "off".into();
    }
    let (hits, misses) = (
        c["hits"].as_u64().unwrap_or(0),
        c["misses"].as_u64().unwrap_or(0),
    );
    let mut s = format!(
        "{} of {} in use",
        bytes(&c["bytes_cached"]),
        bytes(&c["capacity"])
    );
    if hits + misses > 0 {
        let pct = hits as f64 * 100.0 / (hits + misses) as f64;
        s.push_str(&format!(", {pct:.1}% of pages read were hits"));
    }
    s
}

fn scrub_summary(r: &Value) -> String {
    format!(
        "{} checked, {} mismatches, {} repaired, {} repaired unverified, {} unrecoverable, {} read errors",
        bytes(&r["bytes_checked"]),
        text(&r["mismatches"]),
        text(&r["repaired"]),
        text(&r["repaired_unverified"]),
        text(&r["unrecoverable"]),
        text(&r["read_errors"])
    )
}

/// Polls the pool until `task` (rebuild or scrub) ends; shows a bar on a terminal and
/// plain lines otherwise. Returns the pool's final state.
fn wait_for(ctx: &Ctx, pool: &str, task: &str) -> anyhow::Result<Value> {
    let tty = std::io::stdout().is_terminal() && !ctx.json;
    let bar = tty.then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_message(task.to_owned());
        b
    });
    let mut last_decile = None;
    loop {
        let p = ctx.call(&Action::ShowPool {
            name: pool.to_owned(),
        })?;
        let prog = &p[task];
        let finished = prog["finished"].as_bool().unwrap_or(true);
        if prog.is_object() {
            let (done, total) = (
                prog["done"].as_u64().unwrap_or(0),
                prog["total"].as_u64().unwrap_or(0),
            );
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            } else if !ctx.json {
                let decile = done.saturating_mul(10).checked_div(total).unwrap_or(10);
                if last_decile != Some(decile) || finished {
                    println!("{}", progress_line(task, prog));
                    last_decile = Some(decile);
                }
            }
        }
        let still = task == "rebuild" && p["health"] == "rebuilding";
        if finished && !still {
            if let Some(b) = &bar {
                b.finish_with_message(format!("{task} finished"));
            }
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn after_change(ctx: &Ctx, name: &str, v: Value, wait: bool, what: &str) -> anyhow::Result<()> {
    let v = if wait {
        wait_for(ctx, name, "rebuild")?
    } else {
        v
    };
    if ctx.json {
        super::output::json(&v);
    } else {
        println!("{what}; pool '{name}' is {}", text(&v["health"]));
        if !wait && v["rebuild"].is_object() && v["health"] == "rebuilding" {
            println!("{}", progress_line("rebuild", &v["rebuild"]));
            println!("follow it with `vsa pool show {name}`");
        }
    }
    Ok(())
}

/// Runs a pool verb.
pub fn run(ctx: &Ctx, cmd: PoolCmd) -> anyhow::Result<()> {
    match cmd {
        PoolCmd::Create {
            name,
            raid,
            devices,
            chunk,
            alloc_chunk,
            spare,
            create_size,
        } => {
            let action = Action::CreatePool(CreatePool {
                name,
                raid,
                members: devices
                    .iter()
                    .map(|p| absolute(p))
                    .collect::<Result<_, _>>()?,
                spares: spare
                    .iter()
                    .map(|p| absolute(p))
                    .collect::<Result<_, _>>()?,
                raid_chunk: chunk,
                chunk_size: alloc_chunk,
                create_size,
            });
            let v = ctx.call(&action)?;
            if ctx.json {
                super::output::json(&v);
            } else {
                println!(
                    "created pool '{}': {}, {} usable",
                    text(&v["name"]),
                    text(&v["level"]),
                    bytes(&v["space"]["capacity"])
                );
            }
        }
        PoolCmd::List => {
            let v = ctx.call(&Action::ListPools)?;
            if ctx.json {
                super::output::json(&v);
            } else {
                pool_table(v.as_array().map(Vec::as_slice).unwrap_or(&[]), false);
            }
        }
        PoolCmd::Show { name } => {
            let v = ctx.call(&Action::ShowPool { name })?;
            if ctx.json {
                super::output::json(&v);
            } else {
                show(&v);
            }
        }
        PoolCmd::Scrub {
            name,
            wait,
            no_repair,
        } => {
            let v = ctx.call(&Action::StartScrub {
                pool: name.clone(),
                repair: !no_repair,
            })?;
            if !wait {
                if ctx.json {
                    super::output::json(&v);
                } else {
                    println!(
                        "scrub of pool '{name}' started; follow it with `vsa pool show {name}`"
                    );
                }
                return Ok(());
            }
            let p = wait_for(ctx, &name, "scrub")?;
            if ctx.json {
                super::output::json(&p);
            } else {
                println!(
                    "scrub of pool '{name}' finished: {}",
                    scrub_summary(&p["last_scrub"])
                );
            }
        }
        PoolCmd::Replace {
            name,
            old,
            new,
            create_size,
            wait,
        } => {
            let v = ctx.call(&Action::ReplaceMember {
                pool: name.clone(),
                member: old.clone(),
                device: absolute(&new)?,
                create_size,
            })?;
            after_change(
                ctx,
                &name,
                v,
                wait,
                &format!("replaced member {old} with {}", new.display()),
            )?;
        }
        PoolCmd::Fail { name, member, wait } => {
            let v = ctx.call(&Action::FailMember {
                pool: name.clone(),
                member: member.clone(),
            })?;
            after_change(ctx, &name, v, wait, &format!("member {member} failed"))?;
        }
        PoolCmd::Spare {
            name,
            dev,
            create_size,
            wait,
        } => {
            let v = ctx.call(&Action::AddSpare {
                pool: name.clone(),
                device: absolute(&dev)?,
                create_size,
            })?;
            after_change(
                ctx,
                &name,
                v,
                wait,
                &format!("added spare {}", dev.display()),
            )?;
        }
    }
    Ok(())
}
