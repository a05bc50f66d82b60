//! The layering rule of `src/lib.rs`, checked: every `crate::x` import of a
//! top-level module points down the layer list, so no cycle can come back.
//!
//! Reads the sources as text (no build needed), collects the top-level
//! modules each file names through `crate::`, and fails naming the file and
//! the import that points up or sideways into a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the top of the graph down. A module may import
/// only modules on a lower line; modules on one line may import each other
/// only where the cycle check below still passes.
const LAYERS: &[&[&str]] = &[
    &["startup"],
    &["http"],
    &["web", "ws"],
    &["app"],
    &["auth", "presence"],
    &["store"],
    &["events"],
    &["config", "metrics", "telemetry"],
    &["domain"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/http/login.rs` -> `http`).
fn owner(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The top-level modules named as `crate::name` in `text` (comments too:
/// a doc link that points up is a dependency a reader sees).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let before = text[..i].chars().last();
        if !name.is_empty() && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.insert(name);
        }
    }
    out
}

/// Edges between top-level modules, each with one file that makes it.
fn graph() -> BTreeMap<(String, String), PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges = BTreeMap::new();
    for file in files {
        let Some(from) = owner(&file) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        for to in imports(&text) {
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.clone());
            }
        }
    }
    edges
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in files {
        if let Some(module) = owner(&file) {
            assert!(rank(&module).is_some(), "{module} is in no layer of LAYERS");
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for ((from, to), file) in graph() {
        match (rank(&from), rank(&to)) {
            (Some(a), Some(b)) if a < b => {}
            (Some(a), Some(b)) if a == b => {}
            _ => wrong.push(format!("{from} -> {to} (in {})", file.display())),
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up:\n{}",
        wrong.join("\n")
    );
}

/// A cycle in the graph `edges`, as the path that closes it.
fn find_cycle(edges: &[(&str, &str)]) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    // Depth-first search; a node met again on the current path closes a cycle.
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for to in next.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(to, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    next.keys()
        .find_map(|node| visit(node, &next, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_have_no_cycle() {
    let graph = graph();
    let edges: Vec<(&str, &str)> = graph
        .keys()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checks_can_fail() {
    assert_eq!(
        imports("use crate::http::x; // crate::ws\nmy_crate::nope"),
        ["http", "ws"].iter().map(|s| s.to_string()).collect()
    );
    let cycle = find_cycle(&[
        ("http", "ws"),
        ("ws", "app"),
        ("app", "http"),
        ("app", "store"),
    ]);
    assert_eq!(cycle.unwrap().join(" -> "), "app -> http -> ws -> app");
    assert!(find_cycle(&[("http", "app"), ("app", "store"), ("http", "store")]).is_none());
    assert!(rank("app") < rank("store"));
}
