//! The caching mode page (08h, SBC-4 6.5.5). WCE is the only changeable field: with it
//! off, every write is flushed before it completes. Read caching is never disabled
//! (RCD = 0) because the SCSI layer has no read cache to disable.

use std::sync::atomic::Ordering;

use super::disk::Disk;
use crate::{PageControl, Sense};

const CACHING: u8 = 0x08;
const LEN: usize = 0x14;
const WCE: u8 = 0x04;

impl Disk {
    /// The caching page for MODE SENSE.
    pub(crate) fn caching_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        if page != CACHING {
            return None;
        }
        let mut d = vec![0u8; LEN];
        d[0] = CACHING;
        d[1] = (LEN - 2) as u8;
        d[2] = match pc {
            PageControl::Current | PageControl::Saved => self.wce_bit(),
            PageControl::Default if self.tuning.write_cache => WCE,
            PageControl::Default => 0,
            PageControl::Changeable => WCE,
        };
        Some(d)
    }

    fn wce_bit(&self) -> u8 {
        if self.wce.load(Ordering::Relaxed) {
            WCE
        } else {
            0
        }
    }

    /// MODE SELECT of the caching page: only WCE may differ from the current page.
    pub(crate) fn select_caching_page(&self, page: u8, data: &[u8]) -> Result<(), Sense> {
        if page != CACHING {
            return Err(Sense::invalid_field_in_param(0, Some(5)));
        }
        let current = self
            .caching_page(CACHING, PageControl::Current)
            .unwrap_or_default();
        if data.len() != LEN || data.get(1).copied() != Some((LEN - 2) as u8) {
            return Err(Sense::invalid_field_in_param(1, None));
        }
        for (i, (&new, &cur)) in data.iter().zip(&current).enumerate().skip(2) {
            let changeable = if i == 2 { WCE } else { 0 };
            if (new ^ cur) & !changeable != 0 {
                return Err(Sense::invalid_field_in_param(i as u16, None));
            }
        }
        let wce = data.get(2).is_some_and(|b| b & WCE != 0);
        self.wce.store(wce, Ordering::Relaxed);
        Ok(())
    }
}
