//! The HTTP edge: one router per resource, request and rate limits, and the mapping of every failure (unknown route,
//! wrong method, panic, timeout) to the contract's error body.

mod assignments;
mod auth;
mod error;
mod extract;
mod health;
pub mod limits;
mod s3_access;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
use limits::RateLimits;

use crate::service::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Bounds on what one request may cost.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits { max_body_bytes: 64 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// The whole API.
pub fn router(app: AppState, http_limits: HttpLimits, rate_limits: Arc<RateLimits>) -> Router {
    let timeout = http_limits.request_timeout;
    Router::new()
        .merge(assignments::router())
        .merge(health::router())
        .merge(s3_access::router())
        .fallback(|| async { ApiError::not_found("Route not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed for this route")
        })
        .layer(DefaultBodyLimit::max(http_limits.max_body_bytes))
        .layer(Extension(rate_limits.clone()))
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
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(app)
}

async fn enforce_timeout(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable("Request timed out").into_response(),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
