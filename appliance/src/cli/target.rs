//! `vsa target ...`: iSCSI targets, LUNs, ACLs, CHAP, sessions.

use super::output::{fields, json, table, text};
use super::Ctx;
use crate::action::{Action, SetChap};
use clap::Subcommand;
use serde_json::Value;

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

fn luns_text(v: &Value) -> String {
    let l: Vec<String> = v["luns"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    let mut s = format!("{}:{}", text(&l["lun"]), text(&l["volume"]));
                    if l["read_only"].as_bool() == Some(true) {
                        s.push_str("(ro)");
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    if l.is_empty() {
        "-".into()
    } else {
        l.join(", ")
    }
}

fn acl_text(v: &Value) -> String {
    let a: Vec<String> = v["acl"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    if a.is_empty() {
        "any initiator".into()
    } else {
        a.join(", ")
    }
}

fn chap_text(v: &Value) -> String {
    match (&v["chap"], &v["mutual_chap"]) {
        (Value::Null, _) => "off".into(),
        (c, Value::Null) => format!("user {}", text(&c["user"])),
        (c, m) => format!("user {}, mutual {}", text(&c["user"]), text(&m["user"])),
    }
}

fn show(v: &Value) {
    fields(&[
        ("name", text(&v["name"])),
        ("alias", text(&v["alias"])),
        ("luns", luns_text(v)),
        ("acl", acl_text(v)),
        ("chap", chap_text(v)),
    ]);
}

fn list(v: &Value) {
    let rows: Vec<Vec<String>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| vec![text(&t["name"]), luns_text(t), acl_text(t), chap_text(t)])
                .collect()
        })
        .unwrap_or_default();
    table(&["TARGET", "LUNS", "ACL", "CHAP"], &rows);
}

/// The negotiated parameters people look at first.
fn params_text(p: &Value) -> String {
    let get = |k: &str| text(&p[k]);
    format!(
        "digests {}/{}, immediate {}, burst {}, recv {}",
        get("HeaderDigest"),
        get("DataDigest"),
        get("ImmediateData"),
        get("MaxBurstLength"),
        get("MaxRecvDataSegmentLength(target)"),
    )
}

fn sessions(v: &Value) {
    let rows: Vec<Vec<String>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["discovery"].as_bool() != Some(true))
                .map(|s| {
                    vec![
                        text(&s["target"]),
                        text(&s["initiator"]),
                        text(&s["isid"]),
                        text(&s["peer"]),
                        text(&s["commands_in_flight"]),
                        params_text(&s["params"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
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

/// Prints an answer for people.
type Printer = Box<dyn Fn(&Value)>;

fn action(cmd: TargetCmd) -> (Action, Printer) {
    match cmd {
        TargetCmd::Create { iqn, alias } => (
            Action::CreateTarget { name: iqn, alias },
            Box::new(|v: &Value| println!("created target {}", text(&v["name"]))),
        ),
        TargetCmd::Delete { iqn } => (
            Action::DeleteTarget { name: iqn },
            Box::new(|v: &Value| println!("deleted target {}", text(&v["deleted"]))),
        ),
        TargetCmd::List => (Action::ListTargets, Box::new(list)),
        TargetCmd::Show { iqn } => (Action::ShowTarget { name: iqn }, Box::new(show)),
        TargetCmd::Lun(LunCmd::Add {
            iqn,
            volume,
            lun,
            read_only,
            removable,
        }) => (
            Action::AddLun {
                target: iqn,
                volume,
                lun,
                read_only,
                removable,
            },
            Box::new(show),
        ),
        TargetCmd::Lun(LunCmd::Remove { iqn, lun }) => {
            (Action::RemoveLun { target: iqn, lun }, Box::new(show))
        }
        TargetCmd::Acl(AclCmd::Add { iqn, initiator }) => (
            Action::AddAcl {
                target: iqn,
                initiator,
            },
            Box::new(show),
        ),
        TargetCmd::Acl(AclCmd::Remove { iqn, initiator }) => (
            Action::RemoveAcl {
                target: iqn,
                initiator,
            },
            Box::new(show),
        ),
        TargetCmd::Chap(ChapCmd::Set {
            iqn,
            user,
            secret,
            mutual_user,
            mutual_secret,
        }) => (
            Action::SetChap(SetChap {
                target: iqn,
                user: Some(user),
                secret: Some(secret),
                mutual_user,
                mutual_secret,
            }),
            Box::new(show),
        ),
        TargetCmd::Chap(ChapCmd::Clear { iqn }) => (
            Action::SetChap(SetChap {
                target: iqn,
                user: None,
                secret: None,
                mutual_user: None,
                mutual_secret: None,
            }),
            Box::new(show),
        ),
        TargetCmd::Sessions { iqn } => (Action::Sessions { target: iqn }, Box::new(sessions)),
    }
}

/// Runs a target verb.
pub fn run(ctx: &Ctx, cmd: TargetCmd) -> anyhow::Result<()> {
    let (action, done) = action(cmd);
    let v = ctx.call(&action)?;
    if ctx.json {
        json(&v);
    } else {
        done(&v);
    }
    Ok(())
}
