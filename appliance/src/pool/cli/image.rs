//! `vsa volume import|export|transfers`: disk images in and out of the pool, with
//! progress (a bar on a terminal, a line per tenth otherwise).

use crate::core::output::{bytes, or_dash, table};
use crate::core::{CliCtx, Empty, NoParams};
use crate::pool::api::*;
use crate::pool::types::*;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

fn absolute(file: &Path) -> anyhow::Result<String> {
    Ok(std::path::absolute(file)?.to_string_lossy().into_owned())
}

/// `vsa volume import FILE NAME`.
pub fn import(
    ctx: &CliCtx,
    file: &Path,
    name: String,
    format: Option<String>,
    pool: Option<String>,
    wait: bool,
) -> anyhow::Result<()> {
    let body = ImportImageBody {
        file: absolute(file)?,
        name,
        format,
        pool,
    };
    let v = ctx.client.call::<ImportImage>(&NoParams {}, &body)?;
    finish(ctx, v, wait)
}

/// `vsa volume export NAME FILE`.
pub fn export(
    ctx: &CliCtx,
    volume: String,
    file: &Path,
    format: String,
    wait: bool,
) -> anyhow::Result<()> {
    let body = ExportImageBody {
        volume,
        file: absolute(file)?,
        format,
    };
    let v = ctx.client.call::<ExportImage>(&NoParams {}, &body)?;
    finish(ctx, v, wait)
}

/// `vsa volume transfers [VOLUME]`.
pub fn list(ctx: &CliCtx, volume: Option<String>) -> anyhow::Result<()> {
    match volume {
        Some(volume) => {
            let v = ctx
                .client
                .call::<ShowTransfer>(&TransferPath { volume }, &Empty {})?;
            ctx.print(&v, |v| rows(std::slice::from_ref(v)));
        }
        None => {
            let v = ctx.client.call::<ListTransfers>(&NoParams {}, &Empty {})?;
            ctx.print(&v, |v| rows(v));
        }
    }
    Ok(())
}

fn rows(v: &[TransferView]) {
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|t| {
            vec![
                t.volume.clone(),
                t.direction.clone(),
                format!("{} ({})", t.file, t.format),
                format!("{}/{}", bytes(t.done), bytes(t.total)),
                t.state.clone(),
                or_dash(t.error.as_ref()),
            ]
        })
        .collect();
    table(
        &["VOLUME", "DIRECTION", "FILE", "PROGRESS", "STATE", "ERROR"],
        &rows,
    );
}

fn finish(ctx: &CliCtx, started: TransferView, wait: bool) -> anyhow::Result<()> {
    if !wait {
        ctx.print(&started, |v| {
            println!(
                "{} of volume '{}' started ({}); `vsa volume transfers` shows its progress",
                v.direction, v.volume, v.file
            )
        });
        return Ok(());
    }
    let end = wait_for(ctx, &started)?;
    if end.state == "failed" {
        anyhow::bail!(
            "the {} of volume '{}' failed: {}",
            end.direction,
            end.volume,
            end.error.as_deref().unwrap_or("no reason given")
        );
    }
    ctx.print(&end, |v| match v.direction.as_str() {
        "import" => println!(
            "imported {} ({}) as volume '{}' of {}",
            v.file,
            v.format,
            v.volume,
            bytes(v.total)
        ),
        _ => println!(
            "exported volume '{}' to {} ({})",
            v.volume, v.file, v.format
        ),
    });
    Ok(())
}

/// Polls the transfer until it ends.
fn wait_for(ctx: &CliCtx, started: &TransferView) -> anyhow::Result<TransferView> {
    let tty = std::io::stdout().is_terminal() && !ctx.json;
    let bar = tty.then(|| {
        let b = ProgressBar::new(started.total);
        b.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_message(started.direction.clone());
        b
    });
    let path = TransferPath {
        volume: started.volume.clone(),
    };
    let mut last_decile = None;
    loop {
        let v = ctx.client.call::<ShowTransfer>(&path, &Empty {})?;
        if let Some(b) = &bar {
            b.set_position(v.done);
        } else if !ctx.json {
            let decile = v.done.saturating_mul(10).checked_div(v.total).unwrap_or(10);
            if last_decile != Some(decile) {
                println!(
                    "{} {}: {}/{}",
                    v.direction,
                    v.volume,
                    bytes(v.done),
                    bytes(v.total)
                );
                last_decile = Some(decile);
            }
        }
        if v.state != "running" {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return Ok(v);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
