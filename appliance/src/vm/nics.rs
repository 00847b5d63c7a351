//! A VM's network cards as given (`--net TAP[=MAC]`) checked and completed when the VM
//! is defined: a TAP name the kernel takes, a unicast MAC (one is derived from the VM's
//! name and the card's place when none is given), no TAP device used twice, by this VM
//! or another (a TAP device has one reader).

use super::error::VmError;
use super::model::VmNic;
use vsa_vmm::net::tap::{valid_name, MAX_NAME};
use vsa_vmm::net::Mac;

type Result<T> = std::result::Result<T, VmError>;

/// The cards of VM `name`, checked, each with its MAC; `taken` lists the TAP devices
/// other VMs use (with the VM).
pub fn resolve(name: &str, nets: Vec<VmNic>, taken: &[(String, String)]) -> Result<Vec<VmNic>> {
    let mut out: Vec<VmNic> = Vec::with_capacity(nets.len());
    for (i, nic) in nets.into_iter().enumerate() {
        if !valid_name(&nic.tap) {
            return Err(VmError::InvalidVm(format!(
                "network card {i}: '{}' is not a TAP device name (1 to {MAX_NAME} characters, no '/', ':' or white space)",
                nic.tap
            )));
        }
        if out.iter().any(|o| o.tap == nic.tap) {
            return Err(VmError::InvalidVm(format!(
                "TAP device {} is given twice: each network card needs its own",
                nic.tap
            )));
        }
        if let Some((_, vm)) = taken.iter().find(|(tap, _)| *tap == nic.tap) {
            return Err(VmError::InvalidVm(format!(
                "TAP device {} is VM {vm}'s network card: a TAP device has one user; make another (ip tuntap add dev NAME mode tap)",
                nic.tap
            )));
        }
        let mac = match &nic.mac {
            Some(m) => m
                .parse::<Mac>()
                .map_err(|e| VmError::InvalidVm(format!("network card {i}: {e}")))?,
            None => Mac::derived(&format!("{name}/{i}")),
        };
        out.push(VmNic {
            tap: nic.tap,
            mac: Some(mac.to_string()),
        });
    }
    Ok(out)
}

/// The runner's `--net` argument for a resolved card: `TAP=MAC`.
pub fn runner_arg(nic: &VmNic, vm: &str, i: usize) -> String {
    let mac = match &nic.mac {
        Some(m) => m.clone(),
        None => Mac::derived(&format!("{vm}/{i}")).to_string(),
    };
    format!("{}={mac}", nic.tap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic(s: &str) -> VmNic {
        s.parse().unwrap()
    }

    #[test]
    fn cards_get_a_stable_mac_and_bad_ones_are_named() {
        let got = resolve("web", vec![nic("tap0"), nic("tap1=52:54:00:aa:bb:cc")], &[]).unwrap();
        assert_eq!(got[0].mac, Some(Mac::derived("web/0").to_string()));
        assert_eq!(got[1].mac.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert_eq!(runner_arg(&got[1], "web", 1), "tap1=52:54:00:aa:bb:cc");
        let again = resolve("web", vec![nic("tap0")], &[]).unwrap();
        assert_eq!(again[0].mac, got[0].mac);

        let err = |nets: Vec<VmNic>, taken: &[(String, String)]| {
            resolve("web", nets, taken).unwrap_err().to_string()
        };
        assert!(err(vec![nic("a/b")], &[]).contains("not a TAP device name"));
        assert!(err(vec![nic("tap0"), nic("tap0")], &[]).contains("given twice"));
        assert!(err(vec![nic("tap0=01:00:5e:00:00:01")], &[]).contains("not a MAC address"));
        let taken = [("tap0".to_owned(), "db".to_owned())];
        assert!(err(vec![nic("tap0")], &taken).contains("VM db's network card"));
        assert!("=52:54:00:aa:bb:cc".parse::<VmNic>().is_err());
    }
}
