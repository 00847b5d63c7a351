//! A small RAM-disk logical unit for tests and the `ramtarget` example: enough SBC/SPC
//! (TEST UNIT READY, INQUIRY with a few VPD pages, READ CAPACITY 10/16, READ/WRITE
//! 6/10/12/16, MODE SENSE 6/10, REQUEST SENSE, SYNCHRONIZE CACHE, VERIFY) for libiscsi's
//! tools and iSCSI-level tests and for qemu-img.

#![allow(dead_code)]

use parking_lot::{Mutex, RwLock};
use vsa_scsi::{Command, LogicalUnit, Nexus, Reset, Response, Sense};

#[derive(Debug)]
pub struct RamDisk {
    data: RwLock<Vec<u8>>,
    block: u32,
    serial: String,
    /// Milliseconds every WRITE sleeps (to let task management catch commands in flight).
    pub write_delay_ms: u64,
    /// The ISIDs of the I_T nexuses the transport reported lost, in order.
    pub lost: Mutex<Vec<u64>>,
    /// Milliseconds `nexus_lost` takes before it records the nexus.
    pub lost_delay_ms: u64,
}

impl RamDisk {
    pub fn new(bytes: usize, serial: &str) -> Self {
        Self {
            data: RwLock::new(vec![0; bytes]),
            block: 512,
            serial: serial.to_string(),
            write_delay_ms: 0,
            lost: Mutex::new(Vec::new()),
            lost_delay_ms: 0,
        }
    }

    fn blocks(&self) -> u64 {
        self.data.read().len() as u64 / u64::from(self.block)
    }

    fn inquiry(&self, cdb: &[u8]) -> Response {
        let alloc = u16::from_be_bytes([cdb[3], cdb[4]]) as usize;
        let evpd = cdb[1] & 1 != 0;
        let mut d = if !evpd {
            if cdb[2] != 0 {
                return Response::check(&Sense::invalid_field_in_cdb(2, None), false);
            }
            let mut d = vec![0u8; 66];
            d[2] = 0x06; // SPC-4
            d[3] = 0x02;
            d[4] = 61;
            d[7] = 0x02; // CmdQue
            d[8..16].copy_from_slice(b"VSA     ");
            d[16..32].copy_from_slice(b"RAMDISK         ");
            d[32..36].copy_from_slice(b"0001");
            d
        } else {
            match cdb[2] {
                0x00 => vec![0, 0x00, 0, 3, 0x00, 0x80, 0x83],
                0x80 => {
                    let mut d = vec![0, 0x80, 0, self.serial.len() as u8];
                    d.extend_from_slice(self.serial.as_bytes());
                    d
                }
                0x83 => {
                    // One T10 vendor ID designator.
                    let mut id = b"VSA     ".to_vec();
                    id.extend_from_slice(self.serial.as_bytes());
                    let mut d = vec![0, 0x83, 0, 0, 0x02, 0x01, 0, id.len() as u8];
                    d.extend_from_slice(&id);
                    let n = (d.len() - 4) as u16;
                    d[2..4].copy_from_slice(&n.to_be_bytes());
                    d
                }
                _ => return Response::check(&Sense::invalid_field_in_cdb(2, None), false),
            }
        };
        d.truncate(alloc);
        Response::with_data(d)
    }

    fn rw(&self, cmd: &Command<'_>, lba: u64, blocks: u64, write: bool) -> Response {
        let bs = u64::from(self.block);
        if lba
            .checked_add(blocks)
            .is_none_or(|end| end > self.blocks())
        {
            let mut r = Response::check(&Sense::lba_out_of_range(), false);
            if write {
                r.data_out_len = Some((blocks * bs) as u32);
            }
            return r;
        }
        let off = (lba * bs) as usize;
        let len = (blocks * bs) as usize;
        if write {
            if self.write_delay_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(self.write_delay_ms));
            }
            let n = cmd.data_out.len().min(len);
            self.data.write()[off..off + n].copy_from_slice(&cmd.data_out[..n]);
            let mut r = Response::good();
            r.data_out_len = Some(len as u32);
            r
        } else {
            Response::with_data(self.data.read()[off..off + len].to_vec())
        }
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |a, &x| (a << 8) | u64::from(x))
}

impl LogicalUnit for RamDisk {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        let c = cmd.cdb;
        let need = match c.first() {
            Some(0x00..=0x1F) => 6,
            Some(0x20..=0x5F) => 10,
            Some(0x80..=0x9F) => 16,
            Some(0xA0..=0xBF) => 12,
            _ => 1,
        };
        if c.len() < need {
            return Response::check(&Sense::invalid_field_in_cdb(0, None), false);
        }
        match c[0] {
            0x00 | 0x35 | 0x91 => Response::good(),
            0x03 => {
                let mut d = vec![0u8; 18];
                d[0] = 0x70;
                d[7] = 10;
                d.truncate(c[4] as usize);
                Response::with_data(d)
            }
            0x12 => self.inquiry(c),
            0x1A | 0x5A => {
                // Mode parameter header only, no block descriptors, no pages.
                let (mut d, alloc) = if c[0] == 0x1A {
                    (vec![3, 0, 0, 0], c[4] as usize)
                } else {
                    (vec![0, 6, 0, 0, 0, 0, 0, 0], be(&c[7..9]) as usize)
                };
                d.truncate(alloc);
                Response::with_data(d)
            }
            0x25 => {
                let last = (self.blocks() - 1).min(0xFFFF_FFFF) as u32;
                let mut d = last.to_be_bytes().to_vec();
                d.extend_from_slice(&self.block.to_be_bytes());
                Response::with_data(d)
            }
            0x9E if c[1] & 0x1F == 0x10 => {
                let mut d = vec![0u8; 32];
                d[..8].copy_from_slice(&(self.blocks() - 1).to_be_bytes());
                d[8..12].copy_from_slice(&self.block.to_be_bytes());
                d.truncate(be(&c[10..14]) as usize);
                Response::with_data(d)
            }
            0x08 | 0x0A => {
                let lba = be(&c[1..4]) & 0x1F_FFFF;
                let n = if c[4] == 0 { 256 } else { u64::from(c[4]) };
                self.rw(cmd, lba, n, c[0] == 0x0A)
            }
            0x28 | 0x2A | 0x2F => self.rw(cmd, be(&c[2..6]), be(&c[7..9]), c[0] == 0x2A),
            0xA8 | 0xAA => self.rw(cmd, be(&c[2..6]), be(&c[6..10]), c[0] == 0xAA),
            0x88 | 0x8A => self.rw(cmd, be(&c[2..10]), be(&c[10..14]), c[0] == 0x8A),
            _ => Response::check(&Sense::invalid_opcode(), false),
        }
    }

    /// Reads never wait on a RAM disk: served on the connection's thread.
    fn try_execute(&self, cmd: &Command<'_>) -> Option<Response> {
        matches!(cmd.cdb.first(), Some(0x08 | 0x28 | 0xA8 | 0x88)).then(|| self.execute(cmd))
    }

    fn reset(&self, _reset: Reset, _from: &Nexus) {}

    fn nexus_lost(&self, nexus: &Nexus) {
        std::thread::sleep(std::time::Duration::from_millis(self.lost_delay_ms));
        self.lost.lock().push(nexus.isid);
    }
}
