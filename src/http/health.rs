//! Health endpoints. `GET /healthcheck` and `GET /health` (the contract's): a cheap overview for operators.
//! `GET /livez`: the process answers. `GET /readyz`: this instance can do its job (the database answers and the
//! metagraph is fresh), 503 otherwise, for load balancers. None of them calls S3 or the chain.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use crate::api::{
    iso8601_millis, BeaconHealth, BeaconWait, DatabaseWrites, EpochCreation, HealthResponse, LivenessResponse,
    MetagraphHealth, ReadinessResponse,
};
use crate::app::App;
use crate::domain::access::layout::FOLDER_STRUCTURE;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(healthcheck))
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// Health overview: database, metagraph (source, block, age, freshness, last error), current epoch, S3.
///
/// Always 200; `status` is `degraded` when the database does not answer or refuses writes (`database_writes` says
/// since when and why), the metagraph is not fresh, or the latest epoch could not be created (`epoch_creation`).
#[utoipa::path(get, path = "/healthcheck", tag = "health", responses((status = 200, description = "Health", body = HealthResponse)))]
async fn healthcheck(state: State<Arc<App>>) -> Json<HealthResponse> {
    health_report(state).await
}

/// The same as `/healthcheck`.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "Health", body = HealthResponse)))]
async fn health(state: State<Arc<App>>) -> Json<HealthResponse> {
    health_report(state).await
}

async fn health_report(State(app): State<Arc<App>>) -> Json<HealthResponse> {
    let summary = app.health().await;
    let metagraph = metagraph_health(&summary.metagraph);
    Json(HealthResponse {
        status: if summary.ok() { "ok" } else { "degraded" }.to_string(),
        service: "zipcoord".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: iso8601_millis(summary.now_ms),
        uptime: summary.uptime_ms as f64 / 1000.0,
        database: database_state(summary.database_ok),
        folder_structure: FOLDER_STRUCTURE.to_string(),
        current_epoch: Some(summary.current_epoch.to_string()),
        metagraph,
        s3_configured: summary.s3_configured,
        beacon: Some(beacon_health(&summary.beacon)),
        database_writes: Some(database_writes(summary.writes_failing.as_ref())),
        epoch_creation: Some(epoch_creation(summary.epoch_creation.as_ref())),
        startup: None,
    })
}

pub(super) fn epoch_creation(trouble: Option<&crate::app::EpochCreationTrouble>) -> EpochCreation {
    EpochCreation {
        state: if trouble.is_some() { "failing" } else { "ok" }.to_string(),
        epoch: trouble.map(|t| t.epoch.to_string()),
        failing_since: trouble.map(|t| iso8601_millis(t.since_ms)),
        attempts: trouble.map(|t| t.attempts),
        reason: trouble.map(|t| t.reason.clone()),
        next_attempt_at: trouble.map(|t| iso8601_millis(t.next_attempt_ms)),
    }
}

pub(super) fn database_writes(failing: Option<&crate::storage::WritesFailing>) -> DatabaseWrites {
    DatabaseWrites {
        state: if failing.is_some() { "failing" } else { "ok" }.to_string(),
        failing_since: failing.map(|f| iso8601_millis(f.since_ms)),
        reason: failing.map(|f| f.reason.clone()),
    }
}

pub(super) fn metagraph_health(m: &crate::app::MetagraphHealth) -> MetagraphHealth {
    MetagraphHealth {
        source: m.source.clone(),
        netuid: m.netuid,
        block: m.block,
        neurons: m.neurons,
        validators: m.validators,
        age_seconds: m.age_seconds,
        max_age_seconds: m.max_age_seconds,
        fresh: m.fresh,
        last_error: m.last_failure.as_ref().map(|f| f.reason.clone()),
        last_error_at: m.last_failure.as_ref().map(|f| iso8601_millis(f.at_unix * 1000)),
    }
}

pub(super) fn beacon_health(beacon: &crate::app::BeaconHealth) -> BeaconHealth {
    let state = if beacon.current_fell_back {
        "fallback"
    } else if beacon.status.last_error.is_some() {
        "waiting"
    } else if beacon.status.last_round.is_some() {
        "ok"
    } else {
        "idle"
    };
    BeaconHealth {
        source: beacon.source.clone(),
        chain: beacon.chain.to_string(),
        state: state.to_string(),
        last_round: beacon.status.last_round,
        last_error: beacon.status.last_error.clone(),
        waiting: beacon.status.waiting.as_ref().map(|wait| BeaconWait {
            epoch: wait.epoch.to_string(),
            round: wait.round,
            since: iso8601_millis(wait.since_ms),
            fallback_at: wait.fallback_at_ms.map(iso8601_millis),
            fallback: match wait.fallback_at_ms {
                Some(at_ms) => {
                    format!("seeded from the server secret at {} unless the pulse arrives first", iso8601_millis(at_ms))
                }
                None => "started while the server was down: it waits for its pulse however long that takes, as \
                         the clients computing it do"
                    .to_string(),
            },
        }),
    }
}

fn database_state(ok: bool) -> String {
    if ok { "connected" } else { "unavailable" }.to_string()
}

/// Liveness: 200 while the process serves requests.
#[utoipa::path(get, path = "/livez", tag = "health", responses((status = 200, description = "Alive", body = LivenessResponse)))]
async fn live() -> Json<LivenessResponse> {
    Json(LivenessResponse { status: "alive".to_string() })
}

/// Readiness: 200 when the database answers and takes writes and the metagraph snapshot is fresh, else 503 (for
/// load balancers).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = ReadinessResponse),
        (status = 503, description = "Not ready, and why", body = ReadinessResponse),
    ),
)]
async fn ready(State(app): State<Arc<App>>) -> (StatusCode, Json<ReadinessResponse>) {
    let summary = app.health().await;
    let metagraph = match (summary.metagraph.loaded, summary.metagraph.fresh) {
        (_, true) => "fresh",
        (false, false) => "not loaded",
        (true, false) => "stale",
    };
    let ready = summary.ready();
    let body = ReadinessResponse {
        ready,
        database: database_state(summary.database_ok),
        metagraph: metagraph.to_string(),
        database_writes: Some(database_writes(summary.writes_failing.as_ref())),
        epoch_creation: Some(epoch_creation(summary.epoch_creation.as_ref())),
        startup: None,
    };
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
