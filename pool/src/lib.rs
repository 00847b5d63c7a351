//! vsa-pool: the layer that turns member devices into protected, thin-provisioned volumes.
//!
//! ```text
//!  Volume (thin/thick, snapshots, clones)      volume.rs, alloc.rs   ── implements BlockDevice
//!        │ chunk maps in RocksDB               meta.rs
//!        ▼
//!  ReadCache (RAM, write-through)              cache/                ── implements BlockDevice
//!        │
//!        ▼
//!  WriteJournal (small writes)                write_journal/        ── implements BlockDevice
//!        │ records in a log file (log_file.rs), group commit, background destaging
//!        ▼
//!  RaidSet (0, 1, 5, 6, 10)                    raid/                 ── implements BlockDevice
//!        │ dirty-region log, member states in RocksDB; reads around blocks that fail
//!        │ their checksums and rewrites them
//!        ▼
//!  IntegrityDevice (CRC32C per 4 KiB block)    integrity/            ── implements BlockDevice
//!        │ checksum pages in RocksDB (sums_db.rs)
//!        ▼
//!  Member (file or block device, O_DIRECT)     member.rs             ── implements BlockDevice
//! ```
//!
//! Every layer implements [`vsa_blockdev::BlockDevice`], so each composes with the others
//! and with the test doubles of `vsa-blockdev`. The pool knows nothing of SCSI, iSCSI, tapes
//! or VMs. The on-disk and metadata formats are described in `pool/FORMAT.md`.
#![forbid(unsafe_code)]

pub mod alloc;
pub mod cache;
pub mod integrity;
mod journal_db;
mod log_db;
mod log_file;
pub mod member;
pub mod meta;
pub mod pool;
pub mod progress;
pub mod raid;
mod scratch;
mod sums_db;
pub mod volume;
pub mod write_journal;

pub use cache::{ReadCache, ReadCacheStats, DEFAULT_READ_CACHE_BYTES, MIN_READ_CACHE_BYTES};
pub use journal_db::DbJournal;
pub use log_db::DbLog;
pub use log_file::FileLog;
pub use member::{Member, MemberError, MemberLabel};
pub use meta::{MetaError, MetaStore};
pub use pool::{Pool, PoolError, PoolRecord, PoolSpec, PoolStatus};
pub use progress::{Progress, ProgressReport, Throttle};
pub use sums_db::DbSums;
pub use volume::{CheckReport, SpaceInfo, Volume, VolumeError, VolumeInfo, VolumeManager};
