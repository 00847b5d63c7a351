//! Volumes: thin and thick, with snapshots, clones and rollback, over one pool's data device.
//!
//! The data device (a RAID set) is divided into chunks of `chunk_size` bytes (1 MiB by
//! default). A volume's content is a chain of *map nodes*: each node maps logical chunks to
//! physical chunks, and a lookup walks from the volume's head node to its parents until a
//! node maps the chunk (or none does: the chunk reads as zeros without touching disk).
//!
//! ```text
//!   volume "db" ──head──▶ node 7 ──parent──▶ node 4 (snapshot db@mon) ──parent──▶ node 1 (db@sun)
//!   volume "db-test" ──head──▶ node 9 ──parent──▶ node 4     (a clone of db@mon)
//! ```
//!
//! - A snapshot freezes the volume's head node under the snapshot's name and gives the
//!   volume a new, empty head: constant time whatever the volume's size.
//! - A clone is a new volume whose head's parent is a snapshot's node (a linked clone).
//! - A write to a chunk the head does not own allocates a fresh chunk, copies the old
//!   content in (copy-on-write) or zeros, and records the mapping durably before the write
//!   is acknowledged. Every physical chunk belongs to exactly one node; sharing happens
//!   through parent links, and each node counts the nodes that name it as parent.
//! - Deleting a snapshot hides its node; a hidden node with one child is merged into it,
//!   one with none is freed, so space returns as soon as nothing references it.
//!
//! Lock order: `gate` (admin operations take it exclusively; I/O shares it), then a
//! volume's `io` lock, then its `pending` set, then `state`.

mod admin;
mod check;
mod io;

pub use check::CheckReport;
pub use io::Volume;

use crate::alloc::ChunkAllocator;
use crate::meta::{be_u64, key, MetaError, MetaStore, CF_MAP, CF_VOLUME};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use vsa_blockdev::{BlockDevice, BlockError, ErrorKind, Op};

/// The default allocation chunk: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 1 << 20;

/// Map entry flag: the chunk reads as zeros (hides a parent's data after an unmap).
const ZERO: u64 = 1 << 63;
/// Map entry flag: the chunk is reserved (thick volume) but never written; reads as zeros.
const UNWRITTEN: u64 = 1 << 62;
const PHYS_MASK: u64 = (1 << 62) - 1;

/// An error from a volume operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    /// No such volume.
    #[error("no volume named '{0}'")]
    NoSuchVolume(String),
    /// The name is taken.
    #[error("a volume named '{0}' already exists; choose another name")]
    VolumeExists(String),
    /// No such snapshot.
    #[error("volume '{volume}' has no snapshot named '{snapshot}'")]
    NoSuchSnapshot {
        /// The volume.
        volume: String,
        /// The snapshot asked for.
        snapshot: String,
    },
    /// The snapshot name is taken.
    #[error("volume '{volume}' already has a snapshot named '{snapshot}'; choose another name")]
    SnapshotExists {
        /// The volume.
        volume: String,
        /// The snapshot name.
        snapshot: String,
    },
    /// A name breaks the naming rules.
    #[error("invalid name '{name}': {why}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// A size is not usable.
    #[error("invalid size {size} bytes: {why}")]
    InvalidSize {
        /// The size given.
        size: u64,
        /// Why it is refused.
        why: String,
    },
    /// Shrinking would drop written data.
    #[error("cannot shrink volume '{volume}' to {new_size} bytes: it holds data at byte offset {data_at}; choose a size above {data_end} bytes or remove that data first")]
    ShrinkWouldDropData {
        /// The volume.
        volume: String,
        /// The size asked for.
        new_size: u64,
        /// The first offset past `new_size` that holds data.
        data_at: u64,
        /// The end of the chunk holding the last data.
        data_end: u64,
    },
    /// Other volumes are clones of this volume's snapshots.
    #[error("'{name}' cannot be deleted because these clones depend on it: {}; delete them first", clones.join(", "))]
    HasClones {
        /// The volume or snapshot (`vol@snap`).
        name: String,
        /// The volumes that depend on it.
        clones: Vec<String>,
    },
    /// The pool has no room for the change.
    #[error("pool '{pool}' is out of space: {needed} free chunks of {chunk_size} bytes are needed and {free} are free; add capacity, delete snapshots or volumes, or unmap unused space")]
    SpaceExhausted {
        /// The pool.
        pool: String,
        /// Chunks needed.
        needed: u64,
        /// Chunks free.
        free: u64,
        /// The chunk size.
        chunk_size: u64,
    },
    /// An I/O error from the data device.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A metadata store error.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The metadata contradicts itself.
    #[error("the volume metadata of pool '{pool}' is inconsistent: {why}")]
    Inconsistent {
        /// The pool.
        pool: String,
        /// What is wrong.
        why: String,
    },
    /// The operating system's random number generator failed (a new id was needed).
    #[error("the operating system's random number generator failed: {0}; no new volume id can be made until it works")]
    NoRandomness(#[source] rand::Error),
}

impl VolumeError {
    /// The error as a block-device error, for the I/O path.
    pub(crate) fn into_block(self, op: Op, offset: u64, len: u64) -> BlockError {
        match self {
            VolumeError::Block(e) => e.at(op, offset, len),
            VolumeError::SpaceExhausted { .. } => {
                BlockError::new(ErrorKind::SpaceExhausted, op, offset, len)
                    .with_detail(self.to_string())
            }
            VolumeError::NoSuchVolume(_) => {
                BlockError::new(ErrorKind::DeviceFailed, op, offset, len)
                    .with_detail(self.to_string())
            }
            other => {
                BlockError::new(ErrorKind::Corrupt, op, offset, len).with_detail(other.to_string())
            }
        }
    }
}

/// A volume's durable record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeRecord {
    /// The volume's name, unique in the appliance.
    pub name: String,
    /// The pool it lives in.
    pub pool: u64,
    /// Its head map node.
    pub head: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Whether space was reserved at creation.
    pub thick: bool,
    /// A stable unique id (hex), for SCSI device identifiers.
    pub uuid: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The snapshot it was cloned from (`vol@snap`), if any.
    pub origin: Option<String>,
}

/// A snapshot's durable record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// The volume it was taken of.
    pub volume: String,
    /// Its name, unique among the volume's snapshots.
    pub name: String,
    /// The pool.
    pub pool: u64,
    /// The frozen map node.
    pub node: u64,
    /// The volume's size when the snapshot was taken.
    pub size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
}

/// A map node's durable record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct NodeRecord {
    parent: Option<u64>,
    /// The size of the volume or snapshot this node belongs to.
    size: u64,
    /// How many nodes name this one as parent.
    children: u32,
}

/// What there is to tell about a volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VolumeInfo {
    /// The durable record.
    #[serde(flatten)]
    pub record: VolumeRecord,
    /// Bytes of pool space this volume alone holds (its head's chunks).
    pub allocated: u64,
    /// Its snapshots, oldest first.
    pub snapshots: Vec<String>,
}

/// What a snapshot listing tells.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotInfo {
    /// The durable record.
    #[serde(flatten)]
    pub record: SnapshotRecord,
    /// Bytes of pool space this snapshot alone holds (changed after it was taken).
    pub allocated: u64,
    /// Volumes cloned from it.
    pub clones: Vec<String>,
}

/// Pool space as the volumes see it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct SpaceInfo {
    /// Usable bytes of the data device, in whole chunks.
    pub capacity: u64,
    /// Bytes in allocated chunks.
    pub allocated: u64,
    /// Bytes free.
    pub free: u64,
    /// Sum of all volumes' sizes (may exceed the capacity: overcommit).
    pub provisioned: u64,
    /// The allocation chunk size.
    pub chunk_size: u64,
    /// Whether free space is below the low-space threshold.
    pub low: bool,
    /// Whether a write failed for lack of free chunks since space was last freed (a
    /// write to a thin volume, or a first write after a snapshot, needing more chunks than
    /// are free). Cleared when more chunks are free than at that failure, and at open.
    pub exhausted: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Node {
    rec: Option<NodeRecord>,
    map: HashMap<u64, u64>,
    /// Where this node's new chunks go: logical chunk `l` asks for physical chunk
    /// `(l + placement) % total`, so a thin volume written in any order (several streams
    /// at once) is laid out as a thick one would be, where that space is free: runs of
    /// chunks then merge into large requests (whole RAID 5/6 stripes). Taken from the
    /// first chunk with data an allocation finds (since open), rounded up to whole units
    /// of the set's stripes (`Inner::align`) so chunks keep their place in them; only a
    /// hint.
    placement: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct VolShared {
    io: RwLock<()>,
    /// Logical chunks some writer is allocating right now; others wanting them wait.
    pending: Mutex<HashSet<u64>>,
    allocated: parking_lot::Condvar,
}

impl VolShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(VolShared {
            io: RwLock::new(()),
            pending: Mutex::new(HashSet::new()),
            allocated: parking_lot::Condvar::new(),
        })
    }
}

#[derive(Debug)]
pub(crate) struct VolEntry {
    rec: VolumeRecord,
    shared: Arc<VolShared>,
}

#[derive(Debug)]
pub(crate) struct State {
    nodes: HashMap<u64, Node>,
    volumes: HashMap<String, VolEntry>,
    snapshots: BTreeMap<(String, String), SnapshotRecord>,
    alloc: ChunkAllocator,
    next_node: u64,
}

impl State {
    fn node_rec(&self, id: u64) -> Option<&NodeRecord> {
        self.nodes.get(&id).and_then(|n| n.rec.as_ref())
    }

    /// What physical chunk `phys` holds, for people: the volume or snapshot (or the
    /// volumes sharing it through a clone's parent) and the byte `within` it is at there.
    fn holder(&self, phys: u64, within: u64, chunk_size: u64) -> String {
        let found = self.nodes.iter().find_map(|(&id, n)| {
            n.map
                .iter()
                .find(|(_, &e)| e == phys)
                .map(|(&logical, _)| (id, logical))
        });
        let Some((node, logical)) = found else {
            return "free space".into();
        };
        let at = logical * chunk_size + within;
        if let Some(v) = self.volumes.values().find(|v| v.rec.head == node) {
            return format!("volume {} at byte {at}", v.rec.name);
        }
        if let Some(s) = self.snapshots.values().find(|s| s.node == node) {
            return format!("snapshot {}@{} at byte {at}", s.volume, s.name);
        }
        let mut readers: Vec<&str> = self
            .volumes
            .values()
            .filter(|v| self.chain_has(v.rec.head, node))
            .map(|v| v.rec.name.as_str())
            .collect();
        readers.sort_unstable();
        format!("data shared by {} at byte {at}", readers.join(", "))
    }

    /// Whether `node` is `from` or one of its ancestors.
    fn chain_has(&self, mut from: u64, node: u64) -> bool {
        loop {
            if from == node {
                return true;
            }
            match self.node_rec(from).and_then(|r| r.parent) {
                Some(p) => from = p,
                None => return false,
            }
        }
    }

    /// The chunks in `range` that `node` or a node it descends from maps.
    fn mapped_in_chain(&self, node: u64, range: std::ops::Range<u64>) -> HashSet<u64> {
        let mut out = HashSet::new();
        let mut n = Some(node);
        while let Some(id) = n {
            if let Some(node) = self.nodes.get(&id) {
                out.extend(node.map.keys().filter(|c| range.contains(c)));
            }
            n = self.node_rec(id).and_then(|r| r.parent);
        }
        out
    }

    /// The entry for `chunk` seen from `node`: walks the parent chain.
    fn resolve(&self, mut node: u64, chunk: u64) -> Option<u64> {
        loop {
            let n = self.nodes.get(&node)?;
            if let Some(&e) = n.map.get(&chunk) {
                return Some(e);
            }
            node = n.rec.as_ref()?.parent?;
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    store: Arc<MetaStore>,
    pool: u64,
    pool_name: String,
    data: Arc<dyn BlockDevice>,
    chunk_size: u64,
    /// Chunks per unit of `data`'s best write alignment (see `align_chunks`).
    align: u64,
    low_space_percent: std::sync::atomic::AtomicU64,
    gate: RwLock<()>,
    state: RwLock<State>,
}

impl Inner {
    fn space_low(&self) -> bool {
        let pct = self
            .low_space_percent
            .load(std::sync::atomic::Ordering::Relaxed);
        let st = self.state.read();
        st.alloc.free().saturating_mul(100) < st.alloc.total().saturating_mul(pct)
    }
}

/// The volumes of one pool.
#[derive(Debug, Clone)]
pub struct VolumeManager {
    inner: Arc<Inner>,
}

pub(crate) fn map_key(pool: u64, node: u64, chunk: u64) -> Vec<u8> {
    key("m", &[pool, node, chunk])
}

pub(crate) fn node_key(pool: u64, node: u64) -> Vec<u8> {
    key("n", &[pool, node])
}

pub(crate) fn counter_key(pool: u64) -> Vec<u8> {
    key("c", &[pool])
}

pub(crate) fn volume_key(name: &str) -> Vec<u8> {
    let mut k = b"v".to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

pub(crate) fn snapshot_key(volume: &str, snap: &str) -> Vec<u8> {
    let mut k = b"s".to_vec();
    k.extend_from_slice(volume.as_bytes());
    k.push(0);
    k.extend_from_slice(snap.as_bytes());
    k
}

/// Checks a volume or snapshot name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with
/// `.` or `-`.
pub fn check_name(name: &str) -> Result<(), VolumeError> {
    let bad = |why: &str| {
        Err(VolumeError::InvalidName {
            name: name.to_owned(),
            why: why.to_owned(),
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("names are 1 to 64 characters long");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return bad("names must not start with '.' or '-'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("names may hold only letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The fewest chunks whose span is a whole number of `granularity` units (a RAID 5 set of
/// three data members with 64 KiB chunks has 192 KiB stripes: 3 chunks of 1 MiB are 16
/// stripes). Thin chunks are placed in steps of this many, so that a write which is
/// whole stripes on the volume is whole stripes on the set too. At most 1024.
fn align_chunks(chunk: u64, granularity: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    if chunk == 0 || granularity == 0 {
        return 1;
    }
    (granularity / gcd(chunk, granularity)).clamp(1, 1024)
}

impl VolumeManager {
    /// Opens the volumes of pool `pool` (id) over `data`, loading every map from `store`.
    pub fn open(
        store: Arc<MetaStore>,
        pool: u64,
        pool_name: &str,
        data: Arc<dyn BlockDevice>,
        chunk_size: u64,
    ) -> Result<VolumeManager, VolumeError> {
        let bs = u64::from(data.block_size());
        if chunk_size == 0 || !chunk_size.is_power_of_two() || chunk_size < bs.max(4096) {
            return Err(VolumeError::InvalidSize {
                size: chunk_size,
                why: format!(
                    "the chunk size must be a power of two of at least {} bytes",
                    bs.max(4096)
                ),
            });
        }
        let total = data.size() / chunk_size;
        let state = load_state(&store, pool, pool_name, total)?;
        Ok(VolumeManager {
            inner: Arc::new(Inner {
                store,
                pool,
                pool_name: pool_name.to_owned(),
                align: align_chunks(chunk_size, data.io_granularity()),
                data,
                chunk_size,
                low_space_percent: std::sync::atomic::AtomicU64::new(10),
                gate: RwLock::new(()),
                state: RwLock::new(state),
            }),
        })
    }

    /// The pool's id.
    pub fn pool_id(&self) -> u64 {
        self.inner.pool
    }

    /// The allocation chunk size.
    pub fn chunk_size(&self) -> u64 {
        self.inner.chunk_size
    }

    /// The block size volumes present (the data device's).
    pub fn block_size(&self) -> u32 {
        self.inner.data.block_size()
    }

    /// Sets the low-space threshold: [`SpaceInfo::low`] is set when less than `pct`
    /// percent of the capacity is free (10 by default).
    pub fn set_low_space_percent(&self, pct: u64) {
        self.inner
            .low_space_percent
            .store(pct.min(100), std::sync::atomic::Ordering::Relaxed);
    }

    /// Space accounting.
    pub fn space(&self) -> SpaceInfo {
        let st = self.inner.state.read();
        let cs = self.inner.chunk_size;
        let capacity = st.alloc.total() * cs;
        let free = st.alloc.free() * cs;
        SpaceInfo {
            capacity,
            allocated: st.alloc.used() * cs,
            free,
            provisioned: st.volumes.values().map(|v| v.rec.size).sum(),
            chunk_size: cs,
            low: free * 100
                < capacity
                    * self
                        .inner
                        .low_space_percent
                        .load(std::sync::atomic::Ordering::Relaxed),
            exhausted: st.alloc.short(),
        }
    }

    /// A function naming what the pool's byte `offset` holds (`volume NAME at byte N`, a
    /// snapshot, volumes sharing a clone's parent, or free space), for log lines about the
    /// data there. It never waits: `None` while the volume metadata is locked (it may be
    /// called from inside a read of this pool's data). It holds the volumes weakly.
    pub fn locator(&self) -> impl Fn(u64) -> Option<String> + Send + Sync + 'static {
        let inner = Arc::downgrade(&self.inner);
        move |offset| {
            let inner = inner.upgrade()?;
            let cs = inner.chunk_size;
            let st = inner.state.try_read()?;
            Some(st.holder(offset / cs, offset % cs, cs))
        }
    }

    /// Whether free space is below the low-space threshold (cheap: no sums).
    pub fn space_low(&self) -> bool {
        self.inner.space_low()
    }

    /// The names of this pool's volumes, sorted.
    pub fn names(&self) -> Vec<String> {
        let st = self.inner.state.read();
        let mut names: Vec<String> = st.volumes.keys().cloned().collect();
        names.sort();
        names
    }

    /// Everything about one volume.
    pub fn info(&self, name: &str) -> Result<VolumeInfo, VolumeError> {
        let st = self.inner.state.read();
        let v = st
            .volumes
            .get(name)
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_owned()))?;
        let snapshots = st
            .snapshots
            .values()
            .filter(|s| s.volume == name)
            .collect::<Vec<_>>();
        let mut snaps: Vec<&SnapshotRecord> = snapshots;
        snaps.sort_by_key(|s| (s.created, s.node));
        Ok(VolumeInfo {
            record: v.rec.clone(),
            allocated: self.node_bytes(&st, v.rec.head),
            snapshots: snaps.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// All volumes.
    pub fn list(&self) -> Vec<VolumeInfo> {
        self.names()
            .iter()
            .filter_map(|n| self.info(n).ok())
            .collect()
    }

    fn node_bytes(&self, st: &State, node: u64) -> u64 {
        st.nodes
            .get(&node)
            .map(|n| n.map.values().filter(|&&e| e & ZERO == 0).count() as u64)
            .unwrap_or(0)
            * self.inner.chunk_size
    }

    /// Opens a volume for I/O.
    pub fn volume(&self, name: &str) -> Result<Volume, VolumeError> {
        let st = self.inner.state.read();
        let v = st
            .volumes
            .get(name)
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_owned()))?;
        Ok(Volume::head(self.inner.clone(), name, v.shared.clone()))
    }

    /// Opens a snapshot read-only.
    pub fn snapshot_view(&self, volume: &str, snap: &str) -> Result<Volume, VolumeError> {
        let st = self.inner.state.read();
        let s = st
            .snapshots
            .get(&(volume.to_owned(), snap.to_owned()))
            .ok_or_else(|| VolumeError::NoSuchSnapshot {
                volume: volume.to_owned(),
                snapshot: snap.to_owned(),
            })?;
        Ok(Volume::frozen(
            self.inner.clone(),
            &format!("{volume}@{snap}"),
            s.node,
            s.size,
        ))
    }
}

fn load_state(
    store: &MetaStore,
    pool: u64,
    pool_name: &str,
    total: u64,
) -> Result<State, VolumeError> {
    let mut st = State {
        nodes: HashMap::new(),
        volumes: HashMap::new(),
        snapshots: BTreeMap::new(),
        alloc: ChunkAllocator::new(total),
        next_node: 1,
    };
    if let Some(v) = store.get(CF_VOLUME, &counter_key(pool))? {
        st.next_node = be_u64(&v, 0).unwrap_or(1);
    }
    store.scan_each(CF_VOLUME, &key("n", &[pool]), |k, v| {
        let id = be_u64(k, 9).unwrap_or(0);
        st.nodes.entry(id).or_default().rec = Some(MetaStore::decode(k, v)?);
        Ok(())
    })?;
    for (k, v) in store.scan(CF_VOLUME, b"v")? {
        let rec: VolumeRecord = MetaStore::decode(&k, &v)?;
        if rec.pool == pool {
            let shared = VolShared::new();
            st.volumes
                .insert(rec.name.clone(), VolEntry { rec, shared });
        }
    }
    for (k, v) in store.scan(CF_VOLUME, b"s")? {
        let rec: SnapshotRecord = MetaStore::decode(&k, &v)?;
        if rec.pool == pool {
            st.snapshots
                .insert((rec.volume.clone(), rec.name.clone()), rec);
        }
    }
    let mut bad = None;
    store.scan_each(CF_MAP, &key("m", &[pool]), |k, v| {
        let (node, chunk, entry) = (be_u64(k, 9), be_u64(k, 17), be_u64(v, 0));
        let (Some(node), Some(chunk), Some(entry)) = (node, chunk, entry) else {
            bad = Some(format!("map key {k:?} or value {v:?} has the wrong length"));
            return Ok(());
        };
        if entry & ZERO == 0 && !st.alloc.mark_used(entry & PHYS_MASK) {
            bad = Some(format!(
                "physical chunk {} is mapped twice or lies outside the pool (node {node}, chunk {chunk})",
                entry & PHYS_MASK
            ));
        }
        st.nodes.entry(node).or_default().map.insert(chunk, entry);
        Ok(())
    })?;
    if let Some(why) = bad {
        return Err(VolumeError::Inconsistent {
            pool: pool_name.to_owned(),
            why,
        });
    }
    Ok(st)
}

#[cfg(test)]
mod tests;
