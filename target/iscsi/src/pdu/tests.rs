//! Codec round trips: typed header → bytes → typed header, and parsers that never panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::codec::{decode, encode, Framing};

fn raw_of(pdu: &Pdu, data: &[u8], f: &Framing) -> RawPdu {
    let wire = encode(pdu, data, f);
    let mut buf = BytesMut::from(&wire[..]);
    let raw = decode(&mut buf, f).unwrap().unwrap();
    assert!(buf.is_empty());
    raw
}

fn framing() -> impl Strategy<Value = Framing> {
    (any::<bool>(), any::<bool>()).prop_map(|(h, d)| Framing {
        header_digest: h,
        data_digest: d,
        max_recv_data: 1 << 16,
    })
}

fn scsi_command() -> impl Strategy<Value = ScsiCommand> {
    (
        any::<(bool, bool, bool, bool)>(),
        0u8..8,
        any::<[u8; 8]>(),
        any::<(u32, u32, u32, u32)>(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 16..=16),
            proptest::collection::vec(any::<u8>(), 17..=64)
        ],
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |((i, f, r, w), attr, lun, (itt, len, sn, esn), cdb, bidi)| ScsiCommand {
                immediate: i,
                final_bit: f,
                read: r,
                write: w,
                attr,
                lun,
                itt,
                expected_len: len,
                cmd_sn: sn,
                exp_stat_sn: esn,
                cdb,
                bidi_read_len: bidi,
            },
        )
}

proptest! {
    #[test]
    fn scsi_command_round_trips(c in scsi_command(), f in framing(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let p = Pdu::ScsiCommand(c);
        let raw = raw_of(&p, &data, &f);
        prop_assert_eq!(&raw.data[..], &data[..]);
        prop_assert_eq!(Pdu::parse(&raw).unwrap(), p);
    }

    #[test]
    fn data_in_round_trips(
        flags in any::<(bool, bool, bool, bool)>(),
        status in proptest::option::of(any::<u8>()),
        nums in any::<(u32, u32, u32, u32, u32, u32, u32)>(),
        f in framing(),
    ) {
        let d = DataIn {
            final_bit: flags.0, ack: flags.1, overflow: flags.2, underflow: flags.3, status,
            lun: [1, 2, 3, 4, 5, 6, 7, 8], itt: nums.0, ttt: nums.1,
            sn: SeqNums { stat_sn: nums.2, exp_cmd_sn: nums.3, max_cmd_sn: nums.4 },
            data_sn: nums.5, buffer_offset: nums.6, residual: 7,
        };
        let p = Pdu::DataIn(d);
        prop_assert_eq!(Pdu::parse(&raw_of(&p, b"xyz", &f)).unwrap(), p);
    }

    /// Any 48 bytes that parse give a header whose encoding parses to the same value.
    #[test]
    fn parse_encode_is_a_fixed_point(bhs in any::<[u8; 48]>()) {
        let mut b = Bhs(bhs);
        b.set_lengths(0, 0);
        let raw = RawPdu { bhs: b, ahs: Bytes::new(), data: Bytes::new() };
        if let Ok(p) = Pdu::parse(&raw) {
            let (enc, ahs) = p.encode(0);
            let again = Pdu::parse(&RawPdu { bhs: enc, ahs: Bytes::from(ahs), data: Bytes::new() }).unwrap();
            prop_assert_eq!(again, p);
        }
    }

    /// The framer and parsers never panic, whatever arrives.
    #[test]
    fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..600), f in framing()) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(raw)) = decode(&mut buf, &f) {
            let _ = Pdu::parse(&raw);
            let _ = crate::text::parse(&raw.data);
        }
    }

    #[test]
    fn ahs_parser_never_panics(ahs in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = Bhs::with_opcode(Opcode::ScsiCommand, false);
        b.set_lengths(ahs.len() / 4 * 4, 0);
        let raw = RawPdu { bhs: b, ahs: Bytes::from(ahs[..ahs.len() / 4 * 4].to_vec()), data: Bytes::new() };
        let _ = Pdu::parse(&raw);
    }
}

#[test]
fn every_type_round_trips() {
    let sn = SeqNums {
        stat_sn: 1,
        exp_cmd_sn: 2,
        max_cmd_sn: 3,
    };
    let all = vec![
        Pdu::NopOut(NopOut {
            immediate: true,
            lun: [0, 1, 0, 0, 0, 0, 0, 0],
            itt: 5,
            ttt: NO_TAG,
            cmd_sn: 9,
            exp_stat_sn: 4,
        }),
        Pdu::NopIn(NopIn {
            lun: [0; 8],
            itt: NO_TAG,
            ttt: 3,
            sn,
        }),
        Pdu::ScsiResponse(ScsiResponse {
            underflow: true,
            status: 2,
            itt: 1,
            sn,
            exp_data_sn: 2,
            residual: 100,
            ..Default::default()
        }),
        Pdu::TmfRequest(TmfRequest {
            immediate: true,
            function: TmfFunction::AbortTask,
            lun: [0; 8],
            itt: 1,
            ref_itt: 2,
            cmd_sn: 3,
            exp_stat_sn: 4,
            ref_cmd_sn: 5,
            exp_data_sn: 6,
        }),
        Pdu::TmfResponse(TmfResponse {
            response: 1,
            itt: 1,
            sn,
        }),
        Pdu::LoginRequest(LoginRequest {
            transit: true,
            continue_bit: false,
            csg: Stage::Security,
            nsg: Stage::Operational,
            version_max: 0,
            version_min: 0,
            isid: 0x8000_0000_1234,
            tsih: 0,
            itt: 1,
            cid: 1,
            cmd_sn: 1,
            exp_stat_sn: 0,
        }),
        Pdu::LoginResponse(LoginResponse {
            transit: true,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            isid: 0x23d_0000_0001,
            tsih: 7,
            itt: 1,
            sn,
            status_class: 2,
            status_detail: 3,
            ..Default::default()
        }),
        Pdu::TextRequest(TextRequest {
            immediate: true,
            final_bit: true,
            continue_bit: false,
            lun: [0; 8],
            itt: 1,
            ttt: NO_TAG,
            cmd_sn: 1,
            exp_stat_sn: 1,
        }),
        Pdu::TextResponse(TextResponse {
            final_bit: true,
            continue_bit: false,
            lun: [0; 8],
            itt: 1,
            ttt: NO_TAG,
            sn,
        }),
        Pdu::DataOut(DataOut {
            final_bit: true,
            lun: [0; 8],
            itt: 1,
            ttt: 2,
            exp_stat_sn: 3,
            data_sn: 4,
            buffer_offset: 5,
        }),
        Pdu::LogoutRequest(LogoutRequest {
            immediate: true,
            reason: LogoutReason::CloseSession,
            itt: 1,
            cid: 0,
            cmd_sn: 1,
            exp_stat_sn: 1,
        }),
        Pdu::LogoutResponse(LogoutResponse {
            response: 0,
            itt: 1,
            sn,
            time2wait: 2,
            time2retain: 20,
        }),
        Pdu::R2t(R2t {
            lun: [0; 8],
            itt: 1,
            ttt: 2,
            sn,
            r2t_sn: 0,
            buffer_offset: 512,
            desired_len: 4096,
        }),
        Pdu::AsyncMessage(AsyncMessage {
            lun: [0; 8],
            sn,
            event: 1,
            vcode: 0,
            params: [0, 2, 20],
        }),
        Pdu::Reject(Reject {
            reason: RejectReason::ProtocolError as u8,
            sn,
            data_sn: 0,
        }),
        Pdu::Snack(Snack {
            kind: 1,
            lun: [0; 8],
            itt: 1,
            ttt: NO_TAG,
            exp_stat_sn: 1,
            beg_run: 0,
            run_length: 0,
        }),
    ];
    for p in all {
        let raw = raw_of(&p, &[], &Framing::default());
        assert_eq!(Pdu::parse(&raw).unwrap(), p);
        assert_eq!(p.opcode() as u8, raw.bhs.opcode_byte());
    }
}

#[test]
fn unknown_opcode_is_an_error() {
    let mut b = Bhs::default();
    b.0[0] = 0x1F;
    let raw = RawPdu {
        bhs: b,
        ..Default::default()
    };
    assert_eq!(
        Pdu::parse(&raw),
        Err(crate::error::PduError::UnknownOpcode(0x1F))
    );
}
