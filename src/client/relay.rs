//! A validator's relay (`zipcoord validator run --relay-listen ADDR`): serves, without signatures, what the
//! validator holds (the current and recent assignments with their proofs, the epoch inputs, and the stats as
//! last seen) in the API's own JSON shapes and paths, for miners to fall back on while the coordinator is
//! down. A relay can withhold but not forge: miners recompute what it serves. Every answer carries
//! [`RELAY_HEADER`], so a client that takes it for the API refuses it rather than trusting it or sending it
//! signatures. In `groups` mode `/current` answers the asking miner's own batch (named by `?hotkey=`, or the
//! `Epistula-Signed-By` header; a signature, if any, is ignored: nothing it serves is secret).
//!
//! It faces the open internet unauthenticated, so it is held like the API: a time limit on each request head,
//! caps on connections in all and per client address (kept below the open-file limit, raised at start) and a
//! per-address request rate.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::api::RELAY_HEADER;
use crate::api::{AssignmentResponse, AssignmentView, CurrentEpochSummary, ErrorBody, NextEpoch, StatsResponse};
use crate::client::epochs::Epochs;
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::inputs::inputs_hash_hex;
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::hotkey::Hotkey;
use crate::net::{seconds_rounded_up, serve_connections, ConnectionGate, ConnectionLimits};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody::new(status.as_u16(), status.canonical_reason().unwrap_or("Error"), message);
    (status, Json(body)).into_response()
}

fn bad_epoch_id(text: &str) -> Response {
    error(StatusCode::BAD_REQUEST, format!("Invalid epoch id '{}'", text.escape_default()))
}

/// What a relay's clients may cost it. The defaults carry a subnet's miners polling through an outage (a few
/// requests per miner and minute, many miners behind one address) and stop floods.
#[derive(Debug, Clone, Copy)]
pub struct RelayLimits {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub requests_per_address_per_minute: u32,
    /// Time from accepting a connection (or the previous response) to a complete request head.
    pub header_read_timeout: Duration,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            max_connections: 1_024,
            max_connections_per_address: 32,
            requests_per_address_per_minute: 240,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

impl RelayLimits {
    /// For a whole subnet on one machine, where every client shares one address: no per-address limits.
    pub fn one_machine() -> Self {
        let defaults = RelayLimits::default();
        RelayLimits {
            max_connections_per_address: defaults.max_connections,
            requests_per_address_per_minute: u32::MAX,
            ..defaults
        }
    }
}

/// Addresses the per-address limiter remembers before it forgets the idle ones.
const REMEMBERED_ADDRESSES: usize = 10_000;

type AddressLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// The relay's routes over `epochs` (the validator's), each request counted against its address's rate.
pub fn router(epochs: Arc<Epochs>, limits: RelayLimits) -> Router {
    let per_minute = NonZeroU32::new(limits.requests_per_address_per_minute.max(1)).expect("at least 1");
    let limiter: Arc<AddressLimiter> = Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)));
    let validator = HeaderValue::from_str(epochs.state().owner()).unwrap_or(HeaderValue::from_static("unnamed"));
    Router::new()
        .route("/api/v1/zipcode-assignments/stats", get(stats))
        .route("/api/v1/zipcode-assignments/current", get(current))
        .route("/api/v1/zipcode-assignments/epoch/{id}", get(epoch))
        .route("/api/v1/zipcode-assignments/epoch/{id}/inputs", get(inputs))
        .route("/metrics", get(|| async { crate::metrics::render_recorded() }))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "A relay serves only the assignment endpoints") })
        .with_state(Arc::new(Relay { epochs, inputs: Default::default(), planned: Default::default() }))
        .layer(middleware::from_fn_with_state(limiter, limit_per_address))
        .layer(middleware::from_fn_with_state(validator, mark_as_relay))
}

/// Marks every answer, refusals included, as a relay's.
async fn mark_as_relay(State(validator): State<HeaderValue>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(HeaderName::from_static(RELAY_HEADER), validator);
    response
}

async fn limit_per_address(State(limiter): State<Arc<AddressLimiter>>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let address = crate::net::client_address(peer.unwrap_or(IpAddr::from([0, 0, 0, 0])));
    if limiter.len() > REMEMBERED_ADDRESSES {
        limiter.retain_recent();
    }
    match limiter.check_key(&address) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = seconds_rounded_up(wait).max(1);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many requests from this address; retry in {seconds} s"),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

/// What the relay serves from: the validator's epochs, and the published inputs it has already read, checked
/// and hashed (a megabyte each: parsed once per epoch, not per request).
struct Relay {
    epochs: Arc<Epochs>,
    /// The newest few epochs' inputs.
    inputs: PerEpoch<RelayedInputs>,
    /// The newest few `groups` epochs as planned again from their inputs and verified pulse, to answer each
    /// miner its own batch.
    planned: PerEpoch<Arc<EpochAssignment>>,
}

#[derive(Clone)]
struct RelayedInputs {
    bytes: Bytes,
    hash: Arc<str>,
}

/// Epochs whose inputs (and plans) the relay keeps in memory (the current, the next, and a couple before).
const INPUTS_HELD: usize = 4;

/// A value for each of the newest [`INPUTS_HELD`] epochs, read once: an async lock, so concurrent misses wait
/// for one read (single flight); a failed read is not kept.
struct PerEpoch<V> {
    held: tokio::sync::Mutex<BTreeMap<EpochId, V>>,
}

impl<V> Default for PerEpoch<V> {
    fn default() -> Self {
        PerEpoch { held: Default::default() }
    }
}

impl<V: Clone> PerEpoch<V> {
    async fn get_or_read<E>(&self, epoch: EpochId, read: impl Future<Output = Result<V, E>>) -> Result<V, E> {
        let mut held = self.held.lock().await;
        if let Some(value) = held.get(&epoch) {
            return Ok(value.clone());
        }
        let value = read.await?;
        held.insert(epoch, value.clone());
        while held.len() > INPUTS_HELD {
            held.pop_first();
        }
        Ok(value)
    }
}

impl Relay {
    /// `epoch`'s published inputs as the validator keeps them, read off the runtime once.
    async fn inputs(&self, epoch: EpochId) -> Option<RelayedInputs> {
        let read = self.blocking(move |epochs| {
            let bytes = epochs.kept_inputs(epoch)?;
            let hash = inputs_hash_hex(&bytes).into();
            Some(RelayedInputs { bytes: Bytes::from(bytes), hash })
        });
        self.inputs.get_or_read(epoch, async { read.await.flatten().ok_or(()) }).await.ok()
    }

    /// `epoch`'s held assignment planned again (a selection's worth of CPU: off the runtime, once per epoch).
    async fn planned(&self, epoch: EpochId) -> Result<Arc<EpochAssignment>, String> {
        let plan = self.blocking(move |epochs| epochs.replan_kept(epoch).map(Arc::new));
        let read = async { plan.await.unwrap_or_else(|| Err("the planning task failed".to_string())) };
        self.planned.get_or_read(epoch, read).await
    }

    /// Runs `read` (file reads and JSON parsing of the kept state) off the runtime.
    async fn blocking<T: Send + 'static>(&self, read: impl FnOnce(&Epochs) -> T + Send + 'static) -> Option<T> {
        let epochs = self.epochs.clone();
        tokio::task::spawn_blocking(move || read(&epochs)).await.ok()
    }
}

fn not_reached() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "This relay has not reached the coordinator yet")
}

async fn stats(State(relay): State<Arc<Relay>>) -> Response {
    let Some(Some(clock)) = relay.blocking(|epochs| epochs.clock()).await else { return not_reached() };
    let next = clock.next(clock.epoch_at(relay.epochs.now_unix()));
    let next_inputs_hash = relay.inputs(next).await.map(|inputs| inputs.hash.to_string());
    match relay.blocking(move |epochs| stats_now(epochs, clock, next_inputs_hash)).await.flatten() {
        Some(stats) => Json(stats).into_response(),
        None => not_reached(),
    }
}

/// The hotkey a request names: `?hotkey=` (as the legacy signed query carries it) or `Epistula-Signed-By`.
#[derive(serde::Deserialize)]
struct AskingMiner {
    hotkey: Option<String>,
}

async fn current(State(relay): State<Arc<Relay>>, Query(asking): Query<AskingMiner>, headers: HeaderMap) -> Response {
    let named = asking.hotkey.or_else(|| {
        headers.get("epistula-signed-by").map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    });
    let miner = match named.map(|text| text.parse::<Hotkey>()) {
        None => None,
        Some(Ok(hotkey)) => Some(hotkey),
        Some(Err(malformed)) => return error(StatusCode::BAD_REQUEST, malformed.to_string()),
    };
    let held = relay
        .blocking(|epochs| {
            let epoch = epochs.clock()?.epoch_at(epochs.now_unix());
            Some((epoch, epochs.kept(epoch)))
        })
        .await
        .flatten();
    let kept = match held {
        None => return not_reached(),
        Some((_, Some(kept))) => kept.assignment,
        Some((epoch, None)) => {
            let message = format!("This relay holds no assignment for epoch {epoch} yet");
            return error(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    if kept.groups.is_none() {
        return Json(kept).into_response();
    }
    let Some(miner) = miner else {
        let message = "This epoch gives each miner its own batch: name your hotkey (?hotkey=SS58, or the \
                       Epistula-Signed-By header)";
        return error(StatusCode::BAD_REQUEST, message);
    };
    let Ok(epoch) = kept.epoch_id.parse::<EpochId>() else { return not_reached() };
    match relay.planned(epoch).await {
        Ok(planned) => Json(AssignmentResponse::of(&planned, None, AssignmentView::Miner(&miner))).into_response(),
        Err(why) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("This relay cannot place miners in epoch {epoch} ({why}); the whole epoch is at /epoch/{epoch}"),
        ),
    }
}

async fn epoch(State(relay): State<Arc<Relay>>, Path(id): Path<String>) -> Response {
    let Ok(epoch) = id.parse::<EpochId>() else { return bad_epoch_id(&id) };
    let served = relay
        .blocking(move |epochs| {
            let now = epochs.now_unix();
            let clock = epochs.clock().filter(|clock| clock.has_started(epoch, now))?;
            let mut assignment = epochs.kept(epoch)?.assignment;
            let ended = clock.end(epoch) <= now;
            assignment.status = Some(if ended { "COMPLETED" } else { "ACTIVE" }.to_string());
            Some(assignment)
        })
        .await
        .flatten();
    match served {
        Some(assignment) => Json(assignment).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("Epoch {epoch} not found")),
    }
}

async fn inputs(State(relay): State<Arc<Relay>>, Path(id): Path<String>) -> Response {
    let Ok(epoch) = id.parse::<EpochId>() else { return bad_epoch_id(&id) };
    match relay.inputs(epoch).await {
        Some(inputs) => ([(header::CONTENT_TYPE, "application/json")], inputs.bytes).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("Inputs of epoch {epoch} not published")),
    }
}

/// The stats a relay serves: the last the API gave, with the time and the current epoch as this client holds
/// them now, and the hash of the next epoch's inputs if they are kept. `None` before the API was ever reached.
fn stats_now(epochs: &Epochs, clock: EpochClock, next_inputs_hash: Option<String>) -> Option<StatsResponse> {
    let mut stats: StatsResponse = epochs.state().read("stats.json", "stats")?;
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
    stats.epoch_status.next_epoch = NextEpoch {
        start_time: crate::api::iso8601_millis(next.start_unix() * 1000),
        id: Some(next.to_string()),
        beacon_round: None,
        inputs_hash: next_inputs_hash,
    };
    Some(stats)
}

/// Serves the relay on `listener` within `limits` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    epochs: Arc<Epochs>,
    limits: RelayLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gate =
        ConnectionGate::within_open_files(limits.max_connections, Some(limits.max_connections_per_address), false);
    let connection_limits = ConnectionLimits {
        header_read_timeout: limits.header_read_timeout,
        max_header_bytes: 16 * 1024,
        shutdown_grace: Duration::from_secs(5),
    };
    serve_connections(listener, router(epochs, limits), connection_limits, gate, shutdown).await
}
