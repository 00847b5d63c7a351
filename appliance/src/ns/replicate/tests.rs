use super::*;
use crate::ns::credentials::Credentials;
use crate::ns::migrate::side::CHUNK;
use std::path::Path;

fn replica(from: &Path, to: &Path) -> Replica {
    Replica::new(
        Side::Local(from.to_owned()),
        Side::Local(to.to_owned()),
        SmbClients::new(Credentials::default()).unwrap(),
    )
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn only_the_blocks_that_changed_are_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    let mut big = pattern(5 * CHUNK + 100, 1);
    std::fs::write(src.join("d/big.bin"), &big).unwrap();
    std::fs::write(src.join("a.txt"), "a\n").unwrap();
    std::fs::write(src.join("d/e/gone.txt"), "soon gone\n").unwrap();
    let mut r = replica(&src, &dst);
    let first = r.run().unwrap();
    assert_eq!((first.files_sent, first.blocks_sent), (3, 8), "{first:?}");
    assert_eq!(std::fs::read(dst.join("d/big.bin")).unwrap(), big);

    // Nothing changed: nothing sent.
    let idle = r.run().unwrap();
    assert_eq!((idle.files_checked, idle.files_sent), (3, 0), "{idle:?}");

    // One block of the big file changes, a file goes: one block sent, one removed.
    big[2 * CHUNK + 7] ^= 0xff;
    std::fs::write(src.join("d/big.bin"), &big).unwrap();
    std::fs::remove_file(src.join("d/e/gone.txt")).unwrap();
    std::fs::remove_dir(src.join("d/e")).unwrap();
    let delta = r.run().unwrap();
    assert_eq!(
        (delta.files_sent, delta.blocks_sent, delta.blocks_total),
        (1, 1, 6)
    );
    assert_eq!(delta.bytes_sent, CHUNK as u64);
    assert_eq!(delta.removed, 2, "{delta:?}");
    assert_eq!(std::fs::read(dst.join("d/big.bin")).unwrap(), big);
    assert!(!dst.join("d/e").exists());
}

#[test]
fn a_replica_changed_behind_its_back_is_put_back_by_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    let data = pattern(3 * CHUNK, 9);
    std::fs::write(src.join("f.bin"), &data).unwrap();
    // A fresh replication over a copy that differs in one block: the delta reads it.
    std::fs::create_dir_all(&dst).unwrap();
    let mut other = data.clone();
    other[CHUNK + 1] ^= 1;
    std::fs::write(dst.join("f.bin"), &other).unwrap();
    std::fs::write(dst.join("extra.txt"), "not in the source\n").unwrap();
    let mut r = replica(&src, &dst);
    let run = r.run().unwrap();
    assert_eq!(
        (run.blocks_sent, run.blocks_total, run.removed),
        (1, 3, 1),
        "{run:?}"
    );
    assert_eq!(std::fs::read(dst.join("f.bin")).unwrap(), data);
    // Someone writes to the replica: the next run puts the source's bytes back.
    std::fs::write(dst.join("f.bin"), b"scribbled").unwrap();
    let back = r.run().unwrap();
    assert_eq!(back.files_sent, 1, "{back:?}");
    assert_eq!(std::fs::read(dst.join("f.bin")).unwrap(), data);
}
