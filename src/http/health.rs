//! Health endpoints. `GET /healthcheck` and `GET /health` (the contract's): a cheap overview for operators.
//! `GET /livez`: the process answers. `GET /readyz`: this instance can do its job (the database answers and the
//! metagraph is fresh), 503 otherwise, for load balancers. None of them calls S3 or the chain.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{iso8601_millis, HealthResponse, LivenessResponse, MetagraphHealth, ReadinessResponse};
use crate::service::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthcheck))
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// The S3 key layout miners write, shown so operators can check clients against it.
pub const FOLDER_STRUCTURE: &str = "data/hotkey={hotkey}/epoch={epochId}/zipcode={zipcode}/data_{YYYYmmdd_HHMMSS}.json";

/// Health overview: database, metagraph (source, block, age, freshness, last error), current epoch, S3.
///
/// Always 200; `status` is `degraded` when the database does not answer or the metagraph is not fresh.
#[utoipa::path(get, path = "/healthcheck", tag = "health", responses((status = 200, description = "Health", body = HealthResponse)))]
async fn healthcheck(state: State<AppState>) -> Json<HealthResponse> {
    health_report(state).await
}

/// The same as `/healthcheck`.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "Health", body = HealthResponse)))]
async fn health(state: State<AppState>) -> Json<HealthResponse> {
    health_report(state).await
}

async fn health_report(State(app): State<AppState>) -> Json<HealthResponse> {
    let summary = app.health().await;
    let now_unix = app.now_unix();
    let min_stake = app.config().validator_min_stake;
    let snapshot = summary.metagraph.as_ref();
    let metagraph = MetagraphHealth {
        source: app.metagraph().describe(),
        netuid: app.config().netuid,
        block: snapshot.and_then(|m| m.block),
        neurons: snapshot.map_or(0, |m| m.neurons.len()),
        validators: snapshot.map_or(0, |m| m.validator_count(min_stake)),
        age_seconds: snapshot.map(|m| (now_unix - m.fetched_at_unix).max(0)),
        max_age_seconds: app.config().metagraph_max_age_seconds,
        fresh: summary.metagraph_fresh,
        last_error: summary.metagraph_failure.as_ref().map(|f| f.reason.clone()),
        last_error_at: summary.metagraph_failure.as_ref().map(|f| iso8601_millis(f.at_unix * 1000)),
    };
    let healthy = summary.database_ok && summary.metagraph_fresh;
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

/// Liveness: 200 while the process serves requests.
#[utoipa::path(get, path = "/livez", tag = "health", responses((status = 200, description = "Alive", body = LivenessResponse)))]
async fn live() -> Json<LivenessResponse> {
    Json(LivenessResponse { status: "alive".to_string() })
}

/// Readiness: 200 when the database answers and the metagraph snapshot is fresh, else 503 (for load balancers).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = ReadinessResponse),
        (status = 503, description = "Not ready, and why", body = ReadinessResponse),
    ),
)]
async fn ready(State(app): State<AppState>) -> (StatusCode, Json<ReadinessResponse>) {
    let summary = app.health().await;
    let metagraph = match (&summary.metagraph, summary.metagraph_fresh) {
        (_, true) => "fresh".to_string(),
        (None, false) => "not loaded".to_string(),
        (Some(_), false) => "stale".to_string(),
    };
    let ready = summary.database_ok && summary.metagraph_fresh;
    let body = ReadinessResponse {
        ready,
        database: if summary.database_ok { "connected" } else { "unavailable" }.to_string(),
        metagraph,
    };
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
