//! `GET /healthcheck` and `GET /health`: cheap liveness for operators and load balancers. Reads only memory and
//! one trivial database query; never calls S3 or the chain.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::api::{iso8601_millis, HealthResponse, MetagraphHealth};
use crate::service::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthcheck", get(health)).route("/health", get(health))
}

/// The S3 key layout miners write, shown so operators can check clients against it.
pub const FOLDER_STRUCTURE: &str = "data/hotkey={hotkey}/epoch={epochId}/zipcode={zipcode}/data_{YYYYmmdd_HHMMSS}.json";

async fn health(State(app): State<AppState>) -> Json<HealthResponse> {
    let summary = app.health().await;
    let now_unix = app.now_unix();
    let min_stake = app.config().validator_min_stake;
    let metagraph = MetagraphHealth {
        source: app.metagraph().describe(),
        netuid: app.config().netuid,
        block: summary.metagraph.as_ref().and_then(|m| m.block),
        neurons: summary.metagraph.as_ref().map_or(0, |m| m.neurons.len()),
        validators: summary.metagraph.as_ref().map_or(0, |m| m.validator_count(min_stake)),
        age_seconds: summary.metagraph.as_ref().map(|m| (now_unix - m.fetched_at_unix).max(0)),
    };
    let healthy = summary.database_ok && summary.metagraph.is_some();
    Json(HealthResponse {
        status: if healthy { "ok" } else { "degraded" }.to_string(),
        service: "zipcoord".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: iso8601_millis(app.now_ms()),
        uptime: summary.uptime_ms as f64 / 1000.0,
        database: if summary.database_ok { "connected" } else { "unavailable" }.to_string(),
        folder_structure: FOLDER_STRUCTURE.to_string(),
        current_epoch: Some(summary.current_epoch.to_string()),
        metagraph,
        s3_configured: app.s3().is_ok(),
    })
}
