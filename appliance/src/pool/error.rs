//! The pool component's errors as the API answers them: the pool crate says what is wrong
//! in its own terms; here each error gets its stable code, its HTTP status, and the hint
//! that names the `vsa` command that helps.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `invalid_size`, `invalid_name`, `invalid_raid`, `bad_member`, `device_not_found`, `pool_required`, `member_too_large` (the filesystem cannot hold a member file of the size asked for: `--create-size`, `create_size`; the user's choice to fix, so not a 5xx) |
//! | 404 | `no_such_pool`, `no_such_volume`, `no_such_snapshot`, `no_such_member` |
//! | 409 | `pool_exists`, `volume_exists`, `snapshot_exists`, `has_clones`, `shrink_would_drop_data`, `not_redundant`, `busy`, `device_busy`, `volume_in_use` |
//! | 500 | `io_error`, `metadata_error`, `internal` |
//! | 507 | `space_exhausted` (the pool is full) |

use crate::core::size::human;
use crate::core::ErrorCode;
use axum::http::StatusCode;
use vsa_blockdev::ErrorKind;
use vsa_pool::raid::RaidError;
use vsa_pool::{MemberError, PoolError, VolumeError};

const REPLACE: &str = "replace the member (`vsa pool replace POOL MEMBER NEW-DEVICE`)";

fn block(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::SpaceExhausted => (StatusCode::INSUFFICIENT_STORAGE, "space_exhausted"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "io_error"),
    }
}

fn volume(e: &VolumeError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        VolumeError::NoSuchVolume(_) => (S::NOT_FOUND, "no_such_volume"),
        VolumeError::VolumeExists(_) => (S::CONFLICT, "volume_exists"),
        VolumeError::NoSuchSnapshot { .. } => (S::NOT_FOUND, "no_such_snapshot"),
        VolumeError::SnapshotExists { .. } => (S::CONFLICT, "snapshot_exists"),
        VolumeError::InvalidName { .. } => (S::BAD_REQUEST, "invalid_name"),
        VolumeError::InvalidSize { .. } => (S::BAD_REQUEST, "invalid_size"),
        VolumeError::ShrinkWouldDropData { .. } => (S::CONFLICT, "shrink_would_drop_data"),
        VolumeError::HasClones { .. } => (S::CONFLICT, "has_clones"),
        VolumeError::SpaceExhausted { .. } => (S::INSUFFICIENT_STORAGE, "space_exhausted"),
        VolumeError::Block(b) => block(b.kind()),
        VolumeError::Meta(_) => (S::INTERNAL_SERVER_ERROR, "metadata_error"),
        _ => (S::INTERNAL_SERVER_ERROR, "internal"),
    }
}

fn volume_hint(e: &VolumeError) -> Option<String> {
    match e {
        VolumeError::NoSuchVolume(_) => Some("`vsa volume list` shows the volumes".into()),
        VolumeError::NoSuchSnapshot { volume, .. } => {
            Some(format!("`vsa volume snapshots {volume}` lists them"))
        }
        _ => None,
    }
}

impl ErrorCode for VolumeError {
    fn code(&self) -> &'static str {
        volume(self).1
    }
    fn status(&self) -> StatusCode {
        volume(self).0
    }
    fn hint(&self) -> Option<String> {
        volume_hint(self)
    }
}

fn raid(e: &RaidError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        RaidError::TooFewMembers { .. }
        | RaidError::OddMemberCount { .. }
        | RaidError::ZeroSizedMember { .. }
        | RaidError::BlockSizeMismatch { .. }
        | RaidError::MemberTooSmall { .. } => (S::BAD_REQUEST, "bad_member"),
        RaidError::InvalidChunkSize { .. } => (S::BAD_REQUEST, "invalid_size"),
        RaidError::NoSuchMember { .. } => (S::NOT_FOUND, "no_such_member"),
        RaidError::NotRedundant { .. } => (S::CONFLICT, "not_redundant"),
        RaidError::Block(b) => block(b.kind()),
        _ => (S::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl ErrorCode for RaidError {
    fn code(&self) -> &'static str {
        raid(self).1
    }
    fn status(&self) -> StatusCode {
        raid(self).0
    }
}

fn member(e: &MemberError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        MemberError::NotFound { .. } => (S::BAD_REQUEST, "device_not_found"),
        MemberError::Busy { .. } => (S::CONFLICT, "device_busy"),
        MemberError::TooLarge { .. } => (S::BAD_REQUEST, "member_too_large"),
        MemberError::Io { .. } => (S::INTERNAL_SERVER_ERROR, "io_error"),
        _ => (S::BAD_REQUEST, "bad_member"),
    }
}

fn too_large_hint(size: u64, free: Option<u64>) -> String {
    let room = match free {
        Some(f) => format!("{} asked for, {} free there", human(size), human(f)),
        None => format!("{} asked for", human(size)),
    };
    format!("{room}: choose a smaller size (`--create-size`, or \"create_size\" in the request or the configuration), or put the file on a filesystem with room")
}

impl ErrorCode for MemberError {
    fn code(&self) -> &'static str {
        member(self).1
    }
    fn status(&self) -> StatusCode {
        member(self).0
    }
    fn hint(&self) -> Option<String> {
        match self {
            MemberError::NotAMember { .. } => {
                Some("to use it, add it with `vsa pool create` or `vsa pool replace`".into())
            }
            MemberError::BadLabel { .. } => Some(format!("if the data is lost, {REPLACE}")),
            MemberError::TooLarge { size, free, .. } => Some(too_large_hint(*size, *free)),
            _ => None,
        }
    }
}

impl ErrorCode for PoolError {
    fn code(&self) -> &'static str {
        match self {
            PoolError::Volume(v) => v.code(),
            PoolError::Raid(r) => r.code(),
            PoolError::Member(m) => m.code(),
            PoolError::Meta(_) => "metadata_error",
            PoolError::NoSuchPool(_) => "no_such_pool",
            PoolError::PoolExists(_) => "pool_exists",
            PoolError::Busy { .. } => "busy",
            PoolError::NoSuchMember { .. } => "no_such_member",
            PoolError::BadMember { .. } => "bad_member",
            PoolError::BadLog { .. } => "bad_log_device",
            PoolError::NoJournal { .. } => "no_write_journal",
            _ => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        use StatusCode as S;
        match self {
            PoolError::Volume(v) => v.status(),
            PoolError::Raid(r) => r.status(),
            PoolError::Member(m) => m.status(),
            PoolError::NoSuchPool(_) | PoolError::NoSuchMember { .. } => S::NOT_FOUND,
            PoolError::PoolExists(_) | PoolError::Busy { .. } => S::CONFLICT,
            PoolError::BadMember { .. } | PoolError::BadLog { .. } => S::BAD_REQUEST,
            PoolError::NoJournal { .. } => S::CONFLICT,
            _ => S::INTERNAL_SERVER_ERROR,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            PoolError::Volume(v) => v.hint(),
            PoolError::Member(m) => m.hint(),
            PoolError::NoSuchPool(_) => Some("`vsa pool list` shows the pools".into()),
            PoolError::NoSuchMember { pool, .. } => {
                Some(format!("`vsa pool show {pool}` lists them"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ApiError;
    use vsa_blockdev::{BlockError, Op};

    #[test]
    fn maps_pool_errors_to_statuses_and_codes() {
        let cases: Vec<(PoolError, u16, &str)> = vec![
            (PoolError::NoSuchPool("p".into()), 404, "no_such_pool"),
            (PoolError::PoolExists("p".into()), 409, "pool_exists"),
            (
                PoolError::NoJournal {
                    pool: "p".into(),
                    why: "raid1".into(),
                },
                409,
                "no_write_journal",
            ),
            (
                PoolError::Busy {
                    pool: "p".into(),
                    task: "scrub",
                },
                409,
                "busy",
            ),
            (
                VolumeError::NoSuchVolume("v".into()).into(),
                404,
                "no_such_volume",
            ),
            (
                VolumeError::VolumeExists("v".into()).into(),
                409,
                "volume_exists",
            ),
            (
                VolumeError::InvalidSize {
                    size: 3,
                    why: "x".into(),
                }
                .into(),
                400,
                "invalid_size",
            ),
            (
                VolumeError::HasClones {
                    name: "v".into(),
                    clones: vec!["c".into()],
                }
                .into(),
                409,
                "has_clones",
            ),
            (
                VolumeError::SpaceExhausted {
                    pool: "p".into(),
                    needed: 2,
                    free: 1,
                    chunk_size: 1,
                }
                .into(),
                507,
                "space_exhausted",
            ),
            (
                VolumeError::Block(BlockError::new(
                    ErrorKind::SpaceExhausted,
                    Op::Write,
                    0,
                    512,
                ))
                .into(),
                507,
                "space_exhausted",
            ),
            (
                RaidError::NoSuchMember { index: 9, last: 3 }.into(),
                404,
                "no_such_member",
            ),
            (
                PoolError::NoSuchMember {
                    pool: "p".into(),
                    member: "x".into(),
                },
                404,
                "no_such_member",
            ),
            (
                MemberError::NotFound {
                    path: "/dev/nope".into(),
                }
                .into(),
                400,
                "device_not_found",
            ),
            (
                MemberError::TooLarge {
                    path: "/srv/m0.img".into(),
                    size: 100 << 40,
                    free: Some(57 << 30),
                    source: std::io::Error::from_raw_os_error(27),
                }
                .into(),
                400,
                "member_too_large",
            ),
        ];
        for (e, status, code) in cases {
            let msg = e.to_string();
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code), "{msg}");
            assert!(a.message.starts_with(&msg), "{} / {msg}", a.message);
        }
    }

    #[test]
    fn a_member_too_large_names_the_size_the_room_and_the_fix() {
        let a = ApiError::from(PoolError::from(MemberError::TooLarge {
            path: "/srv/m0.img".into(),
            size: 100 << 40,
            free: Some(57 << 30),
            source: std::io::Error::from_raw_os_error(27),
        }));
        for words in [
            "/srv/m0.img",
            "109951162777600 bytes",
            "100 TiB asked for, 57 GiB free there",
            "`--create-size`",
        ] {
            assert!(a.message.contains(words), "{words}: {}", a.message);
        }
    }

    #[test]
    fn the_appliance_adds_the_command_hints() {
        let a = ApiError::from(PoolError::NoSuchPool("p".into()));
        assert!(a.message.contains("`vsa pool list`"), "{}", a.message);
        assert_eq!(
            a.message.matches("vsa pool list").count(),
            1,
            "{}",
            a.message
        );
        let a = ApiError::from(PoolError::from(VolumeError::NoSuchSnapshot {
            volume: "v".into(),
            snapshot: "s".into(),
        }));
        assert!(
            a.message.contains("`vsa volume snapshots v`"),
            "{}",
            a.message
        );
    }
}
