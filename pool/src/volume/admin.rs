//! Volume administration: create, resize, delete, snapshot, clone, rollback.
//!
//! Each operation holds the pool's gate exclusively (in-flight I/O drains first), changes
//! the in-memory state and collects the same changes in one [`WriteBatch`], which is
//! committed synced before the operation returns. Chunks freed by an operation return to
//! the allocator only after that commit; if the commit fails the in-memory state is
//! reloaded from the database, which still holds the state before the operation.

use super::{
    check_name, counter_key, load_state, map_key, node_key, now_secs, snapshot_key, volume_key,
    NodeRecord, SnapshotInfo, SnapshotRecord, State, VolEntry, VolShared, VolumeError, VolumeInfo,
    VolumeManager, VolumeRecord, PHYS_MASK, UNWRITTEN, ZERO,
};
use crate::meta::{MetaStore, CF_MAP, CF_VOLUME};
use rand::rngs::OsRng;
use rand::RngCore;
use rocksdb::WriteBatch;
use std::collections::HashSet;
use vsa_blockdev::BlockDevice;

/// The largest volume: 2^56 bytes (64 PiB).
pub const MAX_VOLUME_SIZE: u64 = 1 << 56;

/// One metadata transaction over the locked state.
struct Txn<'a> {
    mgr: &'a VolumeManager,
    st: &'a mut State,
    batch: WriteBatch,
    freed: Vec<u64>,
}

impl<'a> Txn<'a> {
    fn new(mgr: &'a VolumeManager, st: &'a mut State) -> Self {
        Txn {
            mgr,
            st,
            batch: WriteBatch::default(),
            freed: Vec::new(),
        }
    }

    fn store(&self) -> &'a MetaStore {
        &self.mgr.inner.store
    }

    fn pool(&self) -> u64 {
        self.mgr.inner.pool
    }

    fn new_node(&mut self, parent: Option<u64>, size: u64) -> Result<u64, VolumeError> {
        let id = self.st.next_node;
        self.st.next_node += 1;
        let cf = self.store().cf(CF_VOLUME)?;
        self.batch.put_cf(
            cf,
            counter_key(self.pool()),
            self.st.next_node.to_be_bytes(),
        );
        self.st.nodes.entry(id).or_default().rec = Some(NodeRecord {
            parent,
            size,
            children: 0,
        });
        self.save_node(id)?;
        if let Some(p) = parent {
            self.adjust_children(p, 1)?;
        }
        Ok(id)
    }

    fn save_node(&mut self, id: u64) -> Result<(), VolumeError> {
        let rec = self
            .st
            .node_rec(id)
            .cloned()
            .ok_or_else(|| self.broken(format!("node {id} is missing")))?;
        let cf = self.store().cf(CF_VOLUME)?;
        self.batch
            .put_cf(cf, node_key(self.pool(), id), MetaStore::encode(&rec));
        Ok(())
    }

    fn adjust_children(&mut self, id: u64, delta: i64) -> Result<(), VolumeError> {
        let rec = self
            .st
            .nodes
            .get_mut(&id)
            .and_then(|n| n.rec.as_mut())
            .ok_or_else(|| VolumeError::Inconsistent {
                pool: String::new(),
                why: format!("node {id} is missing"),
            })?;
        rec.children = (i64::from(rec.children) + delta).max(0) as u32;
        self.save_node(id)
    }

    fn put_entry(&mut self, node: u64, chunk: u64, entry: u64) -> Result<(), VolumeError> {
        let cf = self.store().cf(CF_MAP)?;
        self.batch
            .put_cf(cf, map_key(self.pool(), node, chunk), entry.to_be_bytes());
        self.st
            .nodes
            .entry(node)
            .or_default()
            .map
            .insert(chunk, entry);
        Ok(())
    }

    fn drop_entry(&mut self, node: u64, chunk: u64) -> Result<(), VolumeError> {
        let cf = self.store().cf(CF_MAP)?;
        self.batch.delete_cf(cf, map_key(self.pool(), node, chunk));
        if let Some(e) = self
            .st
            .nodes
            .get_mut(&node)
            .and_then(|n| n.map.remove(&chunk))
        {
            if e & ZERO == 0 {
                self.freed.push(e & PHYS_MASK);
            }
        }
        Ok(())
    }

    /// Deletes a node with everything it maps; its parent loses a child.
    fn delete_node(&mut self, id: u64) -> Result<(), VolumeError> {
        let chunks: Vec<u64> = self
            .st
            .nodes
            .get(&id)
            .map(|n| n.map.keys().copied().collect())
            .unwrap_or_default();
        for c in chunks {
            self.drop_entry(id, c)?;
        }
        let parent = self.st.node_rec(id).and_then(|r| r.parent);
        self.st.nodes.remove(&id);
        let cf = self.store().cf(CF_VOLUME)?;
        self.batch.delete_cf(cf, node_key(self.pool(), id));
        if let Some(p) = parent {
            self.adjust_children(p, -1)?;
            self.collapse(p)?;
        }
        Ok(())
    }

    /// Whether a volume head or a snapshot still names `id`.
    fn is_named(&self, id: u64) -> bool {
        self.st.volumes.values().any(|v| v.rec.head == id)
            || self.st.snapshots.values().any(|s| s.node == id)
    }

    /// Frees a node nothing names and nothing descends from, or merges one with a single
    /// child into that child.
    fn collapse(&mut self, id: u64) -> Result<(), VolumeError> {
        if self.is_named(id) {
            return Ok(());
        }
        let Some(rec) = self.st.node_rec(id).cloned() else {
            return Ok(());
        };
        match rec.children {
            0 => self.delete_node(id),
            1 => self.merge_into_child(id, rec),
            _ => Ok(()),
        }
    }

    fn merge_into_child(&mut self, id: u64, rec: NodeRecord) -> Result<(), VolumeError> {
        let child = self
            .st
            .nodes
            .iter()
            .find(|(_, n)| n.rec.as_ref().and_then(|r| r.parent) == Some(id))
            .map(|(&c, n)| (c, n.rec.as_ref().map(|r| r.size).unwrap_or(0)));
        let Some((child, child_size)) = child else {
            return Err(self.broken(format!("node {id} counts a child but none names it")));
        };
        let cs = self.mgr.inner.chunk_size;
        let entries: Vec<(u64, u64)> = self
            .st
            .nodes
            .get(&id)
            .map(|n| n.map.iter().map(|(&c, &e)| (c, e)).collect())
            .unwrap_or_default();
        for (chunk, entry) in entries {
            let shadowed = self
                .st
                .nodes
                .get(&child)
                .is_some_and(|n| n.map.contains_key(&chunk));
            if shadowed || chunk * cs >= child_size {
                self.drop_entry(id, chunk)?;
            } else {
                let cf = self.store().cf(CF_MAP)?;
                self.batch.delete_cf(cf, map_key(self.pool(), id, chunk));
                if let Some(n) = self.st.nodes.get_mut(&id) {
                    n.map.remove(&chunk);
                }
                self.put_entry(child, chunk, entry)?;
            }
        }
        if let Some(r) = self.st.nodes.get_mut(&child).and_then(|n| n.rec.as_mut()) {
            r.parent = rec.parent;
        }
        self.save_node(child)?;
        self.st.nodes.remove(&id);
        let cf = self.store().cf(CF_VOLUME)?;
        self.batch.delete_cf(cf, node_key(self.pool(), id));
        Ok(())
    }

    fn put_volume(&mut self, rec: VolumeRecord) -> Result<(), VolumeError> {
        let cf = self.store().cf(CF_VOLUME)?;
        self.batch
            .put_cf(cf, volume_key(&rec.name), MetaStore::encode(&rec));
        match self.st.volumes.get_mut(&rec.name) {
            Some(v) => v.rec = rec,
            None => {
                let shared = VolShared::new();
                self.st
                    .volumes
                    .insert(rec.name.clone(), VolEntry { rec, shared });
            }
        }
        Ok(())
    }

    fn broken(&self, why: String) -> VolumeError {
        VolumeError::Inconsistent {
            pool: self.mgr.inner.pool_name.clone(),
            why,
        }
    }

    fn commit(self) -> Result<(), VolumeError> {
        let Txn {
            mgr,
            st,
            batch,
            freed,
        } = self;
        let inner = &mgr.inner;
        match inner.store.commit(batch, true) {
            Ok(()) => {
                for phys in freed {
                    st.alloc.release(phys);
                }
                Ok(())
            }
            Err(e) => {
                let total = st.alloc.total();
                if let Ok(fresh) = load_state(&inner.store, inner.pool, &inner.pool_name, total) {
                    let volumes = std::mem::take(&mut st.volumes);
                    *st = fresh;
                    // Keep the lock objects that open handles share.
                    for (name, old) in volumes {
                        if let Some(v) = st.volumes.get_mut(&name) {
                            v.shared = old.shared;
                        }
                    }
                }
                Err(e.into())
            }
        }
    }
}

/// Makes the chunks in `range` read as zeros in `head` where a node below it still maps
/// data there: what a grown volume shows past its old end is zeros, whatever merges of
/// deleted snapshots (which keep only what their child's size covers) left below.
fn hide_below(
    txn: &mut Txn<'_>,
    head: u64,
    range: std::ops::Range<u64>,
) -> Result<(), VolumeError> {
    let Some(parent) = txn.st.node_rec(head).and_then(|r| r.parent) else {
        return Ok(());
    };
    for c in txn.st.mapped_in_chain(parent, range) {
        let own = txn
            .st
            .nodes
            .get(&head)
            .is_some_and(|n| n.map.contains_key(&c));
        let data = txn
            .st
            .resolve(parent, c)
            .is_some_and(|e| e & (ZERO | UNWRITTEN) == 0);
        if !own && data {
            txn.put_entry(head, c, ZERO)?;
        }
    }
    Ok(())
}

/// A new volume UUID: 16 bytes from the operating system's random number generator,
/// written as 32 lower-case hex digits (the format existing records hold).
fn new_uuid() -> Result<String, VolumeError> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(VolumeError::NoRandomness)?;
    Ok(hex::encode(bytes))
}

impl VolumeManager {
    fn check_size(&self, size: u64) -> Result<(), VolumeError> {
        let bs = u64::from(self.inner.data.block_size());
        let bad = |why: String| Err(VolumeError::InvalidSize { size, why });
        if size == 0 {
            return bad("a volume must hold at least one block".into());
        }
        if size % bs != 0 {
            return bad(format!(
                "sizes must be multiples of the {bs}-byte block size"
            ));
        }
        if size > MAX_VOLUME_SIZE {
            return bad(format!(
                "the largest volume is {MAX_VOLUME_SIZE} bytes (64 PiB)"
            ));
        }
        Ok(())
    }

    fn name_taken(&self, st: &State, name: &str) -> Result<bool, VolumeError> {
        Ok(st.volumes.contains_key(name)
            || self
                .inner
                .store
                .get(CF_VOLUME, &volume_key(name))?
                .is_some())
    }

    /// Reserves every chunk of `[from, to)` bytes for a thick volume.
    fn reserve(&self, txn: &mut Txn<'_>, node: u64, from: u64, to: u64) -> Result<(), VolumeError> {
        let cs = self.inner.chunk_size;
        let first = from.div_ceil(cs);
        let last = to.div_ceil(cs);
        let missing: Vec<u64> = (first..last)
            .filter(|c| {
                !txn.st
                    .nodes
                    .get(&node)
                    .is_some_and(|n| n.map.contains_key(c))
            })
            .collect();
        let free = txn.st.alloc.free();
        let got =
            txn.st
                .alloc
                .allocate(missing.len() as u64)
                .ok_or(VolumeError::SpaceExhausted {
                    pool: self.inner.pool_name.clone(),
                    needed: missing.len() as u64,
                    free,
                    chunk_size: cs,
                })?;
        // If the transaction fails, the reload returns these; if it succeeds they are used.
        for (chunk, phys) in missing.into_iter().zip(got) {
            txn.put_entry(node, chunk, phys | UNWRITTEN)?;
        }
        Ok(())
    }

    /// Creates a volume of `size` bytes; `thick` reserves all its space now.
    pub fn create(&self, name: &str, size: u64, thick: bool) -> Result<VolumeInfo, VolumeError> {
        check_name(name)?;
        self.check_size(size)?;
        let uuid = new_uuid()?;
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        if self.name_taken(&st, name)? {
            return Err(VolumeError::VolumeExists(name.to_owned()));
        }
        let mut txn = Txn::new(self, &mut st);
        let head = txn.new_node(None, size)?;
        if thick {
            if let Err(e) = self.reserve(&mut txn, head, 0, size) {
                txn.st.nodes.remove(&head);
                txn.st.next_node -= 1;
                return Err(e);
            }
        }
        txn.put_volume(VolumeRecord {
            name: name.to_owned(),
            pool: self.inner.pool,
            head,
            size,
            thick,
            uuid,
            created: now_secs(),
            origin: None,
        })?;
        txn.commit()?;
        drop(st);
        self.info(name)
    }

    fn volume_rec(&self, st: &State, name: &str) -> Result<VolumeRecord, VolumeError> {
        st.volumes
            .get(name)
            .map(|v| v.rec.clone())
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_owned()))
    }

    fn snapshot_rec(
        &self,
        st: &State,
        volume: &str,
        snap: &str,
    ) -> Result<SnapshotRecord, VolumeError> {
        self.volume_rec(st, volume)?;
        st.snapshots
            .get(&(volume.to_owned(), snap.to_owned()))
            .cloned()
            .ok_or_else(|| VolumeError::NoSuchSnapshot {
                volume: volume.to_owned(),
                snapshot: snap.to_owned(),
            })
    }

    /// Takes a crash-consistent, read-only snapshot of a volume in constant time.
    pub fn snapshot(&self, volume: &str, snap: &str) -> Result<SnapshotInfo, VolumeError> {
        check_name(snap)?;
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let mut rec = self.volume_rec(&st, volume)?;
        if st
            .snapshots
            .contains_key(&(volume.to_owned(), snap.to_owned()))
        {
            return Err(VolumeError::SnapshotExists {
                volume: volume.to_owned(),
                snapshot: snap.to_owned(),
            });
        }
        // Everything acknowledged before the snapshot is in it, durably.
        self.inner.data.flush()?;
        let srec = SnapshotRecord {
            volume: volume.to_owned(),
            name: snap.to_owned(),
            pool: self.inner.pool,
            node: rec.head,
            size: rec.size,
            created: now_secs(),
        };
        let mut txn = Txn::new(self, &mut st);
        rec.head = txn.new_node(Some(srec.node), rec.size)?;
        txn.put_volume(rec)?;
        let cf = txn.store().cf(CF_VOLUME)?;
        txn.batch
            .put_cf(cf, snapshot_key(volume, snap), MetaStore::encode(&srec));
        txn.st
            .snapshots
            .insert((volume.to_owned(), snap.to_owned()), srec.clone());
        txn.commit()?;
        Ok(SnapshotInfo {
            record: srec,
            allocated: 0,
            clones: Vec::new(),
        })
    }

    /// Creates a writable volume `new` that shares `volume@snap`'s data (a linked clone).
    pub fn clone_snapshot(
        &self,
        volume: &str,
        snap: &str,
        new: &str,
    ) -> Result<VolumeInfo, VolumeError> {
        check_name(new)?;
        let uuid = new_uuid()?;
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let srec = self.snapshot_rec(&st, volume, snap)?;
        if self.name_taken(&st, new)? {
            return Err(VolumeError::VolumeExists(new.to_owned()));
        }
        let mut txn = Txn::new(self, &mut st);
        let head = txn.new_node(Some(srec.node), srec.size)?;
        txn.put_volume(VolumeRecord {
            name: new.to_owned(),
            pool: self.inner.pool,
            head,
            size: srec.size,
            thick: false,
            uuid,
            created: now_secs(),
            origin: Some(format!("{volume}@{snap}")),
        })?;
        txn.commit()?;
        drop(st);
        self.info(new)
    }

    /// Returns a volume to the content (and size) it had at `snap`; later writes are lost,
    /// later snapshots are kept.
    pub fn rollback(&self, volume: &str, snap: &str) -> Result<VolumeInfo, VolumeError> {
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let srec = self.snapshot_rec(&st, volume, snap)?;
        let mut rec = self.volume_rec(&st, volume)?;
        let old_head = rec.head;
        let mut txn = Txn::new(self, &mut st);
        rec.head = txn.new_node(Some(srec.node), srec.size)?;
        rec.size = srec.size;
        txn.put_volume(rec)?;
        txn.delete_node(old_head)?;
        txn.commit()?;
        drop(st);
        self.info(volume)
    }

    /// The clones of snapshot node `node` of volume `owner`: volumes whose chain passes
    /// through the node coming from a node that is not the owner's own (its head or one of
    /// its snapshots). A newer snapshot's clones do not depend on an older snapshot in this
    /// sense: deleting the older one merges it into the newer.
    fn dependents(&self, st: &State, node: u64, owner: &str) -> Vec<String> {
        let owners: HashSet<u64> = st
            .volumes
            .get(owner)
            .map(|v| v.rec.head)
            .into_iter()
            .chain(
                st.snapshots
                    .values()
                    .filter(|s| s.volume == owner)
                    .map(|s| s.node),
            )
            .collect();
        let mut out: Vec<String> = st
            .volumes
            .values()
            .filter(|v| v.rec.name != owner)
            .filter(|v| {
                let mut prev = None;
                let mut n = Some(v.rec.head);
                while let Some(id) = n {
                    if id == node {
                        return prev.is_some_and(|p| !owners.contains(&p));
                    }
                    prev = Some(id);
                    n = st.node_rec(id).and_then(|r| r.parent);
                }
                false
            })
            .map(|v| v.rec.name.clone())
            .collect();
        out.sort();
        out
    }

    /// Deletes a snapshot; space only it held returns to the pool.
    pub fn delete_snapshot(&self, volume: &str, snap: &str) -> Result<(), VolumeError> {
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let srec = self.snapshot_rec(&st, volume, snap)?;
        let clones = self.dependents(&st, srec.node, volume);
        if !clones.is_empty() {
            return Err(VolumeError::HasClones {
                name: format!("{volume}@{snap}"),
                clones,
            });
        }
        let mut txn = Txn::new(self, &mut st);
        txn.st
            .snapshots
            .remove(&(volume.to_owned(), snap.to_owned()));
        let cf = txn.store().cf(CF_VOLUME)?;
        txn.batch.delete_cf(cf, snapshot_key(volume, snap));
        txn.collapse(srec.node)?;
        txn.commit()
    }

    /// Deletes a volume and its snapshots. Refused while clones of its snapshots exist.
    pub fn delete(&self, volume: &str) -> Result<(), VolumeError> {
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let rec = self.volume_rec(&st, volume)?;
        let snaps: Vec<SnapshotRecord> = st
            .snapshots
            .values()
            .filter(|s| s.volume == volume)
            .cloned()
            .collect();
        let mut clones: Vec<String> = snaps
            .iter()
            .flat_map(|s| self.dependents(&st, s.node, volume))
            .collect();
        clones.sort();
        clones.dedup();
        if !clones.is_empty() {
            return Err(VolumeError::HasClones {
                name: volume.to_owned(),
                clones,
            });
        }
        let mut txn = Txn::new(self, &mut st);
        let cf = txn.store().cf(CF_VOLUME)?;
        for s in &snaps {
            txn.batch.delete_cf(cf, snapshot_key(volume, &s.name));
            txn.st
                .snapshots
                .remove(&(volume.to_owned(), s.name.clone()));
        }
        txn.batch.delete_cf(cf, volume_key(volume));
        let removed = txn.st.volumes.remove(volume);
        txn.delete_node(rec.head)?;
        for s in &snaps {
            txn.collapse(s.node)?;
        }
        let result = txn.commit();
        if result.is_err() {
            if let Some(v) = removed {
                st.volumes.entry(volume.to_owned()).or_insert(v);
            }
        }
        result
    }

    /// The first byte at or after `from` that holds data in the volume with head `head`.
    fn first_data_at_or_after(
        &self,
        st: &State,
        head: u64,
        from: u64,
        end: u64,
    ) -> Result<Option<u64>, VolumeError> {
        let cs = self.inner.chunk_size;
        let chunks = st.mapped_in_chain(head, from / cs..end.div_ceil(cs));
        let mut data: Vec<u64> = chunks
            .into_iter()
            .filter(|&c| {
                st.resolve(head, c)
                    .is_some_and(|e| e & (ZERO | UNWRITTEN) == 0)
            })
            .collect();
        data.sort_unstable();
        for c in data {
            let lo = (c * cs).max(from);
            let hi = ((c + 1) * cs).min(end);
            let Some(phys) = st.resolve(head, c).map(|e| e & PHYS_MASK) else {
                continue;
            };
            let mut buf = vec![0u8; (hi - lo) as usize];
            self.inner
                .data
                .read_at(&mut buf, phys * cs + (lo - c * cs))?;
            if let Some(i) = buf.iter().position(|&b| b != 0) {
                return Ok(Some(lo + i as u64));
            }
        }
        Ok(None)
    }

    /// Grows or shrinks a volume. Shrinking is refused if data lies past the new size.
    pub fn resize(&self, volume: &str, size: u64) -> Result<VolumeInfo, VolumeError> {
        self.check_size(size)?;
        let _gate = self.inner.gate.write();
        let mut st = self.inner.state.write();
        let mut rec = self.volume_rec(&st, volume)?;
        let cs = self.inner.chunk_size;
        if size < rec.size {
            if let Some(at) = self.first_data_at_or_after(&st, rec.head, size, rec.size)? {
                return Err(VolumeError::ShrinkWouldDropData {
                    volume: volume.to_owned(),
                    new_size: size,
                    data_at: at,
                    data_end: at.div_ceil(cs).max(1) * cs,
                });
            }
        }
        let mut txn = Txn::new(self, &mut st);
        let head = rec.head;
        if size < rec.size {
            let beyond: Vec<u64> = txn
                .st
                .nodes
                .get(&head)
                .map(|n| {
                    n.map
                        .iter()
                        .filter(|(&c, &e)| c * cs >= size && e & ZERO == 0)
                        .map(|(&c, _)| c)
                        .collect()
                })
                .unwrap_or_default();
            // What lies below shows through these chunks now; growing hides it again.
            for c in beyond {
                txn.drop_entry(head, c)?;
            }
        } else if rec.thick {
            self.reserve(&mut txn, head, rec.size, size)?;
        } else {
            hide_below(&mut txn, head, rec.size.div_ceil(cs)..size.div_ceil(cs))?;
        }
        rec.size = size;
        if let Some(r) = txn.st.nodes.get_mut(&head).and_then(|n| n.rec.as_mut()) {
            r.size = size;
        }
        txn.save_node(head)?;
        txn.put_volume(rec)?;
        txn.commit()?;
        drop(st);
        self.info(volume)
    }

    /// The snapshots of a volume, oldest first.
    pub fn snapshots(&self, volume: &str) -> Result<Vec<SnapshotInfo>, VolumeError> {
        let st = self.inner.state.read();
        self.volume_rec(&st, volume)?;
        let mut out: Vec<SnapshotInfo> = st
            .snapshots
            .values()
            .filter(|s| s.volume == volume)
            .map(|s| SnapshotInfo {
                record: s.clone(),
                allocated: self.node_bytes(&st, s.node),
                clones: self.dependents(&st, s.node, volume),
            })
            .collect();
        out.sort_by_key(|s| (s.record.created, s.record.node));
        Ok(out)
    }
}

#[cfg(test)]
mod uuid_tests {
    #[test]
    fn volume_uuids_are_32_lower_case_hex_digits_and_differ() {
        let a = super::new_uuid().unwrap();
        let b = super::new_uuid().unwrap();
        assert_ne!(a, b);
        for u in [a, b] {
            assert_eq!(u.len(), 32);
            assert!(
                u.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                "{u}"
            );
        }
    }
}
