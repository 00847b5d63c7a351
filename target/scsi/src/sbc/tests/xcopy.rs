//! EXTENDED COPY and RECEIVE COPY RESULTS.

use super::*;

fn xcopy_list(
    list_id: u8,
    usage: u8,
    naa: &[u8; 16],
    segs: &[(u16, u16, u16, u64, u64)],
) -> Vec<u8> {
    let mut l = vec![0u8; 16];
    l[0] = list_id;
    l[1] = usage << 3;
    l[2..4].copy_from_slice(&32u16.to_be_bytes());
    l[8..12].copy_from_slice(&((28 * segs.len()) as u32).to_be_bytes());
    let mut cscd = vec![0xE4, 0, 0, 0, 0x01, 0x03, 0, 16];
    cscd.extend_from_slice(naa);
    cscd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0]);
    l.extend_from_slice(&cscd);
    for &(src, dst, n, from, to) in segs {
        let mut s = vec![0x02, 0, 0, 0x18];
        s.extend_from_slice(&src.to_be_bytes());
        s.extend_from_slice(&dst.to_be_bytes());
        s.extend_from_slice(&[0, 0]);
        s.extend_from_slice(&n.to_be_bytes());
        s.extend_from_slice(&from.to_be_bytes());
        s.extend_from_slice(&to.to_be_bytes());
        l.extend_from_slice(&s);
    }
    l
}

fn xcopy(d: &Disk, list: &[u8]) -> Response {
    let mut c = vec![0u8; 16];
    c[0] = 0x83;
    c[10..14].copy_from_slice(&(list.len() as u32).to_be_bytes());
    exec(d, &c, list)
}

fn copy_results(d: &Disk, sa: u8, list_id: u8) -> Response {
    let mut c = vec![0u8; 16];
    c[0] = 0x84;
    c[1] = sa;
    c[2] = list_id;
    c[10..14].copy_from_slice(&1024u32.to_be_bytes());
    exec(d, &c, &[])
}

#[test]
fn extended_copy_copies_within_the_disk_and_keeps_status() {
    let (_, d) = disk();
    let data: Vec<u8> = (0..16 * BS).map(|i| (i / 7) as u8).collect();
    exec(&d, &cdb10(0x2A, 0, 0, 16), &data);
    assert_eq!(sense(&copy_results(&d, 0, 5)), (ILLEGAL, 0x24, 0x00));
    let list = xcopy_list(5, 0, &NAA, &[(0, 0, 16, 0, BLOCKS - 16)]);
    let r = xcopy(&d, &list);
    assert_eq!((r.status, r.data_out_len), (GOOD, Some(list.len() as u32)));
    assert_eq!(read(&d, BLOCKS - 16, 16), data);
    let st = copy_results(&d, 0, 5);
    assert_eq!(st.status, GOOD);
    assert_eq!(&st.data[..12], &[0, 0, 0, 8, 0, 0, 1, 0, 0, 0, 0x20, 0]);
    // Overlapping copy within the disk, moving up.
    assert_eq!(
        xcopy(&d, &xcopy_list(6, 2, &NAA, &[(0, 0, 16, 0, 3)])).status,
        GOOD
    );
    assert_eq!(read(&d, 3, 16), data);
    assert_eq!(sense(&copy_results(&d, 0, 6)).0, ILLEGAL, "not held");
    assert_eq!(xcopy(&d, &[]).status, GOOD);
}

#[test]
fn extended_copy_checks_the_parameter_list() {
    let (_, d) = disk();
    let good = xcopy_list(1, 0, &NAA, &[(0, 0, 8, 0, 100)]);
    assert_eq!(sense(&xcopy(&d, &good[..47])), (ILLEGAL, 0x1A, 0x00));
    assert_eq!(sense(&xcopy(&d, &good[..75])), (ILLEGAL, 0x1A, 0x00));
    let bad_index = xcopy_list(1, 0, &NAA, &[(0, 1, 8, 0, 100)]);
    assert_eq!(sense(&xcopy(&d, &bad_index)), (0x0A, 0x08, 0x04));
    let past_end = xcopy_list(1, 0, &NAA, &[(0, 0, 8, 0, BLOCKS - 1)]);
    assert_eq!(sense(&xcopy(&d, &past_end)).0, 0x0A);
    let unknown = xcopy_list(1, 0, &[0x60; 16], &[(0, 0, 8, 0, 100)]);
    assert_eq!(sense(&xcopy(&d, &unknown)), (0x0A, 0x08, 0x04));
    let mut fc = good.clone();
    fc[16] = 0xE0;
    assert_eq!(sense(&xcopy(&d, &fc)), (ILLEGAL, 0x26, 0x07));
    let mut stream = good.clone();
    stream[48] = 0x03;
    assert_eq!(sense(&xcopy(&d, &stream)), (ILLEGAL, 0x26, 0x09));
    let segs: Vec<_> = (0..33).map(|_| (0u16, 0u16, 1u16, 0u64, 1u64)).collect();
    assert_eq!(
        sense(&xcopy(&d, &xcopy_list(1, 0, &NAA, &segs))),
        (ILLEGAL, 0x26, 0x08)
    );
    let mut many = good[..16].to_vec();
    many[2..4].copy_from_slice(&(32u16 * 9).to_be_bytes());
    for _ in 0..9 {
        many.extend_from_slice(&good[16..48]);
    }
    many.extend_from_slice(&good[48..]);
    assert_eq!(sense(&xcopy(&d, &many)), (ILLEGAL, 0x26, 0x06));
    let op = copy_results(&d, 3, 0);
    assert_eq!(op.status, GOOD);
    assert_eq!(
        u32::from_be_bytes(op.data[0..4].try_into().unwrap()) as usize,
        op.data.len() - 4
    );
    assert_eq!((op.data[9], op.data[11], op.data[43]), (8, 32, 2));
    assert_eq!(&op.data[44..46], &[0x02, 0xE4]);
}

#[derive(Debug)]
struct Targets(Arc<dyn BlockDevice>);

impl CopyTargets for Targets {
    fn lookup(&self, naa: &[u8]) -> Option<Arc<dyn BlockDevice>> {
        (naa == [0x61; 16]).then(|| self.0.clone())
    }
}

#[test]
fn extended_copy_reaches_other_units_through_copy_targets() {
    let other = Arc::new(MemDevice::new(BLOCKS * BS as u64, BS as u32));
    other.write_at(&[0x5A; 4 * BS], 0).unwrap();
    let dev = Arc::new(MemDevice::new(BLOCKS * BS as u64, BS as u32));
    let d = Disk::new(dev, options(), Arc::new(Targets(other.clone())));
    let mut list = xcopy_list(1, 2, &[0x61; 16], &[(0, 1, 4, 0, 10)]);
    // A second CSCD descriptor naming this disk itself.
    let own = {
        let mut c = list[16..48].to_vec();
        c[8..24].copy_from_slice(&NAA);
        c
    };
    list.splice(48..48, own);
    list[2..4].copy_from_slice(&64u16.to_be_bytes());
    assert_eq!(xcopy(&d, &list).status, GOOD);
    assert!(read(&d, 10, 4).iter().all(|&b| b == 0x5A));
}
