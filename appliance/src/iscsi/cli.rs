//! `vsa target ...`: iSCSI targets, LUNs, ACLs, CHAP, sessions.

use super::api::*;
use super::types::*;
use crate::core::output::{fields, list, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use clap::{FromArgMatches, Subcommand};

/// Target verbs.
#[derive(Debug, Subcommand)]
pub enum TargetCmd {
    /// Create a target, e.g. `vsa target create iqn.2026-01.com.example:db`.
    Create {
        /// The target's iSCSI name.
        iqn: String,
        /// An alias initiators show.
        #[arg(long)]
        alias: Option<String>,
    },
    /// Delete a target (its sessions end; the volumes stay).
    Delete {
        /// The target.
        iqn: String,
    },
    /// List targets.
    List,
    /// Show a target.
    Show {
        /// The target.
        iqn: String,
    },
    /// LUNs: serve a volume, or stop serving it.
    #[command(subcommand)]
    Lun(LunCmd),
    /// Which initiators may log in (none listed: every initiator).
    #[command(subcommand)]
    Acl(AclCmd),
    /// CHAP authentication.
    #[command(subcommand)]
    Chap(ChapCmd),
    /// Sessions logged in now, with their negotiated parameters.
    Sessions {
        /// Only this target's.
        iqn: Option<String>,
    },
}

/// LUN verbs.
#[derive(Debug, Subcommand)]
pub enum LunCmd {
    /// Serve a volume as a LUN.
    Add {
        /// The target.
        iqn: String,
        /// The volume.
        volume: String,
        /// The LUN number (default: the lowest free).
        #[arg(long)]
        lun: Option<u64>,
        /// Initiators may read but not write.
        #[arg(long)]
        read_only: bool,
        /// Report removable medium (START STOP UNIT ejects it).
        #[arg(long)]
        removable: bool,
    },
    /// Stop serving a LUN (the volume stays).
    Remove {
        /// The target.
        iqn: String,
        /// The LUN number.
        lun: u64,
    },
}

/// ACL verbs.
#[derive(Debug, Subcommand)]
pub enum AclCmd {
    /// Admit an initiator.
    Add {
        /// The target.
        iqn: String,
        /// The initiator's iSCSI name.
        initiator: String,
    },
    /// Stop admitting an initiator.
    Remove {
        /// The target.
        iqn: String,
        /// The initiator's iSCSI name.
        initiator: String,
    },
}

/// CHAP verbs.
#[derive(Debug, Subcommand)]
pub enum ChapCmd {
    /// Require CHAP (and offer mutual CHAP with --mutual-user/--mutual-secret).
    Set {
        /// The target.
        iqn: String,
        /// The user initiators log in as.
        #[arg(long)]
        user: String,
        /// Its secret (12 to 255 bytes).
        #[arg(long, env = "VSA_CHAP_SECRET", hide_env_values = true)]
        secret: String,
        /// The target's user, for initiators that authenticate the target.
        #[arg(long, requires = "mutual_secret")]
        mutual_user: Option<String>,
        /// The target's secret.
        #[arg(long, requires = "mutual_user", hide_env_values = true)]
        mutual_secret: Option<String>,
    },
    /// Stop requiring CHAP.
    Clear {
        /// The target.
        iqn: String,
    },
}

/// The `target` noun.
pub fn command() -> clap::Command {
    TargetCmd::augment_subcommands(clap::Command::new("target"))
        .about("iSCSI targets: LUNs over volumes, ACLs, CHAP, sessions")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn luns_text(t: &TargetView) -> String {
    let l: Vec<String> = t
        .luns
        .iter()
        .map(|l| {
            let ro = if l.read_only { "(ro)" } else { "" };
            format!("{}:{}{ro}", l.lun, l.volume)
        })
        .collect();
    list(&l, ", ")
}

fn acl_text(t: &TargetView) -> String {
    if t.acl.is_empty() {
        "any initiator".into()
    } else {
        t.acl.join(", ")
    }
}

fn chap_text(t: &TargetView) -> String {
    match (&t.chap, &t.mutual_chap) {
        (None, _) => "off".into(),
        (Some(c), None) => format!("user {}", c.user),
        (Some(c), Some(m)) => format!("user {}, mutual {}", c.user, m.user),
    }
}

fn show(t: &TargetView) {
    fields(&[
        ("name", t.name.clone()),
        ("alias", or_dash(t.alias.as_ref())),
        ("luns", luns_text(t)),
        ("acl", acl_text(t)),
        ("chap", chap_text(t)),
    ]);
}

fn list_targets(ts: &[TargetView]) {
    let rows: Vec<Vec<String>> = ts
        .iter()
        .map(|t| vec![t.name.clone(), luns_text(t), acl_text(t), chap_text(t)])
        .collect();
    table(&["TARGET", "LUNS", "ACL", "CHAP"], &rows);
}

/// The negotiated parameters people look at first.
fn params_text(s: &SessionView) -> String {
    let get = |k: &str| or_dash(s.params.get(k));
    format!(
        "digests {}/{}, immediate {}, burst {}, recv {}",
        get("HeaderDigest"),
        get("DataDigest"),
        get("ImmediateData"),
        get("MaxBurstLength"),
        get("MaxRecvDataSegmentLength(target)"),
    )
}

fn sessions(v: &[SessionView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .filter(|s| !s.discovery)
        .map(|s| {
            vec![
                s.target.clone(),
                s.initiator.clone(),
                s.isid.clone(),
                s.peer.clone(),
                s.commands_in_flight.to_string(),
                params_text(s),
            ]
        })
        .collect();
    table(
        &[
            "TARGET",
            "INITIATOR",
            "ISID",
            "ADDRESS",
            "IN FLIGHT",
            "PARAMETERS (--json: all)",
        ],
        &rows,
    );
}

fn target(name: String) -> TargetPath {
    TargetPath { name }
}

/// Runs a target verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match TargetCmd::from_arg_matches(m)? {
        TargetCmd::Create { iqn, alias } => {
            let v = c.call::<CreateTarget>(&NoParams {}, &CreateTargetBody { name: iqn, alias })?;
            ctx.print(&v, |v| println!("created target {}", v.name));
        }
        TargetCmd::Delete { iqn } => {
            let v = c.call::<DeleteTarget>(&target(iqn), &Empty {})?;
            ctx.print(&v, |v| println!("deleted target {}", v.deleted));
        }
        TargetCmd::List => ctx.print(&c.call::<ListTargets>(&NoParams {}, &Empty {})?, |v| {
            list_targets(v)
        }),
        TargetCmd::Show { iqn } => ctx.print(&c.call::<ShowTarget>(&target(iqn), &Empty {})?, show),
        TargetCmd::Lun(LunCmd::Add {
            iqn,
            volume,
            lun,
            read_only,
            removable,
        }) => {
            let body = AddLunBody {
                volume,
                lun,
                read_only,
                removable,
            };
            ctx.print(&c.call::<AddLun>(&target(iqn), &body)?, show);
        }
        TargetCmd::Lun(LunCmd::Remove { iqn, lun }) => {
            let path = LunPath {
                name: iqn,
                lun: lun.to_string(),
            };
            ctx.print(&c.call::<RemoveLun>(&path, &Empty {})?, show);
        }
        TargetCmd::Acl(AclCmd::Add { iqn, initiator }) => {
            ctx.print(
                &c.call::<AddAcl>(&target(iqn), &AclBody { initiator })?,
                show,
            );
        }
        TargetCmd::Acl(AclCmd::Remove { iqn, initiator }) => {
            let path = AclPath {
                name: iqn,
                initiator,
            };
            ctx.print(&c.call::<RemoveAcl>(&path, &Empty {})?, show);
        }
        TargetCmd::Chap(ChapCmd::Set {
            iqn,
            user,
            secret,
            mutual_user,
            mutual_secret,
        }) => {
            let body = ChapBody {
                user: Some(user),
                secret: Some(secret),
                mutual_user,
                mutual_secret,
            };
            ctx.print(&c.call::<SetChap>(&target(iqn), &body)?, show);
        }
        TargetCmd::Chap(ChapCmd::Clear { iqn }) => {
            ctx.print(
                &c.call::<SetChap>(&target(iqn), &ChapBody::default())?,
                show,
            );
        }
        TargetCmd::Sessions { iqn } => {
            let v = match iqn {
                Some(t) => c.call::<TargetSessions>(&target(t), &Empty {})?,
                None => c.call::<Sessions>(&NoParams {}, &Empty {})?,
            };
            ctx.print(&v, |v| sessions(v));
        }
    }
    Ok(())
}
