//! `GET /metrics`: the Prometheus exposition of [`crate::metrics`], with the metagraph gauges read at scrape time.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use crate::app::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
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
async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics_text())
}
