//! The appliance's modules depend on each other one way: read every source file's paths
//! (`crate::...`, `super::...`, `self::...`), resolve them to modules, and look for a
//! cycle. `mod` declarations are ownership, not use, and are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `core/cli.rs` → `[core, cli]`; `core/mod.rs` → `[core]`; `lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code that builds into the crate: without comments and without the test module at
/// the end of the file (`#[cfg(test)]`), with relative `use` paths made `self::` paths
/// (so `pub use child::Item` counts as a use of `child`).
fn code(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("");
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let t = line.trim_start();
        let after_use = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        match after_use {
            Some(rest)
                if !["crate::", "super::", "self::", "::"]
                    .iter()
                    .any(|k| rest.starts_with(k)) =>
            {
                let indent = &line[..line.len() - t.len()];
                let prefix = &t[..t.len() - rest.len()];
                out.push(format!("{indent}{prefix}self::{rest}"));
            }
            _ => out.push(line.to_owned()),
        }
    }
    out.join("\n")
}

/// Every path starting with `crate`, `super` or `self`, braces expanded one level.
fn paths(code: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = code.chars().collect();
    let at = |i: usize, p: &str| {
        p.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let kw = ["crate", "super", "self"]
            .into_iter()
            .find(|k| at(i, k) && at(i + k.len(), "::") && (i == 0 || !ident(chars[i - 1])));
        let Some(kw) = kw else {
            i += 1;
            continue;
        };
        let mut head = vec![kw.to_owned()];
        let mut j = i + kw.len();
        loop {
            if at(j, "::{") {
                let close = chars[j..]
                    .iter()
                    .position(|c| *c == '}')
                    .map_or(chars.len(), |p| j + p);
                let inner: String = chars[j + 3..close].iter().collect();
                for item in inner.split(',') {
                    let mut p = head.clone();
                    p.extend(
                        item.split("::")
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty() && s.chars().all(ident)),
                    );
                    out.push(p);
                }
                j = close;
                break;
            }
            if !at(j, "::") {
                out.push(head);
                break;
            }
            j += 2;
            let s = j;
            while j < chars.len() && ident(chars[j]) {
                j += 1;
            }
            if j == s {
                out.push(head);
                break;
            }
            head.push(chars[s..j].iter().collect());
        }
        i = j.max(i + 1);
    }
    out
}

/// The module a path from `from` names (the longest prefix that is a module).
fn resolve(from: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut base: Module = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("super") | Some("self") => {
            base = from.clone();
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let mut m = base;
    for seg in rest {
        let mut next = m.clone();
        next.push(seg.clone());
        if modules.contains(&next) {
            m = next;
        } else {
            break;
        }
    }
    Some(m)
}

fn cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match state.get(m) {
            Some(1) => {
                let at = stack.iter().position(|s| s == m).unwrap_or(0);
                let mut c = stack[at..].to_vec();
                c.push(m.clone());
                return Some(c);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for n in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if let Some(c) = visit(m, edges, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    all.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<Module> = all.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for f in &all {
        let from = module_of(&src, f);
        let text = code(&std::fs::read_to_string(f).unwrap());
        for p in paths(&text) {
            if let Some(to) = resolve(&from, &p, &modules) {
                if to != from {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    let core = vec!["core".to_owned()];
    assert!(
        edges.get(&core).is_some_and(|e| !e.is_empty()),
        "the scan found no use of core's modules: {edges:?}"
    );
    let core_uses_a_component = edges
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|f| f == "core"))
        .flat_map(|(m, to)| to.iter().map(move |t| (m, t)))
        .find(|(_, t)| t.first().is_some_and(|f| f != "core"));
    assert_eq!(core_uses_a_component, None, "core must not use a component");
    let component_uses_another = edges
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|f| f != "core" && f != "components"))
        .flat_map(|(m, to)| to.iter().map(move |t| (m, t)))
        .find(|(m, t)| {
            t.first()
                .is_some_and(|f| f != "core" && Some(f) != m.first())
        });
    assert_eq!(
        component_uses_another, None,
        "components use core services, not each other"
    );
    if let Some(c) = cycle(&edges) {
        let names: Vec<String> = c
            .iter()
            .map(|m| format!("crate::{}", m.join("::")))
            .collect();
        panic!("module cycle: {}", names.join(" → "));
    }
}

#[test]
fn the_scan_reads_paths_and_finds_cycles() {
    let p = paths(&code(
        "use super::{a::B, c};\nlet x = crate::core::size::human(1); // self::x\nfoo::bar();\n\
         pub use child::{D, e::F};\n#[cfg(test)]\nmod tests { use super::*; }",
    ));
    let want: Vec<Vec<String>> = [
        vec!["super", "a", "B"],
        vec!["super", "c"],
        vec!["crate", "core", "size", "human"],
        vec!["self", "child", "D"],
        vec!["self", "child", "e", "F"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(p, want);
    let m = |s: &str| -> Module {
        s.split('/')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    };
    let modules: BTreeSet<Module> = ["", "a", "a/b", "c"].iter().map(|s| m(s)).collect();
    assert_eq!(
        resolve(&m("a/b"), &p[0], &modules),
        Some(m("a")),
        "super::a::B from a::b is a (no module a::a)"
    );
    let mut edges = BTreeMap::new();
    edges.insert(m("a"), BTreeSet::from([m("c")]));
    assert!(cycle(&edges).is_none());
    edges.insert(m("c"), BTreeSet::from([m("a")]));
    assert!(cycle(&edges).is_some());
}
