//! READ DEFECT DATA (10) and (12) (SBC-4 5.17, 5.18): a virtual disk has no defects, so
//! both lists are empty, reported in the format asked for.

use super::disk::Disk;
use crate::cdb::{be16, be32, byte, need, put, truncate};
use crate::{Response, Sense};

impl Disk {
    /// READ DEFECT DATA: header only, with PLISTV/GLISTV for the lists asked for.
    pub(crate) fn read_defect_data(&self, cdb: &[u8]) -> Result<Response, Sense> {
        let twelve = byte(cdb, 0) == 0xB7;
        need(cdb, if twelve { 12 } else { 10 })?;
        let (flags_at, alloc) = if twelve {
            (1, be32(cdb, 6) as usize)
        } else {
            (2, usize::from(be16(cdb, 7)))
        };
        let flags = byte(cdb, flags_at);
        if flags & 0x07 == 0x07 {
            // DEFECT LIST FORMAT 111b is reserved.
            return Err(Sense::invalid_field_in_cdb(flags_at as u16, Some(2)));
        }
        // REQ_PLIST/REQ_GLIST sit where PLISTV/GLISTV go; the format is echoed.
        let echo = flags & 0x1F;
        let mut d = vec![0u8; if twelve { 8 } else { 4 }];
        put(&mut d, 1, [echo]);
        Ok(Response::with_data(truncate(d, alloc)))
    }
}
