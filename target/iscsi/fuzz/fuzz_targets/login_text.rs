//! Parses arbitrary login/text data segments and negotiates every key found.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vsa_iscsi::selfcheck::login_text_round_trip(data));
