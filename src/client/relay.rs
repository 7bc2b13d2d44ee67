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

use super::epochs::Epochs;
use crate::api::ErrorBody;
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
    match epochs.relay_stats() {
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
    let started = epochs.clock().is_some_and(|clock| clock.has_started(epoch, epochs.now_unix()));
    match epochs.kept(epoch).filter(|_| started) {
        Some(kept) => {
            let mut assignment = kept.assignment;
            let ended = epochs.clock().is_some_and(|clock| clock.end(epoch) <= epochs.now_unix());
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

/// Serves the relay on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    epochs: Arc<Epochs>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(epochs)).with_graceful_shutdown(shutdown).await
}
