//! The crate's layers (`src/lib.rs`) hold: every `crate::…` path in a module names its own layer or one below,
//! the clients never reach the server's application, HTTP edge or wiring, and the domain does no I/O.

use std::path::{Path, PathBuf};

/// Each top-level module's layer, bottom first: a module may name modules of its own layer or below.
const LAYERS: &[(u8, &[&str])] = &[
    (0, &["domain"]),
    (1, &["api"]),
    (2, &["storage", "chain", "beacon", "s3", "universe", "metrics", "shutdown"]),
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
