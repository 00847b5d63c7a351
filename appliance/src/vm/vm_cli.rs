//! `vsa vm ...`: virtual machines on the bundled KVM VMM.

use super::api::*;
use super::types::*;
use crate::core::output::{bytes, fields, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use clap::{FromArgMatches, Subcommand};
use std::path::PathBuf;

/// VM verbs.
#[derive(Debug, Subcommand)]
pub enum VmCmd {
    /// Define a VM, e.g. `vsa vm create web1 --kernel vmlinuz --initrd initrd.img
    /// --cmdline "console=ttyS0 root=/dev/vda" --memory 512M --disk web1-root --autostart`.
    Create {
        /// Its name.
        name: String,
        /// The kernel: a Linux bzImage or a 64-bit ELF, a file (a relative path is taken
        /// from here) or a pool volume holding it (`vsa volume import FILE NAME --format
        /// raw`).
        #[arg(long, value_name = "FILE|VOLUME")]
        kernel: PathBuf,
        /// An initramfs: a file or a pool volume.
        #[arg(long, value_name = "FILE|VOLUME")]
        initrd: Option<PathBuf>,
        /// The kernel command line.
        #[arg(long, default_value = "")]
        cmdline: String,
        /// Guest memory (default 256M).
        #[arg(long, value_parser = crate::core::cli::size_arg)]
        memory: Option<u64>,
        /// vCPUs, 1 to 32 (the guest finds them in the MP table).
        #[arg(long, default_value_t = 1)]
        vcpus: u8,
        /// Start it whenever the daemon starts.
        #[arg(long)]
        autostart: bool,
        /// When it stops by itself: stay stopped (never), start again if it failed
        /// (on-failure), or always (a guest reboot boots it again).
        #[arg(long, value_enum, default_value = "never")]
        restart: super::model::RestartPolicy,
        /// A pool volume as a disk, VOLUME[:ro][:persistent|:nonpersistent|:undoable];
        /// repeat for more (the guest sees /dev/vda, /dev/vdb, ... in this order). The VM
        /// holds them while it exists. Nonpersistent: the guest's writes are thrown away
        /// when it stops; undoable: they wait for `vsa vm commit` or `vsa vm discard`.
        #[arg(long = "disk", value_name = "VOLUME[:OPTIONS]")]
        disks: Vec<super::model::VmDisk>,
        /// A linked clone of VOLUME@SNAPSHOT (a golden image), named NAME-root, as the
        /// first disk; deleted with the VM.
        #[arg(long, value_name = "VOLUME@SNAPSHOT")]
        clone_of: Option<String>,
        /// A network card on the host's TAP device TAP (virtio-net), with MAC address
        /// MAC or one chosen from the VM's name; repeat for more. An existing TAP device
        /// is attached (`ip tuntap add dev TAP mode tap`); one that does not exist is
        /// made for the run.
        #[arg(long = "net", value_name = "TAP[=MAC]")]
        nets: Vec<super::model::VmNic>,
    },
    /// List VMs.
    List,
    /// Show a VM: state, uptime, memory, how it last stopped.
    Show {
        /// The VM.
        name: String,
    },
    /// Start a VM.
    Start {
        /// The VM.
        name: String,
    },
    /// Stop a VM: its guest is asked (Ctrl+Alt+Del on its keyboard; Linux shuts down in
    /// order, and with `reboot=k` on its command line the VM then stops) and powered off
    /// if it still runs after the timeout.
    Stop {
        /// The VM.
        name: String,
        /// Power it off at once, without asking the guest.
        #[arg(long)]
        force: bool,
        /// Seconds the guest has to shut down (default 30).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Pause a running VM: its vCPUs stop where they are, its memory stays.
    Pause {
        /// The VM.
        name: String,
    },
    /// Resume a paused VM.
    Resume {
        /// The VM.
        name: String,
    },
    /// Keep the changes on a stopped VM's undoable disks.
    Commit {
        /// The VM.
        name: String,
    },
    /// Throw away the changes on a stopped VM's undoable disks.
    Discard {
        /// The VM.
        name: String,
    },
    /// Print the end of a VM's console; follow it, or attach to it and type.
    Console {
        /// The VM.
        name: String,
        /// Keep printing what the VM prints, until it stops (Ctrl+C ends).
        #[arg(long, short)]
        follow: bool,
        /// Follow it and type on it: what you type goes to the guest's serial console;
        /// Ctrl+] detaches (the VM runs on).
        #[arg(long, conflicts_with = "follow")]
        attach: bool,
    },
    /// Delete a stopped VM.
    Delete {
        /// The VM.
        name: String,
    },
}

/// The `vm` noun.
pub fn command() -> clap::Command {
    VmCmd::augment_subcommands(clap::Command::new("vm"))
        .about("Virtual machines on the bundled KVM VMM, each in its own process")
        .subcommand_required(true)
        .arg_required_else_help(true)
}

fn show(v: &VmView) {
    fields(&[
        ("name", v.name.clone()),
        ("state", v.state.clone()),
        ("pid", or_dash(v.pid)),
        (
            "uptime",
            or_dash(v.uptime_secs.map(|s| format!("{s:.0} s"))),
        ),
        ("memory", bytes(v.memory)),
        ("vcpus", v.vcpus.to_string()),
        ("kernel", v.kernel.clone()),
        ("initrd", or_dash(v.initrd.as_ref())),
        ("cmdline", v.cmdline.clone()),
        ("autostart", v.autostart.to_string()),
        ("restart", policy(v.restart).into()),
        ("starts", v.starts.to_string()),
        ("last exit", or_dash(v.last_exit.as_ref())),
        ("disks", disks(&v.disks)),
        ("network", nets(&v.nets)),
        ("vcpu exits", counts(&v.stats.vcpu_exits)),
        ("disk I/O", disk_io(&v.stats)),
        ("traffic", traffic(&v.stats)),
        ("disk problem", or_dash(v.disk_problem.as_ref())),
        (
            "pending changes",
            if v.pending_changes.is_empty() {
                "-".into()
            } else {
                format!(
                    "{} (vsa vm commit|discard {})",
                    v.pending_changes.join(", "),
                    v.name
                )
            },
        ),
    ]);
}

/// `name n, name n, ...`.
fn counts(c: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = c.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.join(", ")
}

fn disk_io(s: &super::types::VmStatsView) -> String {
    let parts: Vec<String> = s
        .disk_ops
        .iter()
        .map(|(op, n)| {
            let b = s.disk_bytes.get(op).copied().unwrap_or(0);
            format!("{op} {n} ({})", bytes(b))
        })
        .collect();
    parts.join(", ")
}

fn traffic(s: &super::types::VmStatsView) -> String {
    if s.nets.is_empty() {
        return "-".into();
    }
    let cards: Vec<String> = s
        .nets
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let get = |k: &str| c.get(k).copied().unwrap_or(0);
            format!(
                "eth{i} rx {} frames ({}), tx {} frames ({}), dropped {}",
                get("rx_frames"),
                bytes(get("rx_bytes")),
                get("tx_frames"),
                bytes(get("tx_bytes")),
                get("rx_dropped") + get("tx_dropped")
            )
        })
        .collect();
    cards.join("; ")
}

fn nets(n: &[super::model::VmNic]) -> String {
    if n.is_empty() {
        return "-".into();
    }
    let cards: Vec<String> = n
        .iter()
        .enumerate()
        .map(|(i, n)| format!("eth{i} on {} ({})", n.tap, or_dash(n.mac.as_ref())))
        .collect();
    cards.join(", ")
}

fn disks(d: &[super::model::VmDisk]) -> String {
    if d.is_empty() {
        return "-".into();
    }
    let names: Vec<String> = d
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut notes = Vec::new();
            if d.read_only {
                notes.push("read-only");
            }
            match d.mode {
                super::model::DiskMode::Persistent => {}
                super::model::DiskMode::Nonpersistent => notes.push("nonpersistent"),
                super::model::DiskMode::Undoable => notes.push("undoable"),
            }
            if d.owned {
                notes.push("clone, deleted with the VM");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            };
            format!("vd{} {}{notes}", (b'a' + i as u8) as char, d.volume)
        })
        .collect();
    names.join(", ")
}

fn policy(p: super::model::RestartPolicy) -> &'static str {
    use super::model::RestartPolicy as P;
    match p {
        P::Never => "never",
        P::OnFailure => "on-failure",
        P::Always => "always",
    }
}

fn path(name: String) -> VmPath {
    VmPath { name }
}

/// A kernel or initrd as the daemon takes it: a file here (made absolute), or the name
/// of a pool volume (no `/`, and no such file here).
fn boot_source(p: &std::path::Path) -> anyhow::Result<String> {
    let s = p.to_string_lossy();
    if !s.contains('/') && !p.exists() {
        return Ok(s.into_owned());
    }
    Ok(std::path::absolute(p)?.to_string_lossy().into_owned())
}

/// Runs a vm verb.
pub fn run(ctx: &CliCtx, m: &clap::ArgMatches) -> anyhow::Result<()> {
    let c = &ctx.client;
    match VmCmd::from_arg_matches(m)? {
        VmCmd::Create {
            name,
            kernel,
            initrd,
            cmdline,
            memory,
            vcpus,
            autostart,
            restart,
            disks,
            clone_of,
            nets,
        } => {
            let body = CreateVmBody {
                name,
                kernel: boot_source(&kernel)?,
                initrd: initrd.as_deref().map(boot_source).transpose()?,
                cmdline,
                memory: memory.map(Into::into),
                vcpus: Some(vcpus),
                autostart,
                restart,
                disks,
                clone_of,
                nets,
            };
            let v = c.call::<CreateVm>(&NoParams {}, &body)?;
            ctx.print(&v, |v| {
                println!("created VM {} (start it: vsa vm start {})", v.name, v.name)
            });
        }
        VmCmd::List => ctx.print(&c.call::<ListVms>(&NoParams {}, &Empty {})?, |v| {
            let rows: Vec<Vec<String>> = v
                .iter()
                .map(|x| {
                    vec![
                        x.name.clone(),
                        x.state.clone(),
                        x.vcpus.to_string(),
                        bytes(x.memory),
                        or_dash(x.pid),
                        or_dash(x.last_exit.as_ref()),
                    ]
                })
                .collect();
            table(
                &["NAME", "STATE", "VCPUS", "MEMORY", "PID", "LAST EXIT"],
                &rows,
            );
        }),
        VmCmd::Show { name } => ctx.print(&c.call::<ShowVm>(&path(name), &Empty {})?, show),
        VmCmd::Start { name } => {
            let v = c.call::<StartVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| {
                println!("started VM {} (pid {})", v.name, or_dash(v.pid))
            });
        }
        VmCmd::Stop {
            name,
            force,
            timeout,
        } => {
            let body = StopVmBody {
                force,
                timeout_secs: timeout,
            };
            let v = c.call::<StopVm>(&path(name), &body)?;
            ctx.print(&v, |v| println!("VM {} is {}", v.name, v.state));
        }
        VmCmd::Pause { name } => {
            let v = c.call::<PauseVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| println!("VM {} is {}", v.name, v.state));
        }
        VmCmd::Resume { name } => {
            let v = c.call::<ResumeVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| println!("VM {} is {}", v.name, v.state));
        }
        VmCmd::Commit { name } => {
            let v = c.call::<CommitVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| println!("committed the changes of VM {}", v.name));
        }
        VmCmd::Discard { name } => {
            let v = c.call::<DiscardVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| println!("discarded the changes of VM {}", v.name));
        }
        VmCmd::Console {
            name,
            follow,
            attach,
        } if follow || attach => super::console_cli::follow(c, &name, attach)?,
        VmCmd::Console { name, .. } => {
            let v = c.call::<VmConsole>(&path(name), &Empty {})?;
            ctx.print(&v, |v| print!("{}", v.text));
        }
        VmCmd::Delete { name } => {
            let v = c.call::<DeleteVm>(&path(name), &Empty {})?;
            ctx.print(&v, |v| println!("deleted VM {}", v.deleted));
        }
    }
    Ok(())
}
