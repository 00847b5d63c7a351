//! A namespace as Samba serves a DFS root (`msdfs root = yes`): a directory tree whose
//! folders are directories and whose links are symbolic links to `msdfs:` texts naming
//! the link's SMB targets, `msdfs:server\share[\dir...],server2\share2`, which Samba hands
//! to clients as the referral in that order.
//!
//! The order is the referral order for a client of no known site ([`order_targets`] with
//! a fixed seed), so health counts (an unhealthy target goes last: Samba alone never
//! reorders) and priority classes and ranks hold. Only SMB targets can be referred to by
//! an SMB server: `file://` and `nfs://` targets are left out (and named, so the export
//! can say so); a link with no SMB target left is not exported.

use crate::resolve::order_targets;
use crate::site::Sites;
use crate::target::Scheme;
use crate::tree::Namespace;

/// One entry of the exported tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory (a folder, or a folder above a link), by its names from the root.
    Folder(Vec<String>),
    /// A link: its names from the root and the `msdfs:` text its symbolic link holds.
    Link(Vec<String>, String),
}

/// What [`tree`] made of a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    /// Folders before what is inside them, then the links.
    pub entries: Vec<Entry>,
    /// Targets left out (not SMB, or disabled), as `link: target`.
    pub left_out: Vec<String>,
    /// Links not exported: none of their targets is an SMB target that is enabled.
    pub skipped: Vec<String>,
}

/// The `msdfs:` text of a list of SMB targets, best first.
fn msdfs_text<'a>(targets: impl Iterator<Item = (&'a str, &'a [String])>) -> String {
    let parts: Vec<String> = targets
        .map(|(server, path)| format!("{server}\\{}", path.join("\\")))
        .collect();
    format!("msdfs:{}", parts.join(","))
}

/// The tree Samba serves for `ns`.
pub fn tree(ns: &Namespace, sites: &Sites) -> Export {
    let mut out = Export::default();
    let mut dirs = std::collections::BTreeSet::new();
    for f in ns.folders() {
        dirs.insert(f.components().map(str::to_owned).collect::<Vec<_>>());
    }
    let mut links: Vec<_> = ns.links().collect();
    links.sort_by(|a, b| a.path().key().cmp(b.path().key()));
    for link in links {
        let names: Vec<String> = link.path().components().map(str::to_owned).collect();
        for n in 1..names.len() {
            dirs.insert(names[..n].to_vec());
        }
        for t in link.targets() {
            if t.url.scheme() != Scheme::Smb || !t.enabled {
                out.left_out.push(format!("{}: {}", link.path(), t.url));
            }
        }
        let ordered = order_targets(link, None, sites, 0).unwrap_or_default();
        let smb: Vec<(&str, &[String])> = ordered
            .iter()
            .filter(|r| r.target.url.scheme() == Scheme::Smb)
            .filter_map(|r| Some((r.target.url.server()?, r.target.url.path())))
            .collect();
        if smb.is_empty() {
            out.skipped.push(link.path().to_string());
            continue;
        }
        out.entries
            .push(Entry::Link(names, msdfs_text(smb.into_iter())));
    }
    let folders = dirs.into_iter().map(Entry::Folder);
    out.entries = folders.chain(out.entries).collect();
    out
}

/// The `smb.conf` share section serving the tree at `dir` as share `share` (Samba also
/// needs `host msdfs = yes` in `[global]`, its default).
pub fn share_section(share: &str, dir: &str) -> String {
    format!(
        "[{share}]\n    path = {dir}\n    msdfs root = yes\n    read only = yes\n    guest ok = yes\n"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::link::LinkSettings;
    use crate::path::LogicalPath;
    use crate::target::{Health, PriorityClass, Target, TargetUrl};

    fn p(s: &str) -> LogicalPath {
        LogicalPath::parse(s).unwrap()
    }

    fn ns() -> Namespace {
        let mut ns = Namespace::new("corp").unwrap();
        ns.add_folder(&p("hr")).unwrap();
        let stable = LinkSettings {
            ordering: crate::link::TieOrder::Stable,
            ..LinkSettings::default()
        };
        ns.add_link(
            &p("eng/docs"),
            vec![
                Target::parse("smb://fs1/docs").unwrap(),
                Target::parse("smb://fs2/share/docs/current").unwrap(),
                Target::parse("file:///srv/docs").unwrap(),
            ],
            stable,
        )
        .unwrap();
        ns.add_link(
            &p("eng/local"),
            vec![Target::parse("nfs://nas/export").unwrap()],
            stable,
        )
        .unwrap();
        ns
    }

    #[test]
    fn links_become_msdfs_texts_in_referral_order() {
        let mut ns = ns();
        let sites = Sites::default();
        let e = tree(&ns, &sites);
        assert_eq!(
            e.entries,
            vec![
                Entry::Folder(vec!["eng".into()]),
                Entry::Folder(vec!["hr".into()]),
                Entry::Link(
                    vec!["eng".into(), "docs".into()],
                    "msdfs:fs1\\docs,fs2\\share\\docs\\current".into()
                ),
            ]
        );
        assert_eq!(
            e.left_out,
            ["eng/docs: file:///srv/docs", "eng/local: nfs://nas/export"]
        );
        assert_eq!(e.skipped, ["eng/local"]);
        // An unhealthy target goes last, a global-high one first.
        let fs1 = TargetUrl::parse("smb://fs1/docs").unwrap();
        ns.set_health(&p("eng/docs"), &fs1, Health::Unhealthy)
            .unwrap();
        let e = tree(&ns, &sites);
        assert!(e.entries.contains(&Entry::Link(
            vec!["eng".into(), "docs".into()],
            "msdfs:fs2\\share\\docs\\current,fs1\\docs".into()
        )));
        let t = Target::parse("smb://fs3/docs")
            .unwrap()
            .with_priority(PriorityClass::GlobalHigh, 0);
        ns.add_target(&p("eng/docs"), t).unwrap();
        let e = tree(&ns, &sites);
        assert!(e.entries.iter().any(|x| matches!(
            x,
            Entry::Link(_, text) if text.starts_with("msdfs:fs3\\docs,fs2")
        )));
    }

    #[test]
    fn the_share_section_names_the_tree() {
        let s = share_section("corp", "/srv/dfs/corp");
        assert!(s.starts_with("[corp]\n"));
        assert!(s.contains("path = /srv/dfs/corp\n"));
        assert!(s.contains("msdfs root = yes\n"));
    }
}
