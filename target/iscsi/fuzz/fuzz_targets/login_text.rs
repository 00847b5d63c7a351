//! Parses arbitrary login/text data segments and negotiates every key found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vsa_iscsi::params::{SessionParams, TargetLimits};

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = vsa_iscsi::text::parse(data) {
        let lim = TargetLimits::default();
        let mut p = SessionParams::default();
        for (k, v) in &pairs {
            let _ = p.negotiate(k, v, &lim, k.len() % 2 == 0);
            let _ = vsa_iscsi::chap::decode_binary(v);
        }
        p.finish(&lim);
        let again = vsa_iscsi::text::parse(&vsa_iscsi::text::encode(&pairs)).ok();
        assert_eq!(again, Some(pairs));
    }
});
