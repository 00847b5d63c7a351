//! Tests of whole RAID sets over in-memory and fault-injecting members.

mod checksums;
mod input;
mod io;
mod maint;

use super::*;
use std::sync::Arc;
use vsa_blockdev::testing::{FaultyDevice, MemDevice};

pub(super) type Dev = Arc<FaultyDevice<MemDevice>>;

pub(super) fn devs(n: usize, size: u64) -> Vec<Dev> {
    (0..n)
        .map(|_| Arc::new(FaultyDevice::new(MemDevice::new(size, 512))))
        .collect()
}

pub(super) fn members(devs: &[Dev]) -> Vec<RaidMember> {
    devs.iter()
        .enumerate()
        .map(|(i, d)| RaidMember {
            name: format!("disk{i}"),
            dev: d.clone(),
        })
        .collect()
}

pub(super) fn spare(name: &str, size: u64) -> (Dev, RaidMember) {
    let d: Dev = Arc::new(FaultyDevice::new(MemDevice::new(size, 512)));
    let m = RaidMember {
        name: name.to_string(),
        dev: d.clone(),
    };
    (d, m)
}

/// A set with its devices and journal.
pub(super) struct Rig {
    pub devs: Vec<Dev>,
    pub journal: Arc<MemJournal>,
    pub set: RaidSet,
}

pub(super) fn rig(level: RaidLevel, n: usize, member_size: u64, chunk: u32) -> Rig {
    let devs = devs(n, member_size);
    let journal = Arc::new(MemJournal::new());
    let set = RaidSet::open(
        level,
        chunk,
        members(&devs),
        vec![],
        None,
        true,
        journal.clone(),
    )
    .unwrap();
    Rig { devs, journal, set }
}

/// Deterministic bytes that differ by seed and position.
pub(super) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `data` at `offset` through the set and into the model.
pub(super) fn write(set: &RaidSet, model: &mut [u8], offset: u64, data: &[u8]) {
    set.write_at(data, offset).unwrap();
    model[offset as usize..offset as usize + data.len()].copy_from_slice(data);
}

pub(super) fn read_all(set: &RaidSet) -> Vec<u8> {
    let mut buf = vec![0u8; set.size() as usize];
    set.read_at(&mut buf, 0).unwrap();
    buf
}

pub(super) fn assert_model(set: &RaidSet, model: &[u8]) {
    let got = read_all(set);
    if let Some(i) = (0..model.len()).find(|&i| got[i] != model[i]) {
        panic!("byte {i} reads {} but {} was written", got[i], model[i]);
    }
}

pub(super) fn scrub(set: &RaidSet, repair: bool) -> ScrubReport {
    set.scrub(repair, &Progress::default(), 0).unwrap()
}

use crate::progress::Progress;
