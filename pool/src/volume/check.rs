//! The metadata consistency check: reads the durable metadata afresh and checks it against
//! itself and against the state in memory. The daemon runs it at start after an unclean
//! stop; tests run it after every crash.

use super::{load_state, State, VolumeError, VolumeManager, ZERO};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the check found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CheckReport {
    /// Map nodes.
    pub nodes: u64,
    /// Volumes.
    pub volumes: u64,
    /// Snapshots.
    pub snapshots: u64,
    /// Physical chunks referenced by maps.
    pub used_chunks: u64,
    /// Physical chunks free.
    pub free_chunks: u64,
    /// Every inconsistency, as a sentence.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl VolumeManager {
    /// Checks the pool's volume metadata: every physical chunk referenced at most once and
    /// never both free and used, node child counts matching the parent links, no cycles,
    /// every volume and snapshot naming an existing node, no node left that nothing needs,
    /// and the in-memory maps equal to the durable ones.
    pub fn check(&self) -> Result<CheckReport, VolumeError> {
        let _gate = self.inner.gate.write();
        let live = self.inner.state.read();
        let total = live.alloc.total();
        let durable = match load_state(
            &self.inner.store,
            self.inner.pool,
            &self.inner.pool_name,
            total,
        ) {
            Ok(s) => s,
            Err(VolumeError::Inconsistent { why, .. }) => {
                return Ok(CheckReport {
                    problems: vec![why],
                    ..CheckReport::default()
                })
            }
            Err(e) => return Err(e),
        };
        let mut r = CheckReport {
            nodes: durable.nodes.values().filter(|n| n.rec.is_some()).count() as u64,
            volumes: durable.volumes.len() as u64,
            snapshots: durable.snapshots.len() as u64,
            used_chunks: durable.alloc.used(),
            free_chunks: durable.alloc.free(),
            problems: Vec::new(),
        };
        check_tree(&durable, &mut r.problems);
        compare(&durable, &live, &mut r.problems);
        Ok(r)
    }
}

fn check_tree(st: &State, problems: &mut Vec<String>) {
    let mut children: HashMap<u64, u32> = HashMap::new();
    for (&id, node) in &st.nodes {
        let Some(rec) = &node.rec else {
            problems.push(format!(
                "node {id} has {} map entries but no node record",
                node.map.len()
            ));
            continue;
        };
        if let Some(p) = rec.parent {
            if st.node_rec(p).is_none() {
                problems.push(format!("node {id} names missing node {p} as its parent"));
            }
            *children.entry(p).or_default() += 1;
        }
        let mut seen = 0;
        let mut n = rec.parent;
        while let Some(p) = n {
            seen += 1;
            if p == id || seen > st.nodes.len() {
                problems.push(format!("node {id} is in a parent cycle"));
                break;
            }
            n = st.node_rec(p).and_then(|r| r.parent);
        }
        if id >= st.next_node {
            problems.push(format!(
                "node {id} is not below the node counter {}",
                st.next_node
            ));
        }
    }
    for (&id, node) in &st.nodes {
        let Some(rec) = &node.rec else { continue };
        let actual = children.get(&id).copied().unwrap_or(0);
        if rec.children != actual {
            problems.push(format!(
                "node {id} counts {} children but {actual} name it",
                rec.children
            ));
        }
        let named = st.volumes.values().any(|v| v.rec.head == id)
            || st.snapshots.values().any(|s| s.node == id);
        if !named && actual < 2 {
            problems.push(format!(
                "node {id} is unnamed with {actual} children and should have been freed or merged"
            ));
        }
    }
    for v in st.volumes.values() {
        match st.node_rec(v.rec.head) {
            None => problems.push(format!(
                "volume {} names missing head node {}",
                v.rec.name, v.rec.head
            )),
            Some(r) if r.children != 0 => problems.push(format!(
                "volume {} head node {} has children",
                v.rec.name, v.rec.head
            )),
            Some(_) => {}
        }
    }
    for s in st.snapshots.values() {
        if st.node_rec(s.node).is_none() {
            problems.push(format!(
                "snapshot {}@{} names missing node {}",
                s.volume, s.name, s.node
            ));
        }
        if !st.volumes.contains_key(&s.volume) {
            problems.push(format!(
                "snapshot {}@{} belongs to no volume",
                s.volume, s.name
            ));
        }
    }
}

fn compare(durable: &State, live: &State, problems: &mut Vec<String>) {
    for c in 0..durable.alloc.total() {
        match (durable.alloc.is_used(c), live.alloc.is_used(c)) {
            (true, false) => problems.push(format!(
                "chunk {c} is mapped but the allocator holds it free"
            )),
            (false, true) => problems.push(format!(
                "chunk {c} is held in use but no map names it (leaked)"
            )),
            _ => {}
        }
        if problems.len() > 100 {
            problems.push("more problems not listed".to_owned());
            return;
        }
    }
    for (&id, node) in &durable.nodes {
        let mem = live.nodes.get(&id).map(|n| &n.map);
        if mem != Some(&node.map) && !(node.map.is_empty() && mem.is_none_or(|m| m.is_empty())) {
            problems.push(format!(
                "node {id}: the map in memory differs from the durable map"
            ));
        }
    }
    for (id, node) in &live.nodes {
        if !durable.nodes.contains_key(id) && node.map.values().any(|e| e & ZERO == 0) {
            problems.push(format!(
                "node {id} maps chunks in memory that are not durable"
            ));
        }
    }
}
