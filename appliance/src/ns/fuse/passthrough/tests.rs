use super::*;
use std::cell::Cell;

/// A mount whose kernel agreed to passthrough; backing ids are numbers, counted.
fn mount() -> Passthrough<u32> {
    let p = Passthrough::default();
    p.enable();
    p
}

fn files() -> (tempfile::TempDir, File, File) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a"), "a").unwrap();
    std::fs::write(tmp.path().join("b"), "b").unwrap();
    let a = File::open(tmp.path().join("a")).unwrap();
    let b = File::open(tmp.path().join("b")).unwrap();
    (tmp, a, b)
}

fn id(m: &Mode<u32>) -> Option<u32> {
    match m {
        Mode::Passthrough(b) => Some(**b),
        _ => None,
    }
}

/// Served by the daemon, naming backing file `b`.
fn direct(m: &Mode<u32>) -> Option<u32> {
    match m {
        Mode::Direct(b) => Some(**b),
        _ => None,
    }
}

#[test]
fn opens_of_one_file_share_one_backing_until_the_last_is_released() {
    let (_tmp, a, _) = files();
    let p = mount();
    let made = Cell::new(0);
    let register = |_: &File| {
        made.set(made.get() + 1);
        Ok(made.get())
    };
    assert_eq!(id(&p.open_local(7, 1, &a, register)), Some(1));
    assert_eq!(id(&p.open_local(7, 2, &a, register)), Some(1));
    assert_eq!(
        made.get(),
        1,
        "a second backing of one inode is refused (EBUSY)"
    );
    p.release(1);
    assert_eq!(id(&p.open_local(7, 3, &a, register)), Some(1));
    p.release(2);
    p.release(3);
    // All closed: the next open registers the file again.
    assert_eq!(id(&p.open_local(7, 4, &a, register)), Some(2));
    let o = p.opens();
    assert_eq!((o.passthrough, o.cached, o.direct), (4, 0, 0));
}

#[test]
fn another_file_behind_an_inode_in_passthrough_is_served_direct() {
    // A link switched targets (or the path was made anew) while the old file is open.
    let (_tmp, a, b) = files();
    let p = mount();
    assert_eq!(id(&p.open_local(7, 1, &a, |_| Ok(1))), Some(1));
    let m = p.open_local(7, 2, &b, |_| panic!("a second backing file for one inode"));
    assert_eq!(direct(&m), Some(1));
    // SMB opens of that inode too: a cached open would be refused.
    assert_eq!(direct(&p.open_served(7, 3)), Some(1));
    p.release(1);
    // The kernel keeps the backing file while any open names it.
    assert_eq!(
        direct(&p.open_local(7, 5, &b, |_| panic!("EBUSY"))),
        Some(1)
    );
    p.release(2);
    p.release(3);
    p.release(5);
    assert_eq!(id(&p.open_local(7, 4, &b, |_| Ok(2))), Some(2));
    let o = p.opens();
    assert_eq!((o.passthrough, o.cached, o.direct), (2, 0, 3));
}

#[test]
fn a_local_file_of_an_inode_with_cached_opens_is_served_by_the_daemon() {
    let (_tmp, a, _) = files();
    let p = mount();
    assert!(matches!(p.open_served(7, 1), Mode::Cached));
    let m = p.open_local(7, 2, &a, |_| panic!("passthrough beside a cached open"));
    assert!(matches!(m, Mode::Cached));
    p.release(1);
    p.release(2);
    assert_eq!(id(&p.open_local(7, 3, &a, |_| Ok(9))), Some(9));
    // Other inodes are not held up.
    assert!(matches!(p.open_served(8, 4), Mode::Cached));
}

#[test]
fn without_the_kernel_agreeing_or_when_it_refuses_files_are_served_cached() {
    let (_tmp, a, _) = files();
    let off: Passthrough<u32> = Passthrough::default();
    let m = off.open_local(7, 1, &a, |_| panic!("asked a kernel that did not agree"));
    assert!(matches!(m, Mode::Cached));

    let p = mount();
    // A refusal for one file (a filesystem stacked too deep) leaves passthrough on...
    let m = p.open_local(7, 1, &a, |_| {
        Err(std::io::Error::from_raw_os_error(libc::ELOOP))
    });
    assert!(matches!(m, Mode::Cached));
    p.release(1);
    assert_eq!(id(&p.open_local(8, 2, &a, |_| Ok(3))), Some(3));
    // ...one for want of the right turns it off for the mount.
    let m = p.open_local(9, 3, &a, |_| {
        Err(std::io::Error::from_raw_os_error(libc::EPERM))
    });
    assert!(matches!(m, Mode::Cached));
    let m = p.open_local(10, 4, &a, |_| panic!("asked again after EPERM"));
    assert!(matches!(m, Mode::Cached));
}

#[test]
fn releases_of_unknown_handles_change_nothing() {
    let (_tmp, a, _) = files();
    let p = mount();
    assert_eq!(id(&p.open_local(7, 1, &a, |_| Ok(1))), Some(1));
    p.release(99);
    p.release(1);
    p.release(1);
    assert!(p.state.lock().inodes.is_empty());
    assert!(p.state.lock().handles.is_empty());
}
