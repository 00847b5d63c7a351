//! Parses arbitrary bytes as every parameter list the SCSI layer takes (MODE SELECT,
//! PERSISTENT RESERVE OUT and its TransportIDs, UNMAP, EXTENDED COPY) and checks that
//! whatever parses round-trips through the encoders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vsa_scsi::selfcheck::param_lists(data));
