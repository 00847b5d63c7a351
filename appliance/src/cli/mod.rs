//! The `vsa` command: `vsa serve` runs the daemon; every other noun talks to it over the
//! HTTP API by building an [`crate::action::Action`] and printing the answer (tables for
//! people, `--json` for scripts). Exit codes: 0 ok, 1 error, 2 usage.
//!
//! Each component adds its noun here as a subcommand with its own file.

pub mod client;
pub mod output;
pub mod pool;
pub mod target;
pub mod volume;

use crate::action::Action;
use crate::size::{parse_size, SizeError};
use clap::{Parser, Subcommand};
use client::Client;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// A size argument such as `10G`.
pub fn size_arg(s: &str) -> Result<u64, SizeError> {
    parse_size(s)
}

/// The `vsa` command line.
#[derive(Debug, Parser)]
#[command(
    name = "vsa",
    version,
    about = "vsa: a storage appliance (RAID pools, thin volumes, snapshots) and its CLI",
    propagate_version = true,
    after_help = "Start the daemon with `vsa serve`; the other commands find it through the data directory."
)]
pub struct Cli {
    /// The daemon's data directory (the CLI reads api.addr and token from it).
    #[arg(
        long,
        global = true,
        env = "VSA_DATA_DIR",
        default_value = "./vsa-data"
    )]
    pub data_dir: PathBuf,
    /// The daemon's API address (default: from <data-dir>/api.addr).
    #[arg(long, global = true, env = "VSA_API")]
    pub api: Option<String>,
    /// The API token (default: from <data-dir>/token).
    #[arg(long, global = true, env = "VSA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve(ServeArgs),
    /// Pools: RAID sets of disks or files.
    #[command(subcommand)]
    Pool(pool::PoolCmd),
    /// Volumes: thin or thick block devices in a pool, with snapshots and clones.
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// iSCSI targets: LUNs over volumes, ACLs, CHAP, sessions.
    #[command(subcommand)]
    Target(target::TargetCmd),
    /// Version, uptime, components and pools of the running daemon.
    Status,
}

/// `vsa serve` options.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file declaring pools and settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address and port of the HTTP API (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8600")]
    pub api: String,
    /// Address and port of the iSCSI portal (`127.0.0.1:0` picks a free port; the daemon
    /// writes the one it got to <data-dir>/iscsi.addr).
    #[arg(long, default_value = "0.0.0.0:3260")]
    pub iscsi: String,
    /// Log JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Size of each of the 4 sparse member files of the default pool, made on first start.
    #[arg(long, default_value = "8G", value_parser = size_arg)]
    pub default_member_size: u64,
}

/// What a command needs to talk to the daemon and print.
#[derive(Debug)]
pub struct Ctx {
    /// The client.
    pub client: Client,
    /// JSON output.
    pub json: bool,
}

impl Ctx {
    /// Sends an action.
    pub fn call(&self, action: &Action) -> anyhow::Result<Value> {
        self.client.call(action)
    }
}

fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let v = ctx.call(&Action::Status)?;
    if ctx.json {
        output::json(&v);
        return Ok(());
    }
    let comps: Vec<String> = v["components"]
        .as_array()
        .map(|a| a.iter().map(output::text).collect())
        .unwrap_or_default();
    output::fields(&[
        ("version", output::text(&v["version"])),
        (
            "uptime",
            format!("{:.0} s", v["uptime_secs"].as_f64().unwrap_or(0.0)),
        ),
        ("data dir", output::text(&v["data_dir"])),
        ("components", comps.join(", ")),
    ]);
    println!();
    pool::pool_table(
        v["pools"].as_array().map(Vec::as_slice).unwrap_or(&[]),
        true,
    );
    Ok(())
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => crate::serve::run(crate::serve::ServeOptions {
            data_dir: cli.data_dir,
            config: a.config,
            api: a.api,
            iscsi: a.iscsi,
            log_json: a.log_json,
            default_member_size: a.default_member_size,
        }),
        cmd => Client::new(&cli.data_dir, cli.api.as_deref(), cli.token.as_deref()).and_then(
            |client| {
                let ctx = Ctx {
                    client,
                    json: cli.json,
                };
                match cmd {
                    Command::Pool(p) => pool::run(&ctx, p),
                    Command::Volume(v) => volume::run(&ctx, v),
                    Command::Target(t) => target::run(&ctx, t),
                    Command::Status | Command::Serve(_) => status(&ctx),
                }
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<client::ApiFailure>() {
                Some(f) => eprintln!("error: {} [{}]", f.message, f.code),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let e = Cli::try_parse_from(["vsa", "volume", "create", "v", "--size", "12X"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("not a size"), "{e}");
        let e = Cli::try_parse_from(["vsa", "pool", "create", "p", "--raid", "7", "/a", "/b"])
            .unwrap_err();
        assert!(
            e.to_string().contains("[possible values: 0, 1, 5, 6, 10]"),
            "{e}"
        );
        let e = Cli::try_parse_from(["vsa", "volume", "clone", "nosnap", "new"]).unwrap_err();
        assert!(e.to_string().contains("VOLUME@SNAPSHOT"), "{e}");
        let ok = Cli::try_parse_from(["vsa", "--json", "volume", "create", "v", "--size", "1G"])
            .unwrap();
        assert!(ok.json);
    }
}
