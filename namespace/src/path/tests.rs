#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn p(s: &str) -> LogicalPath {
    LogicalPath::parse(s).unwrap()
}

#[test]
fn parses_both_separators_and_keeps_spelling() {
    let path = p("\\Eng\\Docs/Specs/");
    assert_eq!(path.as_str(), "Eng/Docs/Specs");
    assert_eq!(path.key(), "eng/docs/specs");
    assert_eq!(path.depth(), 3);
    assert_eq!(
        path.components().collect::<Vec<_>>(),
        ["Eng", "Docs", "Specs"]
    );
    assert_eq!(path.name(), "Specs");
    assert_eq!(path, p("eng/DOCS/specs"));
}

#[test]
fn prefixes_and_suffixes() {
    let path = p("Eng/Docs/Specs");
    assert_eq!(path.prefix_key(0), "");
    assert_eq!(path.prefix_key(2), "eng/docs");
    assert_eq!(path.prefix_key(9), "eng/docs/specs");
    assert_eq!(path.prefix(2).unwrap().as_str(), "Eng/Docs");
    assert!(path.prefix(0).is_none());
    assert_eq!(path.suffix(1).unwrap().as_str(), "Docs/Specs");
    assert!(path.suffix(3).is_none());
    assert!(path.starts_with(&p("eng/docs")));
    assert!(!path.starts_with(&p("eng/doc")));
    assert!(!p("eng").starts_with(&path));
}

#[test]
fn unicode_names_fold() {
    assert_eq!(p("ÄRGER/Straße"), p("ärger/STRAßE"));
    assert_eq!(p("ÄRGER").key(), "ärger");
    assert_eq!(p("ÄRGER").as_str(), "ÄRGER");
}

#[test]
fn refuses_bad_paths_with_reasons() {
    assert_eq!(LogicalPath::parse(""), Err(PathError::Empty));
    assert_eq!(LogicalPath::parse("/"), Err(PathError::Empty));
    assert!(matches!(
        LogicalPath::parse("a//b"),
        Err(PathError::EmptyComponent { .. })
    ));
    assert!(matches!(
        LogicalPath::parse("//a"),
        Err(PathError::EmptyComponent { .. })
    ));
    let err = LogicalPath::parse("a/../b").unwrap_err();
    assert_eq!(
        err.to_string(),
        "path 'a/../b' has a '..' component; name folders from the namespace root, e.g. eng/docs"
    );
    assert!(matches!(
        LogicalPath::parse("./a"),
        Err(PathError::DotComponent { .. })
    ));
    let err = LogicalPath::parse("a\0b").unwrap_err();
    assert_eq!(
        err,
        PathError::ControlCharacter {
            path: "a\\u{0}b".into(),
            code: 0
        }
    );
    let long = "x".repeat(256);
    assert!(matches!(
        LogicalPath::parse(&long),
        Err(PathError::ComponentTooLong { bytes: 256, .. })
    ));
    assert!(LogicalPath::parse(&"x".repeat(255)).is_ok());
    let many = vec!["a"; 65].join("/");
    assert!(matches!(
        LogicalPath::parse(&many),
        Err(PathError::TooManyComponents { .. })
    ));
    assert!(LogicalPath::parse(&vec!["a"; 64].join("/")).is_ok());
    let big = vec!["y".repeat(200); 30].join("/");
    assert!(matches!(
        LogicalPath::parse(&big),
        Err(PathError::TooLong { .. })
    ));
}

#[test]
fn serde_is_the_string() {
    let path = p("Eng/Docs");
    let json = serde_json::to_string(&path).unwrap();
    assert_eq!(json, "\"Eng/Docs\"");
    assert_eq!(serde_json::from_str::<LogicalPath>(&json).unwrap(), path);
    assert!(serde_json::from_str::<LogicalPath>("\"a/../b\"").is_err());
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = LogicalPath::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_path_like_input(s in "[/\\\\.a-zA-Z\u{0}\u{e4}\u{c4}\u{130}]{0,40}") {
        let _ = LogicalPath::parse(&s);
    }

    #[test]
    fn display_reparses_to_itself(s in "[/\\\\]?([a-zA-Z0-9 ._\u{e4}\u{c4}\u{130}-]{1,12}[/\\\\]){0,6}[a-zA-Z0-9\u{c4}]{1,5}[/\\\\]?") {
        if let Ok(path) = LogicalPath::parse(&s) {
            let again = LogicalPath::parse(&path.to_string()).unwrap();
            prop_assert_eq!(again.as_str(), path.as_str());
            prop_assert_eq!(again.key(), path.key());
            prop_assert_eq!(&again, &path);
        }
    }

    #[test]
    fn prefix_keys_are_prefixes(s in "([a-zA-Z\u{130}\u{c4}]{1,6}/){0,6}[a-z]{1,4}") {
        let path = LogicalPath::parse(&s).unwrap();
        for n in 1..=path.depth() {
            let prefix = path.prefix(n).unwrap();
            prop_assert_eq!(prefix.key(), path.prefix_key(n));
            prop_assert!(path.starts_with(&prefix));
            match path.suffix(n) {
                Some(rest) => prop_assert_eq!(format!("{}/{}", prefix, rest), path.to_string()),
                None => prop_assert_eq!(n, path.depth()),
            }
        }
    }
}
