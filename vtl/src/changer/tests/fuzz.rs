//! Random CDBs of every changer opcode never panic, and change the library (inventory and
//! drives alike) only when they end GOOD.

use super::*;
use crate::changer::opcodes::ALL;
use proptest::prelude::*;

/// The drives' cartridges, which must match the inventory's data transfer elements.
fn drives_agree(l: &Lib) {
    for (i, d) in l.drives.iter().enumerate() {
        assert_eq!(d.holds(), l.at(500 + i as u16), "drive {i}");
    }
}

/// A CDB of one of the changer's opcodes: mostly small addresses near the layout's, so
/// some commands succeed.
fn cdb() -> impl Strategy<Value = Vec<u8>> {
    let addr = prop_oneof![
        Just(0u16),
        Just(1u16),
        10u16..12,
        500u16..502,
        1000u16..1006,
        any::<u16>()
    ];
    (
        0..ALL.len(),
        proptest::collection::vec(any::<u8>(), 0..16),
        proptest::collection::vec(addr, 3),
        any::<bool>(),
    )
        .prop_map(|(i, mut rest, addrs, plant)| {
            let mut c = vec![ALL[i]];
            c.append(&mut rest);
            if plant && c.len() >= 10 {
                // Plant plausible element addresses at bytes 4, 6 and 8.
                for (k, a) in addrs.into_iter().enumerate() {
                    let [h, l] = a.to_be_bytes();
                    c[4 + 2 * k] = h;
                    c[5 + 2 * k] = l;
                }
            }
            c
        })
}

proptest! {
    #[test]
    fn random_changer_cdbs_change_nothing_unless_good(
        cdbs in proptest::collection::vec(cdb(), 1..12)
    ) {
        let l = lib();
        l.good(&move_cdb(1002, 501));
        for c in &cdbs {
            let before = l.elements();
            let r = l.run(&a(), c);
            if r.status != Status::Good {
                prop_assert_eq!(r.status, Status::CheckCondition);
                prop_assert_eq!(l.elements(), before, "{:02x?}", c);
            }
            drives_agree(&l);
        }
    }
}
