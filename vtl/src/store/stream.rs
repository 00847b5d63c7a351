//! I/O on a cartridge's stream: stream offsets mapped through its segment list to the store
//! volume, in whole device blocks.

use super::aligned::Buf;
use super::SEGMENT;
use vsa_blockdev::{BlockDevice, BlockError, ErrorKind, Op};

/// Pieces of `off..off + len` of the stream: (device offset, offset in the buffer, length).
/// `None` if a piece lies past the segments.
fn pieces(segments: &[u64], off: u64, len: u64) -> Option<Vec<(u64, usize, usize)>> {
    let mut out = Vec::new();
    let mut at = off;
    while at < off + len {
        let seg = *segments.get(usize::try_from(at / SEGMENT).ok()?)?;
        let within = at % SEGMENT;
        let n = (SEGMENT - within).min(off + len - at);
        out.push((
            seg * SEGMENT + within,
            usize::try_from(at - off).ok()?,
            usize::try_from(n).ok()?,
        ));
        at += n;
    }
    Some(out)
}

fn past_segments(op: Op, off: u64, len: u64) -> BlockError {
    BlockError::new(ErrorKind::Corrupt, op, off, len)
        .with_detail("the range lies past the cartridge's segments")
}

/// Reads stream bytes `off..off + len`.
pub fn read(
    dev: &dyn BlockDevice,
    segments: &[u64],
    off: u64,
    len: u64,
) -> Result<Vec<u8>, BlockError> {
    let (start, buf) = read_into(dev, segments, off, len, Buf::default())?;
    Ok(buf
        .get((off - start) as usize..)
        .map(<[u8]>::to_vec)
        .unwrap_or_default())
}

/// Reads stream bytes `off..off + len` into `buf`, from the device block `off` lies in:
/// returns where they start (at or before `off`) and the bytes up to `off + len`.
pub fn read_into(
    dev: &dyn BlockDevice,
    segments: &[u64],
    off: u64,
    len: u64,
    buf: Buf,
) -> Result<(u64, Buf), BlockError> {
    let bs = u64::from(dev.block_size());
    let start = off - off % bs;
    let end = (off + len).div_ceil(bs) * bs;
    let n = usize::try_from(end - start).map_err(|_| past_segments(Op::Read, off, len))?;
    let mut buf = buf.sized(n);
    for (dev_off, at, n) in
        pieces(segments, start, end - start).ok_or_else(|| past_segments(Op::Read, off, len))?
    {
        super::par::read_at(dev, &mut buf[at..at + n], dev_off)?;
    }
    buf.truncate((off + len - start) as usize);
    Ok((start, buf))
}

/// Writes `buf` (whole blocks) at block-aligned stream offset `start`.
pub fn write(
    dev: &dyn BlockDevice,
    segments: &[u64],
    start: u64,
    buf: &[u8],
) -> Result<(), BlockError> {
    let len = buf.len() as u64;
    for (dev_off, at, n) in
        pieces(segments, start, len).ok_or_else(|| past_segments(Op::Write, start, len))?
    {
        super::par::write_at(dev, &buf[at..at + n], dev_off)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_follow_the_segment_list() {
        let p = pieces(&[5, 2], SEGMENT - 10, 30).unwrap_or_default();
        assert_eq!(
            p,
            vec![(5 * SEGMENT + SEGMENT - 10, 0, 10), (2 * SEGMENT, 10, 20)]
        );
        assert!(pieces(&[5], SEGMENT - 10, 30).is_none());
    }
}
