use super::*;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

const POOL: [u8; 16] = [0x11; 16];
const MEMB: [u8; 16] = [0x22; 16];

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

#[test]
fn member_create_open_round_trip() {
    let d = dir();
    let p = d.path().join("m0");
    let m = Member::create_file(&p, 8 << 20, (POOL, MEMB)).unwrap();
    assert_eq!(m.size(), 7 << 20);
    assert!(!m.is_block_device());
    assert!(m.uses_direct_io(), "ext4/xfs support O_DIRECT");
    assert!(m.block_size() == 512 || m.block_size() == 4096);
    assert_eq!(m.path(), p.as_path());
    let want = MemberLabel {
        pool_id: POOL,
        member_id: MEMB,
        data_offset: DATA_OFFSET,
        data_size: 7 << 20,
    };
    assert_eq!(*m.label(), want);
    drop(m);
    assert_eq!(read_label(&p).unwrap(), want);
    let m = Member::open(&p).unwrap();
    assert_eq!(*m.label(), want);
    assert_eq!(m.size(), 7 << 20);
    // Sparse, private.
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.len(), 8 << 20);
    assert!(meta.blocks() * 512 < 1 << 20, "{}", meta.blocks());
    assert_eq!(meta.mode() & 0o777, 0o600);
    // Odd sizes round the data area down to 4096 bytes.
    let q = d.path().join("odd");
    let m = Member::create_file(&q, (3 << 20) + 5000, (POOL, MEMB)).unwrap();
    assert_eq!(m.size(), (2 << 20) + 4096);
}

#[test]
fn member_label_layout_is_fixed() {
    let l = MemberLabel {
        pool_id: POOL,
        member_id: MEMB,
        data_offset: DATA_OFFSET,
        data_size: 0x1234_5000,
    };
    let b = l.encode();
    assert_eq!(&b[0..8], b"VSAMEMB1");
    assert_eq!(&b[8..12], &[1, 0, 0, 0]);
    assert_eq!(&b[12..16], &[0, 0x10, 0, 0]);
    assert_eq!(&b[16..32], &POOL);
    assert_eq!(&b[32..48], &MEMB);
    assert_eq!(&b[48..56], &(1u64 << 20).to_le_bytes());
    assert_eq!(&b[56..64], &0x1234_5000u64.to_le_bytes());
    assert!(b[64..4092].iter().all(|&x| x == 0));
    assert_eq!(
        u32::from_le_bytes(b[4092..].try_into().unwrap()),
        crc32c::crc32c(&b[..4092])
    );
    assert!(matches!(MemberLabel::decode(&b), Ok(x) if x == l));
}

#[test]
fn member_create_refuses_existing_and_small() {
    let d = dir();
    let p = d.path().join("m");
    std::fs::write(&p, b"precious").unwrap();
    let e = Member::create_file(&p, 8 << 20, (POOL, MEMB)).unwrap_err();
    assert!(matches!(e, MemberError::Exists { .. }), "{e}");
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"precious");

    let q = d.path().join("small");
    let e = Member::create_file(&q, 1 << 20, (POOL, MEMB)).unwrap_err();
    assert!(matches!(e, MemberError::TooSmall { .. }), "{e}");
    assert!(!q.exists());

    let e =
        Member::create_file(&d.path().join("no/such/dir/m"), 8 << 20, (POOL, MEMB)).unwrap_err();
    assert!(matches!(e, MemberError::NotFound { .. }), "{e}");
    let e = Member::open(&d.path().join("missing")).unwrap_err();
    assert!(matches!(e, MemberError::NotFound { .. }), "{e}");
    let e = Member::open(d.path()).unwrap_err();
    assert!(matches!(e, MemberError::Unsupported { .. }), "{e}");
    let e = Member::open(Path::new("/dev/null")).unwrap_err();
    assert!(matches!(e, MemberError::Unsupported { .. }), "{e}");

    // format refuses too-small files but labels big enough ones.
    std::fs::write(&q, vec![0u8; 8192]).unwrap();
    let e = Member::format(&q, POOL, MEMB).unwrap_err();
    assert!(matches!(e, MemberError::TooSmall { size: 8192, .. }), "{e}");
}

#[test]
fn member_without_label_is_not_a_member() {
    let d = dir();
    let p = d.path().join("plain");
    let f = File::create(&p).unwrap();
    f.set_len(4 << 20).unwrap();
    drop(f);
    let e = Member::open(&p).unwrap_err();
    assert!(matches!(e, MemberError::NotAMember { .. }), "{e}");
    let s = e.to_string();
    assert!(s.contains("is not a vsa pool member"), "{s}");
    assert!(s.contains(&p.display().to_string()), "{s}");
    assert!(matches!(
        read_label(&p),
        Err(MemberError::NotAMember { .. })
    ));
    // A tiny file too.
    let t = d.path().join("tiny");
    std::fs::write(&t, b"hello").unwrap();
    assert!(matches!(
        Member::open(&t),
        Err(MemberError::NotAMember { .. })
    ));
    // After format it is one, and keeps its size.
    let m = Member::format(&p, POOL, MEMB).unwrap();
    assert_eq!(m.size(), 3 << 20);
    drop(m);
    assert_eq!(read_label(&p).unwrap().member_id, MEMB);
}

#[test]
fn member_bad_label_crc_and_version() {
    let d = dir();
    let p = d.path().join("m");
    drop(Member::create_file(&p, 4 << 20, (POOL, MEMB)).unwrap());
    let f = OpenOptions::new().write(true).open(&p).unwrap();
    f.write_all_at(&[0xff], 100).unwrap();
    let e = Member::open(&p).unwrap_err();
    match &e {
        MemberError::BadLabel { why, .. } => assert!(why.contains("checksum"), "{why}"),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("bad vsa member label"), "{e}");
    // A future version.
    f.write_all_at(&[0], 100).unwrap();
    f.write_all_at(&7u32.to_le_bytes(), 8).unwrap();
    match Member::open(&p).unwrap_err() {
        MemberError::BadLabel { why, .. } => assert!(why.contains("version 7"), "{why}"),
        other => panic!("{other}"),
    }
    f.write_all_at(&1u32.to_le_bytes(), 8).unwrap();
    assert!(Member::open(&p).is_ok());
    // Truncated below what the label promises.
    f.set_len(3 << 20).unwrap();
    match Member::open(&p).unwrap_err() {
        MemberError::BadLabel { why, .. } => assert!(why.contains("truncated"), "{why}"),
        other => panic!("{other}"),
    }
}

#[test]
fn member_data_round_trip_unaligned_buffers() {
    let d = dir();
    let p = d.path().join("m");
    let m = Member::create_file(&p, 16 << 20, (POOL, MEMB)).unwrap();
    let bs = m.block_size() as usize;
    let cases: &[(u64, usize)] = &[
        (0, bs),
        (bs as u64, 3 * bs),
        (4096, 8192),
        (1 << 20, 1 << 20),
        ((3 << 20) - bs as u64, (2 << 20) + 2 * bs), // larger than one bounce piece
        (m.size() - bs as u64, bs),
    ];
    for (i, &(off, len)) in cases.iter().enumerate() {
        for shift in [0usize, 1, 7, 512] {
            let data = pattern(len, (i * 13 + shift) as u8);
            let mut src = vec![0u8; len + shift];
            src[shift..].copy_from_slice(&data);
            m.write_at(&src[shift..], off).unwrap();
            let mut dst = vec![0u8; len + 3];
            m.read_at(&mut dst[3..], off).unwrap();
            assert!(dst[3..] == data[..], "case {i} shift {shift}");
        }
    }
    m.flush().unwrap();
    // Data lives after the 1 MiB label area.
    let raw = std::fs::read(&p).unwrap();
    let last = cases.len() - 1;
    let (off, len) = cases[last];
    let at = (DATA_OFFSET + off) as usize;
    assert!(raw[at..at + len] == pattern(len, (last * 13 + 512) as u8)[..]);
    assert_eq!(&raw[..8], b"VSAMEMB1");
    drop(m);
    let m = Member::open(&p).unwrap();
    let mut back = vec![0u8; len];
    m.read_at(&mut back, off).unwrap();
    assert!(back == pattern(len, (last * 13 + 512) as u8));
}

/// `len` bytes at a `MEM_ALIGN`-aligned address inside `v`, or `shift` bytes past one.
fn at_align(v: &mut Vec<u8>, len: usize, shift: usize) -> &mut [u8] {
    *v = vec![0u8; len + shift + MEM_ALIGN];
    let off = v.as_ptr().align_offset(MEM_ALIGN) + shift;
    &mut v[off..off + len]
}

#[test]
fn member_vectored_io_round_trips_aligned_unaligned_and_large() {
    let d = dir();
    let m = Member::create_file(&d.path().join("m"), 16 << 20, (POOL, MEMB)).unwrap();
    assert!(m.uses_direct_io());
    let bs = m.block_size() as usize;
    // (piece lengths, memory shift): aligned pieces go down as they are; shifted ones
    // through the bounce buffer, gathered when they fit and one by one when not.
    let cases: &[(&[usize], usize)] = &[
        (&[bs, 3 * bs, 64 << 10], 0),
        (&[64 << 10; 5], 0),
        (&[bs, 2 * bs], 1),
        (&[64 << 10, 4096, 64 << 10], 512),
        (&[600 << 10, 600 << 10], 7), // 1.2 MiB: more than one bounce
        (&[600 << 10, 600 << 10], 0),
    ];
    for (i, &(lens, shift)) in cases.iter().enumerate() {
        let off = (i as u64) << 21;
        let total: usize = lens.iter().sum();
        let data = pattern(total, i as u8 * 3 + 1);
        let mut store: Vec<Vec<u8>> = lens.iter().map(|_| Vec::new()).collect();
        let mut pieces: Vec<&mut [u8]> = Vec::new();
        let mut pos = 0;
        for (v, &n) in store.iter_mut().zip(lens) {
            let piece = at_align(v, n, shift);
            piece.copy_from_slice(&data[pos..pos + n]);
            pos += n;
            pieces.push(piece);
        }
        let refs: Vec<&[u8]> = pieces.iter().map(|p| &**p).collect();
        m.write_vectored_at(&refs, off).unwrap();
        let mut flat = vec![0u8; total];
        m.read_at(&mut flat, off).unwrap();
        assert!(flat == data, "write case {i}");
        for p in pieces.iter_mut() {
            p.fill(0);
        }
        m.read_vectored_at(&mut pieces, off).unwrap();
        assert!(pieces.concat() == data, "read case {i}");
    }
    // The range is checked as a whole; a refused range does not fail the member.
    let (a, b) = (vec![0u8; bs], vec![0u8; bs]);
    let e = m
        .write_vectored_at(&[&a, &b], m.size() - bs as u64)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert!(!m.is_faulty());
}

/// A 4 MiB member whose file someone then truncated to 2 MiB under it: a read near its
/// end hits EOF, a real error. Returns its path, the member and its data size.
fn truncated_member(d: &tempfile::TempDir) -> (PathBuf, Member, u64) {
    let p = d.path().join("m");
    let m = Member::create_file(&p, 4 << 20, (POOL, MEMB)).unwrap();
    let size = m.size();
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    (p, m, size)
}

#[test]
fn member_vectored_read_past_a_truncated_end_fails_the_member() {
    let d = dir();
    let (_, m, size) = truncated_member(&d);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut bufs = [at_align(&mut a, 4096, 0), at_align(&mut b, 4096, 0)];
    let e = m.read_vectored_at(&mut bufs, size - 8192).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(m.is_faulty());
}

#[test]
fn member_rejects_out_of_range_and_misaligned() {
    let d = dir();
    let p = d.path().join("m");
    let m = Member::create_file(&p, 4 << 20, (POOL, MEMB)).unwrap();
    let bs = u64::from(m.block_size());
    let size = m.size();
    let mut buf = vec![0u8; bs as usize];
    let e = m.read_at(&mut buf, size).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert_eq!(e.device(), Some(p.display().to_string().as_str()));
    let e = m.write_at(&buf, size - bs + bs / 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    let e = m.read_at(&mut buf[..100], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    let e = m.unmap(0, size + bs).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    let e = m.allocation(1, bs).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    assert!(!m.is_faulty(), "range errors do not fail the member");
}

#[test]
fn member_unmap_punches_holes_and_reads_zeros() {
    let d = dir();
    let p = d.path().join("m");
    let m = Member::create_file(&p, 8 << 20, (POOL, MEMB)).unwrap();
    let size = m.size();
    assert_eq!(
        m.allocation(0, size).unwrap(),
        vec![Extent {
            offset: 0,
            len: size,
            status: Allocation::Deallocated
        }]
    );
    m.write_at(&vec![0xabu8; 4 << 20], 0).unwrap();
    m.flush().unwrap();
    let before = std::fs::metadata(&p).unwrap().blocks();
    m.unmap(1 << 20, 2 << 20).unwrap();
    m.flush().unwrap();
    let after = std::fs::metadata(&p).unwrap().blocks();
    assert!(
        before - after >= (2 << 20) / 512,
        "blocks before {before}, after {after}"
    );
    let mut buf = vec![1u8; 4 << 20];
    m.read_at(&mut buf, 0).unwrap();
    assert!(buf[..1 << 20].iter().all(|&b| b == 0xab));
    assert!(buf[1 << 20..3 << 20].iter().all(|&b| b == 0));
    assert!(buf[3 << 20..].iter().all(|&b| b == 0xab));
    let ext = m.allocation(0, size).unwrap();
    assert_eq!(
        ext,
        vec![
            Extent {
                offset: 0,
                len: 1 << 20,
                status: Allocation::Mapped
            },
            Extent {
                offset: 1 << 20,
                len: 2 << 20,
                status: Allocation::Deallocated
            },
            Extent {
                offset: 3 << 20,
                len: 1 << 20,
                status: Allocation::Mapped
            },
            Extent {
                offset: 4 << 20,
                len: size - (4 << 20),
                status: Allocation::Deallocated
            },
        ]
    );
    // A sub-range query covers exactly the range.
    let ext = m.allocation(512 << 10, 1 << 20).unwrap();
    assert_eq!(ext.first().unwrap().offset, 512 << 10);
    assert_eq!(ext.iter().map(|e| e.len).sum::<u64>(), 1 << 20);
    assert_eq!(m.allocation(0, 0).unwrap().len(), 1);
    m.unmap(0, 0).unwrap();
}

#[test]
fn member_mark_faulty_fails_everything() {
    let d = dir();
    let p = d.path().join("m");
    let m = Member::create_file(&p, 4 << 20, (POOL, MEMB)).unwrap();
    assert!(!m.is_faulty());
    m.mark_faulty();
    assert!(m.is_faulty());
    let mut buf = vec![0u8; 4096];
    let errs = [
        m.read_at(&mut buf, 0).unwrap_err(),
        m.write_at(&buf, 0).unwrap_err(),
        m.flush().unwrap_err(),
        m.unmap(0, 4096).unwrap_err(),
        m.allocation(0, 4096).unwrap_err(),
    ];
    for e in errs {
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.detail(), Some(FAULTY_DETAIL));
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    }
}

#[test]
fn member_real_io_error_marks_faulty() {
    let d = dir();
    let (p, m, size) = truncated_member(&d);
    let mut buf = vec![0u8; 4096];
    m.read_at(&mut buf, 0).unwrap(); // still inside the file
    let e = m.read_at(&mut buf, size - 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.device(), Some(p.display().to_string().as_str()));
    assert!(std::error::Error::source(&e).is_some());
    assert!(m.is_faulty());
    let e = m.read_at(&mut buf, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(e.detail(), Some(FAULTY_DETAIL));
}

#[test]
fn member_concurrent_disjoint_io() {
    let d = dir();
    let p = d.path().join("m");
    let m = Arc::new(Member::create_file(&p, 34 << 20, (POOL, MEMB)).unwrap());
    let region = 4u64 << 20;
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let base = u64::from(t) * region;
                for round in 0..20u8 {
                    let len = 4096 * (1 + usize::from(round % 5));
                    let off = base + u64::from(round) * 65536;
                    let data = pattern(len, t.wrapping_mul(50).wrapping_add(round));
                    let mut src = vec![0u8; len + 1];
                    src[1..].copy_from_slice(&data);
                    m.write_at(&src[1..], off).unwrap();
                    let mut back = vec![0u8; len];
                    m.read_at(&mut back, off).unwrap();
                    assert!(back == data, "thread {t} round {round}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    m.flush().unwrap();
    for t in 0..8u8 {
        let round = 19u8;
        let len = 4096 * (1 + usize::from(round % 5));
        let off = u64::from(t) * region + u64::from(round) * 65536;
        let mut back = vec![0u8; len];
        m.read_at(&mut back, off).unwrap();
        assert!(back == pattern(len, t.wrapping_mul(50).wrapping_add(round)));
    }
}

/// Exercises the block-device path on a loop device when the test runs as root with
/// `losetup` available; skipped (passes) otherwise.
#[test]
fn member_on_loop_block_device() {
    let d = dir();
    let backing = d.path().join("backing");
    let f = File::create(&backing).unwrap();
    f.set_len(8 << 20).unwrap();
    drop(f);
    let out = match std::process::Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&backing)
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("skipping: cannot set up a loop device");
            return;
        }
    };
    struct Loop(String);
    impl Drop for Loop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("losetup")
                .args(["-d", &self.0])
                .status();
        }
    }
    let dev = Loop(String::from_utf8(out.stdout).unwrap().trim().to_string());
    let path = Path::new(&dev.0);
    assert!(matches!(
        Member::open(path),
        Err(MemberError::NotAMember { .. })
    ));
    let m = Member::format(path, POOL, MEMB).unwrap();
    assert!(m.is_block_device());
    assert_eq!(m.size(), 7 << 20);
    // Held exclusively: a second read-write open is refused.
    let e = Member::open(path).unwrap_err();
    assert!(matches!(e, MemberError::Busy { .. }), "{e}");
    assert_eq!(read_label(path).unwrap().pool_id, POOL);
    let data = pattern(1 << 20, 3);
    m.write_at(&data[..], 4096).unwrap();
    m.unmap(8192, 8192).unwrap();
    m.flush().unwrap();
    let mut back = vec![1u8; 1 << 20];
    m.read_at(&mut back, 4096).unwrap();
    assert!(back[..4096] == data[..4096]);
    assert!(back[4096..12288].iter().all(|&b| b == 0));
    assert!(back[12288..] == data[12288..]);
    drop(m);
    let m = Member::open(path).unwrap();
    assert_eq!(m.label().member_id, MEMB);
}
