//! The HTTP edge: one router per resource, request and rate limits, and the mapping of every failure (unknown route,
//! wrong method, panic, timeout) to the contract's error body. Handlers parse (signed requests through the
//! [`signed::Signed`] extractor and the endpoint table), call one use case of [`crate::app::App`], and render.

mod assignments;
mod dashboard;
mod desirability;
mod encoded;
mod error;
mod extract;
mod health;
mod limits;
mod metrics;
pub mod openapi;
mod s3_access;
mod signed;
mod starting;
mod verification;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use limits::RateLimits;
pub use starting::{Front, Starting};

use crate::app::App;
use crate::settings::HttpSettings;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// At most this many header fields per request.
pub const MAX_HEADER_COUNT: usize = 100;

/// The whole API.
pub fn router(app: Arc<App>, http_limits: HttpSettings, rate_limits: Arc<RateLimits>) -> Router {
    let timeout = http_limits.request_timeout;
    let max_header_bytes = http_limits.max_header_bytes;
    let (api, spec) = openapi::documented_routes(app.settings().epistula.service_hotkey.as_ref());
    let spec_json = Arc::new(spec.to_json().expect("the spec serializes"));
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", spec))
        .route("/docs-json", get(move || serve_json(spec_json.clone())))
        .fallback(|| async { ApiError::not_found("Route not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed for this route")
        })
        .layer(DefaultBodyLimit::max(http_limits.max_body_bytes))
        .layer(Extension(rate_limits.clone()))
        .layer(Extension(Arc::new(assignments::AssignmentBodies::default())))
        .layer(Extension(Arc::new(encoded::EncodedAnswers::default())))
        .layer(middleware::from_fn_with_state(rate_limits, limits::limit_per_ip))
        .layer(middleware::from_fn(move |req: Request, next: Next| enforce_timeout(req, next, timeout)))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("request handler panicked");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings carry signatures.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| limit_headers(req, next, max_header_bytes)))
        .layer(middleware::from_fn(record_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(app)
}

/// Refuses requests whose header section is too large, before any other work.
async fn limit_headers(req: Request, next: Next, max_bytes: usize) -> Response {
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if bytes > max_bytes || headers.len() > MAX_HEADER_COUNT {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("Request headers too large: at most {MAX_HEADER_COUNT} fields and {max_bytes} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Counts every answer by route template (never the raw path: ids and junk would explode the label set).
async fn record_metrics(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let response = next.run(req).await;
    crate::metrics::http_request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response
}

async fn serve_json(json: Arc<String>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], json.as_str().to_owned()).into_response()
}

async fn enforce_timeout(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable("Request timed out").into_response(),
    }
}
