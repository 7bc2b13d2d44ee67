//! A validator's relay facing a hostile neighbour: the real `zipcoord validator run --relay-listen` under a low
//! open-file limit, flooded with connections that never send a request and with requests from one address.

use std::io::Read;
use std::net::{IpAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::process::{zipcoord_with_open_files, DevServer};

const STATS: &str = "/api/v1/zipcode-assignments/stats";

/// A free port on loopback (bound, then released for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, last_octet]))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Every file in `dir` and below, relative.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path).into_iter().map(|f| format!("{}/{f}", entry.file_name().to_string_lossy())));
        } else {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_under_a_low_open_file_limit_neither_stop_the_relay_nor_cost_the_validator_its_state() {
    let server = DevServer::spawn_on_sqlite(&[]);
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let relay = format!("http://127.0.0.1:{port}");
    // The open-file limit of the probe that found it: 256, soft and hard, so the validator cannot raise it.
    let mut validator = zipcoord_with_open_files(256)
        .args(["validator", "run", "--url", &server.base, "--key-uri", "//Alice", "--metagraph", "dev"])
        .args(["--synthetic", "--no-upload", "--beacon", "dev", "--poll-seconds", "1"])
        .args(["--relay-listen", &format!("127.0.0.1:{port}"), "--state-dir"])
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The relay serves once the validator has reached the API and judged (or skipped) the epoch before.
    let reader = client_from(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = reader.get(format!("{relay}{STATS}")).send().await.is_ok_and(|r| r.status() == 200);
        if ready && state.path().join("judged.json").exists() {
            break;
        }
        assert!(Instant::now() < deadline, "the relay never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = files(state.path());

    // 300 connections from one address that never send a byte: more than the open-file limit allows.
    let silent: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    tokio::time::sleep(Duration::from_secs(3)).await; // several of the validator's polls
    let stats = reader.get(format!("{relay}{STATS}")).send().await.expect("the relay answers another address");
    assert_eq!(stats.status(), 200);
    let body: serde_json::Value = stats.json().await.unwrap();
    assert_eq!(body["systemStatus"], "relay");

    // Those beyond the per-address cap were closed at once; the others when the header-read timeout passed.
    let started = Instant::now();
    for mut connection in [silent.first().unwrap(), silent.last().unwrap()] {
        connection.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let read = connection.read(&mut [0u8; 16]);
        assert!(matches!(read, Ok(0)) || read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset));
    }
    assert!(started.elapsed() < Duration::from_secs(15), "closed within the header-read timeout");
    drop(silent);

    // A flood of requests from one address is answered 429 in the contract's error shape; others are served.
    let flooder = client_from(3);
    let mut limited = None;
    for _ in 0..1_000 {
        let response = flooder.get(format!("{relay}{STATS}")).send().await.unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    let limited = limited.expect("one address is rate limited");
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let error: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(
        (error["statusCode"].as_u64(), error["error"].as_str()),
        (Some(429), Some("Too Many Requests")),
        "{error}"
    );
    assert!(error["message"].as_str().unwrap().starts_with("Too many requests from this address"), "{error}");
    assert_eq!(reader.get(format!("{relay}{STATS}")).send().await.unwrap().status(), 200);

    // Nothing the validator kept was set aside or lost; it never ran out of descriptors.
    assert_eq!(files(state.path()), kept);
    let _ = std::process::Command::new("kill").args(["-TERM", &validator.id().to_string()]).status();
    let status = crate::process::wait_with_timeout(&mut validator, Duration::from_secs(20));
    let mut log = String::new();
    validator.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(!log.contains("Too many open files") && !log.contains("set aside"), "{log}");
    assert!(status.success(), "{log}");
    server.stop();
}
