//! Frames and parses arbitrary bytes as PDUs, with and without digests.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vsa_iscsi::selfcheck::pdu_round_trip(data));
