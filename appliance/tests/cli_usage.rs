//! The `vsa` binary's usage errors and help, without a daemon. (Having an integration test
//! here also makes `cargo test --workspace` build the `vsa` binary that the end-to-end
//! tests in `tests/` start.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn vsa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vsa"))
        .args(args)
        .env_remove("VSA_API")
        .env_remove("VSA_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn usage_errors_exit_2_and_name_the_choices() {
    let o = vsa(&["pool", "create", "p", "--raid", "4", "/a", "/b", "/c"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("possible values: 0, 1, 5, 6, 10"), "{err}");
    let o = vsa(&["volume", "create", "v", "--size", "ten gigs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a size"));
    let o = vsa(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_lists_the_nouns_and_no_daemon_is_an_error() {
    let o = vsa(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for noun in ["serve", "pool", "volume", "status"] {
        assert!(out.contains(noun), "{out}");
    }
    let dir = tempfile::tempdir().unwrap();
    let o = vsa(&["--data-dir", dir.path().to_str().unwrap(), "status"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is `vsa serve --data-dir"), "{err}");
}
