//! Self-consistency checks of the parsers on arbitrary input, shared by the cargo-fuzz
//! targets (`fuzz/`) and the corpus replay test (`tests/corpus.rs`). Each returns normally
//! when the parsers behave and panics when they contradict themselves (a PDU that does not
//! survive encode → parse, text pairs that do not round-trip) — which is what a fuzzer or a
//! test wants to hear about. Nothing here runs in the server.

use bytes::BytesMut;

use crate::codec::{decode, Framing};
use crate::params::{SessionParams, TargetLimits};
use crate::pdu::{Pdu, RawPdu};

/// Frames `data[1..]` as PDUs (with digests as bits 0 and 1 of `data[0]` say) and checks
/// that every PDU that parses encodes back to itself.
pub fn pdu_round_trip(data: &[u8]) {
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
            let again = RawPdu {
                bhs,
                ahs: ahs.into(),
                data: raw.data.clone(),
            };
            assert_eq!(Pdu::parse(&again).ok(), Some(p), "a PDU did not round-trip");
        }
    }
}

/// Parses `data` as a login/text data segment, negotiates every key found and checks that
/// the pairs round-trip through the encoder.
pub fn login_text_round_trip(data: &[u8]) {
    if let Ok(pairs) = crate::text::parse(data) {
        let lim = TargetLimits::default();
        let mut p = SessionParams::default();
        for (k, v) in &pairs {
            let _ = p.negotiate(k, v, &lim, k.len() % 2 == 0);
            let _ = crate::chap::decode_binary(v);
        }
        p.finish(&lim);
        let again = crate::text::parse(&crate::text::encode(&pairs)).ok();
        assert_eq!(again, Some(pairs), "text pairs did not round-trip");
    }
}
