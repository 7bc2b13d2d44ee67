//! The operator dashboard: the page (`/dashboard`, its script and stylesheet, embedded in the binary so it works
//! behind a firewall) and the public JSON it reads (`/api/v1/dashboard/…`). The page may talk to this service
//! only (its Content-Security-Policy says so), and its JSON is gzip-encoded for clients that accept it: the
//! universe's dots are most of the page's weight.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use tower_http::compression::CompressionLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::dashboard::*;
use crate::api::{iso8601_millis, ErrorBody};
use crate::app::{App, DashboardOverview};
use crate::domain::access::grant::GrantKind;
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::proof::SeedSource;
use crate::domain::epoch::EpochId;
use crate::domain::usmap::{MAP_HEIGHT, MAP_WIDTH};

use super::encoded::{Encoded, EncodedAnswers};
use super::error::ApiError;
use super::extract::parse_value;
use super::health::{beacon_health, database_writes, epoch_creation, metagraph_health};

const PAGE: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
const STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");

/// The page loads its own script and style and asks this service only: nothing inline, no other host.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                           img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// How often the page refreshes itself.
const REFRESH_SECONDS: u32 = 30;

/// Whether `path` belongs to the dashboard (public, rate-limited per address).
pub fn is_dashboard_path(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/") || path.starts_with("/api/v1/dashboard/")
}

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(style))
        .routes(routes!(overview))
        .routes(routes!(epoch_map))
        .layer(CompressionLayer::new())
        // Added after the layer, so outside it: the map is served as encoded once, gzip included.
        .routes(routes!(universe_map))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
    ];
    (headers, body).into_response()
}

/// The dashboard, a page an operator leaves open: the current epoch and how to verify it, a map of its
/// zipcodes, the miners' progress, the last 30 epochs, and the system. It refreshes itself every 30 s.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard", responses((status = 200, description = "The page", content_type = "text/html")))]
async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// The dashboard's script.
#[utoipa::path(get, path = "/dashboard/dashboard.js", tag = "dashboard", responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The dashboard's stylesheet.
#[utoipa::path(get, path = "/dashboard/dashboard.css", tag = "dashboard", responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// Everything the dashboard shows but the map: the current epoch (target, window, expected sum, nonce, how to
/// verify it), the miners' latest reports in it, the last 30 epochs' outcomes, and the system. At most 5 s old.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/overview",
    tag = "dashboard",
    responses((status = 200, description = "The overview", body = DashboardOverviewResponse)),
)]
async fn overview(State(app): State<Arc<App>>) -> Result<Json<DashboardOverviewResponse>, ApiError> {
    let overview = app.dashboard_overview().await?;
    Ok(Json(render_overview(&overview)))
}

/// Every zipcode of the universe as a faint dot, from the built-in coordinates: the country's shape. The same
/// for everyone until the zipcode table changes: encoded once per revision, with an `ETag` (If-None-Match: 304).
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/map",
    tag = "dashboard",
    responses(
        (status = 200, description = "The universe's dots", body = DashboardMapResponse),
        (status = 304, description = "Not modified (If-None-Match named the current ETag)"),
    ),
)]
async fn universe_map(
    State(app): State<Arc<App>>,
    Extension(encoded): Extension<Arc<EncodedAnswers>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let map = app.universe_map().await?;
    let answer = encoded
        .map(&map.revision, async {
            let body = DashboardMapResponse {
                success: true,
                width: MAP_WIDTH as u32,
                height: MAP_HEIGHT as u32,
                zipcodes: map.zipcodes,
                unplaced: map.unplaced,
                points: map.points.iter().flatten().copied().collect(),
            };
            let json = serde_json::to_vec(&body).expect("the map serializes");
            tokio::task::spawn_blocking(move || Encoded::compressing(json))
                .await
                .map_err(|_| ApiError::unavailable("Service temporarily unavailable"))
        })
        .await?;
    Ok(answer.respond(&headers, MAP_CACHE_CONTROL))
}

/// Browsers may keep the map a minute, then ask again with its tag (a 304 until the zipcodes change).
const MAP_CACHE_CONTROL: &str = "public, max-age=60";

/// A started epoch's zipcodes on the map, with city, state and expected listings: the current epoch's or an
/// earlier one's. Future epochs are 404, like everywhere.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/epoch/{epochId}/map",
    tag = "dashboard",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
    ),
    responses(
        (status = 200, description = "The epoch's zipcodes", body = DashboardEpochMapResponse),
        (status = 400, description = "Malformed epoch id", body = ErrorBody),
        (status = 404, description = "Unknown or future epoch", body = ErrorBody),
        (status = 503, description = "The epoch's beacon pulse is awaited; see Retry-After", body = ErrorBody),
    ),
)]
async fn epoch_map(
    State(app): State<Arc<App>>,
    Path(epoch_id): Path<String>,
) -> Result<Json<DashboardEpochMapResponse>, ApiError> {
    let epoch: EpochId = parse_value(&epoch_id)?;
    let map = app.epoch_map(epoch).await?;
    let zipcode = |record: &crate::domain::epoch::zipcode::ZipcodeRecord, at: Option<(f64, f64)>| DashboardMapZipcode {
        zipcode: record.zipcode.to_string(),
        city: record.city.clone(),
        state: record.state.clone(),
        expected_listings: record.expected_listings,
        x: at.map(|(x, _)| (x * 10.0).round() / 10.0),
        y: at.map(|(_, y)| (y * 10.0).round() / 10.0),
        calibration: map
            .calibration
            .get(&record.zipcode)
            .map(|m| DashboardMapCalibration { from: m.from, evidence_epoch: m.evidence_epoch.to_string() }),
    };
    let placed = map.placed.iter().map(|(record, point)| zipcode(record, Some((point.x, point.y))));
    Ok(Json(DashboardEpochMapResponse {
        success: true,
        epoch_id: epoch.to_string(),
        expected_listings: map.assignment.total_expected(),
        zipcodes: placed.chain(map.unplaced.iter().map(|record| zipcode(record, None))).collect(),
    }))
}

fn render_overview(overview: &DashboardOverview) -> DashboardOverviewResponse {
    let epoch = overview.epoch;
    let current = overview.current.as_ref().ok();
    let rows: Vec<DashboardMinerRow> = overview
        .miners
        .iter()
        .map(|miner| {
            let latest = &miner.state.latest;
            // Each miner against what it was given: in `groups` mode its own batches, not every group's.
            let work = current.map(|a| a.work_of(&latest.hotkey).0).unwrap_or_default();
            DashboardMinerRow {
                uid: miner.uid,
                hotkey: latest.hotkey.to_string(),
                status: latest.status.to_string(),
                listings_reported: miner.listings(),
                listings_expected: work.iter().map(|z| u64::from(z.expected_listings)).sum(),
                zipcodes_completed: latest.zipcodes_completed.len(),
                zipcodes_assigned: work.len(),
                upload_complete: latest.s3_upload_complete,
                reports: miner.state.report_count,
                last_report_at: iso8601_millis(latest.received_at_ms),
            }
        })
        .collect();
    let health = &overview.health;
    DashboardOverviewResponse {
        success: true,
        generated_at: iso8601_millis(overview.now_ms),
        refresh_seconds: REFRESH_SECONDS,
        epoch: DashboardEpoch {
            id: epoch.to_string(),
            start_time: iso8601_millis(epoch.start_unix() * 1000),
            end_time: iso8601_millis(overview.epoch_end_unix * 1000),
            seconds_left: (overview.epoch_end_unix - overview.now_ms.div_euclid(1000)).max(0),
            length_seconds: overview.epoch_end_unix - epoch.start_unix(),
            target_listings: overview.target_listings,
            tolerance_percent: overview.tolerance_percent,
            window_min: overview.window.0,
            window_max: overview.window.1,
            expected_listings: current.map(|a| a.total_expected()),
            zipcode_count: current.map(|a| a.zipcodes.len()),
            batches: current.map(batches).unwrap_or_default(),
            nonce: current.map(|a| a.nonce.to_string()),
            unavailable: overview.current.as_ref().err().cloned(),
            verification: verification(overview),
        },
        miners: DashboardMiners {
            registered: overview.registered_miners,
            reporting: rows.len(),
            silent: overview.silent_miners,
            rows,
        },
        history: overview
            .history
            .iter()
            .map(|line| DashboardHistoryEpoch {
                epoch_id: line.summary.epoch.to_string(),
                zipcode_count: line.summary.zipcode_count,
                target_listings: line.summary.target_listings,
                expected_listings: line.summary.total_expected,
                expected_per_miner: if line.summary.grouped {
                    u64::from(line.summary.target_listings)
                } else {
                    line.summary.total_expected
                },
                reported_listings: line.reported_listings,
                completed: line.completed,
                failed: line.failed,
                in_progress: line.in_progress,
                delivered_listings: line.delivered_listings,
                silent: line.silent,
            })
            .collect(),
        system: DashboardSystem {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: health.uptime_ms / 1000,
            database: overview.backend.name().to_string(),
            database_ok: health.database_ok,
            metagraph: metagraph_health(&health.metagraph),
            beacon: beacon_health(&health.beacon),
            database_writes: database_writes(health.writes_failing.as_ref()),
            epoch_creation: epoch_creation(health.epoch_creation.as_ref()),
            status: if health.ok() { "ok" } else { "degraded" }.to_string(),
            s3_configured: health.s3_configured,
            grants_last_day: GrantKind::ALL
                .iter()
                .map(|kind| DashboardGrantCount {
                    kind: kind.as_str().to_string(),
                    count: overview.grants_last_day.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n),
                })
                .collect(),
            requests_last_day: overview.traffic.requests,
            rate_limited_last_day: overview.traffic.rate_limited,
        },
    }
}

/// A `groups` epoch's batches, each with its members and expected listings; none in `shared` mode.
fn batches(assignment: &Arc<EpochAssignment>) -> Vec<DashboardBatch> {
    let Some(groups) = &assignment.groups else { return Vec::new() };
    groups
        .groups
        .iter()
        .map(|group| {
            let batch = groups.batch(group.index, &assignment.zipcodes);
            DashboardBatch {
                group: group.index,
                miners: group.members.len(),
                zipcodes: batch.len(),
                expected_listings: batch.iter().map(|z| u64::from(z.expected_listings)).sum(),
            }
        })
        .collect()
}

/// How the current epoch can be checked, in the words the page shows.
fn verification(overview: &DashboardOverview) -> DashboardVerification {
    let id = overview.epoch;
    let base = format!("{}{id}", super::verification::INPUTS_PATH_PREFIX);
    let (seed, chain, round, state, inputs_hash) = match overview.current.as_ref().map(|a| a.proof.as_ref()) {
        Err(why) => ("pending", None, None, format!("no assignment yet: {why}"), None),
        Ok(None) => (
            "secret",
            None,
            None,
            "made before epochs were beacon-seeded: seeded from the server secret, not recomputable".to_string(),
            None,
        ),
        Ok(Some(proof)) => {
            let (seed, state) = match &proof.source {
                SeedSource::Beacon { .. } => (
                    "beacon",
                    format!(
                        "seeded by {} round {}, pulse verified; anyone can recompute it with zipcoord verify-epoch {id}",
                        proof.chain_name, proof.round
                    ),
                ),
                SeedSource::Fallback { reason } => (
                    "fallback",
                    format!("seeded from the server secret: round {} could not be had ({reason})", proof.round),
                ),
            };
            (seed, Some(proof.chain_name.clone()), Some(proof.round), state, Some(proof.inputs_hash.clone()))
        }
    };
    DashboardVerification {
        seed: seed.to_string(),
        chain,
        round,
        state,
        inputs_hash,
        proof_path: format!("{base}/proof"),
        inputs_path: format!("{base}/inputs"),
    }
}
