//! `GET /metrics`: the Prometheus exposition of [`crate::metrics`], with the metagraph gauges read at scrape time.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::metrics::MetagraphGauges;
use crate::service::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics: requests by route and status, latency histograms, auth failures by reason, rate-limit
/// rejections, epoch creations and selection time, status reports, S3 grants, and the metagraph's age, block,
/// size and freshness.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)),
)]
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let snapshot = app.metagraph().snapshot();
    let gauges = MetagraphGauges {
        age_seconds: snapshot.as_ref().map(|s| (app.now_unix() - s.fetched_at_unix).max(0)),
        block: snapshot.as_ref().and_then(|s| s.block),
        neurons: snapshot.as_ref().map_or(0, |s| s.neurons.len()),
        fresh: app.fresh_metagraph().is_ok(),
    };
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render(gauges))
}
