//! The crate's layers (`src/lib.rs`) hold: every `crate::…` path in a module names its own layer or one below,
//! the clients never reach the server's application, HTTP edge or wiring, and the domain does no I/O. Inside
//! the two biggest rooms, `domain/` and `client/`, each neighbourhood names only those the map lets it, and no
//! two files name each other, however roundabout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer, bottom first: a module may name modules of its own layer or below.
const LAYERS: &[(u8, &[&str])] = &[
    (0, &["domain"]),
    (1, &["api"]),
    (2, &["storage", "chain", "beacon", "s3", "universe", "net", "metrics", "shutdown"]),
    (3, &["client", "settings"]),
    (4, &["app"]),
    (5, &["tasks"]),
    (6, &["http"]),
    (7, &["boot", "localnet"]),
    (8, &["cli", "telemetry", "lib"]),
];

/// What the domain must never name: it does no I/O and reads no clock.
const NOT_IN_DOMAIN: &[&str] = &[
    "tokio::",
    "reqwest::",
    "sqlx::",
    "axum::",
    "hyper::",
    "std::fs",
    "std::net",
    "std::env",
    "Utc::now",
    "SystemTime",
];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(_, modules)| modules.contains(&module))
        .map(|(layer, _)| *layer)
        .unwrap_or_else(|| panic!("module {module} has no layer in this test; give it one as src/lib.rs does"))
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

/// The modules a source text names through `crate::`.
fn named_modules(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(at, _)| {
            text[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_module_names_only_its_own_layer_or_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().to_string();
        let module = first.trim_end_matches(".rs");
        let text = std::fs::read_to_string(file).unwrap();
        for named in named_modules(&text) {
            // `crate::openapi` is the crate root's re-export for the binary.
            let named = if named == "openapi" { "http".to_string() } else { named };
            if layer(&named) > layer(module) {
                violations.push(format!("{} names crate::{named}", relative.display()));
            }
        }
        if module == "domain" {
            for forbidden in NOT_IN_DOMAIN {
                if text.contains(forbidden) {
                    violations.push(format!("{} names {forbidden}", relative.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "arrows pointing up:\n{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_arrow() {
    assert_eq!(named_modules("use crate::app::App; let x = crate::domain::access::layout::x();"), ["app", "domain"]);
    assert!(layer("app") > layer("client"), "a client naming crate::app would be reported");
}

/// The neighbourhoods of `domain/` and `client/` (a folder, or a shared file), each with those it may name.
const NEIGHBOURHOODS: &[(&str, &[&str])] = &[
    ("domain/hotkey", &[]),
    ("domain/instant", &[]),
    ("domain/usmap", &[]),
    ("domain/epoch", &["domain/hotkey", "domain/instant"]),
    ("domain/access", &["domain/epoch", "domain/hotkey", "domain/instant"]),
    ("domain/judging", &["domain/access", "domain/epoch", "domain/hotkey", "domain/instant"]),
    ("client/shared", &[]),
    ("client/miner", &["client/shared"]),
    ("client/validator", &["client/shared"]),
    ("client/simulation", &["client/shared", "client/validator"]),
];

/// The neighbourhood of a module path (`["domain", "epoch", "batches"]`), if it lies in one.
fn neighbourhood(module: &[String]) -> Option<String> {
    let room = module.first()?;
    if room != "domain" && room != "client" {
        return None;
    }
    let Some(second) = module.get(1) else {
        return Some(format!("{room}/door"));
    };
    let named = format!("{room}/{second}");
    if NEIGHBOURHOODS.iter().any(|(name, _)| *name == named) {
        Some(named)
    } else if room == "client" {
        Some("client/shared".to_string())
    } else {
        panic!("{} lies in no neighbourhood of this test; give it one", module.join("::"))
    }
}

/// The module a source file is (`src/domain/epoch/mod.rs` → `["domain", "epoch"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
    if parts.last().is_some_and(|last| last == "mod" || last == "lib") {
        parts.pop();
    }
    parts
}

/// The module paths a file's text names, `crate::a::b::Item` and `super::a::Item` alike, as written (the caller
/// keeps the longest prefix that is a module).
fn named_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let segments = |rest: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = rest;
        loop {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name.is_empty() {
                break;
            }
            rest = &rest[name.len()..];
            out.push(name);
            match rest.strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        out
    };
    // Comments (doc links among them) name without depending.
    let code: String =
        text.lines().filter(|line| !line.trim_start().starts_with("//")).map(|line| format!("{line}\n")).collect();
    let text = code.as_str();
    let mut paths = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        paths.push(segments(&text[at + 7..]));
    }
    // `super::` in a file outside a test module names a sibling; inside a `mod tests` it names the file itself.
    let body = text.split("#[cfg(test)]").next().unwrap_or(text);
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    for (at, _) in body.match_indices("super::") {
        if body[..at].ends_with("::") {
            continue;
        }
        let mut path = parent.clone();
        path.extend(segments(&body[at + 7..]));
        paths.push(path);
    }
    paths
}

/// Every module file of the crate (but `main.rs`) with the module files it names.
fn module_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.retain(|file| !file.ends_with("main.rs"));
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let mut named = BTreeSet::new();
        for path in named_paths(&text, &module) {
            let longest = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| modules.contains(prefix));
            if let Some(target) = longest {
                // A folder's door re-exports its own files; naming it from inside is not an arrow out.
                if target != module && !module.starts_with(&target) {
                    named.insert(target);
                }
            }
        }
        graph.insert(module, named);
    }
    graph
}

#[test]
fn each_neighbourhood_names_only_those_the_map_allows() {
    let mut violations = Vec::new();
    for (module, named) in module_graph() {
        let Some(from) = neighbourhood(&module) else { continue };
        if from.ends_with("/door") {
            continue;
        }
        let allowed = NEIGHBOURHOODS.iter().find(|(name, _)| *name == from).map(|(_, allowed)| *allowed).unwrap();
        // Between rooms the layers decide (the clients may name the whole domain).
        for target in named.into_iter().filter(|target| target[0] == module[0]) {
            let Some(to) = neighbourhood(&target) else { continue };
            if to != from && !to.ends_with("/door") && !allowed.contains(&to.as_str()) {
                violations.push(format!("{} ({from}) names {} ({to})", module.join("::"), target.join("::")));
            }
        }
    }
    assert!(violations.is_empty(), "arrows the neighbourhood map does not allow:\n{}", violations.join("\n"));
}

/// The files on a cycle of `graph`, each cycle once (Tarjan's strongly connected components).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a Vec<String>) {
            let at = self.index.len();
            self.index.insert(node, at);
            self.low.insert(node, at);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.graph.contains_key(next) {
                    continue;
                }
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[next].min(self.low[node]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.index[next].min(self.low[node]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.join("::"));
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn no_two_files_name_each_other() {
    let found = cycles(&module_graph());
    assert!(found.is_empty(), "files on a circle of names:\n{found:#?}");
}

/// A file past this many lines tells more than one story (design.md); its tests may move to a sibling `tests.rs`.
const MOST_LINES_IN_A_FILE: usize = 500;

/// The files in `src` longer than `most` lines, with their lengths; a `tests.rs` holds a module's tests and is
/// not counted.
fn files_longer_than(src: &Path, most: usize) -> Vec<(String, usize)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut long: Vec<(String, usize)> = files
        .iter()
        .filter(|file| file.file_name().is_some_and(|name| name != "tests.rs"))
        .map(|file| (file.display().to_string(), std::fs::read_to_string(file).unwrap().lines().count()))
        .filter(|(_, lines)| *lines > most)
        .collect();
    long.sort();
    long
}

#[test]
fn no_file_in_src_tells_more_than_five_hundred_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long = files_longer_than(&src, MOST_LINES_IN_A_FILE);
    assert!(long.is_empty(), "files over {MOST_LINES_IN_A_FILE} lines; split them by concern:\n{long:#?}");
    // The checker itself sees a long file: the crate has files of a few hundred lines.
    assert!(!files_longer_than(&src, 300).is_empty());
}

#[test]
fn the_checkers_see_a_circle_and_a_forbidden_neighbour() {
    let path = |text: &str| text.split("::").map(str::to_string).collect::<Vec<_>>();
    let mut graph = BTreeMap::new();
    graph.insert(path("domain::epoch::a"), BTreeSet::from([path("domain::epoch::b")]));
    graph.insert(path("domain::epoch::b"), BTreeSet::from([path("domain::epoch::c")]));
    graph.insert(path("domain::epoch::c"), BTreeSet::from([path("domain::epoch::a")]));
    assert_eq!(cycles(&graph), [["domain::epoch::a", "domain::epoch::b", "domain::epoch::c"]]);
    assert_eq!(neighbourhood(&path("domain::epoch::inputs")).as_deref(), Some("domain/epoch"));
    assert_eq!(neighbourhood(&path("client::wallet")).as_deref(), Some("client/shared"));
    let epoch_may = NEIGHBOURHOODS.iter().find(|(name, _)| *name == "domain/epoch").unwrap().1;
    assert!(!epoch_may.contains(&"domain/judging"), "domain/epoch naming domain/judging would be reported");
    let named = named_paths("use super::batches::X;\n#[cfg(test)]\nuse super::y;", &path("domain::epoch::inputs"));
    assert_eq!(named, [path("domain::epoch::batches::X")]);
}
