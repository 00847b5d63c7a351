//! Large volume I/O split at 1 MiB boundaries (the pool's allocation unit) and issued from
//! several threads at once: one stream of 8 MiB write-behind or 4 MiB read-ahead keeps
//! several of the pool's members busy instead of one request at a time.

use vsa_blockdev::{BlockDevice, BlockError};

/// Pieces smaller than this go in one request.
const SPLIT: usize = 1 << 20;
/// Threads a request is spread over.
const WAYS: usize = 4;

/// (offset in the buffer, length) of `len` bytes from volume offset `at`, cut at MiB
/// boundaries of the volume, grouped into at most [`WAYS`] runs.
fn runs(at: u64, len: usize) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    let mut done = 0usize;
    while done < len {
        let here = at + done as u64;
        let to_boundary = (SPLIT as u64 - here % SPLIT as u64) as usize;
        let n = to_boundary.min(len - done);
        cuts.push((done, n));
        done += n;
    }
    let per = cuts.len().div_ceil(WAYS).max(1);
    cuts.chunks(per)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).sum()))
        .collect()
}

/// Writes `buf` at `at`, in parallel when it is large.
pub fn write_at(dev: &dyn BlockDevice, buf: &[u8], at: u64) -> Result<(), BlockError> {
    if buf.len() < 2 * SPLIT {
        return dev.write_at(buf, at);
    }
    std::thread::scope(|s| {
        let jobs: Vec<_> = runs(at, buf.len())
            .into_iter()
            .map(|(off, n)| s.spawn(move || dev.write_at(&buf[off..off + n], at + off as u64)))
            .collect();
        join(jobs)
    })
}

/// Reads `buf.len()` bytes at `at` into `buf`, in parallel when it is large. A large read
/// is a window read ahead of a stream (a read after positioning takes only the record
/// asked for), read once ([`BlockDevice::read_once_at`]): it does not go through the
/// pool's read cache, where it would push out the blocks of LUNs and cost a copy. What a
/// positioned read takes is kept there (backup software reads a label or a file's first
/// block again and again).
pub fn read_at(dev: &dyn BlockDevice, buf: &mut [u8], at: u64) -> Result<(), BlockError> {
    if buf.len() < 2 * SPLIT {
        return dev.read_at(buf, at);
    }
    let plan = runs(at, buf.len());
    std::thread::scope(|s| {
        let mut rest = &mut buf[..];
        let mut jobs = Vec::new();
        for (off, n) in plan {
            let (mine, tail) = rest.split_at_mut(n);
            rest = tail;
            jobs.push(s.spawn(move || dev.read_once_at(mine, at + off as u64)));
        }
        join(jobs)
    })
}

fn join(
    jobs: Vec<std::thread::ScopedJoinHandle<'_, Result<(), BlockError>>>,
) -> Result<(), BlockError> {
    let mut first = Ok(());
    for j in jobs {
        let r = j.join().unwrap_or_else(|_| {
            Err(
                BlockError::new(vsa_blockdev::ErrorKind::Io, vsa_blockdev::Op::Write, 0, 0)
                    .with_detail("an I/O thread panicked"),
            )
        });
        if first.is_ok() {
            first = r;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vsa_blockdev::testing::MemDevice;

    #[test]
    fn runs_cover_the_buffer_at_mebibyte_cuts() {
        let r = runs((1 << 20) - 4096, 9 << 20);
        assert!(r.len() <= WAYS);
        assert_eq!(r[0].0, 0);
        assert_eq!(r.iter().map(|x| x.1).sum::<usize>(), 9 << 20);
        for w in r.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0);
            // Every run but the first starts on a MiB boundary of the volume.
            assert_eq!(((1 << 20) - 4096 + w[1].0) % (1 << 20), 0);
        }
        assert_eq!(runs(0, 0), Vec::<(usize, usize)>::new());
    }

    #[test]
    fn parallel_writes_and_reads_round_trip() {
        let dev = MemDevice::new(32 << 20, 4096);
        let data: Vec<u8> = (0..(9usize << 20))
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        write_at(&dev, &data, 12288).unwrap();
        let mut back = vec![0u8; data.len()];
        read_at(&dev, &mut back, 12288).unwrap();
        assert!(back == data);
        let mut small = vec![0u8; 4096];
        read_at(&dev, &mut small, 12288).unwrap();
        assert_eq!(small[..], data[..4096]);
    }
}
