//! Disk images in and out of the pool with qemu's own tools on the other side: an image
//! `qemu-img` made and `qemu-io` wrote is imported (`vsa volume import`), exported into
//! another format (`vsa volume export`), and `qemu-img compare` finds the two identical.
//!
//! Needs qemu-utils (`.ci/run` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use vsa_e2e::Daemon;

fn qemu(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn fails(d: &Daemon, args: &[&str]) -> String {
    let o = d.cli(args);
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_qcow2_image_comes_in_and_goes_out_as_vmdk_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(&tmp.path().join("data"), &[]);
    let src = tmp.path().join("src.qcow2");
    qemu("qemu-img", &["create", "-q", "-f", "qcow2", p(&src), "64M"]);
    qemu(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-c",
            "write -P 0xab 1M 3M",
            "-c",
            "write -P 0xcd 40M 68k",
            "-c",
            "write -P 0x01 65532k 4k",
            p(&src),
        ],
    );

    let out = d.ok(&["volume", "import", p(&src), "img"]);
    assert!(out.contains("imported") && out.contains("qcow2"), "{out}");
    let v = d.json(&["volume", "show", "img"]);
    assert_eq!(v["size"], 64 << 20, "{v}");
    assert!(
        v["allocated"].as_u64().unwrap() < 16 << 20,
        "zeros were written: {v}"
    );
    let t = d.json(&["volume", "transfers", "img"]);
    assert_eq!(
        (t["state"].as_str(), t["done"].as_u64()),
        (Some("finished"), Some(64 << 20)),
        "{t}"
    );

    let out_vmdk = tmp.path().join("out.vmdk");
    let out = d.ok(&["volume", "export", "img", p(&out_vmdk), "--format", "vmdk"]);
    assert!(out.contains("exported"), "{out}");
    let same = qemu(
        "qemu-img",
        &[
            "compare",
            "-f",
            "qcow2",
            "-F",
            "vmdk",
            p(&src),
            p(&out_vmdk),
        ],
    );
    assert!(same.contains("identical"), "{same}");
    let info = qemu("qemu-img", &["info", "--output=json", p(&out_vmdk)]);
    assert!(info.contains("\"format\": \"vmdk\""), "{info}");

    // The vmdk comes back in as a second volume, equal to the first.
    d.ok(&[
        "volume",
        "import",
        p(&out_vmdk),
        "again",
        "--format",
        "vmdk",
    ]);
    let out_raw = tmp.path().join("again.raw");
    d.ok(&["volume", "export", "again", p(&out_raw), "--format", "raw"]);
    let same = qemu(
        "qemu-img",
        &["compare", "-f", "qcow2", "-F", "raw", p(&src), p(&out_raw)],
    );
    assert!(same.contains("identical"), "{same}");

    // Refusals name the problem, and leave nothing behind.
    let e = fails(
        &d,
        &["volume", "import", p(&tmp.path().join("nope.qcow2")), "x"],
    );
    assert!(e.contains("there is no file"), "{e}");
    let e = fails(&d, &["volume", "import", p(&src), "img"]);
    assert!(e.contains("img") && e.contains("exists"), "{e}");
    let e = fails(&d, &["volume", "import", p(&src), "x", "--format", "iso"]);
    assert!(e.contains("not an image format"), "{e}");
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a disk image").unwrap();
    let e = fails(
        &d,
        &["volume", "import", p(&text), "x", "--format", "qcow2"],
    );
    assert!(e.contains("qemu-img"), "{e}");
    let e = fails(
        &d,
        &["volume", "export", "img", p(&out_vmdk), "--format", "vmdk"],
    );
    assert!(e.contains("exists"), "{e}");
    let vols = d.json(&["volume", "list"]);
    let names: Vec<&str> = vols
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "x").count(), 0, "{vols}");
}
