//! Start-up against a database that is not there yet (a container started beside its database): the server
//! stays up, alive and not ready, says why in its health answers, answers every other request 503 in the
//! contract's error body, and starts serving without a restart once the database answers. And a SQLite file in
//! a folder the process cannot use fails at once, naming the file, the user id and the fix.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use zipcoord::app::SystemClock;
use zipcoord::boot;

use crate::helpers::{assert_error, fresh_database_url, test_settings, TestKeys};
use crate::process::{run, wait_with_timeout, zipcoord};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
    format!("{scheme}://{credentials}127.0.0.1:{port}/{path}")
}

/// Accepts on `port` and forwards every connection to `target` (host:port): the database "coming up".
async fn forward(port: u16, target: String) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

async fn get(base: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_database_that_does_not_answer_at_start_leaves_the_server_alive_and_not_ready_until_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::generate();
    let metagraph = dir.path().join("metagraph.json");
    std::fs::write(&metagraph, keys.metagraph_json()).unwrap();
    // The suite's PostgreSQL server when it runs on one (the database then comes up half way through); else a
    // port nothing ever answers on, and the server is stopped while it waits.
    let real_database = match std::env::var("ZIPCOORD_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => Some(fresh_database_url(dir.path()).await),
        _ => None,
    };
    let database_port = free_port();
    let url =
        via_port(real_database.as_deref().unwrap_or("postgres://zipcoord@localhost:5432/zipcoord"), database_port);
    let mut settings = test_settings(url, &format!("file:{}", metagraph.display()));
    let listen_port = free_port();
    settings.listen = format!("127.0.0.1:{listen_port}").parse().unwrap();
    let base = format!("http://127.0.0.1:{listen_port}");
    let stop = CancellationToken::new();
    let starting = tokio::spawn(boot::start_waiting_for_database(settings, Arc::new(SystemClock), stop.clone()));

    // Alive at once; not ready, with the reason, once the first attempt failed.
    let readiness = loop {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await {
            let body: Value = response.json().await.unwrap();
            if body["startup"]["attempts"].as_u64().unwrap_or(0) >= 1 {
                break body;
            }
        }
        assert!(!starting.is_finished(), "the server waits for its database instead of exiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(readiness["ready"], false, "{readiness}");
    assert_eq!(readiness["database"], "unavailable", "{readiness}");
    assert_eq!(readiness["startup"]["state"], "waiting for the database", "{readiness}");
    let reason = readiness["startup"]["reason"].as_str().unwrap();
    assert!(reason.contains("cannot open the database") && reason.contains("refused"), "{reason}");
    assert!(readiness["startup"]["next_attempt_at"].is_string(), "{readiness}");
    let (status, _, live) = get(&base, "/livez").await;
    assert_eq!((status, live["status"].as_str()), (200, Some("alive")));
    let (status, _, readyz) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{readyz}");
    let (status, _, health) = get(&base, "/healthcheck").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database"], "unavailable", "{health}");
    assert_eq!(health["current_epoch"], Value::Null, "{health}");
    assert_eq!(health["startup"]["state"], "waiting for the database", "{health}");
    let (status, headers, body) = get(&base, "/api/v1/zipcode-assignments/stats").await;
    assert_error(status, &body, 503, "starting");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let (status, _, metrics) = get(&base, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.as_str().unwrap().contains("zipcoord_database_connect_failures_total"), "{metrics}");

    let Some(real_database) = real_database else {
        stop.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(5), starting).await.expect("stops at once").unwrap();
        let error = stopped.err().expect("stopped, not started");
        assert!(error.is::<boot::StoppedWhileStarting>(), "{error:#}");
        assert!(reqwest::get(format!("{base}/livez")).await.is_err(), "the listener is closed");
        return;
    };
    let target = real_database.split_once("://").unwrap().1.split('/').next().unwrap();
    let target = target.rsplit_once('@').map_or(target, |(_, host)| host).to_string();
    forward(database_port, target).await;
    // The back-off is at most 30 s; after a few failures the next attempt comes within 8 s.
    let server = tokio::time::timeout(Duration::from_secs(40), starting).await.expect("starts").unwrap().unwrap();
    let (status, _, readyz) = get(&base, "/readyz").await;
    assert_eq!(status, 200, "{readyz}");
    assert_eq!(readyz.get("startup"), None, "{readyz}");
    let (status, _, stats) = get(&base, "/api/v1/zipcode-assignments/stats").await;
    assert_eq!(status, 200, "{stats}");
    server.shutdown().await.unwrap();
}

#[test]
fn serve_waits_for_an_absent_database_and_still_stops_on_sigterm() {
    let listen = format!("127.0.0.1:{}", free_port());
    let database = format!("postgres://zipcoord@127.0.0.1:{}/zipcoord", free_port());
    let mut child = zipcoord()
        .args(["--log-format", "json", "serve", "--dev", "--listen", &listen, "--database-url", &database])
        .current_dir(tempfile::tempdir().unwrap().keep())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok((status, response)) =
            crate::process::raw_http::try_request("GET", &format!("http://{listen}/readyz"), "")
        {
            let body = crate::process::raw_http::body(&response);
            if body["startup"]["attempts"].as_u64().unwrap_or(0) >= 2 {
                assert_eq!(status, 503);
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "serve keeps waiting instead of exiting");
        assert!(std::time::Instant::now() < deadline, "no second attempt within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = crate::process::raw_http::request("GET", &format!("http://{listen}/livez"), "");
    assert_eq!(status, 200);
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = wait_with_timeout(&mut child, Duration::from_secs(10));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("not ready until it does") && stderr.contains("stopped while waiting"), "{stderr}");
}

#[test]
fn a_sqlite_file_where_the_process_cannot_write_names_the_path_the_user_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent").join("zipcoord.db");
    let (ok, _, stderr) = run(&[
        "serve",
        "--dev",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &format!("sqlite://{}", missing.display()),
    ]);
    assert!(!ok);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("as user id ") && stderr.contains("does not exist") && stderr.contains("Fix: create it"),
        "{stderr}"
    );
    assert!(!stderr.contains("code: 14"), "SQLite's bare code is not the message: {stderr}");

    // A folder another user owns, as a container's bind mount owned by root is to its non-root user. Root may
    // write anywhere, so as root the server runs as `nobody` (65534) through setpriv.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let database = format!("sqlite://{}", data.join("zipcoord.db").display());
    let args = ["serve", "--dev", "--listen", "127.0.0.1:0", "--database-url", &database];
    let as_root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap();
    let output = if as_root {
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_zipcoord")]);
        // `--dev` keeps its embedded store in the working directory: one `nobody` may write.
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
        command.env_clear().env("PATH", "/usr/bin:/bin").args(args).current_dir(work).output().unwrap()
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
        zipcoord().args(args).current_dir(dir.path()).output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let uid = if as_root {
        "65534".to_string()
    } else {
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap().to_string()
    };
    assert!(stderr.contains(&format!("as user id {uid}")), "{stderr}");
    assert!(stderr.contains(&format!("user id {uid} cannot create files in {}", data.display())), "{stderr}");
    assert!(stderr.contains("Permission denied") && stderr.contains(&format!("chown -R {uid}")), "{stderr}");
}

#[test]
fn under_the_json_log_format_every_line_is_json_fatal_errors_included() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("absent").join("zipcoord.db").display());
    let runs: [&[&str]; 2] = [
        &["serve", "--dev", "--listen", "127.0.0.1:0", "--database-url", &missing],
        // A command line clap refuses, before logging starts.
        &["serve", "--epoch-minutes", "abc"],
    ];
    for args in runs {
        let output = zipcoord().env("ZIPCOORD_LOG_FORMAT", "json").args(args).current_dir(dir.path()).output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<Value> = stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
            .collect();
        let last = lines.last().expect("a line saying why");
        assert_eq!((&last["level"], &last["fatal"]), (&Value::from("ERROR"), &Value::from(true)), "{last}");
        assert!(!last["message"].as_str().unwrap().starts_with("error:"), "{last}");
        assert!(!stderr.contains("Some("), "values are logged as values: {stderr}");
    }
}
