//! Debian's headless Chromium, driven the way a person's browser loads a page: the rendered DOM, every console
//! message (scripts' errors and refused requests are console messages), every URL the browser asked for, and
//! screenshots. `scripts/test.sh` installs Chromium before the tests run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a page load showed.
pub struct PageLoad {
    pub dom: String,
    /// Console lines: the page's own messages, uncaught errors, Content-Security-Policy refusals.
    pub console: Vec<String>,
    /// Every URL the page asked for, itself included (from the browser's network log; the browser's own
    /// requests, such as update checks, are not the page's).
    pub requested: Vec<String>,
}

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|path| path.is_file())
        })
        .expect("chromium is installed (scripts/test.sh installs Debian's package)")
}

/// Runs Chromium headless on `url` with `extra` arguments; no host but 127.0.0.1 resolves.
fn run(url: &str, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs");
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Loads `url` and returns the DOM once the page's scripts have run (virtual time lets its fetches finish); the
/// browser runs on a blocking thread, so the test's server keeps answering meanwhile.
pub async fn load(url: &str) -> PageLoad {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || load_blocking(&url)).await.unwrap()
}

fn load_blocking(url: &str) -> PageLoad {
    let dir = tempfile::tempdir().unwrap();
    let net_log = dir.path().join("net-log.json");
    let (dom, stderr) = run(url, &["--dump-dom".to_string(), format!("--log-net-log={}", net_log.display())]);
    let console = stderr.lines().filter(|line| line.contains(":CONSOLE")).map(str::to_string).collect();
    let requested = page_requests(&std::fs::read_to_string(&net_log).unwrap_or_default(), url);
    assert!(!requested.is_empty(), "the network log recorded the page's requests; chromium said: {stderr}");
    PageLoad { dom, console, requested }
}

/// The URLs of the network log's requests that the page at `url` made: those whose initiator is its origin,
/// and the navigation to it.
fn page_requests(log: &str, url: &str) -> Vec<String> {
    let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let log: serde_json::Value = serde_json::from_str(log).unwrap_or_default();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let mut requested: Vec<String> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["type"] == start_job)
        .filter_map(|event| {
            let (request, initiator) = (event["params"]["url"].as_str()?, event["params"]["initiator"].as_str()?);
            (initiator == origin || request == url).then(|| request.to_string())
        })
        .collect();
    requested.sort();
    requested.dedup();
    requested
}

/// Saves a screenshot of `url` at `width` × `height` CSS pixels to `path` (on a blocking thread, like [`load`]).
pub async fn screenshot(url: &str, width: u32, height: u32, path: &Path) {
    let (url, path) = (url.to_string(), path.to_path_buf());
    tokio::task::spawn_blocking(move || screenshot_blocking(&url, width, height, &path)).await.unwrap()
}

fn screenshot_blocking(url: &str, width: u32, height: u32, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    let (_, stderr) =
        run(url, &[format!("--window-size={width},{height}"), format!("--screenshot={}", path.display())]);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "a screenshot of {url} at {}: {stderr}", path.display());
}

/// Where tests leave files for a person to look at: `target/test-output/`.
pub fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-output")
}
