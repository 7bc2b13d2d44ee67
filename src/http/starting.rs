//! What the listener answers before the service exists: a server whose database does not answer at start-up
//! keeps trying (`boot`), and meanwhile says so. `/livez` answers (the process is up, a restart would not help),
//! `/readyz` 503 and `/healthcheck` `degraded`, both with a `startup` section naming since when, how many
//! attempts, why and when next; `/metrics` serves what there is; every other path a 503 in the contract's error
//! body with `Retry-After`. Once the service is up, [`Front`] hands every request to its router instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use parking_lot::Mutex;
use tower::ServiceExt;

use super::ApiError;
use crate::api::{HealthResponse, LivenessResponse, MetagraphHealth, ReadinessResponse, StartupWait};
use crate::app::Clock;
use crate::domain::access::layout::FOLDER_STRUCTURE;
use crate::domain::instant::iso8601_millis;

/// The listener's router: the starting answers until [`Front::serve`] is given the service's router.
#[derive(Clone)]
pub struct Front {
    service: Arc<OnceLock<Router>>,
}

impl Front {
    /// The router to listen with, answering from `wait` until the service's router is in place.
    pub fn new(wait: Arc<Starting>) -> (Front, Router) {
        let front = Front { service: Arc::default() };
        let service = front.service.clone();
        let starting = starting_router(wait);
        let router = Router::new().fallback(move |request: Request| {
            let router = service.get().cloned().unwrap_or_else(|| starting.clone());
            async move { router.oneshot(request).await.unwrap_or_else(|never| match never {}) }
        });
        (front, router)
    }

    /// From now on every request goes to `router`.
    pub fn serve(&self, router: Router) {
        let _ = self.service.set(router);
    }
}

/// What a starting server knows of itself: since when it starts, whether its database answered yet (and if not,
/// the attempts and the latest reason), and the few settings its health answer names.
pub struct Starting {
    clock: Arc<dyn Clock>,
    started_ms: i64,
    netuid: u16,
    metagraph_max_age_seconds: i64,
    s3_configured: bool,
    attempts: Mutex<Option<Attempts>>,
    database_answered: AtomicBool,
}

#[derive(Clone)]
struct Attempts {
    count: u32,
    reason: String,
    next_attempt_ms: i64,
}

impl Starting {
    pub fn new(clock: Arc<dyn Clock>, netuid: u16, metagraph_max_age_seconds: i64, s3_configured: bool) -> Starting {
        let started_ms = clock.now_ms();
        Starting {
            clock,
            started_ms,
            netuid,
            metagraph_max_age_seconds,
            s3_configured,
            attempts: Mutex::new(None),
            database_answered: AtomicBool::new(false),
        }
    }

    /// Another attempt failed with `reason` (words without secrets); the next is at `next_attempt_ms`.
    pub fn failed(&self, reason: String, next_attempt_ms: i64) {
        let mut attempts = self.attempts.lock();
        let count = attempts.as_ref().map_or(0, |a| a.count) + 1;
        *attempts = Some(Attempts { count, reason, next_attempt_ms });
    }

    /// The database answered and is migrated; the service is being prepared (the metagraph, the universe).
    pub fn database_answered(&self) {
        self.database_answered.store(true, Ordering::Relaxed);
    }

    fn database(&self) -> String {
        if self.database_answered.load(Ordering::Relaxed) { "connected" } else { "unavailable" }.to_string()
    }

    fn startup(&self) -> StartupWait {
        let attempts = self.attempts.lock().clone();
        let answered = self.database_answered.load(Ordering::Relaxed);
        StartupWait {
            state: if answered { "starting the service" } else { "waiting for the database" }.to_string(),
            since: iso8601_millis(self.started_ms),
            attempts: attempts.as_ref().map_or(0, |a| a.count),
            reason: match (&attempts, answered) {
                (_, true) => "the database answered; loading the metagraph and the zipcode universe".to_string(),
                (Some(attempts), false) => attempts.reason.clone(),
                (None, false) => "connecting".to_string(),
            },
            next_attempt_at: iso8601_millis(attempts.as_ref().map_or(self.started_ms, |a| a.next_attempt_ms)),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn retry_after_seconds(&self) -> u64 {
        let now_ms = self.clock.now_ms();
        let next = self.attempts.lock().as_ref().map_or(now_ms, |a| a.next_attempt_ms);
        u64::try_from((next - now_ms + 999) / 1000).unwrap_or(0).max(1)
    }
}

fn starting_router(wait: Arc<Starting>) -> Router {
    let health = {
        let wait = wait.clone();
        move || async move { Json(health(&wait)) }
    };
    let ready = {
        let wait = wait.clone();
        move || async move {
            let body = ReadinessResponse {
                ready: false,
                database: wait.database(),
                metagraph: "not loaded".to_string(),
                database_writes: None,
                epoch_creation: None,
                startup: Some(wait.startup()),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    };
    Router::new()
        .route("/livez", get(|| async { Json(LivenessResponse { status: "alive".to_string() }) }))
        .route("/readyz", get(ready))
        .route("/healthcheck", get(health.clone()))
        .route("/health", get(health))
        .route("/metrics", get(|| async { crate::metrics::handle().render() }))
        .fallback(move || async move { not_yet(&wait) })
}

fn health(wait: &Starting) -> HealthResponse {
    let now_ms = wait.clock.now_ms();
    HealthResponse {
        status: "degraded".to_string(),
        service: "zipcoord".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: iso8601_millis(now_ms),
        uptime: (now_ms - wait.started_ms).max(0) as f64 / 1000.0,
        database: wait.database(),
        folder_structure: FOLDER_STRUCTURE.to_string(),
        current_epoch: None,
        metagraph: MetagraphHealth {
            source: "not loaded: the database comes first".to_string(),
            netuid: wait.netuid,
            block: None,
            neurons: 0,
            validators: 0,
            age_seconds: None,
            max_age_seconds: wait.metagraph_max_age_seconds,
            fresh: false,
            last_error: None,
            last_error_at: None,
        },
        s3_configured: wait.s3_configured,
        beacon: None,
        database_writes: None,
        epoch_creation: None,
        startup: Some(wait.startup()),
    }
}

fn not_yet(wait: &Starting) -> Response {
    let startup = wait.startup();
    let mut error = ApiError::unavailable(format!(
        "The service is starting ({} since {}): {}",
        startup.state, startup.since, startup.reason
    ));
    error.retry_after_seconds = Some(wait.retry_after_seconds());
    error.into_response()
}
