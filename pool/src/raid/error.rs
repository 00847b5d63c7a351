//! [`RaidError`]: what can go wrong building or managing a RAID set.

use super::RaidLevel;
use vsa_blockdev::BlockError;

/// An error from building or managing a [`super::RaidSet`]. Every message names the
/// problem and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RaidError {
    /// The level needs more members than were given.
    #[error("{} needs at least {min} members, but {got} were given; add members or choose a level that needs fewer", level.name())]
    TooFewMembers {
        /// The level asked for.
        level: RaidLevel,
        /// Its minimum member count.
        min: usize,
        /// Members given.
        got: usize,
    },
    /// RAID 10 pairs members, so it needs an even count.
    #[error("RAID 10 mirrors members in pairs, so it needs an even number of members, but {got} were given; add or remove one member")]
    OddMemberCount {
        /// Members given.
        got: usize,
    },
    /// A member has no usable space.
    #[error("member {name} holds no usable space (it is smaller than one {chunk_size}-byte chunk); use a larger device")]
    ZeroSizedMember {
        /// The member's name.
        name: String,
        /// The chunk size of the set.
        chunk_size: u32,
    },
    /// A member's block size differs from the others'.
    #[error("member {name} has {size}-byte blocks but the set uses {expected}-byte blocks; use members with the same block size")]
    BlockSizeMismatch {
        /// The member's name.
        name: String,
        /// Its block size.
        size: u32,
        /// The set's block size.
        expected: u32,
    },
    /// A replacement or spare is smaller than the set's members.
    #[error("member {name} holds {size} bytes but the set needs {needed} bytes per member; use a device at least that large")]
    MemberTooSmall {
        /// The device's name.
        name: String,
        /// Its size.
        size: u64,
        /// Bytes needed.
        needed: u64,
    },
    /// The chunk size is not usable.
    #[error("chunk size {chunk_size} is not usable: it must be a power of two, at least 4096 bytes, at most 16 MiB and a multiple of the {block_size}-byte block size; choose e.g. 65536")]
    InvalidChunkSize {
        /// The chunk size asked for.
        chunk_size: u32,
        /// The members' block size.
        block_size: u32,
    },
    /// Saved member states do not match the members given.
    #[error("the saved state lists {states} members but {members} were given; open the set with the members it was created with")]
    StateMismatch {
        /// States given.
        states: usize,
        /// Members given.
        members: usize,
    },
    /// No member has this index.
    #[error("the set has no member {index}; it has members 0 to {last}")]
    NoSuchMember {
        /// The index asked for.
        index: usize,
        /// The last valid index.
        last: usize,
    },
    /// The action would leave the set without the redundancy it needs.
    #[error("{} cannot {action}: {reason}; replace or rebuild failed members first", level.name())]
    NotRedundant {
        /// The set's level.
        level: RaidLevel,
        /// What was asked.
        action: String,
        /// Why not.
        reason: String,
    },
    /// A member or journal operation failed.
    #[error(transparent)]
    Block(#[from] BlockError),
}
