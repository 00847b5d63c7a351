//! Frames and parses arbitrary bytes as PDUs, with and without digests.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use vsa_iscsi::codec::{decode, Framing};
use vsa_iscsi::pdu::Pdu;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let f = Framing {
        header_digest: flags & 1 != 0,
        data_digest: flags & 2 != 0,
        max_recv_data: 1 << 16,
    };
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(raw)) = decode(&mut buf, &f) {
        if let Ok(p) = Pdu::parse(&raw) {
            let (bhs, ahs) = p.encode(raw.data.len());
            let again = vsa_iscsi::pdu::RawPdu {
                bhs,
                ahs: ahs.into(),
                data: raw.data.clone(),
            };
            assert_eq!(Pdu::parse(&again).ok(), Some(p));
        }
    }
});
