//! The layering of `docs/architecture.md`, enforced: a module uses only modules on lower
//! layers (a `crate::` path to one beside or above it fails), and the files of one module
//! do not use each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name to layer, from the table in `docs/architecture.md`.
fn layers() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|c| c.parse::<u32>().ok()) else { continue };
        for module in cells[2].split(',') {
            out.insert(module.trim().trim_matches('`').to_string(), layer);
        }
    }
    out
}

/// Source without comments (doc comments name modules above in prose).
fn code(source: &str) -> String {
    source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The first path segment after each `crate::` (all of them in a `crate::{a, b::c}` group).
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Items at the group's top level.
            let (mut depth, mut start) = (0, true);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// Why `source`, a file of module `module`, breaks the layering: one line per upward path.
fn violations(layers: &BTreeMap<String, u32>, module: &str, source: &str) -> Vec<String> {
    let own = layers[module];
    crate_paths(&code(source))
        .into_iter()
        .filter(|used| used != module)
        .filter_map(|used| match layers.get(&used) {
            Some(&l) if l < own => None,
            Some(&l) => Some(format!("uses `{used}` (layer {l}) from layer {own}")),
            None => Some(format!("uses `crate::{used}`, which the table does not place")),
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The files of one folder (not its `mod.rs`, which declares them), by file stem, without
/// comments, and the folder's module path below `src` (`mesh`, `backend::cuda`).
fn folder(dir: &Path, files: &[PathBuf]) -> (String, BTreeMap<String, String>) {
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    let sources = files
        .iter()
        .filter(|f| f.parent() == Some(dir) && stem(f) != "mod")
        .map(|f| (stem(f), code(&std::fs::read_to_string(f).unwrap())))
        .collect();
    let module_path = dir.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap();
    (module_path.to_string_lossy().replace('/', "::"), sources)
}

/// A cycle among the files of one folder: file `a` uses sibling `b` through `super::b` or
/// `crate::` paths of its folder.
fn file_cycle(module_path: &str, sources: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (me, src) in sources {
        for other in sources.keys() {
            let uses = [format!("super::{other}::"), format!("super::{other};"), format!("super::{other}}}")]
                .iter()
                .chain(&[format!("crate::{module_path}::{other}::"), format!("super::{{{other}")])
                .any(|pat| src.contains(pat.as_str()));
            if other != me && uses {
                edges.entry(me.clone()).or_default().insert(other.clone());
            }
        }
    }
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].iter().cloned().chain([n.to_string()]).collect());
        }
        if !done.insert(n.to_string()) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    sources.keys().find_map(|n| visit(n, &edges, &mut Vec::new(), &mut done))
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let layers = layers();
    assert!(layers.len() >= 15, "the table in docs/architecture.md lists {} modules", layers.len());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        assert!(layers.contains_key(module), "src/{first} is a module docs/architecture.md does not place");
        let source = std::fs::read_to_string(f).unwrap();
        problems
            .extend(violations(&layers, module, &source).into_iter().map(|v| format!("src/{}: {v}", rel.display())));
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn no_files_of_a_module_use_each_other_in_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    let cycles: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            let (module_path, sources) = folder(d, &files);
            file_cycle(&module_path, &sources).map(|c| format!("{}: {}", d.display(), c.join(" → ")))
        })
        .collect();
    assert!(cycles.is_empty(), "file cycles:\n{}", cycles.join("\n"));
}

/// The checks can fail: an upward import, one in a `use crate::{…}` group, a sideways one and
/// an unplaced module are caught; comments and downward paths are not.
#[test]
fn the_check_catches_upward_imports() {
    let layers = layers();
    assert_eq!(violations(&layers, "geometry", "use crate::train::Trainer;").len(), 1);
    assert_eq!(violations(&layers, "mesh", "use crate::{geometry::Mesh, train::{self, Trainer}};").len(), 1);
    assert_eq!(violations(&layers, "scene", "let f = crate::field::Field::new(c);").len(), 1);
    assert_eq!(violations(&layers, "io", "use crate::elsewhere::X;").len(), 1);
    assert!(violations(&layers, "train", "use crate::{backend::Backend, geometry::Pose}; // crate::app").is_empty());
    assert!(violations(&layers, "nn", "/// See `crate::train` for the loop.\nuse crate::util::rng::Rng;").is_empty());
}

/// The cycle check can fail: two files using each other (by `super::` and by `crate::` path)
/// are caught; a one-way use is not.
#[test]
fn the_check_catches_file_cycles() {
    let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect()
    };
    let cycle = files(&[("a", "use super::b::B;"), ("b", "let x = crate::m::a::A;")]);
    assert_eq!(file_cycle("m", &cycle), Some(vec!["a".to_string(), "b".to_string(), "a".to_string()]));
    let one_way = files(&[("a", "use super::{b, c};"), ("b", "struct B;"), ("c", "use super::b;")]);
    assert_eq!(file_cycle("m", &one_way), None);
}
