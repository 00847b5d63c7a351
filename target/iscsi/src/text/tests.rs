//! Text and value parsing cases, and properties: no input panics, and what the encoders
//! write parses back to the same keys and values.

use proptest::prelude::*;

use super::*;

#[test]
fn parses_pairs() {
    let t = parse(b"InitiatorName=iqn.x\0SessionType=Normal\0\0").unwrap();
    assert_eq!(t[0], ("InitiatorName".into(), "iqn.x".into()));
    assert_eq!(t[1].1, "Normal");
    assert_eq!(parse(b"A=1"), Ok(vec![("A".into(), "1".into())]));
    assert_eq!(parse(b"A=\0").unwrap()[0].1, "");
    assert_eq!(parse(b"A\0"), Err(TextError::NoEquals));
    assert!(matches!(parse(b"A=1\0A=2\0"), Err(TextError::Duplicate(_))));
    assert_eq!(parse(b"=1\0"), Err(TextError::BadKey));
}

#[test]
fn refusals_name_their_reason() {
    assert_eq!(
        parse(b"\0\0A=1\0\0B=2"),
        Ok(vec![("A".into(), "1".into()), ("B".into(), "2".into())])
    );
    assert_eq!(parse(b""), Ok(vec![]));
    assert_eq!(parse(b"A=b=c\0").unwrap()[0].1, "b=c");
    assert_eq!(parse(b"A B=1\0"), Err(TextError::BadKey));
    assert_eq!(parse(b"A=1\0B\0"), Err(TextError::NoEquals));
    assert_eq!(
        parse(&[b'K'; 64].iter().chain(b"=1").copied().collect::<Vec<_>>()),
        Err(TextError::BadKey)
    );
    assert!(parse(&[b'K'; 63].iter().chain(b"=1").copied().collect::<Vec<_>>()).is_ok());
    assert_eq!(parse(b"A=\xff\0"), Err(TextError::BadValue));
    let long: Vec<u8> = [&b"A="[..], &vec![b'v'; MAX_VALUE_LEN + 1]].concat();
    assert_eq!(parse(&long), Err(TextError::BadValue));
    assert_eq!(parse(&vec![0; MAX_TEXT_LEN + 1]), Err(TextError::TooLong));
    assert_eq!(parse_list(b"T=a\0T=b\0").unwrap().len(), 2);
}

#[test]
fn values() {
    assert_eq!(number("0x10"), Some(16));
    assert_eq!(number("0X1f"), Some(31));
    assert_eq!(number("512"), Some(512));
    assert_eq!(number("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "-1",
        "+1",
        "0x",
        "0x+1",
        "1 ",
        "0b1",
        "18446744073709551616",
    ] {
        assert_eq!(number(bad), None, "{bad}");
    }
    assert_eq!(boolean("Yes"), Some(true));
    assert_eq!(boolean("No"), Some(false));
    assert_eq!(boolean("yes"), None);
    assert_eq!(list("CRC32C,None"), vec!["CRC32C", "None"]);
    assert_eq!(list(""), vec![""]);
    assert_eq!(list("a,,b"), vec!["a", "", "b"]);
    assert_eq!(binary("0x0102ff"), Some(vec![1, 2, 255]));
    assert_eq!(binary("0X0102FF"), Some(vec![1, 2, 255]));
    assert_eq!(binary("0x102"), Some(vec![1, 2]));
    assert_eq!(binary("0bAQL/"), Some(vec![1, 2, 255]));
    assert_eq!(binary("0BAQI="), Some(vec![1, 2]));
    assert_eq!(binary("0bAQI"), Some(vec![1, 2]));
    for bad in ["0x", "0xzz", "12", "0b", "0bA", "0b====", "0b AQI="] {
        assert_eq!(binary(bad), None, "{bad}");
    }
    assert_eq!(encode_hex(&[0, 0xab]), "0x00ab");
    assert_eq!(encode_base64(&[1, 2]), "0bAQI=");
}

#[test]
fn long_text_is_cut_after_whole_pairs() {
    let text = encode(&[("A", "1"), ("B", "22"), ("C", "333")]);
    assert_eq!(text, b"A=1\0B=22\0C=333\0");
    assert_eq!(split_point(&text, 100), text.len());
    assert_eq!(split_point(&text, 9), 9);
    assert_eq!(split_point(&text, 8), 4);
    // One pair longer than a PDU continues in the next one.
    assert_eq!(split_point(&text, 3), 3);
    assert_eq!(split_point(&text, 0), 1);
    assert_eq!(split_point(&[], 0), 0);
}

/// Cuts `text` into PDUs of at most `max` bytes as a long answer is sent.
fn cut_all(text: &[u8], max: usize) -> Vec<&[u8]> {
    let mut rest = text;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let n = split_point(rest, max);
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// A key the encoder can write: printable ASCII but `=`.
fn key() -> impl Strategy<Value = String> {
    "[!-<>-~]{1,63}"
}

/// A value the encoder can write: any text without NUL.
fn value() -> impl Strategy<Value = String> {
    "[^\\x00]{0,40}"
}

proptest! {
    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&data);
    }

    #[test]
    fn never_panics_near_the_grammar(data in proptest::collection::vec(
        prop_oneof![Just(0u8), Just(b'='), Just(b','), any::<u8>()], 0..256)) {
        if let Ok(pairs) = parse_list(&data) {
            for (_, v) in pairs {
                let _ = (number(&v), boolean(&v), list(&v), binary(&v));
            }
        }
    }

    #[test]
    fn value_parsers_never_panic(s in any::<String>()) {
        let _ = (number(&s), boolean(&s), list(&s), binary(&s));
    }

    #[test]
    fn round_trips(pairs in proptest::collection::btree_map("[A-Za-z][A-Za-z0-9.]{0,20}", "[ -~]{0,40}", 0..8)) {
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        prop_assert_eq!(parse(&encode(&pairs)).unwrap(), pairs);
    }

    #[test]
    fn encoded_lists_parse_back(pairs in proptest::collection::vec((key(), value()), 0..12)) {
        prop_assert_eq!(parse_list(&encode(&pairs)), Ok(pairs));
    }

    #[test]
    fn numbers_and_booleans_round_trip(n in any::<u64>(), b in any::<bool>()) {
        prop_assert_eq!(number(&n.to_string()), Some(n));
        prop_assert_eq!(number(&format!("0x{n:x}")), Some(n));
        prop_assert_eq!(boolean(if b { "Yes" } else { "No" }), Some(b));
    }

    #[test]
    fn cut_text_fits_and_joins_back(
        pairs in proptest::collection::vec((key(), value()), 0..40),
        max in 1usize..600,
    ) {
        let text = encode(&pairs);
        let parts = cut_all(&text, max);
        prop_assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= max));
        // A part ends inside a pair only when that pair alone is longer than a PDU.
        for p in &parts[..parts.len().saturating_sub(1)] {
            prop_assert!(p.ends_with(&[0]) || p.len() == max);
        }
        prop_assert_eq!(parts.concat(), text);
    }

    #[test]
    fn lists_round_trip(items in proptest::collection::vec("[^,\\x00]{0,10}", 1..6)) {
        let joined = items.join(",");
        prop_assert_eq!(list(&joined), items.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn binary_round_trips(b in proptest::collection::vec(any::<u8>(), 1..300)) {
        prop_assert_eq!(binary(&encode_hex(&b)), Some(b.clone()));
        prop_assert_eq!(binary(&encode_base64(&b)), Some(b.clone()));
        let text = encode(&[("CHAP_C", encode_hex(&b)), ("CHAP_R", encode_base64(&b))]);
        let back = parse(&text).unwrap();
        prop_assert_eq!(binary(&back[0].1), Some(b.clone()));
        prop_assert_eq!(binary(&back[1].1), Some(b));
    }
}
