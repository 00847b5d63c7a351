//! Framing: turns a byte stream into [`RawPdu`]s and PDUs into bytes.
//!
//! Like mini-redis's `Connection`: [`FrameReader::read`] checks whether a whole PDU is
//! buffered, parses it and advances; EOF inside a PDU is an error, EOF between PDUs is a
//! clean close. Limits and digests are per connection and change after login
//! ([`Framing`]).

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::digest::{digest_bytes, pad_len};
use crate::error::CodecError;
use crate::payload::Payload;
use crate::pdu::{Bhs, Pdu, RawPdu, BHS_LEN};

/// Per-connection framing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub header_digest: bool,
    pub data_digest: bool,
    /// Largest data segment the target accepts (its MaxRecvDataSegmentLength, or 8192
    /// during login).
    pub max_recv_data: usize,
}

impl Default for Framing {
    fn default() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            max_recv_data: 8192,
        }
    }
}

/// What one complete buffered PDU needs: `Ok(None)` if more bytes are needed.
pub fn decode(buf: &mut BytesMut, f: &Framing) -> Result<Option<RawPdu>, CodecError> {
    if buf.len() < BHS_LEN {
        return Ok(None);
    }
    let mut bhs = Bhs::default();
    bhs.0.copy_from_slice(&buf[..BHS_LEN]);
    let ahs_len = bhs.ahs_len();
    let data_len = bhs.data_len();
    if data_len > f.max_recv_data {
        return Err(CodecError::TooLong {
            len: data_len,
            max: f.max_recv_data,
        });
    }
    let hd = if f.header_digest { 4 } else { 0 };
    let dd = if f.data_digest && data_len > 0 { 4 } else { 0 };
    let padded = data_len + pad_len(data_len);
    let total = frame_len(&bhs, f);
    if buf.len() < total {
        // Check the header digest as soon as the header is in, so a corrupt length is not
        // waited on.
        if f.header_digest && buf.len() >= BHS_LEN + ahs_len + 4 {
            check_header(buf, ahs_len)?;
        }
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    if f.header_digest {
        check_header(buf, ahs_len)?;
    }
    let mut frame = buf.split_to(total).freeze();
    frame.advance(BHS_LEN);
    let ahs = frame.split_to(ahs_len);
    frame.advance(hd);
    let data = frame.split_to(data_len);
    let raw = RawPdu { bhs, ahs, data };
    if dd == 4 {
        let want = digest_bytes(&[&raw.data, &frame[..pad_len(data_len)]]);
        if frame[padded - data_len..padded - data_len + 4] != want {
            return Err(CodecError::DataDigest(Box::new(raw)));
        }
    }
    Ok(Some(raw))
}

/// The length on the wire of the PDU `bhs` heads: header, AHS, digests, padded data.
fn frame_len(bhs: &Bhs, f: &Framing) -> usize {
    let data_len = bhs.data_len();
    let hd = if f.header_digest { 4 } else { 0 };
    let dd = if f.data_digest && data_len > 0 { 4 } else { 0 };
    BHS_LEN + bhs.ahs_len() + hd + data_len + pad_len(data_len) + dd
}

fn check_header(buf: &[u8], ahs_len: usize) -> Result<(), CodecError> {
    let end = BHS_LEN + ahs_len;
    if buf[end..end + 4] != digest_bytes(&[&buf[..end]]) {
        return Err(CodecError::HeaderDigest);
    }
    Ok(())
}

/// Encodes a typed PDU with its data segment, padding and digests.
pub fn encode(pdu: &Pdu, data: &[u8], f: &Framing) -> Vec<u8> {
    let mut out = OutBuf::default();
    out.push(pdu, &Bytes::copy_from_slice(data).into(), f);
    out.to_vec()
}

/// Encodes a header, AHS and data segment with padding and digests.
pub fn encode_raw(bhs: &Bhs, ahs: &[u8], data: &[u8], f: &Framing) -> Vec<u8> {
    let mut out = OutBuf::default();
    out.push_raw(bhs, ahs, &Bytes::copy_from_slice(data).into(), f);
    out.to_vec()
}

/// Data segments at least this long are sent from where they are (one more iovec per
/// part) instead of being copied next to their header.
pub(crate) const BORROW_MIN: usize = 16 * 1024;

/// The most iovecs one `writev` takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// Encoded PDUs on their way to the socket: headers, padding, digests and small data
/// segments copied into one buffer, the parts of large data segments kept as the
/// [`Bytes`] they came in (a read's data is not copied again on its way out), written
/// with `writev`.
#[derive(Debug, Default)]
pub struct OutBuf {
    small: Vec<u8>,
    /// Large segments, each with the length of `small` at the point it goes between.
    large: Vec<(usize, Bytes)>,
    len: usize,
    /// Bytes of the front already written (a partial `writev`).
    sent: usize,
}

impl OutBuf {
    /// Bytes queued and not written yet.
    pub fn len(&self) -> usize {
        self.len - self.sent
    }

    /// Nothing left to write.
    pub fn is_empty(&self) -> bool {
        self.len == self.sent
    }

    /// Appends a typed PDU with its data segment.
    pub fn push(&mut self, pdu: &Pdu, data: &Payload, f: &Framing) {
        let (bhs, ahs) = pdu.encode(data.len());
        self.push_raw(&bhs, &ahs, data, f);
    }

    /// Appends a header, AHS and data segment with padding and digests.
    pub fn push_raw(&mut self, bhs: &Bhs, ahs: &[u8], data: &Payload, f: &Framing) {
        let pad = pad_len(data.len());
        let before = self.small.len();
        self.small.extend_from_slice(&bhs.0);
        self.small.extend_from_slice(ahs);
        if f.header_digest {
            let d = digest_bytes(&[&self.small[before..]]);
            self.small.extend_from_slice(&d);
        }
        let mut len = self.small.len() - before;
        if !data.is_empty() {
            let padding = &[0u8; 3][..pad];
            let borrow = data.len() >= BORROW_MIN;
            for part in data.parts() {
                if borrow {
                    self.large.push((self.small.len(), part.clone()));
                } else {
                    self.small.extend_from_slice(part);
                }
            }
            self.small.extend_from_slice(padding);
            if f.data_digest {
                let mut all: Vec<&[u8]> = data.parts().iter().map(|p| &p[..]).collect();
                all.push(padding);
                self.small.extend_from_slice(&digest_bytes(&all));
            }
            len += data.len() + pad + if f.data_digest { 4 } else { 0 };
        }
        self.len += len;
    }

    /// The queued bytes in order, as slices for `writev`.
    fn slices(&self) -> Vec<std::io::IoSlice<'_>> {
        let mut v = Vec::with_capacity(2 * self.large.len() + 1);
        let mut at = 0;
        for (pos, data) in &self.large {
            if *pos > at {
                v.push(std::io::IoSlice::new(&self.small[at..*pos]));
            }
            v.push(std::io::IoSlice::new(data));
            at = *pos;
        }
        if self.small.len() > at {
            v.push(std::io::IoSlice::new(&self.small[at..]));
        }
        v
    }

    /// The queued bytes as one vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.slices()
            .iter()
            .flat_map(|s| s.iter().copied())
            .skip(self.sent)
            .collect()
    }

    /// Writes what is queued with one call of `write` (a non-blocking `writev`), and
    /// drops the bytes it took from the front; once all are written the buffer is empty.
    /// Returns the number of bytes written (`WriteZero` if `write` took none).
    pub fn try_write(
        &mut self,
        write: impl FnOnce(&[std::io::IoSlice<'_>]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let written = {
            let mut slices = self.slices();
            let mut rest = &mut slices[..];
            std::io::IoSlice::advance_slices(&mut rest, self.sent);
            write(&rest[..rest.len().min(IOV_MAX)])?
        };
        if written == 0 && !self.is_empty() {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        self.sent += written;
        if self.sent >= self.len {
            self.small.clear();
            self.large.clear();
            self.len = 0;
            self.sent = 0;
        }
        Ok(written)
    }
}

/// Reads PDUs from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    pub framing: Framing,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: BytesMut::with_capacity(64 * 1024),
            framing: Framing::default(),
        }
    }

    /// Whether a whole PDU (or a header [`decode`] refuses) is buffered, so that
    /// [`FrameReader::read`] returns without waiting for the socket.
    pub fn has_frame(&self) -> bool {
        let buf = &self.buf;
        if buf.len() < BHS_LEN {
            return false;
        }
        let mut bhs = Bhs::default();
        bhs.0.copy_from_slice(&buf[..BHS_LEN]);
        bhs.data_len() > self.framing.max_recv_data || buf.len() >= frame_len(&bhs, &self.framing)
    }

    /// The next PDU, or `None` on a clean close between PDUs.
    pub async fn read(&mut self) -> Result<Option<RawPdu>, CodecError> {
        loop {
            if let Some(p) = decode(&mut self.buf, &self.framing)? {
                return Ok(Some(p));
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(CodecError::Truncated)
                };
            }
        }
    }

    /// The header of the PDU at the front of the buffer, if a whole one is there: after
    /// [`CodecError::TooLong`], the header of the refused PDU, so that it can be answered.
    pub fn pending_header(&self) -> Option<Bhs> {
        let mut bhs = Bhs::default();
        bhs.0.copy_from_slice(self.buf.get(..BHS_LEN)?);
        Some(bhs)
    }

    /// Throws away the PDU whose header is at the front of the buffer (after
    /// [`CodecError::TooLong`]), or its first `max` bytes, or what comes before the
    /// stream ends: so that the connection can be closed without unread data (which
    /// would reset it and could lose the answer to the refused PDU).
    pub async fn discard_pending(&mut self, max: usize) -> std::io::Result<()> {
        let Some(bhs) = self.pending_header() else {
            return Ok(());
        };
        let n = frame_len(&bhs, &self.framing).min(max);
        let buffered = n.min(self.buf.len());
        self.buf.advance(buffered);
        let mut left = n - buffered;
        let mut scratch = [0u8; 4096];
        while left > 0 {
            let want = left.min(scratch.len());
            match self.inner.read(&mut scratch[..want]).await? {
                0 => break,
                got => left -= got,
            }
        }
        Ok(())
    }

    /// Gives the underlying reader back.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// A copy of `data` as [`Bytes`], for building PDUs in tests and tools.
pub fn bytes(data: &[u8]) -> Bytes {
    Bytes::copy_from_slice(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::NopOut;

    #[test]
    fn round_trip_with_digests() {
        let f = Framing {
            header_digest: true,
            data_digest: true,
            max_recv_data: 8192,
        };
        let p = Pdu::NopOut(NopOut {
            itt: 7,
            ..Default::default()
        });
        let wire = encode(&p, b"hello", &f);
        assert_eq!(wire.len(), 48 + 4 + 8 + 4);
        let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
        assert!(decode(&mut buf, &f).unwrap().is_none());
        buf.extend_from_slice(&wire[wire.len() - 1..]);
        let raw = decode(&mut buf, &f).unwrap().unwrap();
        assert_eq!(&raw.data[..], b"hello");
        assert_eq!(Pdu::parse(&raw).unwrap(), p);
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_digests_are_detected() {
        let f = Framing {
            header_digest: true,
            data_digest: true,
            max_recv_data: 8192,
        };
        let p = Pdu::NopOut(NopOut::default());
        let mut wire = encode(&p, b"abcd", &f);
        let n = wire.len();
        wire[n - 1] ^= 1;
        let mut buf = BytesMut::from(&wire[..]);
        assert!(matches!(
            decode(&mut buf, &f),
            Err(CodecError::DataDigest(_))
        ));
        let mut wire = encode(&p, b"abcd", &f);
        wire[20] ^= 1;
        let mut buf = BytesMut::from(&wire[..]);
        assert!(matches!(
            decode(&mut buf, &f),
            Err(CodecError::HeaderDigest)
        ));
    }

    #[test]
    fn large_segments_go_out_in_place_and_in_order() {
        let f = Framing {
            header_digest: true,
            data_digest: true,
            max_recv_data: 1 << 20,
        };
        let sizes = [
            5usize,
            BORROW_MIN + 3,
            0,
            BORROW_MIN * 2,
            17,
            BORROW_MIN + 1,
        ];
        let mut out = OutBuf::default();
        for (i, &n) in sizes.iter().enumerate() {
            let data: Bytes = (0..n).map(|b| (b * 7 + i) as u8).collect();
            let p = Pdu::NopOut(NopOut {
                itt: i as u32,
                ..Default::default()
            });
            // The last in three parts, as a read from the cache's pages comes.
            let data = if i == sizes.len() - 1 {
                Payload::from_parts(vec![
                    data.slice(..9),
                    data.slice(9..4096),
                    data.slice(4096..),
                ])
            } else {
                data.into()
            };
            out.push(&p, &data, &f);
        }
        assert_eq!(
            out.large.len(),
            5,
            "the parts of large segments are not copied"
        );
        let wire = out.to_vec();
        assert_eq!(wire.len(), out.len());
        // Written by a socket that takes at most 1000 bytes a call and is full every
        // third call, as a non-blocking one may be.
        let mut written = Vec::new();
        let mut calls = 0;
        while !out.is_empty() {
            calls += 1;
            let r = out.try_write(|slices| {
                if calls % 3 == 0 {
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                let mut n = 0;
                for s in slices {
                    let k = s.len().min(1000 - n);
                    written.extend_from_slice(&s[..k]);
                    n += k;
                }
                Ok(n)
            });
            match r {
                Ok(n) => assert!(n > 0 && n <= 1000),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
            assert_eq!(out.len(), wire.len() - written.len());
            assert_eq!(out.to_vec(), wire[written.len()..]);
        }
        assert_eq!(written, wire);
        assert_eq!(
            out.try_write(|_| Ok(0)).unwrap(),
            0,
            "nothing left to write"
        );
        let mut buf = BytesMut::from(&wire[..]);
        for (i, &n) in sizes.iter().enumerate() {
            let mut reader = FrameReader::new(&[][..]);
            reader.framing = f;
            reader.buf = buf.clone();
            assert!(reader.has_frame());
            let raw = decode(&mut buf, &f).unwrap().unwrap();
            assert_eq!(raw.data.len(), n);
            assert!(raw
                .data
                .iter()
                .enumerate()
                .all(|(b, &v)| v == (b * 7 + i) as u8));
            assert!(matches!(Pdu::parse(&raw).unwrap(), Pdu::NopOut(p) if p.itt == i as u32));
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn a_partial_frame_is_not_ready() {
        let f = Framing::default();
        let wire = encode(&Pdu::NopOut(NopOut::default()), b"hello", &f);
        let mut reader = FrameReader::new(&[][..]);
        for cut in [0, 20, 48, wire.len() - 1] {
            reader.buf = BytesMut::from(&wire[..cut]);
            assert!(!reader.has_frame(), "{cut} bytes are not a frame");
        }
        reader.buf = BytesMut::from(&wire[..]);
        assert!(reader.has_frame());
        // A header announcing more than may be received is "ready": read() refuses it.
        let mut b = Bhs::default();
        b.set_lengths(0, 9000);
        reader.buf = BytesMut::from(&b.0[..]);
        assert!(reader.has_frame());
    }

    #[test]
    fn oversized_segment_is_refused() {
        let f = Framing::default();
        let mut b = Bhs::default();
        b.set_lengths(0, 9000);
        let mut buf = BytesMut::from(&b.0[..]);
        assert!(matches!(
            decode(&mut buf, &f),
            Err(CodecError::TooLong { .. })
        ));
    }

    #[test]
    fn the_refused_pdu_stays_readable_and_can_be_thrown_away() {
        let mut b = Bhs::default();
        b.set_lengths(0, 9002);
        b.0[16] = 0x42;
        let next = Pdu::NopOut(NopOut {
            itt: 9,
            ..Default::default()
        });
        let mut wire = b.0.to_vec();
        wire.extend_from_slice(&[7; 9004]); // the data and its padding
        wire.extend_from_slice(&encode(&next, &[], &Framing::default()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut reader = FrameReader::new(&wire[..]);
        assert_eq!(reader.pending_header(), None);
        let r = rt.block_on(reader.read());
        assert!(matches!(r, Err(CodecError::TooLong { len: 9002, .. })));
        assert_eq!(reader.pending_header(), Some(b));
        rt.block_on(reader.discard_pending(usize::MAX)).unwrap();
        let after = rt.block_on(reader.read()).unwrap().unwrap();
        assert!(matches!(Pdu::parse(&after), Ok(Pdu::NopOut(n)) if n.itt == 9));
    }
}
