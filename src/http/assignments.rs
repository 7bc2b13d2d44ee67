//! `/api/v1/zipcode-assignments/*`: public stats, the current assignment for miners, past epochs for
//! validators, and miners' status reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    iso8601_millis, parse_iso8601, AssignmentResponse, AssignmentView, CurrentEpochSummary, EpistulaAdvert,
    EpochResultsResponse, EpochStatus, EpochTiming, ErrorBody, NextEpoch, RecentEpoch, SelectionConfiguration,
    SignedQuery, StateCount, StatsResponse, StatusRequest, StatusResponse, TierCount, ZipcodeCompletion,
    ZipcodeStatistics,
};
use crate::app::cache::BoundedMap;
use crate::app::{App, StatusSubmission};
use crate::domain::access::auth::HotkeySignature;
use crate::domain::access::endpoint::{self, Endpoint, SignedValues};
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::proof::Nonce;
use crate::domain::epoch::status::{MinerStatus, ZipcodeProgress};
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::settings::EpistulaSettings;

use super::error::ApiError;
use super::extract::parse_value;
use super::signed::{
    EpochPathRequest, NamedEndpoint, PathValues, QueryOnlyRequest, Signed, SignedFields, SignedRequest,
};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(current))
        .routes(routes!(epoch))
        .routes(routes!(results))
        .routes(routes!(status))
}

/// Serialized assignment answers by epoch and status. They are the same for every caller of an epoch, and
/// serializing a few hundred zipcodes costs more than verifying the caller's signature, so each is rendered once.
pub struct AssignmentBodies {
    bodies: BoundedMap<BodyKey, Bytes>,
}

/// What an answer's body depends on: the epoch, its status, and in `groups` mode the caller's groups (miners of
/// the same groups get the same body).
type BodyKey = (EpochId, Option<&'static str>, Option<(Vec<usize>, bool)>);

/// Bodies kept at most; the oldest go first. In `groups` mode an epoch has one `/current` body per group (about
/// 50 with 256 miners), so this keeps the current and previous epochs' at that size.
const MAX_CACHED_BODIES: usize = 256;

impl Default for AssignmentBodies {
    fn default() -> Self {
        AssignmentBodies { bodies: BoundedMap::new(MAX_CACHED_BODIES) }
    }
}

impl AssignmentBodies {
    fn render(&self, assignment: &EpochAssignment, status: Option<&'static str>, view: AssignmentView) -> Response {
        // The body's key needs only the caller's groups; its zipcodes are gathered on a miss alone.
        let groups = match (&assignment.groups, view) {
            (Some(groups), AssignmentView::Miner(hotkey)) => {
                let (ids, membership) = groups.groups_of(assignment.selection_seed, hotkey);
                Some((ids, membership == crate::domain::epoch::batches::Membership::LateJoiner))
            }
            _ => None,
        };
        let key = (assignment.epoch, status, groups);
        let body = self.bodies.get(&key).unwrap_or_else(|| {
            let response = AssignmentResponse::of(assignment, status.map(str::to_string), view);
            let body = Bytes::from(serde_json::to_vec(&response).expect("assignments serialize"));
            self.bodies.insert(key, body.clone());
            body
        });
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// Public overview: the current epoch, timing, zipcode statistics and recent epochs.
///
/// `epochStatus.currentEpoch` is `null` when no assignment can be selected for the current epoch.
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/stats",
    tag = "assignments",
    responses((status = 200, description = "The overview", body = StatsResponse)),
)]
async fn stats(State(app): State<Arc<App>>) -> Result<Json<StatsResponse>, ApiError> {
    let summary = app.summary().await?;
    let clock = summary.clock;
    let now_unix = summary.now_ms.div_euclid(1000);
    let epoch_end = clock.end(summary.current_epoch);
    let policy = summary.policy;
    let current_epoch = summary.current.as_ref().map(|a| CurrentEpochSummary {
        id: a.epoch.to_string(),
        status: "ACTIVE".to_string(),
        start_time: iso8601_millis(a.epoch.start_unix() * 1000),
        end_time: iso8601_millis(a.end_unix * 1000),
        nonce: a.nonce.to_string(),
        zipcode_count: a.zipcodes.len(),
        target_listings: a.target_listings,
        actual_expected: a.total_expected(),
        time_until_epoch_end: (a.end_unix - now_unix).max(0),
    });
    let current_id = summary.current_epoch;
    let zipcodes = &summary.zipcodes;
    Ok(Json(StatsResponse {
        success: true,
        current_time: now_unix,
        system_status: "operational".to_string(),
        epoch_status: EpochStatus {
            current_epoch,
            timing: EpochTiming {
                time_until_epoch_end: (epoch_end - now_unix).max(0),
                time_until_next_epoch: (epoch_end - now_unix).max(0),
                epoch_duration_hours: clock.length_seconds() as f64 / 3600.0,
            },
            next_epoch: NextEpoch {
                start_time: iso8601_millis(epoch_end * 1000),
                id: Some(summary.next.epoch.to_string()),
                beacon_round: Some(summary.next.round),
                inputs_hash: summary.next.inputs.as_ref().map(|inputs| inputs.hash.clone()),
            },
        },
        zipcode_statistics: ZipcodeStatistics {
            total_zipcodes: zipcodes.total,
            active_zipcodes: zipcodes.active,
            inactive_zipcodes: zipcodes.total - zipcodes.active,
            state_distribution: zipcodes
                .by_state
                .iter()
                .map(|(state, count, avg)| StateCount { state: state.clone(), count: *count, avg_listings: *avg })
                .collect(),
            tier_distribution: zipcodes
                .by_tier
                .iter()
                .map(|(tier, count, avg)| TierCount { tier: tier.clone(), count: *count, avg_listings: *avg })
                .collect(),
            configuration: SelectionConfiguration {
                target_listings: policy.target_listings,
                tolerance_percent: policy.tolerance_percent,
                cooldown_hours: policy.cooldown_seconds as f64 / 3600.0,
                min_listings: policy.min_listings,
                max_listings: policy.max_listings,
            },
        },
        recent_performance: summary
            .recent
            .iter()
            .map(|e| RecentEpoch {
                epoch_id: e.epoch.to_string(),
                status: if e.epoch == current_id { "ACTIVE" } else { "COMPLETED" }.to_string(),
                zipcodes_assigned: e.zipcode_count,
                target_listings: e.target_listings,
                actual_expected: e.total_expected,
            })
            .collect(),
        epistula: epistula_advert(&app.settings().epistula),
    }))
}

/// What `/stats` tells clients about Epistula, when the service accepts it.
fn epistula_advert(settings: &EpistulaSettings) -> Option<EpistulaAdvert> {
    settings.service_hotkey.as_ref().map(|service| EpistulaAdvert {
        version: crate::domain::access::epistula::VERSION.to_string(),
        signed_for: service.to_string(),
        max_age_ms: settings.window.max_age_ms,
        max_ahead_ms: settings.window.max_ahead_ms,
    })
}

/// The current epoch's assignment, for registered miners.
///
/// In the `groups` assignment mode `zipcodes` holds the caller's groups' batches (within the per-miner target's
/// window) and `minerGroups` names those groups; a miner registered after the epoch's roster was published is
/// placed by the rule `minerGroups.note` states.
///
#[utoipa::path(
    get,
    path = endpoint::CURRENT.path,
    tag = "assignments",
    params(SignedQuery),
    responses(
        (status = 200, description = "The current assignment", body = AssignmentResponse),
        (status = 404, description = "No assignment can be selected for the current epoch", body = ErrorBody),
        (status = 503, description = "The epoch's beacon pulse is awaited (seconds after the epoch's start); see Retry-After", body = ErrorBody),
    ),
)]
async fn current(
    State(app): State<Arc<App>>,
    Extension(bodies): Extension<Arc<AssignmentBodies>>,
    Signed { caller, .. }: Signed<QueryOnlyRequest<CurrentPath>>,
) -> Result<Response, ApiError> {
    let assignment = app.current_assignment().await?;
    Ok(bodies.render(&assignment, None, AssignmentView::Miner(&caller)))
}

/// `GET /current`.
enum CurrentPath {}

impl NamedEndpoint for CurrentPath {
    const ENDPOINT: &'static Endpoint = &endpoint::CURRENT;
}

/// A started epoch's assignment, for validators (permit and stake); future epochs are 404 for everyone.
///
/// In the `groups` assignment mode `groups` lists every group with its batch and members, and `zipcodes` is
/// the union of the batches.
///
#[utoipa::path(
    get,
    path = endpoint::EPOCH.path,
    tag = "assignments",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
        SignedQuery,
    ),
    responses(
        (status = 200, description = "The epoch's assignment and status", body = AssignmentResponse),
        (status = 404, description = "Unknown or future epoch", body = ErrorBody),
    ),
)]
async fn epoch(
    State(app): State<Arc<App>>,
    Extension(bodies): Extension<Arc<AssignmentBodies>>,
    Signed { request, .. }: Signed<EpochPathRequest<EpochPath>>,
) -> Result<Response, ApiError> {
    let assignment = app.started_epoch(request.epoch).await?;
    let status = if request.epoch == app.current_epoch_id() { "ACTIVE" } else { "COMPLETED" };
    Ok(bodies.render(&assignment, Some(status), AssignmentView::Whole))
}

/// `GET /epoch/{epochId}`.
enum EpochPath {}

impl NamedEndpoint for EpochPath {
    const ENDPOINT: &'static Endpoint = &endpoint::EPOCH;
}

/// `GET /epoch/{epochId}/results`.
enum ResultsPath {}

impl NamedEndpoint for ResultsPath {
    const ENDPOINT: &'static Endpoint = &endpoint::RESULTS;
}

/// Every validator's published verdicts on a past epoch, for any registered hotkey: what each validator
/// decided about each miner, the weight it gave and the reasons it printed. Served once the epoch's judging
/// window (the epoch after it) has passed; read from the validators' results files in the bucket and cached a
/// few minutes. Validators with a permit in the current metagraph are read; a file that does not parse, or names
/// another validator or epoch, is skipped and listed in `skipped`.
///
#[utoipa::path(
    get,
    path = endpoint::RESULTS.path,
    tag = "assignments",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
        SignedQuery,
    ),
    responses(
        (status = 200, description = "The validators' verdicts", body = EpochResultsResponse),
        (status = 404, description = "Unknown or future epoch", body = ErrorBody),
        (status = 409, description = "The epoch's judging window has not passed yet; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the results are served"))),
    ),
)]
async fn results(
    State(app): State<Arc<App>>,
    Signed { request, .. }: Signed<EpochPathRequest<ResultsPath>>,
) -> Result<Response, ApiError> {
    let answer = app.epoch_results(request.epoch).await?;
    Ok(Json(answer.as_ref()).into_response())
}

fn parse_progress(item: &ZipcodeCompletion) -> Result<ZipcodeProgress, ApiError> {
    let zipcode: Zipcode = parse_value(&item.zipcode)?;
    let listings_scraped = u64::try_from(item.listings_scraped)
        .map_err(|_| ApiError::bad_request(format!("listingsScraped for {zipcode} must be >= 0")))?;
    let completed_at_ms = item
        .completed_at
        .as_deref()
        .map(|t| parse_iso8601(t).ok_or_else(|| ApiError::bad_request(format!("Invalid completedAt for {zipcode}"))))
        .transpose()?;
    Ok(ZipcodeProgress { zipcode, listings_scraped, completed_at_ms })
}

/// Largest `zipcodesCompleted` list accepted; real assignments have a few hundred zipcodes at most.
const MAX_ZIPCODES_PER_REPORT: usize = 5_000;

/// A miner's progress report for an epoch: every report is kept, the latest per miner and epoch is queryable.
///
/// Accepted for the current epoch and, late, for one more epoch length after it ends; the nonce must be the
/// epoch's.
#[utoipa::path(
    post,
    path = endpoint::STATUS.path,
    tag = "assignments",
    request_body(content = StatusRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = StatusResponse),
        (status = 404, description = "Unknown epoch", body = ErrorBody),
    ),
)]
async fn status(
    State(app): State<Arc<App>>,
    Signed { caller, signature, request }: Signed<StatusReportRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let StatusReportRequest { epoch, status, .. } = request;
    let received_at_ms = app.record_status(request.into_submission(caller, signature)).await?;
    Ok(Json(StatusResponse {
        success: true,
        message: format!("Status {status} recorded for epoch {epoch}"),
        epoch_id: epoch.to_string(),
        status: status.to_string(),
        timestamp: iso8601_millis(received_at_ms),
    }))
}

/// `POST /status`, parsed.
struct StatusReportRequest {
    epoch: EpochId,
    epoch_text: String,
    nonce: Nonce,
    status: MinerStatus,
    s3_upload_complete: bool,
    listings_scraped: Option<u64>,
    zipcodes_completed: Vec<ZipcodeProgress>,
    s3_upload_at_ms: Option<i64>,
}

impl StatusReportRequest {
    fn into_submission(self, hotkey: Hotkey, signature: HotkeySignature) -> StatusSubmission {
        StatusSubmission {
            hotkey,
            signature,
            epoch: self.epoch,
            nonce: self.nonce,
            status: self.status,
            s3_upload_complete: self.s3_upload_complete,
            listings_scraped: self.listings_scraped,
            zipcodes_completed: self.zipcodes_completed,
            s3_upload_at_ms: self.s3_upload_at_ms,
        }
    }
}

impl SignedRequest for StatusReportRequest {
    const ENDPOINT: &'static Endpoint = &endpoint::STATUS;
    type Raw = StatusRequest;

    fn parse(body: StatusRequest, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        let epoch: EpochId = parse_value(&body.epoch_id)?;
        let status = parse_value(&body.status)?;
        // A nonce this service could never have issued is as wrong as another epoch's.
        let nonce = body.nonce.parse::<Nonce>().map_err(|_| ApiError::bad_request("Invalid nonce for epoch"))?;
        if body.zipcodes_completed.len() > MAX_ZIPCODES_PER_REPORT {
            return Err(ApiError::bad_request(format!(
                "zipcodesCompleted lists more than {MAX_ZIPCODES_PER_REPORT} zipcodes"
            )));
        }
        let zipcodes_completed = body.zipcodes_completed.iter().map(parse_progress).collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = zipcodes_completed.iter().find(|p| !seen.insert(p.zipcode)) {
            return Err(ApiError::bad_request(format!("zipcodesCompleted lists {} more than once", twice.zipcode)));
        }
        let listings_scraped = body
            .listings_scraped
            .map(|n| u64::try_from(n).map_err(|_| ApiError::bad_request("listingsScraped must be >= 0")))
            .transpose()?;
        let s3_upload_at_ms = body
            .s3_upload_timestamp
            .as_deref()
            .map(|t| parse_iso8601(t).ok_or_else(|| ApiError::bad_request("Invalid s3UploadTimestamp")))
            .transpose()?;
        let fields = SignedFields { hotkey: body.hotkey, signature: body.signature, timestamp: body.timestamp };
        let request = StatusReportRequest {
            epoch,
            epoch_text: epoch.to_string(),
            nonce,
            status,
            s3_upload_complete: body.s3_upload_complete,
            listings_scraped,
            zipcodes_completed,
            s3_upload_at_ms,
        };
        Ok((request, fields))
    }

    fn values(&self) -> SignedValues<'_> {
        SignedValues::default().epoch(&self.epoch_text)
    }
}
