//! A drand-style relay of the dev beacon for a local network: `GET /{chain hash}/public/{round}` answers the
//! round's pulse once its time has come (404 before, as drand's relays do), so the server and the clients get
//! their pulses over HTTP from one place, as they would from drand's relays on a real subnet.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use crate::domain::epoch::beacon::DevBeacon;

async fn pulse(State(beacon): State<std::sync::Arc<DevBeacon>>, Path((chain, round)): Path<(String, u64)>) -> Response {
    if chain != hex::encode(beacon.chain().hash) {
        return (StatusCode::NOT_FOUND, "unknown chain").into_response();
    }
    if beacon.chain().round_time(round) > chrono::Utc::now().timestamp() {
        return (StatusCode::NOT_FOUND, "round not emitted yet").into_response();
    }
    let pulse = beacon.pulse(round);
    Json(serde_json::json!({"round": round, "signature": pulse.signature_hex()})).into_response()
}

/// Starts the relay on a free loopback port until `cancel`; returns its base URL.
pub async fn start(cancel: CancellationToken) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router =
        Router::new().route("/{chain}/public/{round}", get(pulse)).with_state(std::sync::Arc::new(DevBeacon::new()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(cancel.cancelled_owned()).await;
    });
    Ok(url)
}
