//! The client's retries against a scripted HTTP peer: transient failures (503, 429 with `Retry-After`, a
//! refused connection) are retried with backoff; contract errors come back typed, at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use zipcoord::client::{ClientError, RetryPolicy, ZipcoordClient};

use crate::helpers::TestApp;

/// What the scripted peer answers, in order: a status and an optional `Retry-After`.
type Script = Arc<Vec<(u16, Option<&'static str>)>>;

#[derive(Clone)]
struct Peer {
    script: Script,
    calls: Arc<AtomicUsize>,
    /// A real server whose stats the peer relays when the script says 200.
    real: String,
}

async fn answer(State(peer): State<Peer>) -> Response {
    let n = peer.calls.fetch_add(1, Ordering::SeqCst);
    let (status, retry_after) = peer.script[n.min(peer.script.len() - 1)];
    if status == 200 {
        let url = format!("{}/api/v1/zipcode-assignments/stats", peer.real);
        let body = reqwest::get(url).await.unwrap().text().await.unwrap();
        return ([("content-type", "application/json")], body).into_response();
    }
    let body = format!(r#"{{"statusCode":{status},"message":"scripted","error":"x","detail":"scripted"}}"#);
    let mut response: Response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert("retry-after", seconds.parse().unwrap());
    }
    response
}

/// A peer answering `script[n]` to the n-th request (the last entry ever after).
async fn scripted_peer(script: Vec<(u16, Option<&'static str>)>, real: String) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let peer = Peer { script: Arc::new(script), calls: calls.clone(), real };
    let router = Router::new().route("/api/v1/zipcode-assignments/stats", get(answer)).with_state(peer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, calls)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { attempts: 4, base_delay: Duration::from_millis(20), max_delay: Duration::from_millis(100) }
}

#[tokio::test]
async fn transient_failures_are_retried_until_an_answer() {
    let app = TestApp::spawn().await;
    let (url, calls) =
        scripted_peer(vec![(503, None), (502, None), (429, Some("1")), (200, None)], app.base_url.clone()).await;
    let started = Instant::now();
    let stats = ZipcoordClient::new(url).with_retries(fast_retries()).stats().await.unwrap();
    assert!(stats.success);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After is honoured");
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_contract_errors_are_not_retried() {
    let app = TestApp::spawn().await;
    let (url, calls) = scripted_peer(vec![(503, None)], app.base_url.clone()).await;
    let error = ZipcoordClient::new(url).with_retries(fast_retries()).stats().await.unwrap_err();
    assert!(matches!(error, ClientError::Api { status: 503, .. }), "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let (url, calls) = scripted_peer(vec![(401, None)], app.base_url.clone()).await;
    let error = ZipcoordClient::new(url).with_retries(fast_retries()).stats().await.unwrap_err();
    match error {
        ClientError::Api { status, body } => assert_eq!((status, body.message.as_str()), (401, "scripted")),
        other => panic!("{other}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Without a policy the client tries once.
    let (url, calls) = scripted_peer(vec![(503, None)], app.base_url.clone()).await;
    assert!(ZipcoordClient::new(url).stats().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let started = Instant::now();
    let error = ZipcoordClient::new(url).with_retries(fast_retries()).stats().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
