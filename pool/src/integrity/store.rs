//! Where checksum pages live: [`SumStore`]. The pool keeps them in its metadata database
//! (`DbSums`, column family `checksum`); tests use [`MemSums`].
//!
//! A page holds the checksums of [`PAGE_BLOCKS`] consecutive blocks of one member: 4096
//! bytes, one little-endian u32 per block. A page that is all zeros (the checksum of a
//! block of zeros, see `super::sum`) need not be stored: a missing page reads as zeros.

use parking_lot::Mutex;
use std::collections::HashMap;
use vsa_blockdev::Result;

/// Blocks per checksum page.
pub const PAGE_BLOCKS: u64 = 1024;
/// Bytes of a checksum page.
pub const PAGE_BYTES: usize = PAGE_BLOCKS as usize * 4;

/// A member's key in the store: its id (from its label).
pub type MemberKey = [u8; 16];

/// Durable storage of checksum pages and of how far a member's checksums are built.
pub trait SumStore: Send + Sync + std::fmt::Debug {
    /// Page `page` of member `member` (`None`: never stored, all zeros).
    fn load(&self, member: &MemberKey, page: u64) -> Result<Option<Vec<u8>>>;
    /// Stores pages (an all-zero page may be stored as absent) and, with `built`, the
    /// member's build watermark, in one atomic write; durable when it returns if `sync`.
    fn save(
        &self,
        member: &MemberKey,
        pages: &[(u64, Vec<u8>)],
        built: Option<u64>,
        sync: bool,
    ) -> Result<()>;
    /// The member's build watermark: checksums below it are known (`None`: never built).
    fn built(&self, member: &MemberKey) -> Result<Option<u64>>;
    /// Forgets everything about a member that left the pool.
    fn forget(&self, member: &MemberKey) -> Result<()>;
}

/// A [`SumStore`] in memory, for tests.
#[derive(Debug, Default)]
pub struct MemSums {
    inner: Mutex<MemInner>,
}

#[derive(Debug, Default)]
struct MemInner {
    pages: HashMap<(MemberKey, u64), Vec<u8>>,
    built: HashMap<MemberKey, u64>,
    saves: u64,
}

impl MemSums {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many pages are stored (all-zero pages are not).
    pub fn pages(&self) -> usize {
        self.inner.lock().pages.len()
    }

    /// How many times `save` was called.
    pub fn saves(&self) -> u64 {
        self.inner.lock().saves
    }
}

impl SumStore for MemSums {
    fn load(&self, member: &MemberKey, page: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.lock().pages.get(&(*member, page)).cloned())
    }

    fn save(
        &self,
        member: &MemberKey,
        pages: &[(u64, Vec<u8>)],
        built: Option<u64>,
        _sync: bool,
    ) -> Result<()> {
        let mut g = self.inner.lock();
        g.saves += 1;
        for (page, bytes) in pages {
            if bytes.iter().all(|&b| b == 0) {
                g.pages.remove(&(*member, *page));
            } else {
                g.pages.insert((*member, *page), bytes.clone());
            }
        }
        if let Some(b) = built {
            g.built.insert(*member, b);
        }
        Ok(())
    }

    fn built(&self, member: &MemberKey) -> Result<Option<u64>> {
        Ok(self.inner.lock().built.get(member).copied())
    }

    fn forget(&self, member: &MemberKey) -> Result<()> {
        let mut g = self.inner.lock();
        g.pages.retain(|(m, _), _| m != member);
        g.built.remove(member);
        Ok(())
    }
}
