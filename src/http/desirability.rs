//! The epoch as a dynamic-desirability job list (`crate::api::DesirabilityJob`): the current epoch's for any
//! registered hotkey, a started epoch's for validators. The same assignment as `/current` and `/epoch/{id}`,
//! in the format Data Universe's uploader reads from `dynamic_desirability/total.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{DesirabilityJob, ErrorBody, SignedQuery};
use crate::app::App;
use crate::domain::access::endpoint::{self, Endpoint};

use super::error::ApiError;
use super::signed::{EpochPathRequest, NamedEndpoint, QueryOnlyRequest, Signed};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(current_jobs)).routes(routes!(epoch_jobs))
}

/// The current epoch's assignment as a dynamic-desirability job list, for registered hotkeys: one job per
/// zipcode, `{"id": "zip_{zipcode}_{epochId}", "weight": W, "params": {"keyword": null, "platform": P, "label":
/// "zip:{zipcode}", "post_start_datetime": null, "post_end_datetime": null}}`, weights proportional to expected
/// listings with the largest 5.0, `P` the operator's `ZIPCOORD_DESIRABILITY_PLATFORM` (`rapid_zillow`). In the
/// `groups` assignment mode the jobs are the caller's groups' batches, as `/current` answers them.
///
#[utoipa::path(
    get,
    path = endpoint::DESIRABILITY.path,
    tag = "assignments",
    params(SignedQuery),
    responses(
        (status = 200, description = "The current assignment's jobs", body = Vec<DesirabilityJob>),
        (status = 404, description = "No assignment can be selected for the current epoch", body = ErrorBody),
        (status = 503, description = "The epoch's beacon pulse is awaited (seconds after the epoch's start); see Retry-After", body = ErrorBody),
    ),
)]
async fn current_jobs(
    State(app): State<Arc<App>>,
    Signed { caller, .. }: Signed<QueryOnlyRequest<CurrentJobsPath>>,
) -> Result<Json<Vec<DesirabilityJob>>, ApiError> {
    let assignment = app.current_assignment().await?;
    Ok(Json(DesirabilityJob::list(&assignment, Some(&caller), &app.settings().desirability_platform)))
}

/// A started epoch's assignment as a dynamic-desirability job list, for validators (permit and stake); future
/// epochs are 404 for everyone. In the `groups` assignment mode: every batch's zipcodes, each once.
///
#[utoipa::path(
    get,
    path = endpoint::EPOCH_DESIRABILITY.path,
    tag = "assignments",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
        SignedQuery,
    ),
    responses(
        (status = 200, description = "The epoch's jobs", body = Vec<DesirabilityJob>),
        (status = 404, description = "Unknown or future epoch", body = ErrorBody),
    ),
)]
async fn epoch_jobs(
    State(app): State<Arc<App>>,
    Signed { request, .. }: Signed<EpochPathRequest<JobsPath>>,
) -> Result<Json<Vec<DesirabilityJob>>, ApiError> {
    let assignment = app.started_epoch(request.epoch).await?;
    Ok(Json(DesirabilityJob::list(&assignment, None, &app.settings().desirability_platform)))
}

/// `GET /desirability`.
enum CurrentJobsPath {}

impl NamedEndpoint for CurrentJobsPath {
    const ENDPOINT: &'static Endpoint = &endpoint::DESIRABILITY;
}

/// `GET /epoch/{epochId}/desirability`.
enum JobsPath {}

impl NamedEndpoint for JobsPath {
    const ENDPOINT: &'static Endpoint = &endpoint::EPOCH_DESIRABILITY;
}
