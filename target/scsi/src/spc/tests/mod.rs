//! Unit tests of [`Unit`] over a tiny disk-like device, checking bytes on the wire:
//! unit attentions, INQUIRY, REQUEST SENSE and robustness here; MODE SENSE/SELECT and
//! REPORT SUPPORTED OPERATION CODES in `mode.rs`; reservations in `pr.rs`.

mod mode;
mod pr;
mod tape;

use std::sync::Arc;

use proptest::prelude::*;

use crate::{
    Access, BlockDescriptorFormat, Command, Device, Identity, LogicalUnit, Nexus, OpcodeInfo,
    PageControl, Reset, Response, Sense, Status, UnitCtx,
};

use super::{MemPrStore, PrStore, Unit, UnitOptions};

/// A disk of 1000 blocks of 512 bytes that serves READ(10), WRITE(10) and READ
/// CAPACITY(16), with a caching mode page whose WCE bit is changeable.
#[derive(Debug, Default)]
pub(super) struct TinyDisk {
    pub(super) wce: parking_lot::Mutex<bool>,
    /// What `overriding_condition` reports (a sanitize in progress, say).
    pub(super) overriding: parking_lot::Mutex<Option<Sense>>,
}

const OPS: &[OpcodeInfo] = &[
    OpcodeInfo {
        opcode: 0x28,
        service_action: None,
        usage: &[0x28, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0x07],
    },
    OpcodeInfo {
        opcode: 0x2A,
        service_action: None,
        usage: &[0x2A, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0x07],
    },
    OpcodeInfo {
        opcode: 0x9E,
        service_action: Some(0x10),
        usage: &[
            0x9E, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0x07,
        ],
    },
];

impl Device for TinyDisk {
    fn peripheral_type(&self) -> u8 {
        0
    }
    fn vpd_pages(&self) -> &[u8] {
        &[0xB0]
    }
    fn vpd_page(&self, page: u8) -> Option<Vec<u8>> {
        (page == 0xB0).then(|| {
            let mut p = vec![0u8; 64];
            p[1] = 0xB0;
            p[3] = 60;
            p
        })
    }
    fn version_descriptors(&self) -> &[u16] {
        &[0x04C0]
    }
    fn mode_pages(&self) -> &[u8] {
        &[0x08]
    }
    fn mode_page(&self, page: u8, pc: PageControl) -> Option<Vec<u8>> {
        if page != 0x08 {
            return None;
        }
        let mut p = vec![0u8; 20];
        p[0] = 0x08;
        p[1] = 0x12;
        p[2] = match pc {
            PageControl::Changeable => 0x04,
            PageControl::Current => u8::from(*self.wce.lock()) << 2,
            _ => 0,
        };
        Some(p)
    }
    fn mode_select(&self, page: u8, data: &[u8]) -> Result<(), Sense> {
        if page != 0x08 || data.len() != 20 {
            return Err(Sense::invalid_field_in_param(1, None));
        }
        *self.wce.lock() = data[2] & 0x04 != 0;
        Ok(())
    }
    fn mode_device_specific(&self, write_protected: bool) -> u8 {
        0x10 | if write_protected { 0x80 } else { 0 }
    }
    fn block_descriptor(&self) -> Option<(u64, u32)> {
        Some((1000, 512))
    }
    fn block_descriptor_format(&self) -> BlockDescriptorFormat {
        BlockDescriptorFormat::ShortLba
    }
    fn opcodes(&self) -> &[OpcodeInfo] {
        OPS
    }
    fn access(&self, cdb: &[u8]) -> Access {
        match cdb.first() {
            Some(0x28) => Access::Read,
            Some(0x2A) => Access::Write,
            _ => Access::None,
        }
    }
    fn overriding_condition(&self) -> Option<Sense> {
        self.overriding.lock().clone()
    }
    fn execute(&self, cmd: &Command<'_>, ctx: &UnitCtx) -> Option<Response> {
        match cmd.cdb.first()? {
            0x28 => Some(Response::with_data(vec![0; 512])),
            0x2A if ctx.write_protected => Some(ctx.check(&Sense::write_protected())),
            0x2A => Some(Response::good()),
            0x9E => Some(ctx.check(&Sense::lba_out_of_range())),
            _ => None,
        }
    }
}

pub(super) fn identity() -> Identity {
    Identity {
        vendor: "VSA".into(),
        product: "disk".into(),
        revision: "0001".into(),
        serial: "SN123".into(),
        naa: [0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    }
}

pub(super) fn nexus(name: &str, isid: u64) -> Nexus {
    Nexus {
        initiator: name.into(),
        isid,
        target: "iqn.2026-01.vsa:t".into(),
        tpgt: 1,
    }
}

pub(super) fn unit_with(store: Arc<MemPrStore>, options: UnitOptions) -> Unit<TinyDisk> {
    let store: Arc<dyn PrStore> = store;
    Unit::new(TinyDisk::default(), identity(), options, store).unwrap()
}

pub(super) fn unit() -> Unit<TinyDisk> {
    unit_with(Arc::new(MemPrStore::new()), UnitOptions::default())
}

pub(super) fn run(u: &Unit<TinyDisk>, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
    u.execute(&Command {
        cdb,
        data_out: &crate::Bytes::copy_from_slice(data),
        expected_len: 65536,
        nexus: n,
        attr: Default::default(),
    })
}

/// Runs TEST UNIT READY until it stops reporting unit attentions, as a login does.
pub(super) fn clear_ua(u: &Unit<TinyDisk>, n: &Nexus) {
    for _ in 0..10 {
        if run(u, n, &[0; 6], &[]).status == Status::Good {
            return;
        }
    }
    panic!("unit attentions do not clear");
}

pub(super) fn sense_of(r: &Response) -> (u8, u8, u8) {
    let s = r.sense.as_deref().unwrap_or_default();
    if s.first().is_some_and(|b| b & 0x7F >= 0x72) {
        (s[1] & 0x0F, s[2], s[3])
    } else {
        (s[2] & 0x0F, s[12], s[13])
    }
}

#[test]
fn first_command_reports_power_on_then_clears() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    let r = run(&u, &a, &[0; 6], &[]);
    assert_eq!(r.status, Status::CheckCondition);
    assert_eq!(sense_of(&r), (0x6, 0x29, 0x00));
    assert_eq!(run(&u, &a, &[0; 6], &[]).status, Status::Good);
}

#[test]
fn inquiry_does_not_report_or_clear_unit_attention() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    let r = run(&u, &a, &[0x12, 0, 0, 0, 255, 0], &[]);
    assert_eq!(r.status, Status::Good);
    let d = r.data;
    assert_eq!(d.len(), 96);
    assert_eq!(&d[..8], &[0x00, 0x00, 0x06, 0x12, 91, 0x00, 0x00, 0x02]);
    assert_eq!(&d[8..16], b"VSA     ");
    assert_eq!(&d[16..32], b"disk            ");
    assert_eq!(&d[32..36], b"0001");
    assert_eq!(
        &d[58..66],
        &[0x00, 0xA0, 0x04, 0x60, 0x04, 0xC0, 0x09, 0x60]
    );
    assert_eq!(run(&u, &a, &[0; 6], &[]).status, Status::CheckCondition);
}

#[test]
fn inquiry_allocation_length_and_invalid_fields() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    clear_ua(&u, &a);
    for alloc in [0u16, 5, 36, 511, 512] {
        let [hi, lo] = alloc.to_be_bytes();
        let r = run(&u, &a, &[0x12, 0, 0, hi, lo, 0], &[]);
        assert_eq!(r.data.len(), usize::from(alloc).min(96));
    }
    let r = run(&u, &a, &[0x12, 0, 1, 1, 0, 0], &[]);
    assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
    let r = run(&u, &a, &[0x12, 2, 0, 1, 0, 0], &[]);
    assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
    let r = run(&u, &a, &[0x12, 1, 0xC7, 1, 0, 0], &[]);
    assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
    let r = run(&u, &a, &[0x12, 0, 0, 1, 0, 0x04], &[]);
    assert_eq!(sense_of(&r), (0x5, 0x24, 0x00));
}

#[test]
fn vpd_pages() {
    let u = unit();
    let a = nexus("iqn.a", 0x23D000001);
    let r = run(&u, &a, &[0x12, 1, 0x00, 1, 0, 0], &[]);
    assert_eq!(r.data, vec![0, 0, 0, 5, 0x00, 0x80, 0x83, 0x86, 0xB0]);
    let r = run(&u, &a, &[0x12, 1, 0x80, 1, 0, 0], &[]);
    assert_eq!(r.data, b"\x00\x80\x00\x05SN123".to_vec());
    let r = run(&u, &a, &[0x12, 1, 0xB0, 1, 0, 0], &[]);
    assert_eq!(r.data.len(), 64);
    let d = run(&u, &a, &[0x12, 1, 0x83, 1, 0, 0], &[]).data;
    assert_eq!(usize::from(u16::from_be_bytes([d[2], d[3]])), d.len() - 4);
    // NAA first.
    assert_eq!(&d[4..8], &[0x01, 0x03, 0x00, 16]);
    assert_eq!(d[8], 0x60);
    // T10 vendor ID.
    assert_eq!(&d[24..28], &[0x02, 0x01, 0x00, 13]);
    assert_eq!(&d[28..41], b"VSA     SN123");
    // Relative target port 1.
    assert_eq!(&d[41..49], &[0x51, 0x94, 0, 4, 0, 0, 0, 1]);
    // Target port name.
    assert_eq!(&d[49..51], &[0x53, 0x98]);
    let len = usize::from(d[52]);
    assert_eq!(len % 4, 0);
    assert!(d[53..53 + len].starts_with(b"iqn.2026-01.vsa:t,t,0x0001\0"));
}

#[test]
fn request_sense_returns_and_clears_unit_attention() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    let r = run(&u, &a, &[0x03, 0, 0, 0, 252, 0], &[]);
    assert_eq!(r.status, Status::Good);
    assert_eq!((r.data[0], r.data[2], r.data[12]), (0x70, 0x06, 0x29));
    let r = run(&u, &a, &[0x03, 1, 0, 0, 252, 0], &[]);
    assert_eq!(&r.data[..4], &[0x72, 0, 0, 0]);
    assert_eq!(run(&u, &a, &[0; 6], &[]).status, Status::Good);
}

#[test]
fn overriding_condition_comes_before_unit_attentions_which_stay_pending() {
    let u = unit();
    let a = nexus("iqn.a", 1);
    let sanitizing = Sense::sanitize_in_progress().with_progress(0x8000);
    *u.device().overriding.lock() = Some(sanitizing);
    let not_ready = (0x02, 0x04, 0x1B);
    for cdb in [
        &[0u8; 6][..],
        &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        &[0x1A, 0, 0x3F, 0, 255, 0],
    ] {
        assert_eq!(sense_of(&run(&u, &a, cdb, &[])), not_ready, "{cdb:02x?}");
    }
    assert_eq!(
        run(&u, &a, &[0x12, 0, 0, 0, 96, 0], &[]).status,
        Status::Good
    );
    let r = run(&u, &a, &[0x03, 0, 0, 0, 252, 0], &[]);
    assert_eq!(r.status, Status::Good);
    assert_eq!((r.data[2], r.data[12], r.data[13]), (0x02, 0x04, 0x1B));
    assert_eq!(&r.data[15..18], &[0x80, 0x80, 0x00], "progress indication");
    *u.device().overriding.lock() = None;
    // The POWER ON unit attention of the new nexus waited behind it.
    assert_eq!(sense_of(&run(&u, &a, &[0; 6], &[])), (0x06, 0x29, 0x00));
    assert_eq!(run(&u, &a, &[0; 6], &[]).status, Status::Good);
}

#[test]
fn commands_cleared_and_device_attentions() {
    let u = unit();
    let (a, b) = (nexus("iqn.a", 1), nexus("iqn.b", 1));
    clear_ua(&u, &a);
    clear_ua(&u, &b);
    u.tasks_cleared(&a, &b);
    assert_eq!(sense_of(&run(&u, &a, &[0; 6], &[])), (0x6, 0x2F, 0x00));
    assert_eq!(run(&u, &b, &[0; 6], &[]).status, Status::Good);
    let r = run(&u, &a, &[0xA3, 0x0D, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0], &[]);
    assert_eq!(r.data, vec![0xD8, 0, 0, 0]);
    let r = run(&u, &a, &[0xEE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    assert_eq!(sense_of(&r), (0x5, 0x20, 0x00));
}

proptest! {
    #[test]
    fn arbitrary_cdbs_never_panic(
        cdb in proptest::collection::vec(any::<u8>(), 0..34),
        data in proptest::collection::vec(any::<u8>(), 0..600),
        who in 0u64..3,
        op in prop::sample::select(vec![
            0x00u8, 0x03, 0x12, 0x15, 0x16, 0x17, 0x1A, 0x55, 0x56, 0x57, 0x5A, 0x5E, 0x5F,
            0xA3, 0x7F, 0x28, 0x2A, 0x9E,
        ]),
        keep_op in any::<bool>(),
    ) {
        let u = unit();
        let n = nexus("iqn.p", who);
        let mut cdb = cdb;
        if keep_op {
            if let Some(b) = cdb.first_mut() {
                *b = op;
            }
        }
        for _ in 0..3 {
            let r = run(&u, &n, &cdb, &data);
            prop_assert!(r.status != Status::Good || r.sense.is_none());
        }
        u.reset(Reset::TargetCold, &n);
        u.nexus_lost(&n);
    }
}
