#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn url(s: &str) -> TargetUrl {
    TargetUrl::parse(s).unwrap()
}

#[test]
fn parses_the_three_schemes() {
    let smb = url("smb://fs1.corp.example/Docs/Eng/");
    assert_eq!(smb.scheme(), Scheme::Smb);
    assert_eq!(smb.server(), Some("fs1.corp.example"));
    assert_eq!(smb.path(), ["Docs", "Eng"]);
    assert_eq!(smb.to_string(), "smb://fs1.corp.example/Docs/Eng");

    let nfs = url("NFS://10.0.0.5/export/home");
    assert_eq!(nfs.scheme(), Scheme::Nfs);
    assert_eq!(nfs.server(), Some("10.0.0.5"));
    assert_eq!(nfs.to_string(), "nfs://10.0.0.5/export/home");

    let file = url("file:///srv/data");
    assert_eq!(file.scheme(), Scheme::File);
    assert_eq!(file.server(), None);
    assert_eq!(file.to_string(), "file:///srv/data");

    let v6 = url("smb://[2001:db8::1]/share");
    assert_eq!(v6.server(), Some("[2001:db8::1]"));
}

#[test]
fn unc_paths_are_smb() {
    let unc = url("\\\\fs1\\Public Docs\\eng");
    assert_eq!(unc.to_string(), "smb://fs1/Public Docs/eng");
    assert_eq!(unc, url("smb://fs1/Public Docs/eng"));
}

#[test]
fn keys_ignore_case_where_servers_do() {
    assert_eq!(url("smb://FS1/Docs").key(), url("smb://fs1/docs").key());
    assert_ne!(url("nfs://fs1/Docs").key(), url("nfs://fs1/docs").key());
    assert_eq!(url("nfs://FS1/docs").key(), url("nfs://fs1/docs").key());
    assert_ne!(url("file:///A").key(), url("file:///a").key());
}

#[test]
fn refuses_bad_targets_with_reasons() {
    let err = |s: &str| TargetUrl::parse(s).unwrap_err();
    assert!(matches!(err("http://x/y"), TargetError::Scheme { .. }));
    assert!(matches!(err("fs1/share"), TargetError::Scheme { .. }));
    assert!(matches!(err("smb:///share"), TargetError::NoServer { .. }));
    assert!(matches!(
        err("smb://fs1"),
        TargetError::NoShare { what: "share", .. }
    ));
    assert!(matches!(err("smb://fs1/"), TargetError::NoShare { .. }));
    assert!(matches!(
        err("nfs://fs1"),
        TargetError::NoShare { what: "export", .. }
    ));
    assert!(matches!(err("file:///"), TargetError::NoShare { .. }));
    assert!(matches!(
        err("file://host/x"),
        TargetError::BadServer { .. }
    ));
    assert!(matches!(
        err("smb://fs1:445/s"),
        TargetError::BadServer { .. }
    ));
    assert!(matches!(
        err("smb://bob@fs1/s"),
        TargetError::BadServer { .. }
    ));
    assert!(matches!(err("smb://fs 1/s"), TargetError::BadServer { .. }));
    assert!(matches!(err("smb://[zz]/s"), TargetError::BadServer { .. }));
    assert!(matches!(err("smb://-fs/s"), TargetError::BadServer { .. }));
    assert!(matches!(
        err("smb://fs1/s/../t"),
        TargetError::BadComponent { .. }
    ));
    assert!(matches!(
        err("nfs://fs1/s//t"),
        TargetError::BadComponent { .. }
    ));
    assert!(matches!(
        err("file:///srv/./x"),
        TargetError::BadComponent { .. }
    ));
    assert!(matches!(
        err("smb://fs1/a*b"),
        TargetError::BadCharacter { .. }
    ));
    assert!(matches!(
        err("nfs://fs1/a\0b"),
        TargetError::BadCharacter { .. }
    ));
    assert!(matches!(
        err(&"x".repeat(5000)),
        TargetError::TooLong { .. }
    ));
    assert_eq!(
        err("smb://fs1/s/../t").to_string(),
        "target 'smb://fs1/s/../t' has a '..' component; write the path from the share or \
         export down, without '.', '..' or doubled '/'"
    );
}

#[test]
fn target_defaults_and_serde() {
    let t = Target::parse("smb://fs1/docs")
        .unwrap()
        .in_site("paris")
        .with_priority(PriorityClass::GlobalHigh, 2);
    assert!(t.enabled);
    assert_eq!(t.health, Health::Unknown);
    assert_eq!(t.server(), Some("fs1"));
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(
        json,
        r#"{"url":"smb://fs1/docs","enabled":true,"health":"unknown","priority":{"class":"global-high","rank":2},"site":"paris"}"#
    );
    assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
    let short: Target = serde_json::from_str(r#"{"url":"file:///srv"}"#).unwrap();
    assert_eq!(short, Target::parse("file:///srv").unwrap());
    assert!(serde_json::from_str::<Target>(r#"{"url":"ftp://x/y"}"#).is_err());
    assert_eq!(Priority::default().class, PriorityClass::SiteCostNormal);
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = TargetUrl::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_url_like_input(
        s in "(smb|nfs|file|SMB)?(://|\\\\\\\\)[\\[\\]:@/\\\\.a-z0-9\u{0}*\u{e4}-]{0,30}"
    ) {
        let _ = TargetUrl::parse(&s);
    }

    #[test]
    fn display_round_trips(
        s in "((smb|nfs)://[a-z0-9]{1,8}(\\.[a-z]{1,4}){0,2}|file://)(/[a-zA-Z0-9 ._\u{e4}-]{1,8}){1,4}/?"
    ) {
        if let Ok(parsed) = TargetUrl::parse(&s) {
            let again = TargetUrl::parse(&parsed.to_string()).unwrap();
            prop_assert_eq!(&again, &parsed);
            prop_assert_eq!(again.to_string(), parsed.to_string());
        }
    }
}
