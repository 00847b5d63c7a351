//! `vsa pool ...`: create, list, show, check, scrub, replace, fail, spare, log.

use crate::core::cli::size_arg;
use crate::core::output::{bytes, fields, table};
use crate::core::size::human;
use crate::core::{CliCtx, Empty, NoParams};
use crate::pool::api::*;
use crate::pool::health::Health;
use crate::pool::types::*;
use anyhow::Context;
use clap::{FromArgMatches, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
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
        /// A separate log device (or file) for the pool's write journal.
        #[arg(long, value_name = "DEV")]
        log: Option<PathBuf>,
    },
    /// The write journal's log device: add (move the log to it) or remove (back to the
    /// data directory).
    #[command(subcommand)]
    Log(LogCmd),
    /// List pools.
    List,
    /// Show a pool: members, space, rebuild and scrub progress.
    Show {
        /// The pool.
        name: String,
    },
    /// Check a pool's volume metadata for consistency; exits 1 if it finds problems.
    Check {
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

/// `vsa pool log`.
#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Move the write journal's log to a separate device (a block device, used whole, or a
    /// file, made at the size the journal needs); writes pause while what is journaled
    /// goes home.
    Add {
        /// The pool.
        name: String,
        /// The log device or file.
        dev: PathBuf,
    },
    /// Move the write journal's log back to its file in the data directory.
    Remove {
        /// The pool.
        name: String,
    },
}

/// The `pool` noun.
pub fn command() -> clap::Command {
    PoolCmd::augment_subcommands(clap::Command::new("pool"))
        .about("Pools: RAID sets of disks or files")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve the path {}", p.display()))
}

const POOL_HEADERS: [&str; 8] = [
    "NAME",
    "RAID",
    "HEALTH",
    "CAPACITY",
    "ALLOCATED",
    "FREE",
    "PROVISIONED",
    "VOLUMES",
];

/// Prints the pools of `GET /status` as a table.
pub fn summary_table(pools: &[PoolSummary]) {
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.raid.clone(),
                health_text(p.health, &p.conditions),
                bytes(p.capacity),
                bytes(p.allocated),
                bytes(p.free),
                bytes(p.provisioned),
                p.volumes.to_string(),
            ]
        })
        .collect();
    table(&POOL_HEADERS, &rows);
}

fn pool_table(pools: &[PoolView]) {
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.level.clone(),
                health_text(p.health, &p.conditions),
                bytes(p.space.capacity),
                bytes(p.space.allocated),
                bytes(p.space.free),
                bytes(p.space.provisioned),
                p.volumes.len().to_string(),
            ]
        })
        .collect();
    table(&POOL_HEADERS, &rows);
}

/// The health, and the other states that apply if any: `degraded (also low_space)`.
fn health_text(health: Health, conditions: &[Health]) -> String {
    let others: Vec<&str> = conditions
        .iter()
        .filter(|c| **c != health)
        .map(|c| c.word())
        .collect();
    if others.is_empty() {
        health.word().to_owned()
    } else {
        format!("{health} (also {})", others.join(", "))
    }
}

fn progress_line(task: &str, p: &Progress) -> String {
    let pct = if p.total == 0 {
        100.0
    } else {
        p.done as f64 * 100.0 / p.total as f64
    };
    let state = if p.finished { "finished" } else { "running" };
    let mut s = format!(
        "{task} {state}: {pct:.0}% ({} of {}",
        human(p.done),
        human(p.total)
    );
    if p.rate > 0.0 {
        s.push_str(&format!(", {}/s", human(p.rate as u64)));
    }
    if let Some(eta) = p.eta_secs.filter(|_| !p.finished) {
        s.push_str(&format!(", {eta:.0} s left"));
    }
    s.push(')');
    s
}

fn show(p: &PoolView) {
    fields(&[
        ("name", p.name.clone()),
        ("raid", p.level.clone()),
        ("health", health_text(p.health, &p.conditions)),
        ("capacity", bytes(p.space.capacity)),
        ("allocated", bytes(p.space.allocated)),
        ("free", bytes(p.space.free)),
        ("provisioned", bytes(p.space.provisioned)),
        ("chunk size", bytes(p.space.chunk_size)),
        ("raid chunk", bytes(u64::from(p.raid_chunk))),
        ("volumes", p.volumes.len().to_string()),
    ]);
    println!();
    let members: Vec<Vec<String>> = p
        .raid
        .members
        .iter()
        .map(|m| {
            let mut state = m.state.clone();
            if let Some(r) = m.rebuilt {
                state.push_str(&format!(" ({} done)", human(r)));
            }
            vec![
                m.index.to_string(),
                m.name.clone(),
                state,
                m.checksum_errors.to_string(),
            ]
        })
        .collect();
    table(&["INDEX", "MEMBER", "STATE", "CHECKSUM ERRORS"], &members);
    if !p.raid.spares.is_empty() {
        println!("spares: {}", p.raid.spares.join(", "));
    }
    println!("checksums: {}", if p.raid.checksums { "on" } else { "off" });
    for (task, progress) in [
        ("rebuild", &p.rebuild),
        ("scrub", &p.scrub),
        ("checksum build", &p.checksum_build),
    ] {
        if let Some(progress) = progress {
            println!("{}", progress_line(task, progress));
        }
    }
    if let Some(r) = &p.last_scrub {
        println!("last scrub: {}", scrub_summary(r));
        for line in repair_lines(r) {
            println!("  {line}");
        }
    }
    if let Some(why) = &p.scrub_failure {
        println!("last scrub stopped: {why}");
    }
    println!("read cache: {}", cache_summary(&p.read_cache));
    if let Some(j) = &p.write_journal {
        println!("write journal: {}", journal_summary(j));
    }
}

fn journal_summary(j: &JournalView) -> String {
    let mut s = format!(
        "{} of {} in use, {} blocks not yet home; {} records in {} commits, {} written home",
        bytes(j.used),
        bytes(j.capacity),
        j.pending_blocks,
        j.records,
        j.commits,
        bytes(j.destaged_bytes)
    );
    if j.replayed_records > 0 {
        s.push_str(&format!(
            "; {} records replayed at open",
            j.replayed_records
        ));
    }
    if let Some(why) = &j.failing {
        s.push_str(&format!("; FAILING to write home: {why}"));
    }
    if let Some(dev) = &j.log_device {
        s.push_str(&format!("; log device {dev}"));
    }
    s
}

fn cache_summary(c: &ReadCacheView) -> String {
    if c.capacity == 0 {
        return "off".into();
    }
    let mut s = format!("{} of {} in use", bytes(c.bytes_cached), bytes(c.capacity));
    if c.hits + c.misses > 0 {
        let pct = c.hits as f64 * 100.0 / (c.hits + c.misses) as f64;
        s.push_str(&format!(", {pct:.1}% of pages read were hits"));
    }
    s
}

fn scrub_summary(r: &ScrubFindings) -> String {
    format!(
        "{} checked, {} mismatches, {} repaired, {} repaired unverified, {} unrecoverable, {} read errors",
        bytes(r.bytes_checked),
        r.mismatches,
        r.repaired,
        r.repaired_unverified,
        r.unrecoverable,
        r.read_errors
    )
}

/// The ranges a scrub repaired, one line each, then how many more there were.
fn repair_lines(r: &ScrubFindings) -> Vec<String> {
    let mut lines: Vec<String> = r
        .repairs
        .iter()
        .map(|x| {
            format!(
                "repaired {} at member offset {} of {}",
                bytes(x.len),
                x.offset,
                x.member
            )
        })
        .collect();
    if r.repairs_not_listed > 0 {
        lines.push(format!("and {} more ranges", r.repairs_not_listed));
    }
    lines
}

fn pool_path(name: &str) -> PoolPath {
    PoolPath {
        name: name.to_owned(),
    }
}

/// Polls the pool until `task` (rebuild or scrub) ends; shows a bar on a terminal and
/// plain lines otherwise. Returns the pool's final state.
fn wait_for(ctx: &CliCtx, pool: &str, task: &str) -> anyhow::Result<PoolView> {
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
        let p = ctx.client.call::<ShowPool>(&pool_path(pool), &Empty {})?;
        let prog = if task == "rebuild" {
            p.rebuild
        } else {
            p.scrub
        };
        let finished = prog.is_none_or(|p| p.finished);
        if let Some(prog) = &prog {
            if let Some(b) = &bar {
                b.set_length(prog.total);
                b.set_position(prog.done);
            } else if !ctx.json {
                let decile = prog
                    .done
                    .saturating_mul(10)
                    .checked_div(prog.total)
                    .unwrap_or(10);
                if last_decile != Some(decile) || finished {
                    println!("{}", progress_line(task, prog));
                    last_decile = Some(decile);
                }
            }
        }
        let still = task == "rebuild" && p.conditions.contains(&Health::Rebuilding);
        if finished && !still {
            if let Some(b) = &bar {
                b.finish_with_message(format!("{task} finished"));
            }
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn after_change(ctx: &CliCtx, v: PoolView, wait: bool, what: &str) -> anyhow::Result<()> {
    let v = if wait {
        wait_for(ctx, &v.name, "rebuild")?
    } else {
        v
    };
    ctx.print(&v, |v| {
        println!("{what}; pool '{}' is {}", v.name, v.health);
        let rebuilding = v.conditions.contains(&Health::Rebuilding);
        if let (false, Some(r), true) = (wait, &v.rebuild, rebuilding) {
            println!("{}", progress_line("rebuild", r));
            println!("follow it with `vsa pool show {}`", v.name);
        }
    });
    Ok(())
}

fn scrub(ctx: &CliCtx, name: String, wait: bool, no_repair: bool) -> anyhow::Result<()> {
    let body = ScrubBody {
        repair: Some(!no_repair),
    };
    let v = ctx.client.call::<StartScrub>(&pool_path(&name), &body)?;
    if !wait {
        ctx.print(&v, |_| {
            println!("scrub of pool '{name}' started; follow it with `vsa pool show {name}`")
        });
        return Ok(());
    }
    let p = wait_for(ctx, &name, "scrub")?;
    ctx.print(&p, |p| {
        let summary = p.last_scrub.as_ref().map(scrub_summary).unwrap_or_default();
        println!("scrub of pool '{name}' finished: {summary}");
        for line in p.last_scrub.iter().flat_map(repair_lines) {
            println!("  {line}");
        }
    });
    Ok(())
}

/// The check's findings for people: the summary, then each problem.
fn check_lines(v: &CheckView) -> Vec<String> {
    let mut lines = vec![v.summary()];
    lines.extend(v.problems.iter().map(|p| format!("  {p}")));
    lines
}

/// `vsa pool check`: prints the findings; problems make the command fail (exit code 1),
/// so scripts and monitoring can act on it.
fn check(ctx: &CliCtx, name: &str) -> anyhow::Result<()> {
    let v = ctx.client.call::<CheckPool>(&pool_path(name), &Empty {})?;
    ctx.print(&v, |v| {
        for line in check_lines(v) {
            println!("{line}");
        }
    });
    if !v.clean {
        anyhow::bail!(
            "pool '{name}' metadata has {} problem(s); nothing was changed",
            v.problems.len()
        );
    }
    Ok(())
}

/// Runs a pool verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match PoolCmd::from_arg_matches(m)? {
        PoolCmd::Create {
            name,
            raid,
            devices,
            chunk,
            alloc_chunk,
            spare,
            create_size,
            log,
        } => {
            let body = CreatePoolBody {
                name,
                raid: RaidArg::Text(raid),
                members: devices
                    .iter()
                    .map(|p| absolute(p))
                    .collect::<Result<_, _>>()?,
                spares: spare
                    .iter()
                    .map(|p| absolute(p))
                    .collect::<Result<_, _>>()?,
                raid_chunk: chunk.map(Into::into),
                chunk_size: alloc_chunk.map(Into::into),
                create_size: create_size.map(Into::into),
                log: log.as_deref().map(absolute).transpose()?,
            };
            let v = c.call::<CreatePool>(&NoParams {}, &body)?;
            ctx.print(&v, |v| {
                println!(
                    "created pool '{}': {}, {} usable",
                    v.name,
                    v.level,
                    bytes(v.space.capacity)
                )
            });
        }
        PoolCmd::List => ctx.print(&c.call::<ListPools>(&NoParams {}, &Empty {})?, |v| {
            pool_table(v)
        }),
        PoolCmd::Show { name } => {
            ctx.print(&c.call::<ShowPool>(&pool_path(&name), &Empty {})?, show)
        }
        PoolCmd::Check { name } => check(ctx, &name)?,
        PoolCmd::Log(LogCmd::Add { name, dev }) => {
            let body = LogBody {
                device: absolute(&dev)?,
            };
            let v = c.call::<AddLog>(&pool_path(&name), &body)?;
            ctx.print(&v, |v| {
                println!(
                    "pool '{}' journals small writes on {} now",
                    v.name,
                    dev.display()
                )
            });
        }
        PoolCmd::Log(LogCmd::Remove { name }) => {
            let v = c.call::<RemoveLog>(&pool_path(&name), &Empty {})?;
            ctx.print(&v, |v| {
                println!(
                    "pool '{}' keeps its write journal in the data directory again",
                    v.name
                )
            });
        }
        PoolCmd::Scrub {
            name,
            wait,
            no_repair,
        } => scrub(ctx, name, wait, no_repair)?,
        PoolCmd::Replace {
            name,
            old,
            new,
            create_size,
            wait,
        } => {
            let path = MemberPath {
                name,
                member: old.clone(),
            };
            let body = DeviceBody {
                device: absolute(&new)?,
                create_size: create_size.map(Into::into),
            };
            let v = c.call::<ReplaceMember>(&path, &body)?;
            let what = format!("replaced member {old} with {}", new.display());
            after_change(ctx, v, wait, &what)?;
        }
        PoolCmd::Fail { name, member, wait } => {
            let path = MemberPath {
                name,
                member: member.clone(),
            };
            let v = c.call::<FailMember>(&path, &Empty {})?;
            after_change(ctx, v, wait, &format!("member {member} failed"))?;
        }
        PoolCmd::Spare {
            name,
            dev,
            create_size,
            wait,
        } => {
            let body = DeviceBody {
                device: absolute(&dev)?,
                create_size: create_size.map(Into::into),
            };
            let v = c.call::<AddSpare>(&pool_path(&name), &body)?;
            after_change(ctx, v, wait, &format!("added spare {}", dev.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_the_other_states() {
        use Health::*;
        assert_eq!(health_text(Healthy, &[Healthy]), "healthy");
        assert_eq!(
            health_text(Degraded, &[Degraded, LowSpace]),
            "degraded (also low_space)"
        );
        assert_eq!(
            health_text(Full, &[Full, ErrorsFound, LowSpace]),
            "full (also errors_found, low_space)"
        );
    }

    #[test]
    fn check_findings_are_listed_under_the_summary() {
        let mut v = CheckView {
            pool: "p".into(),
            clean: true,
            volumes: 2,
            snapshots: 1,
            nodes: 3,
            used_chunks: 5,
            free_chunks: 7,
            problems: Vec::new(),
        };
        assert_eq!(
            check_lines(&v),
            ["pool 'p' metadata is consistent: 2 volume(s), 1 snapshot(s), 3 map node(s), 5 chunk(s) in use, 7 free"]
        );
        v.clean = false;
        v.problems = vec!["chunk 4 is held in use but no map names it (leaked)".into()];
        let lines = check_lines(&v);
        assert!(
            lines[0].starts_with("pool 'p' metadata has 1 problem(s)"),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "  chunk 4 is held in use but no map names it (leaked)"
        );
    }
}
