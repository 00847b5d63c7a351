//! What a VM has done, for `vsa vm show` and the metrics: its vCPUs' exits and its
//! network cards' frames since it last started, from the stats file its runner rewrites
//! every second (`vsa_vmm::kvm::stats::VmStats::render`: `name value` lines), and its
//! disks' I/O, from the core's per-volume counters (since the daemon started).

use super::model::VmDisk;
use super::types::VmStatsView;
use crate::core::Core;
use std::collections::BTreeMap;
use std::path::Path;

/// The runner's stats file, in the VM's directory.
pub const STATS_FILE: &str = "stats";

/// The counters in a stats file's text; lines that do not parse are skipped.
pub fn parse(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.trim().split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The VM's counters: `dir` is its directory, `nets` its number of network cards.
pub fn view(core: &Core, dir: &Path, disks: &[VmDisk], nets: usize) -> VmStatsView {
    let run = std::fs::read_to_string(dir.join(STATS_FILE))
        .map(|t| parse(&t))
        .unwrap_or_default();
    let get = |name: &str| run.get(name).copied().unwrap_or(0);
    let vcpu_exits = ["io", "mmio", "other"]
        .into_iter()
        .map(|r| (r.to_owned(), get(&format!("exits_{r}"))))
        .collect();
    let mut disk_ops = BTreeMap::new();
    let mut disk_bytes = BTreeMap::new();
    for d in disks {
        for (op, ops, bytes) in core.metrics().io.totals(&d.volume) {
            *disk_ops.entry(op.to_owned()).or_insert(0) += ops;
            *disk_bytes.entry(op.to_owned()).or_insert(0) += bytes;
        }
    }
    let nets = (0..nets)
        .map(|i| {
            let prefix = format!("net{i}_");
            run.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), *v)))
                .collect()
        })
        .collect();
    VmStatsView {
        vcpu_exits,
        disk_ops,
        disk_bytes,
        nets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_files_parse_with_their_padding() {
        let text = format!(
            "exits_io 12\nexits_mmio 3\nnet0_rx_frames 7\nbad line\n{}",
            " ".repeat(100)
        );
        let m = parse(&text);
        assert_eq!(m.get("exits_io"), Some(&12));
        assert_eq!(m.get("net0_rx_frames"), Some(&7));
        assert_eq!(m.len(), 3);
    }
}
