//! Replication between a link's targets (DFS-R's job, one way): a run makes the replica's
//! directory a copy of the source's. A file is sent as a block delta: both copies are read
//! a [`CHUNK`](crate::ns::migrate::side::CHUNK) at a time, each block hashed with SHA-256, and only the blocks whose hashes
//! differ are written (the hashes of what a run wrote are kept, so the next run reads the
//! replica's blocks again only if the replica changed behind its back); a file that shrank
//! or is new is sent whole. Files and directories the source no longer has are removed
//! from the replica. Each run ends with a report: files looked at, sent, removed, blocks
//! and bytes sent, bytes the delta did not have to send.
//!
//! A file is looked into when its size or modification time is not what the last run saw
//! of it, on either side (so a file changed on the replica is put back as well).

pub mod cli;

use crate::ns::fuse::smb::SmbClients;
use crate::ns::migrate::side::{Entry, Reader, Side, Writer};
use crate::ns::types::ReplicaRunView;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

/// A block's SHA-256.
type Hash = [u8; 32];

/// What the last run left of one file: the source's and the replica's size and time, and
/// the replica's block hashes.
#[derive(Debug, Clone)]
struct Kept {
    src: (u64, Option<SystemTime>),
    dst: (u64, Option<SystemTime>),
    hashes: Vec<Hash>,
}

/// One replication's ends and what its last run left.
pub struct Replica {
    pub from: Side,
    pub to: Side,
    pub smb: SmbClients,
    kept: HashMap<Vec<String>, Kept>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

fn hash(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

fn stamp(e: &Entry) -> (u64, Option<SystemTime>) {
    (e.size, e.mtime)
}

impl Replica {
    pub fn new(from: Side, to: Side, smb: SmbClients) -> Replica {
        Replica {
            from,
            to,
            smb,
            kept: HashMap::new(),
        }
    }

    /// One run: the replica made a copy of the source; what it took.
    pub fn run(&mut self) -> Result<ReplicaRunView, String> {
        let started = std::time::Instant::now();
        let mut r = ReplicaRunView::default();
        self.to
            .mkdir(&[], &self.smb)
            .map_err(|e| format!("cannot make the replica's directory: {e}"))?;
        let (src, skipped) = self
            .from
            .walk(&self.smb)
            .map_err(|e| format!("cannot list the source: {e}"))?;
        let (dst, _) = self
            .to
            .walk(&self.smb)
            .map_err(|e| format!("cannot list the replica: {e}"))?;
        let dst: HashMap<Vec<String>, Entry> =
            dst.into_iter().map(|e| (e.rel.clone(), e)).collect();
        r.skipped = skipped;
        for e in &src {
            let there = dst.get(&e.rel);
            if e.dir {
                if !there.is_some_and(|d| d.dir) {
                    self.clear(there)?;
                    self.to.mkdir(&e.rel, &self.smb)?;
                    r.dirs_made += 1;
                }
                continue;
            }
            r.files_checked += 1;
            let same = self.kept.get(&e.rel).is_some_and(|k| {
                k.src == stamp(e) && there.is_some_and(|d| !d.dir && k.dst == stamp(d))
            });
            if same {
                continue;
            }
            if there.is_some_and(|d| d.dir) {
                self.clear(there)?;
            }
            self.send(e, there.filter(|d| !d.dir), &mut r)
                .map_err(|err| format!("cannot send {}: {err}", e.rel.join("/")))?;
        }
        self.remove_extra(&src, &dst, &mut r)?;
        if r.files_sent > 0 {
            self.note_sent()?;
        }
        r.millis = started.elapsed().as_millis() as u64;
        Ok(r)
    }

    /// Notes the replica's size and time of the files this run sent, as its listing
    /// shows them.
    fn note_sent(&mut self) -> Result<(), String> {
        let (after, _) = self
            .to
            .walk(&self.smb)
            .map_err(|e| format!("cannot list the replica: {e}"))?;
        let after: HashMap<Vec<String>, Entry> =
            after.into_iter().map(|e| (e.rel.clone(), e)).collect();
        self.kept.retain(|rel, k| {
            if k.dst.0 != u64::MAX {
                return true;
            }
            match after.get(rel) {
                Some(d) if !d.dir => {
                    k.dst = stamp(d);
                    true
                }
                _ => false,
            }
        });
        Ok(())
    }

    /// Removes what is in the way of an entry of another kind (a whole directory tree).
    fn clear(&mut self, there: Option<&Entry>) -> Result<(), String> {
        let Some(d) = there else { return Ok(()) };
        if d.dir {
            let (inside, _) = self.to.below(&d.rel).walk(&self.smb)?;
            for mut e in inside.into_iter().rev() {
                e.rel = d.rel.iter().chain(&e.rel).cloned().collect();
                self.to.remove(&e, &self.smb)?;
                self.kept.remove(&e.rel);
            }
        }
        self.to.remove(d, &self.smb)?;
        self.kept.remove(&d.rel);
        Ok(())
    }

    /// Files and directories of the replica the source does not have, deepest first.
    fn remove_extra(
        &mut self,
        src: &[Entry],
        dst: &HashMap<Vec<String>, Entry>,
        r: &mut ReplicaRunView,
    ) -> Result<(), String> {
        let live: HashSet<&Vec<String>> = src.iter().map(|e| &e.rel).collect();
        let mut extra: Vec<&Entry> = dst.values().filter(|d| !live.contains(&d.rel)).collect();
        extra.sort_by(|a, b| b.rel.len().cmp(&a.rel.len()).then(b.rel.cmp(&a.rel)));
        for d in extra {
            self.to
                .remove(d, &self.smb)
                .map_err(|e| format!("cannot remove from the replica: {e}"))?;
            self.kept.remove(&d.rel);
            r.removed += 1;
        }
        Ok(())
    }

    /// Sends file `e` to the replica, whose copy is `there`: the blocks that differ, or
    /// the whole file when the replica has none or a longer one.
    fn send(
        &mut self,
        e: &Entry,
        there: Option<&Entry>,
        r: &mut ReplicaRunView,
    ) -> Result<(), String> {
        let fresh = there.is_none_or(|d| d.size > e.size);
        let known = self
            .kept
            .get(&e.rel)
            .filter(|k| there.is_some_and(|d| k.dst == stamp(d)))
            .map(|k| k.hashes.clone());
        let mut src = Reader::open(&self.from, &e.rel, &self.smb)?;
        let mut old = match (&known, fresh) {
            (None, false) => Some(Reader::open(&self.to, &e.rel, &self.smb)?),
            _ => None,
        };
        let mut w = Writer::open(&self.to, &e.rel, &self.smb, fresh)?;
        let (mut hashes, mut at, mut result) = (Vec::new(), 0u64, Ok(()));
        loop {
            let block = match src.read_at(at, &self.smb) {
                Ok(b) if b.is_empty() => break,
                Ok(b) => b,
                Err(x) => {
                    result = Err(x);
                    break;
                }
            };
            let h = hash(&block);
            let i = hashes.len();
            let theirs = if fresh {
                None
            } else if let Some(k) = &known {
                k.get(i).copied()
            } else if let Some(o) = old.as_mut() {
                match o.read_at(at, &self.smb) {
                    Ok(b) if b.len() == block.len() => Some(hash(&b)),
                    Ok(_) => None,
                    Err(x) => {
                        result = Err(x);
                        break;
                    }
                }
            } else {
                None
            };
            r.blocks_total += 1;
            if theirs != Some(h) {
                if let Err(x) = w.write_at(at, &block, &self.smb) {
                    result = Err(x);
                    break;
                }
                r.blocks_sent += 1;
                r.bytes_sent += block.len() as u64;
            } else {
                r.bytes_saved += block.len() as u64;
            }
            hashes.push(h);
            at += block.len() as u64;
        }
        src.close(&self.smb);
        if let Some(o) = old {
            o.close(&self.smb);
        }
        let done = w.finish(&self.smb, e.mtime);
        result.and(done)?;
        r.files_sent += 1;
        // The replica's size and time are filled in from the listing after the run (as
        // the next run's listing will show them).
        self.kept.insert(
            e.rel.clone(),
            Kept {
                src: stamp(e),
                dst: (u64::MAX, None),
                hashes,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
