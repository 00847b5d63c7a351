//! SendTargets (RFC 7143 appendix C): the targets an initiator may see, each with the
//! portal its connection came in on.

use std::net::SocketAddr;

use crate::Registry;

/// Formats a portal as `TargetAddress` wants it (`[v6]:port` or `v4:port`) with its
/// portal group tag.
pub fn target_address(portal: SocketAddr, tpgt: u16) -> String {
    match portal {
        SocketAddr::V4(a) => format!("{}:{},{}", a.ip(), a.port(), tpgt),
        SocketAddr::V6(a) => format!("[{}]:{},{}", a.ip(), a.port(), tpgt),
    }
}

/// Answers `SendTargets=<value>` for `initiator`. `All` lists every target the ACLs
/// admit (in a normal session too, harmlessly); an empty value names the session's own
/// target; a name lists that target if admitted.
pub fn send_targets(
    value: &str,
    initiator: &str,
    current: Option<&str>,
    registry: &dyn Registry,
    portal: SocketAddr,
    tpgt: u16,
) -> Vec<(String, String)> {
    let mut entries = match value {
        "All" => registry.targets(),
        "" => current
            .and_then(|c| registry.target(c))
            .into_iter()
            .collect(),
        name => registry.target(name).into_iter().collect(),
    };
    entries.retain(|e| e.admits(initiator));
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for e in entries {
        out.push(("TargetName".to_string(), e.name.clone()));
        out.push(("TargetAddress".to_string(), target_address(portal, tpgt)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetEntry;
    use std::sync::Arc;

    #[derive(Debug)]
    struct Reg(Vec<Arc<TargetEntry>>);
    impl Registry for Reg {
        fn target(&self, name: &str) -> Option<Arc<TargetEntry>> {
            self.0.iter().find(|e| e.name == name).cloned()
        }
        fn targets(&self) -> Vec<Arc<TargetEntry>> {
            self.0.clone()
        }
    }

    fn entry(name: &str, acl: &[&str]) -> Arc<TargetEntry> {
        Arc::new(TargetEntry {
            name: name.into(),
            alias: None,
            chap: None,
            mutual_chap: None,
            acl: acl.iter().map(|s| s.to_string()).collect(),
            scsi: Arc::new(vsa_scsi::Target::new()),
        })
    }

    #[test]
    fn lists_admitted_targets_with_the_portal() {
        let reg = Reg(vec![entry("iqn.b", &["iqn.other"]), entry("iqn.a", &[])]);
        let portal: SocketAddr = "10.0.0.1:3260".parse().unwrap();
        let r = send_targets("All", "iqn.me", None, &reg, portal, 1);
        assert_eq!(
            r,
            vec![
                ("TargetName".into(), "iqn.a".into()),
                ("TargetAddress".into(), "10.0.0.1:3260,1".into())
            ]
        );
        assert_eq!(
            send_targets("All", "iqn.other", None, &reg, portal, 1).len(),
            4
        );
        assert_eq!(
            send_targets("iqn.b", "iqn.me", None, &reg, portal, 1).len(),
            0
        );
        assert_eq!(
            send_targets("", "iqn.me", Some("iqn.a"), &reg, portal, 1).len(),
            2
        );
        let v6: SocketAddr = "[::1]:3260".parse().unwrap();
        assert_eq!(target_address(v6, 2), "[::1]:3260,2");
    }
}
