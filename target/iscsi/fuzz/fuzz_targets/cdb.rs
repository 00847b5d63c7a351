//! Runs arbitrary command streams (CDBs with data-out, from three I_T nexuses, with resets)
//! through an `spc::Unit<sbc::Disk>` over a fresh in-memory device: nothing may panic, and
//! sense data comes exactly with CHECK CONDITION.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vsa_blockdev::testing::MemDevice;

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(256 << 10, 512));
    vsa_scsi::selfcheck::disk_commands(dev, data);
});
