//! iSCSI name cases, the messages, and properties over generated names.

use proptest::prelude::*;

use super::*;

#[test]
fn accepts_the_three_formats() {
    for ok in [
        "iqn.2026-01.com.example:db",
        "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
        "iqn.2026-01.com.example",
        "eui.0123456789abcdef",
        "naa.0123456789abcdef",
        "naa.0123456789abcdef0123456789abcdef",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
    assert_eq!(
        parse("iqn.2026-01.com.example:a:b"),
        Ok(IscsiName::Iqn {
            date: "2026-01",
            authority: "com.example",
            unique: Some("a:b"),
        })
    );
    assert_eq!(
        parse("eui.0123456789abcdef"),
        Ok(IscsiName::Eui("0123456789abcdef"))
    );
}

#[test]
fn refuses_what_the_appliance_refused() {
    for bad in [
        "",
        "iqn.2026-01",
        "iqn.2026-01.",
        "IQN.2026-01.com.example:db",
        "iqn.26-01.com.x",
        "iqn.2026-1.com.x",
        "iqn.2026_01.com.x",
        "eui.123",
        "eui.0123456789abcdef0",
        "naa.0123456789abcdef01",
        "foo",
        "iqn.2026-01.com.example:a b",
        "iqn.2026-01.com.exämple",
    ] {
        assert!(check(bad).is_err(), "{bad}");
    }
    assert!(check(&format!("iqn.2026-01.com.x:{}", "a".repeat(206))).is_err());
    assert!(check(&format!("iqn.2026-01.com.x:{}", "a".repeat(205))).is_ok());
}

#[test]
fn messages_say_what_is_wrong_and_show_a_right_name() {
    let msg = |s: &str| check(s).unwrap_err().to_string();
    assert_eq!(
        msg("IQN.2026-01.com.Example:db"),
        "'IQN.2026-01.com.Example:db' is not an iSCSI name: iSCSI names are lower case; \
         use 'iqn.2026-01.com.example:db'"
    );
    assert!(msg("").contains("it must be 1 to 223 bytes"));
    let m = msg("iqn.2026-01.com.example:a b");
    assert!(
        m.contains("use only a-z, 0-9, '-', '.' and ':'") && m.contains("' '"),
        "{m}"
    );
    let m = msg("foo");
    assert!(
        m.contains("write iqn.YYYY-MM.reversed.domain[:name]"),
        "{m}"
    );
    assert!(m.contains("eui.<16 hex> or naa.<16 or 32 hex>"), "{m}");
    assert!(msg("iqn.26-01.x").contains("a date YYYY-MM"));
    assert!(msg("eui.123").contains("exactly 16 hex digits"));
    assert!(msg("naa.123").contains("16 or 32 hex digits"));
    for bad in ["", "foo", "iqn.x", "eui.1", "naa.1", "iqn.2026-01.a b"] {
        let m = msg(bad);
        assert!(m.contains("e.g."), "no example in {m}");
    }
}

/// The appliance's check as it stood before this module (appliance/src/target/model.rs),
/// kept as the oracle: the parser must accept and refuse exactly the same strings.
fn previous_check(name: &str) -> bool {
    if name.is_empty() || name.len() > 223 || name.chars().any(|c| c.is_ascii_uppercase()) {
        return false;
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
    {
        return false;
    }
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
    };
    if let Some(rest) = name.strip_prefix("iqn.") {
        let b = rest.as_bytes();
        b.len() > 8
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'.'
    } else if let Some(rest) = name.strip_prefix("eui.") {
        hex(rest, &[16])
    } else if let Some(rest) = name.strip_prefix("naa.") {
        hex(rest, &[16, 32])
    } else {
        false
    }
}

/// Strings near the grammar: a type prefix (or not) and characters that matter.
fn near_names() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(""),
        Just("iqn."),
        Just("eui."),
        Just("naa."),
        Just("IQN."),
        Just("iqn.2026-01."),
        Just("iqn.2026-01"),
    ];
    (prefix, "[0-9a-fA-F.:\\- _é-]{0,40}").prop_map(|(p, s)| format!("{p}{s}"))
}

/// Names written from the grammar.
fn grammar_names() -> impl Strategy<Value = String> {
    prop_oneof![
        "iqn\\.[0-9]{4}-[0-9]{2}\\.[a-z0-9][a-z0-9.-]{0,60}(:[a-z0-9.:-]{0,60})?",
        "eui\\.[0-9a-f]{16}",
        "naa\\.([0-9a-f]{16}|[0-9a-f]{32})",
    ]
}

proptest! {
    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = check(&s);
    }

    #[test]
    fn agrees_with_the_previous_check(s in near_names()) {
        prop_assert_eq!(check(&s).is_ok(), previous_check(&s), "{}", s);
    }

    #[test]
    fn grammar_names_are_accepted_and_round_trip(s in grammar_names()) {
        let parsed = parse(&s);
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        if let Ok(n) = parsed {
            prop_assert_eq!(n.to_string(), s);
        }
    }

    #[test]
    fn parts_round_trip(
        date in "[0-9]{4}-[0-9]{2}",
        authority in "[a-z0-9][a-z0-9.-]{0,40}",
        unique in proptest::option::of("[a-z0-9.:-]{0,40}"),
    ) {
        let n = IscsiName::Iqn { date: &date, authority: &authority, unique: unique.as_deref() };
        let text = n.to_string();
        prop_assert_eq!(parse(&text), Ok(n));
    }

    #[test]
    fn upper_case_hints_are_accepted(s in grammar_names()) {
        let upper = s.to_ascii_uppercase();
        if let Err(NameError::UpperCase { lower, .. }) = check(&upper) {
            prop_assert_eq!(check(&lower), Ok(()));
        } else {
            prop_assert!(upper == s, "{} was not refused for its case", upper);
        }
    }
}
