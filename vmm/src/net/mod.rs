//! The VM's network interfaces: virtio-net devices (virtio 1.2, 5.1) whose frames go to
//! and from a TAP device on the host. Unlike the disks, which the daemon serves, a
//! network device is served inside the VM runner: a thread per interface moves frames
//! between the guest's queues and the TAP file descriptor ([`device`]); the frame
//! handling itself ([`frames`]) is plain functions over guest memory.

pub mod device;
pub mod frames;
pub mod tap;

use std::fmt;
use std::str::FromStr;

/// One network interface of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// The host's TAP device (created if absent and this process may; an existing one is
    /// attached, as `ip tuntap add dev NAME mode tap` leaves it).
    pub tap: String,
    /// The guest's MAC address.
    pub mac: Mac,
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// A locally administered unicast address (the 52:54:00 prefix qemu and libvirt use)
    /// derived from `seed`, the same for the same seed: a VM keeps its address.
    pub fn derived(seed: &str) -> Mac {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let b = h.to_le_bytes();
        Mac([0x52, 0x54, 0x00, b[0], b[1], b[2]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Why a MAC address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address: six hexadecimal bytes separated by colons, unicast (the first byte even), e.g. 52:54:00:12:34:56")]
pub struct BadMac(pub String);

impl FromStr for Mac {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Mac, BadMac> {
        let bad = || BadMac(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() || out[0] & 1 != 0 {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_print_and_derive() {
        let m: Mac = "52:54:00:AB:cd:0f".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:0f");
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:0f:00",
            "5:54:00:ab:cd:0f",
            "01:00:5e:00:00:01",
            "zz:54:00:ab:cd:0f",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
        assert_eq!(Mac::derived("web1"), Mac::derived("web1"));
        assert_ne!(Mac::derived("web1"), Mac::derived("web2"));
        assert_eq!(Mac::derived("web1").0[..3], [0x52, 0x54, 0x00]);
    }
}
