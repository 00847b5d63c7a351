//! A TAP device (Linux `Documentation/networking/tuntap.rst`): a file descriptor on
//! `/dev/net/tun` bound to a named interface, each read one Ethernet frame the host sends
//! and each write one frame the guest sent. No packet information prefix (IFF_NO_PI), no
//! virtio-net header offloads: the device model passes plain frames.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;

/// `TUNSETIFF`: `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// The longest interface name (IFNAMSIZ less the terminating NUL).
pub const MAX_NAME: usize = 15;

/// `struct ifreq` as TUNSETIFF reads and writes it: the name, then the flags in the
/// 24-byte union.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _union_rest: [u8; 22],
}

/// Why a TAP device could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapError {
    /// Not a usable interface name.
    #[error("{0:?} is not a network interface name: 1 to {MAX_NAME} characters, no '/', ':' or white space")]
    BadName(String),
    /// /dev/net/tun cannot be opened.
    #[error("cannot open /dev/net/tun: {0} (is the tun driver there, and may this user use it?)")]
    Open(io::Error),
    /// The kernel refused to attach the device.
    #[error("cannot attach TAP device {name}: {source}{hint}")]
    Attach {
        /// The interface.
        name: String,
        /// Why.
        source: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

/// Checks an interface name the way the kernel does (`dev_valid_name`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

/// An attached TAP device.
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
}

impl Tap {
    /// Attaches the TAP interface `name`, creating it (for the life of this process) when
    /// it does not exist and this process has CAP_NET_ADMIN. Reads never block.
    pub fn open(name: &str) -> Result<Tap, TapError> {
        if !valid_name(name) {
            return Err(TapError::BadName(name.to_owned()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::Open)?;
        let mut req = IfReq {
            name: [0; 16],
            flags: IFF_TAP | IFF_NO_PI,
            _union_rest: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq` lays out in
        // full (40 bytes); `req` lives across the call and `file` is an open tun fd.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if rc < 0 {
            let source = io::Error::last_os_error();
            let hint = match source.raw_os_error() {
                Some(libc::EPERM) => {
                    " (creating or attaching a TAP device needs CAP_NET_ADMIN, or a device made for this user: ip tuntap add dev NAME mode tap user USER)"
                }
                Some(libc::EBUSY) => " (another program or VM has it attached)",
                Some(libc::EINVAL) => " (an interface of that name exists and is not a TAP device)",
                _ => "",
            };
            return Err(TapError::Attach {
                name: name.to_owned(),
                source,
                hint,
            });
        }
        Ok(Tap {
            file,
            name: name.to_owned(),
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame the host sent; `WouldBlock` when none waits.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Sends one frame to the host.
    pub fn write(&self, frame: &[u8]) -> io::Result<usize> {
        (&self.file).write(frame)
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked_before_the_kernel_sees_them() {
        for good in ["tap0", "vm-web1", "a", "exactly15chars_"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "eth0:1", "sixteen_chars_xx"] {
            assert!(!valid_name(bad), "{bad}");
            assert!(matches!(Tap::open(bad), Err(TapError::BadName(_))), "{bad}");
        }
    }
}
