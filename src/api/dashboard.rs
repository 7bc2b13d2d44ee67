//! The operator dashboard's JSON (an addition to the contract): the overview behind
//! `GET /api/v1/dashboard/overview`, the universe's dots behind `GET /api/v1/dashboard/map`, and an epoch's
//! assignment on the map behind `GET /api/v1/dashboard/epoch/{epochId}/map`. Public: nothing in them that a
//! registered miner could not see.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BeaconHealth, MetagraphHealth};

/// `GET /api/v1/dashboard/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardOverviewResponse {
    pub success: bool,
    #[schema(example = "2026-12-03T05:00:00.000Z")]
    pub generated_at: String,
    /// How often the page asks again.
    #[schema(example = 30)]
    pub refresh_seconds: u32,
    pub epoch: DashboardEpoch,
    pub miners: DashboardMiners,
    /// The last epochs, oldest first, the current one last.
    pub history: Vec<DashboardHistoryEpoch>,
    pub system: DashboardSystem,
}

/// The current epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardEpoch {
    #[schema(example = "2026-12-03T04-00-00")]
    pub id: String,
    pub start_time: String,
    pub end_time: String,
    pub seconds_left: i64,
    pub length_seconds: i64,
    pub target_listings: u32,
    pub tolerance_percent: u32,
    /// The window the assignment's expected listings must fall in: target ± tolerance, rounded inwards.
    pub window_min: u64,
    pub window_max: u64,
    /// The assignment's expected listings; null while there is no assignment (`unavailable` says why).
    pub expected_listings: Option<u64>,
    pub zipcode_count: Option<usize>,
    /// In the `groups` assignment mode, each group's batch (the window applies to each); empty otherwise.
    #[serde(default)]
    pub batches: Vec<DashboardBatch>,
    /// The epoch nonce (the epoch has started, so every miner has it).
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    pub verification: DashboardVerification,
}

/// One group's batch in a `groups` epoch: what each of its miners is to work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardBatch {
    pub group: usize,
    pub miners: usize,
    pub zipcodes: usize,
    pub expected_listings: u64,
}

/// How anyone can check the current epoch's selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardVerification {
    /// `beacon` (seeded from a verified pulse), `fallback` (seeded from the server secret: the beacon stayed
    /// silent), `secret` (an epoch made before epochs were beacon-seeded), or `pending` (no assignment yet).
    #[schema(example = "beacon")]
    pub seed: String,
    #[schema(example = "quicknet")]
    pub chain: Option<String>,
    pub round: Option<u64>,
    /// One sentence on the proof, as an operator reads it.
    pub state: String,
    /// SHA-256 of the published inputs the epoch was selected from.
    pub inputs_hash: Option<String>,
    /// Where the proof and the inputs are published.
    #[schema(example = "/api/v1/zipcode-assignments/epoch/2026-12-03T04-00-00/proof")]
    pub proof_path: String,
    #[schema(example = "/api/v1/zipcode-assignments/epoch/2026-12-03T04-00-00/inputs")]
    pub inputs_path: String,
}

/// The miners in the current epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardMiners {
    /// Registered hotkeys without a validator's permit and stake.
    pub registered: usize,
    /// Hotkeys that reported in this epoch.
    pub reporting: usize,
    /// Registered miners that have not reported.
    pub silent: usize,
    /// One row per reporting miner, by hotkey.
    pub rows: Vec<DashboardMinerRow>,
}

/// One miner's latest report in the current epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardMinerRow {
    /// Null when the hotkey has left the metagraph since it reported.
    pub uid: Option<u16>,
    pub hotkey: String,
    #[schema(example = "IN_PROGRESS")]
    pub status: String,
    pub listings_reported: u64,
    /// What this miner was given: the whole assignment, or in `groups` mode its groups' batches.
    pub listings_expected: u64,
    pub zipcodes_completed: usize,
    /// The zipcodes this miner was given (its own work, as `listings_expected`).
    pub zipcodes_assigned: usize,
    pub upload_complete: bool,
    pub reports: u64,
    pub last_report_at: String,
}

/// How one epoch went, from the miners' latest reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardHistoryEpoch {
    pub epoch_id: String,
    pub zipcode_count: usize,
    pub target_listings: u32,
    pub expected_listings: u64,
    /// What one miner was expected to find: `expectedListings`, or in a `groups` epoch the target each batch was
    /// selected to.
    #[serde(default)]
    pub expected_per_miner: u64,
    /// The sum of the listings the miners said they found.
    pub reported_listings: u64,
    pub completed: usize,
    /// `FAILED` or `TIMEOUT`.
    pub failed: usize,
    /// Still `IN_PROGRESS` (at the end, for a past epoch).
    pub in_progress: usize,
    /// Miners registered now that sent no report for it.
    pub silent: usize,
    /// The distinct listings honest miners delivered, as the validators counted them (the median validator's
    /// total over the epoch's zipcodes); null until their verdicts were read.
    #[serde(default)]
    pub delivered_listings: Option<u64>,
}

/// The service itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardSystem {
    pub version: String,
    pub uptime_seconds: i64,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: String,
    pub database_ok: bool,
    pub metagraph: MetagraphHealth,
    pub beacon: BeaconHealth,
    /// Whether the database takes writes (a full disk refuses them).
    pub database_writes: super::DatabaseWrites,
    /// Whether epochs are being created.
    pub epoch_creation: super::EpochCreation,
    /// `ok` or `degraded`, as `/healthcheck` says.
    #[schema(example = "ok")]
    pub status: String,
    pub s3_configured: bool,
    /// Grants issued over the last 24 hours, one entry per kind.
    pub grants_last_day: Vec<DashboardGrantCount>,
    /// Requests this process answered over the last 24 hours, and those a rate limit refused.
    pub requests_last_day: u64,
    pub rate_limited_last_day: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardGrantCount {
    #[schema(example = "miner_folder")]
    pub kind: String,
    pub count: u64,
}

/// `GET /api/v1/dashboard/map`: every zipcode of the universe as a dot in a `width` × `height` frame (the
/// Albers projection of US atlases, Alaska, Hawaii and Puerto Rico as insets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardMapResponse {
    pub success: bool,
    #[schema(example = 960)]
    pub width: u32,
    #[schema(example = 540)]
    pub height: u32,
    pub zipcodes: usize,
    /// Zipcodes without a built-in position, or outside the drawn regions.
    pub unplaced: usize,
    /// Distinct dot positions, `[x0, y0, x1, y1, …]` in whole frame units: zipcodes sharing a position share a
    /// dot.
    pub points: Vec<u16>,
}

/// `GET /api/v1/dashboard/epoch/{epochId}/map`: the epoch's zipcodes, placed in the same frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardEpochMapResponse {
    pub success: bool,
    pub epoch_id: String,
    pub expected_listings: u64,
    pub zipcodes: Vec<DashboardMapZipcode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardMapZipcode {
    #[schema(example = "10001")]
    pub zipcode: String,
    pub city: String,
    pub state: String,
    pub expected_listings: u32,
    /// The position in the map's frame; null when the zipcode cannot be placed.
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// How the epoch's inputs recalibrated this zipcode's expected listings; null when they did not move it.
    #[serde(default)]
    pub calibration: Option<DashboardMapCalibration>,
}

/// One move of the epoch's calibration, as its inputs publish it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardMapCalibration {
    /// The expected listings before the move (`expectedListings` is the value after it).
    pub from: u32,
    /// The judged epoch whose published verdicts the move followed.
    #[schema(example = "2025-10-01T04-00-00")]
    pub evidence_epoch: String,
}
