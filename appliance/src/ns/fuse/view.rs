//! What a path of a mounted namespace is: a directory the namespace itself makes (the
//! root, a folder, a step on the way to a link), or a place inside a link, served from
//! the link's targets (`file://` ones on this appliance, `smb://` ones through the
//! mount's SMB client; `nfs://` ones need a client the mount does not have yet), best
//! first by the referral rules.

use std::path::PathBuf;
use vsa_namespace::{resolve, LogicalPath, Namespace, Scheme, Sites};

/// The same place in one target of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// A path on this appliance (a `file://` target).
    Local(PathBuf),
    /// A path in a share of an SMB server (an `smb://` target).
    Smb {
        /// The server's host name or address.
        server: String,
        /// The share.
        share: String,
        /// The target's directory in the share.
        dir: Vec<String>,
        /// The names below the target's directory.
        rest: Vec<String>,
    },
}

/// Where a path of the mount leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A directory of the namespace's own (no files of its own).
    Synthetic,
    /// Inside link `link`: the same place in each servable target, best first.
    Inside {
        /// The link's path.
        link: String,
        /// Each servable target's copy of the place, in referral order.
        candidates: Vec<Candidate>,
    },
}

/// The place of `path` (components joined by `/`, "" for the root) in `ns`.
pub fn place(ns: &Namespace, sites: &Sites, path: &str) -> Option<Place> {
    if path.is_empty() {
        return Some(Place::Synthetic);
    }
    let logical = LogicalPath::parse(path).ok()?;
    if let Some(link) = ns.covering_link(&logical) {
        let depth = link.path().depth();
        // The remainder as the user spelled it (the link's part compares without case).
        let rest: Vec<&str> = path.split('/').skip(depth).collect();
        let referral = resolve(ns, &logical, None, sites, 0).ok()?;
        let candidates = referral
            .targets
            .iter()
            .filter_map(|t| {
                let url = &t.target.url;
                match (url.scheme(), url.server(), url.path().split_first()) {
                    (Scheme::File, _, _) => {
                        let mut dir = PathBuf::from("/");
                        dir.extend(url.path());
                        dir.extend(&rest);
                        Some(Candidate::Local(dir))
                    }
                    (Scheme::Smb, Some(server), Some((share, dir))) => Some(Candidate::Smb {
                        server: server.to_owned(),
                        share: share.clone(),
                        dir: dir.to_vec(),
                        rest: rest.iter().map(|s| (*s).to_owned()).collect(),
                    }),
                    _ => None,
                }
            })
            .collect();
        return Some(Place::Inside {
            link: link.path().to_string(),
            candidates,
        });
    }
    let key = logical.key();
    let under = |p: &LogicalPath| p.key() == key || p.key().starts_with(&format!("{key}/"));
    (ns.folders().any(under) || ns.links().any(|l| under(l.path()))).then_some(Place::Synthetic)
}

/// The names in synthetic directory `path`: the next component of every folder and
/// link below it, each once.
pub fn children(ns: &Namespace, path: &str) -> Vec<String> {
    let depth = if path.is_empty() {
        0
    } else {
        path.split('/').count()
    };
    let key = match LogicalPath::parse(path) {
        Ok(p) => p.key().to_owned(),
        Err(_) if path.is_empty() => String::new(),
        Err(_) => return Vec::new(),
    };
    let mut names: Vec<String> = ns
        .folders()
        .chain(ns.links().map(|l| l.path()))
        .filter(|p| p.depth() > depth && (depth == 0 || p.prefix_key(depth) == key))
        .filter_map(|p| p.components().nth(depth).map(str::to_owned))
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsa_namespace::{LinkSettings, Target, TieOrder};

    fn ns() -> Namespace {
        let mut ns = Namespace::new("corp").unwrap();
        ns.add_folder(&LogicalPath::parse("hr").unwrap()).unwrap();
        let targets = vec![
            Target::parse("file:///srv/a/docs").unwrap(),
            Target::parse("smb://fs1/docs").unwrap(),
            Target::parse("file:///srv/b/docs").unwrap(),
        ];
        let docs = LogicalPath::parse("eng/Docs").unwrap();
        let stable = LinkSettings {
            ordering: TieOrder::Stable,
            ..LinkSettings::default()
        };
        ns.add_link(&docs, targets, stable).unwrap();
        ns
    }

    #[test]
    fn synthetic_directories_lead_to_links_and_links_to_their_targets() {
        let ns = ns();
        let sites = Sites::default();
        assert_eq!(place(&ns, &sites, ""), Some(Place::Synthetic));
        assert_eq!(place(&ns, &sites, "eng"), Some(Place::Synthetic));
        assert_eq!(place(&ns, &sites, "HR"), Some(Place::Synthetic));
        assert_eq!(place(&ns, &sites, "nope"), None);
        let Some(Place::Inside { link, candidates }) = place(&ns, &sites, "ENG/docs/specs/A.txt")
        else {
            panic!("not inside the link");
        };
        assert_eq!(link, "eng/Docs");
        assert_eq!(
            candidates,
            [
                Candidate::Local(PathBuf::from("/srv/a/docs/specs/A.txt")),
                Candidate::Smb {
                    server: "fs1".into(),
                    share: "docs".into(),
                    dir: vec![],
                    rest: vec!["specs".into(), "A.txt".into()],
                },
                Candidate::Local(PathBuf::from("/srv/b/docs/specs/A.txt")),
            ]
        );
        assert_eq!(children(&ns, ""), ["eng", "hr"]);
        assert_eq!(children(&ns, "eng"), ["Docs"]);
        assert!(children(&ns, "hr").is_empty());
    }
}
