//! A validator's relay (`zipcoord validator run --relay-listen ADDR`): serves, without signatures, what the
//! validator holds (the current and recent assignments with their proofs, the epoch inputs, and the stats as
//! last seen) in the API's own JSON shapes and paths, so a miner can point its API base URL at a relay while
//! the coordinator is down. A relay can withhold but not forge: miners recompute what it serves.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::api::{CurrentEpochSummary, ErrorBody, NextEpoch, StatsResponse};
use crate::client::epochs::Epochs;
use crate::domain::epoch::inputs::inputs_hash_hex;
use crate::domain::epoch::EpochId;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody::new(status.as_u16(), status.canonical_reason().unwrap_or("Error"), message);
    (status, Json(body)).into_response()
}

fn bad_epoch_id(text: &str) -> Response {
    error(StatusCode::BAD_REQUEST, format!("Invalid epoch id '{}'", text.escape_default()))
}

/// The relay's routes over `epochs` (the validator's).
pub fn router(epochs: Arc<Epochs>) -> Router {
    Router::new()
        .route("/api/v1/zipcode-assignments/stats", get(stats))
        .route("/api/v1/zipcode-assignments/current", get(current))
        .route("/api/v1/zipcode-assignments/epoch/{id}", get(epoch))
        .route("/api/v1/zipcode-assignments/epoch/{id}/inputs", get(inputs))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "A relay serves only the assignment endpoints") })
        .with_state(epochs)
}

async fn stats(State(epochs): State<Arc<Epochs>>) -> Response {
    match stats_now(&epochs) {
        Some(stats) => Json(stats).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "This relay has not reached the coordinator yet"),
    }
}

async fn current(State(epochs): State<Arc<Epochs>>) -> Response {
    let Some(epoch) = epochs.clock().map(|clock| clock.epoch_at(epochs.now_unix())) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "This relay has not reached the coordinator yet");
    };
    match epochs.kept(epoch) {
        Some(kept) => Json(kept.assignment).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, format!("This relay holds no assignment for epoch {epoch} yet")),
    }
}

async fn epoch(State(epochs): State<Arc<Epochs>>, Path(id): Path<String>) -> Response {
    let Ok(epoch) = id.parse::<EpochId>() else { return bad_epoch_id(&id) };
    let now = epochs.now_unix();
    let started = epochs.clock().filter(|clock| clock.has_started(epoch, now));
    match started.zip(epochs.kept(epoch)) {
        Some((clock, kept)) => {
            let mut assignment = kept.assignment;
            let ended = clock.end(epoch) <= now;
            assignment.status = Some(if ended { "COMPLETED" } else { "ACTIVE" }.to_string());
            Json(assignment).into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("Epoch {epoch} not found")),
    }
}

async fn inputs(State(epochs): State<Arc<Epochs>>, Path(id): Path<String>) -> Response {
    let Ok(epoch) = id.parse::<EpochId>() else { return bad_epoch_id(&id) };
    match epochs.kept_inputs(epoch) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("Inputs of epoch {epoch} not published")),
    }
}

/// The stats a relay serves: the last the API gave, with the time and the current epoch as this client holds
/// them now. `None` before the API was ever reached.
fn stats_now(epochs: &Epochs) -> Option<StatsResponse> {
    let mut stats: StatsResponse = epochs.state().read("stats.json", "stats")?;
    let clock = epochs.clock()?;
    let now = epochs.now_unix();
    let current = clock.epoch_at(now);
    let next = clock.next(current);
    let end = clock.end(current);
    stats.current_time = now;
    stats.system_status = "relay".to_string();
    stats.epistula = None;
    stats.epoch_status.timing.time_until_epoch_end = end - now;
    stats.epoch_status.timing.time_until_next_epoch = next.start_unix() - now;
    stats.epoch_status.current_epoch = epochs.kept(current).map(|kept| {
        let a = kept.assignment;
        CurrentEpochSummary {
            id: a.epoch_id,
            status: "ACTIVE".to_string(),
            start_time: a.epoch_start,
            end_time: a.epoch_end,
            nonce: a.nonce,
            zipcode_count: a.zipcodes.len(),
            target_listings: a.target_listings,
            actual_expected: a.metadata.total_expected_listings,
            time_until_epoch_end: end - now,
        }
    });
    let next_inputs = epochs.kept_inputs(next);
    stats.epoch_status.next_epoch = NextEpoch {
        start_time: crate::api::iso8601_millis(next.start_unix() * 1000),
        id: Some(next.to_string()),
        beacon_round: None,
        inputs_hash: next_inputs.map(|bytes| inputs_hash_hex(&bytes)),
    };
    Some(stats)
}

/// Serves the relay on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    epochs: Arc<Epochs>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(epochs)).with_graceful_shutdown(shutdown).await
}
