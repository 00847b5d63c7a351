//! Self-consistency checks on arbitrary input, for the cargo-fuzz targets `cdb` and
//! `param_lists` (`target/iscsi/fuzz/`) and this crate's tests. Each check returns
//! normally when the code behaves and panics when it contradicts itself (a parameter list
//! the parsers accept that does not survive encode → parse, a response with sense data but
//! no CHECK CONDITION) or panics on its own, which is what a fuzzer wants to hear about.
//! Nothing here runs in the appliance.

use std::sync::Arc;

use vsa_blockdev::BlockDevice;

use crate::sbc::{copy_list, unmap_list, Disk, DiskOptions, DiskTuning, NoCopyTargets};
use crate::spc::{mode, mode_list, prout_list, transport_id, MemPrStore, Unit, UnitOptions};
use crate::{BlockDescriptorFormat, Command, Identity, LogicalUnit, Nexus, Reset, Status};

/// The largest data-out one command of [`commands`] carries.
const MAX_DATA_OUT: usize = 1 << 16;

/// Serves `dev` as a removable disk (thin if bit 0 of `data[0]` is clear) through a fresh
/// [`Unit`] and runs the commands of `data[1..]` on it (see [`commands`]).
pub fn disk_commands(dev: Arc<dyn BlockDevice>, data: &[u8]) {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let naa = [0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    let opts = DiskOptions {
        removable: true,
        thin: pick & 0x01 == 0,
        naa,
    };
    let tuning = DiskTuning {
        sanitize_bytes_per_sec: 0,
        ..DiskTuning::default()
    };
    let disk = Disk::with_tuning(dev, opts, tuning, Arc::new(NoCopyTargets));
    let identity = Identity {
        vendor: "VSA".into(),
        product: "fuzz".into(),
        revision: "0001".into(),
        serial: "F1".into(),
        naa,
    };
    let store = Arc::new(MemPrStore::new());
    let Ok(unit) = Unit::new(disk, identity, UnitOptions::default(), store) else {
        return;
    };
    commands(&unit, data);
}

/// Runs the commands encoded in `data` on `unit`, one after the other. Each is a flags
/// byte (bits 1-0: which of three I_T nexuses sends it; bit 2: try
/// [`LogicalUnit::try_execute`] first; bit 3: a LOGICAL UNIT RESET before it; bit 4: the
/// nexus is lost after it), the CDB length (modulo 33) and the CDB, a 16-bit data-out
/// length and the data-out (as much of it as there is). Checks that sense data comes
/// exactly with CHECK CONDITION, in fixed or descriptor format.
pub fn commands(unit: &dyn LogicalUnit, mut data: &[u8]) {
    let nexuses: Vec<Nexus> = (0..3)
        .map(|i| Nexus {
            initiator: format!("iqn.2026-01.invalid:i{}", i % 2),
            isid: i,
            target: "iqn.2026-01.invalid:t".into(),
            tpgt: 1,
        })
        .collect();
    while let Some((&flags, rest)) = data.split_first() {
        let Some((&cdb_len, rest)) = rest.split_first() else {
            return;
        };
        let (cdb, rest) = rest.split_at(usize::from(cdb_len % 33).min(rest.len()));
        let out_len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])).min(MAX_DATA_OUT),
            _ => 0,
        };
        let rest = rest.get(2..).unwrap_or_default();
        let (data_out, rest) = rest.split_at(out_len.min(rest.len()));
        data = rest;
        let nexus = &nexuses[usize::from(flags & 0x03) % nexuses.len()];
        if flags & 0x08 != 0 {
            unit.reset(Reset::LogicalUnit, nexus);
        }
        let data_out = crate::Bytes::copy_from_slice(data_out);
        let cmd = Command {
            cdb,
            data_out: &data_out,
            expected_len: u32::try_from(data_out.len().max(4096)).unwrap_or(u32::MAX),
            nexus,
            attr: Default::default(),
        };
        let tried = if flags & 0x04 != 0 {
            unit.try_execute(&cmd)
        } else {
            None
        };
        let r = tried.unwrap_or_else(|| unit.execute(&cmd));
        let check = r.status == Status::CheckCondition;
        assert_eq!(
            check,
            r.sense.is_some(),
            "sense data without CHECK CONDITION: {r:?}"
        );
        if let Some(s) = &r.sense {
            assert!(
                matches!(s.first().map(|b| b & 0x7F), Some(0x70 | 0x72)),
                "sense format: {s:02x?}"
            );
        }
        if flags & 0x10 != 0 {
            unit.nexus_lost(nexus);
        }
    }
}

/// The longest iSCSI name (RFC 7143 4.2.7.1); longer names are cut when encoded.
const MAX_ISCSI_NAME: usize = 223;

/// Runs every parameter-list parser over `data[1..]`; bits of `data[0]` pick the variants
/// (MODE SELECT(6) or (10), REGISTER AND MOVE or another service action, the UNMAP
/// descriptor limit).
pub fn param_lists(data: &[u8]) {
    let Some((&pick, list)) = data.split_first() else {
        return;
    };
    unmap(list, u32::from(pick));
    extended_copy(list);
    prout(list, pick & 0x01 != 0);
    transport_ids(list);
    mode_select(list, pick & 0x02 != 0);
}

fn unmap(list: &[u8], max: u32) {
    if let Ok(extents) = unmap_list::parse(list, max) {
        let again = unmap_list::encode(&extents);
        assert_eq!(unmap_list::parse(&again, max), Ok(extents), "UNMAP");
    }
}

fn extended_copy(list: &[u8]) {
    if let Ok(parsed) = copy_list::parse(list, list.len()) {
        let again = copy_list::encode(&parsed);
        assert_eq!(
            copy_list::parse(&again, again.len()),
            Ok(parsed),
            "EXTENDED COPY"
        );
    }
}

fn prout(list: &[u8], register_and_move: bool) {
    if let Ok(parsed) = prout_list::parse(list, list.len(), register_and_move) {
        let again = prout_list::encode(&parsed);
        let back = prout_list::parse(&again, again.len(), register_and_move);
        assert_eq!(back, Ok(parsed), "PERSISTENT RESERVE OUT");
    }
}

fn transport_ids(list: &[u8]) {
    let Some((id, len)) = transport_id::parse(list) else {
        return;
    };
    assert!(len <= list.len(), "a TransportID longer than its input");
    if id.name.len() <= MAX_ISCSI_NAME {
        let again = transport_id::encode(&id.name, id.isid);
        assert_eq!(
            transport_id::parse(&again).map(|p| p.0),
            Some(id),
            "TransportID"
        );
    }
}

fn mode_select(list: &[u8], ten: bool) {
    let Ok(parsed) = mode_list::parse(list, ten) else {
        return;
    };
    for format in [
        BlockDescriptorFormat::ShortLba,
        BlockDescriptorFormat::General,
    ] {
        for long in [false, true] {
            let _ = mode_list::descriptor(format, long, parsed.block_descriptors);
        }
    }
    let every_code: Vec<u8> = (0..0x40).collect();
    let Ok(pages) = mode_list::pages(list, parsed.pages, &every_code) else {
        return;
    };
    let raw: Vec<u8> = pages.iter().flat_map(|p| p.bytes.iter().copied()).collect();
    assert_eq!(raw, parsed.pages, "MODE SELECT pages cover the list");
    let header = (parsed.medium_type, parsed.device_specific);
    let again = mode::assemble(ten, header, parsed.block_descriptors, &raw);
    let back = mode_list::parse(&again, ten);
    let fields = |l: mode_list::ModeList<'_>| {
        (
            l.medium_type,
            l.device_specific,
            l.block_descriptors.to_vec(),
            l.pages.to_vec(),
        )
    };
    assert_eq!(back.map(fields), Ok(fields(parsed)), "MODE SELECT");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
            param_lists(&data);
        }

        #[test]
        fn arbitrary_command_streams(
            data in prop::collection::vec(any::<u8>(), 0..400),
            ops in prop::collection::vec(any::<u8>(), 0..8),
        ) {
            // Put some real opcodes where the CDBs start, so commands get past decoding.
            let mut data = data;
            let mut at = 1;
            for op in ops {
                if at + 2 >= data.len() {
                    break;
                }
                let len = usize::from(data[at + 1] % 33);
                data[at + 2] = op;
                at += 2 + len + 2 + 16;
            }
            let dev = Arc::new(vsa_blockdev::testing::MemDevice::new(256 << 10, 512));
            disk_commands(dev, &data);
        }
    }

    #[test]
    fn a_command_stream_that_registers_reserves_and_writes() {
        let mut data = vec![0u8];
        let mut push = |flags: u8, cdb: &[u8], out: &[u8]| {
            data.extend_from_slice(&[flags, cdb.len() as u8]);
            data.extend_from_slice(cdb);
            data.extend_from_slice(&(out.len() as u16).to_be_bytes());
            data.extend_from_slice(out);
        };
        let mut reg = vec![0u8; 24];
        reg[15] = 1;
        push(0, &[0; 6], &[]);
        push(0, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], &reg);
        push(0x04, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]);
        push(0x1A, &[0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[7; 512]);
        let dev = Arc::new(vsa_blockdev::testing::MemDevice::new(256 << 10, 512));
        disk_commands(dev, &data);
    }

    #[test]
    fn lists_the_parsers_accept() {
        let e = unmap_list::Extent { lba: 7, blocks: 8 };
        let mut inputs = vec![unmap_list::encode(&[e, e])];
        inputs.push(transport_id::encode("iqn.x", Some(5)));
        inputs.push(mode::assemble(false, (1, 2), &[0; 8], &[0x08, 2, 0, 0]));
        for list in inputs {
            for pick in 0..4u8 {
                let mut d = vec![pick];
                d.extend_from_slice(&list);
                param_lists(&d);
            }
        }
    }
}
