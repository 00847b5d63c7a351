//! The `vsa` command. `vsa serve` runs the daemon; `vsa status` asks it how it is; every
//! other noun belongs to a component ([`Component::commands`]), which talks to the daemon
//! through the typed [`Client`] and prints the answer (tables for people, `--json` for
//! scripts). Exit codes: 0 ok, 1 error (the API's message and code), 2 usage.

use super::client::{ApiFailure, CliCtx, Client};
use super::component::Component;
use super::endpoint::{Empty, NoParams};
use super::output;
use super::routes::{Status, StatusReply};
use super::size::{parse_size, SizeError};
use clap::{Args, FromArgMatches};
use std::path::PathBuf;
use std::process::ExitCode;

/// A size argument such as `10G`.
pub fn size_arg(s: &str) -> Result<u64, SizeError> {
    parse_size(s)
}

/// The flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct Globals {
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
}

/// The whole command line of a build with these components.
pub fn command(components: &[Box<dyn Component>]) -> clap::Command {
    // The derived flags first: their doc comments would otherwise set the about text.
    let mut cmd = Globals::augment_args(clap::Command::new("vsa"))
        .version(env!("CARGO_PKG_VERSION"))
        .about("vsa: a storage appliance (RAID pools, thin volumes, snapshots, iSCSI) and its CLI")
        .propagate_version(true)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .after_help(
            "Start the daemon with `vsa serve`; the other commands find it through the data directory.",
        )
        .subcommand(super::serve::command(components));
    for c in components {
        for noun in c.commands() {
            cmd = cmd.subcommand(noun);
        }
    }
    cmd.subcommand(
        clap::Command::new("status")
            .about("Version, uptime, components and pools of the running daemon"),
    )
}

fn status(components: &[Box<dyn Component>], ctx: &CliCtx) -> anyhow::Result<()> {
    let v: StatusReply = ctx.client.call::<Status>(&NoParams {}, &Empty {})?;
    if ctx.json {
        output::json(&v);
        return Ok(());
    }
    output::fields(&[
        ("version", v.version.clone()),
        ("uptime", format!("{:.0} s", v.uptime_secs)),
        ("data dir", v.data_dir.clone()),
        ("components", v.components.join(", ")),
    ]);
    for c in components {
        if let Some(s) = c.status_section() {
            if let Some(section) = v.sections.get(s.key) {
                println!();
                c.print_status(section)?;
            }
        }
    }
    Ok(())
}

/// Runs a parsed command line.
pub fn run(components: Vec<Box<dyn Component>>, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let g = Globals::from_arg_matches(m)?;
    let Some((noun, sub)) = m.subcommand() else {
        anyhow::bail!("no command given; see `vsa --help`");
    };
    if noun == "serve" {
        return super::serve::run(components, g.data_dir, sub.clone());
    }
    let ctx = CliCtx {
        client: Client::new(&g.data_dir, g.api.as_deref(), g.token.as_deref())?,
        json: g.json,
    };
    if noun == "status" {
        return status(&components, &ctx);
    }
    let owner = components
        .iter()
        .find(|c| c.commands().iter().any(|n| n.get_name() == noun));
    match owner {
        Some(c) => c.run_command(noun, sub, &ctx),
        None => anyhow::bail!("no component of this build has the command `{noun}`"),
    }
}

/// Runs the command line; returns the process exit code.
pub fn main(components: Vec<Box<dyn Component>>) -> ExitCode {
    let m = command(&components).get_matches();
    if m.subcommand_name() != Some("serve") {
        quiet_on_closed_stdout();
    }
    match run(components, &m) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<ApiFailure>() {
                Some(f) => eprintln!("error: {} [{}]", f.message, f.code),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(1)
        }
    }
}

/// A client whose output goes to a reader that stopped reading (`vsa vm list | head -1`)
/// ends quietly, as other Unix tools do (exit status 141, a shell's "killed by SIGPIPE"),
/// instead of panicking in `println!`.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
