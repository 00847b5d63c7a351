use super::*;
use crate::ns::credentials::Credentials;
use std::path::Path;

fn job(from: &Path, to: &Path) -> Job {
    Job::new(
        Side::Local(from.to_owned()),
        Side::Local(to.to_owned()),
        SmbClients::new(Credentials::default()).unwrap(),
        Arc::default(),
        Arc::default(),
    )
}

fn tree(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                todo.push(p);
                out.push((rel, None));
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

fn source(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deep")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("a.txt"), "a\n").unwrap();
    std::fs::write(root.join("sub/b.bin"), vec![7u8; 3 * CHUNK_TEST + 5]).unwrap();
    std::fs::write(root.join("sub/deep/c.txt"), "").unwrap();
}

const CHUNK_TEST: usize = side::CHUNK;

#[test]
fn a_tree_is_copied_then_what_changed_before_the_switch_is_caught_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst/docs"));
    source(&src);
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    let mut j = job(&src, &dst);
    let s = src.clone();
    j.run(|| {
        // Clients write to the old target up to the switch.
        std::fs::write(s.join("a.txt"), "changed at the last moment\n").unwrap();
        std::fs::write(s.join("sub/new.txt"), "new\n").unwrap();
        std::fs::remove_file(s.join("sub/deep/c.txt")).unwrap();
        std::fs::remove_dir(s.join("empty")).unwrap();
        Ok(())
    })
    .unwrap();
    std::fs::remove_file(src.join("link")).unwrap();
    assert_eq!(tree(&src), tree(&dst));
    let v = j.view.lock().clone();
    assert_eq!(v.state, "switched");
    assert_eq!(v.skipped, ["link"]);
    // Pass 1 copies, pass 2 finds nothing, the switch, pass 3 catches up.
    assert_eq!(v.pass, 3, "{:?}", v.report);
    assert!(
        v.report[2].starts_with("switched")
            && v.report[3].contains("2 files")
            && v.report[3].contains("2 removed"),
        "{:?}",
        v.report
    );
}

#[test]
fn a_rerun_copies_only_what_the_destination_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    source(&src);
    job(&src, &dst).run(|| Ok(())).unwrap();
    std::fs::remove_file(dst.join("a.txt")).unwrap();
    let mut again = job(&src, &dst);
    again.run(|| Ok(())).unwrap();
    assert_eq!(tree(&src), tree(&dst));
    let v = again.view.lock().clone();
    assert!(
        v.report[0].contains(": 1 files (2 bytes) copied"),
        "{:?}",
        v.report
    );
}

#[test]
fn a_cancelled_job_stops_before_the_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    source(&src);
    let mut j = job(&src, &dst);
    j.cancel.store(true, Ordering::Relaxed);
    let mut switched = false;
    let r = j.run(|| {
        switched = true;
        Ok(())
    });
    assert_eq!(r, Err(CANCELLED.to_owned()));
    assert!(!switched);
}

#[test]
fn nfs_targets_cannot_take_part() {
    let url = vsa_namespace::TargetUrl::parse("nfs://nas/export").unwrap();
    assert!(Side::of(&url).unwrap_err().contains("no NFS client"));
}
