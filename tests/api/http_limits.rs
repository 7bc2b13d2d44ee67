//! Connection and request limits over raw loopback connections: header size and count, request time, slow
//! request heads. Every rejection that reaches the router answers in the contract's error body.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use zipcoord::settings::{HttpSettings, Settings};

use crate::helpers::{assert_error, TestApp, TestOptions};

const STATS: &str = "/api/v1/zipcode-assignments/stats";

async fn spawn(adjust: impl FnOnce(&mut HttpSettings) + Send + 'static) -> TestApp {
    TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|settings: &mut Settings| adjust(&mut settings.http))),
        ..TestOptions::default()
    })
    .await
}

async fn get_with_headers(app: &TestApp, headers: &[(String, String)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{}{STATS}", app.base_url));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431_in_the_error_shape() {
    let app = spawn(|http| http.max_header_bytes = 8192).await;
    let (status, _) = get_with_headers(&app, &[("x-note".into(), "a".repeat(7_000))]).await;
    assert_eq!(status, 200, "within the limit");

    let (status, body) = get_with_headers(&app, &[("x-note".into(), "a".repeat(9_000))]).await;
    assert_error(status, &body, 431, "Request headers too large");
    let many: Vec<(String, String)> = (0..120).map(|n| (format!("x-h{n}"), "1".to_string())).collect();
    let (status, body) = get_with_headers(&app, &many).await;
    assert_error(status, &body, 431, "at most 100 fields");

    // Far beyond the limit, the connection layer refuses the head before any parsing: still a 431, no hang.
    let (status, _) = get_with_headers(&app, &[("x-note".into(), "a".repeat(200_000))]).await;
    assert_eq!(status, 431);
    assert_eq!(app.get(STATS).await.0, 200, "the server is unaffected");
}

/// Sends `head` and `body_part`, then waits for the answer without sending more.
async fn exchange(app: &TestApp, head: &str, body_part: &str, wait: Duration) -> (Duration, String) {
    let mut stream = TcpStream::connect(app.base_url.trim_start_matches("http://")).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body_part.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    // One response is all we wait for.
                    let text = String::from_utf8_lossy(&answer);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string))
                            .and_then(|l| l.trim().parse::<usize>().ok());
                        if length.is_some_and(|l| body.len() >= l) {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within {wait:?}");
    (started.elapsed(), String::from_utf8_lossy(&answer).to_string())
}

#[tokio::test]
async fn a_request_whose_body_never_completes_is_answered_at_the_time_limit() {
    let app = spawn(|http| http.request_timeout = Duration::from_secs(1)).await;
    let head = format!(
        "POST /api/v1/zipcode-assignments/status HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 400\r\n\r\n",
        app.base_url.trim_start_matches("http://")
    );
    let (elapsed, answer) = exchange(&app, &head, r#"{"hotkey": "5Grw"#, Duration::from_secs(10)).await;
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    let (status_line, rest) = answer.split_once("\r\n").expect("an HTTP answer");
    assert!(status_line.contains(" 503 "), "{answer}");
    let body: Value = serde_json::from_str(rest.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_error(503, &body, 503, "Request timed out");
}

#[tokio::test]
async fn a_request_head_that_trickles_in_is_cut_off() {
    let app = spawn(|http| http.header_read_timeout = Duration::from_secs(1)).await;
    let partial = format!("GET {STATS} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    let (elapsed, _) = exchange(&app, &partial, "", Duration::from_secs(10)).await;
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "closed after {elapsed:?}");
    assert_eq!(app.get(STATS).await.0, 200, "the server is unaffected");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn(|_| {}).await;
    let http = reqwest::Client::new();
    let mut seen = std::collections::HashSet::new();
    for path in [STATS, "/healthcheck", "/nowhere", "/api/v1/zipcode-assignments/current"] {
        let response = http.get(format!("{}{path}", app.base_url)).send().await.unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert!(seen.insert(id), "ids are unique");
    }
    // A caller's own id is kept, so it can be traced through proxies.
    let response = http.get(format!("{}{STATS}", app.base_url)).header("x-request-id", "trace-me-42").send().await;
    assert_eq!(response.unwrap().headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_refuses_new_connections() {
    let mut app = spawn(|_| {}).await;
    let address = app.base_url.trim_start_matches("http://").to_string();
    let body = r#"{"hotkey": "not-a-hotkey", "signature": "00", "timestamp": 1}"#;
    let head = format!(
        "POST /api/v1/zipcode-assignments/status HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let server = app.server.take().unwrap();
    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(TcpStream::connect(&address).await.is_err(), "no new connections once shutting down");
    assert!(!shutdown.is_finished(), "shutdown waits for the request in flight");

    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"statusCode\":400"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), shutdown).await.unwrap().unwrap().unwrap();
}

/// Waits until the server closes `stream` (a read returns 0 or fails); how long that took, or `None` if it stayed
/// open for `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn connections_that_send_no_request_are_closed_in_time() {
    let app = spawn(|http| http.header_read_timeout = Duration::from_secs(1)).await;
    let address = app.base_url.trim_start_matches("http://").to_string();
    let mut silent = TcpStream::connect(&address).await.unwrap();
    let mut one_byte = TcpStream::connect(&address).await.unwrap();
    one_byte.write_all(b"G").await.unwrap();
    // An HTTP/2 client's preface and an empty SETTINGS frame, then nothing.
    let mut h2 = TcpStream::connect(&address).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
    for (name, stream) in [("silent", &mut silent), ("one byte", &mut one_byte), ("h2 preface", &mut h2)] {
        let closed = closed_within(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some_and(|after| after < Duration::from_secs(3)), "{name}: {closed:?}");
    }
    assert_eq!(app.get("/livez").await.0, 200);
}

#[tokio::test]
async fn connections_beyond_the_caps_are_closed_at_once() {
    let app = spawn(|http| {
        http.max_connections = 4;
        http.max_connections_per_ip = 3;
    })
    .await;
    let address: std::net::SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let from = |ip: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((std::net::Ipv4Addr::from(ip), 0).into()).unwrap();
        socket.connect(address).await.unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(from([127, 0, 0, 1]).await);
    }
    let mut fourth = from([127, 0, 0, 1]).await;
    let closed = closed_within(&mut fourth, Duration::from_secs(5)).await;
    assert!(closed.is_some_and(|after| after < Duration::from_secs(1)), "per address: {closed:?}");
    held.push(from([127, 0, 0, 2]).await);
    let mut fifth = from([127, 0, 0, 3]).await;
    let closed = closed_within(&mut fifth, Duration::from_secs(5)).await;
    assert!(closed.is_some_and(|after| after < Duration::from_secs(1)), "in all: {closed:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.get("/livez").await.0, 200, "places free up as connections close");
    let metrics = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap().text().await.unwrap();
    for reason in ["max_connections_per_ip", "max_connections\""] {
        assert!(metrics.contains(&format!("zipcoord_connections_refused_total{{reason=\"{reason}")), "{reason}");
    }
}
