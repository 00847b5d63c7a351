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
    let total = BHS_LEN + ahs_len + hd + padded + dd;
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

fn check_header(buf: &[u8], ahs_len: usize) -> Result<(), CodecError> {
    let end = BHS_LEN + ahs_len;
    if buf[end..end + 4] != digest_bytes(&[&buf[..end]]) {
        return Err(CodecError::HeaderDigest);
    }
    Ok(())
}

/// Encodes a typed PDU with its data segment, padding and digests.
pub fn encode(pdu: &Pdu, data: &[u8], f: &Framing) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(pdu, data, f, &mut out);
    out
}

/// Appends the encoded PDU to `out` (the writer batches PDUs into one buffer this way,
/// copying each data segment once).
pub fn encode_into(pdu: &Pdu, data: &[u8], f: &Framing, out: &mut Vec<u8>) {
    let (bhs, ahs) = pdu.encode(data.len());
    append_raw(&bhs, &ahs, data, f, out);
}

/// Encodes a header, AHS and data segment with padding and digests.
pub fn encode_raw(bhs: &Bhs, ahs: &[u8], data: &[u8], f: &Framing) -> Vec<u8> {
    let mut out = Vec::new();
    append_raw(bhs, ahs, data, f, &mut out);
    out
}

fn append_raw(bhs: &Bhs, ahs: &[u8], data: &[u8], f: &Framing, out: &mut Vec<u8>) {
    let pad = pad_len(data.len());
    out.reserve(BHS_LEN + ahs.len() + 8 + data.len() + pad + 4);
    let header = out.len();
    out.extend_from_slice(&bhs.0);
    out.extend_from_slice(ahs);
    if f.header_digest {
        let d = digest_bytes(&[&out[header..]]);
        out.extend_from_slice(&d);
    }
    if !data.is_empty() {
        let start = out.len();
        out.extend_from_slice(data);
        out.extend_from_slice(&[0u8; 3][..pad]);
        if f.data_digest {
            let d = digest_bytes(&[&out[start..]]);
            out.extend_from_slice(&d);
        }
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
}
