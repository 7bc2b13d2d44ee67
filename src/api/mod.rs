//! Wire types of the contract (`docs/wire-contract.md`), shared by the server and the clients: one source of
//! truth for every field name. `/api/v1/...` bodies are camelCase; the legacy S3 endpoints ([`s3`]) are
//! snake_case.

pub mod dashboard;
mod desirability;
mod groups;
mod health;
pub use health::*;
mod render;
pub use groups::{EpochGroupsBody, GroupBody, MinerGroupsBody, SharedColdkeyBody, LATE_JOINER_RULE};
mod results;
mod s3;

pub use crate::domain::instant::{iso8601_millis, parse_iso8601};
pub use desirability::*;
pub use render::{inputs_path, AssignmentView};
pub use results::*;
pub use s3::*;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The header on every answer of a validator's relay, naming the validator's hotkey: a client that asked the
/// coordinator's API and got a relay's answer knows not to trust it, nor to send it signed requests.
pub const RELAY_HEADER: &str = "zipcoord-relay";

/// The error body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"statusCode": 401, "message": "Invalid signature", "error": "Unauthorized", "detail": "Invalid signature"}))]
pub struct ErrorBody {
    /// The HTTP status again.
    pub status_code: u16,
    /// What went wrong, for people.
    pub message: String,
    /// The status's reason phrase.
    pub error: String,
    /// The same as `message` (older clients read this field).
    pub detail: String,
}

impl ErrorBody {
    /// The body for `status_code` (whose reason phrase is `reason`) saying `message`.
    pub fn new(status_code: u16, reason: &str, message: impl Into<String>) -> ErrorBody {
        let message = message.into();
        ErrorBody { status_code, message: message.clone(), error: reason.to_string(), detail: message }
    }
}

/// Query parameters of signed GET requests: required for the legacy signature, absent from Epistula-signed
/// requests. Optional here so a missing one gets a precise message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// The caller's hotkey (SS58); required unless the request is Epistula-signed.
    #[param(value_type = String, pattern = "^[1-9A-HJ-NP-Za-km-z]{46,48}$", example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub hotkey: Option<String>,
    /// sr25519 signature by the hotkey over the endpoint's commitment string: 64 bytes as hex, `0x` optional.
    /// Required unless the request is Epistula-signed.
    #[param(value_type = String, pattern = "^(0x)?[0-9a-fA-F]{128}$", example = "8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a")]
    pub signature: Option<String>,
    /// Unix seconds; within ±300 s of the server's clock.
    /// Required unless the request is Epistula-signed.
    #[param(value_type = i64, example = 1759338000)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub success: bool,
    pub current_time: i64,
    pub system_status: String,
    pub epoch_status: EpochStatus,
    pub zipcode_statistics: ZipcodeStatistics,
    pub recent_performance: Vec<RecentEpoch>,
    /// Present when the service accepts Epistula-signed requests (an addition to the contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epistula: Option<EpistulaAdvert>,
}

/// How to sign requests for this service with Epistula v2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpistulaAdvert {
    #[schema(example = "2")]
    pub version: String,
    /// The service's SS58 address: `Epistula-Signed-For` must name it.
    #[schema(example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub signed_for: String,
    /// How far `Epistula-Timestamp` may lie behind the server's clock.
    #[schema(example = 8000)]
    pub max_age_ms: i64,
    /// How far it may lie ahead.
    #[schema(example = 2000)]
    pub max_ahead_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochStatus {
    pub current_epoch: Option<CurrentEpochSummary>,
    pub timing: EpochTiming,
    pub next_epoch: NextEpoch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentEpochSummary {
    pub id: String,
    pub status: String,
    pub start_time: String,
    pub end_time: String,
    pub nonce: String,
    pub zipcode_count: usize,
    pub target_listings: u32,
    pub actual_expected: u64,
    pub time_until_epoch_end: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochTiming {
    pub time_until_epoch_end: i64,
    pub time_until_next_epoch: i64,
    pub epoch_duration_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextEpoch {
    pub start_time: String,
    #[serde(default)]
    #[schema(example = "2025-10-01T20-00-00")]
    pub id: Option<String>,
    /// The beacon round whose randomness will seed the next epoch: nobody knows it before the epoch starts.
    #[serde(default)]
    pub beacon_round: Option<u64>,
    /// SHA-256 of the next epoch's published inputs (`/epoch/{id}/inputs`); null until they are published,
    /// at the current epoch's start.
    #[serde(default)]
    pub inputs_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeStatistics {
    pub total_zipcodes: u64,
    pub active_zipcodes: u64,
    pub inactive_zipcodes: u64,
    pub state_distribution: Vec<StateCount>,
    pub tier_distribution: Vec<TierCount>,
    pub configuration: SelectionConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateCount {
    pub state: String,
    pub count: u64,
    pub avg_listings: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierCount {
    pub tier: String,
    pub count: u64,
    pub avg_listings: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionConfiguration {
    pub target_listings: u32,
    pub tolerance_percent: u32,
    pub cooldown_hours: f64,
    pub min_listings: u32,
    pub max_listings: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentEpoch {
    pub epoch_id: String,
    pub status: String,
    pub zipcodes_assigned: usize,
    pub target_listings: u32,
    pub actual_expected: u64,
}

/// The body of `/current` and, with `status`, of `/epoch/{epochId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentResponse {
    pub success: bool,
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch_id: String,
    /// Echo it in status reports and uploads: 16 hex characters, unknown before the epoch starts.
    #[schema(example = "9f2c4b7a1e3d5f60")]
    pub nonce: String,
    pub submission_deadline: String,
    pub epoch_start: String,
    pub epoch_end: String,
    pub target_listings: u32,
    pub tolerance_percent: u32,
    pub zipcodes: Vec<AssignedZipcode>,
    pub metadata: AssignmentMetadata,
    /// Always empty (kept for older clients).
    pub assignments: Vec<serde_json::Value>,
    /// `/epoch/{epochId}` only: `ACTIVE` or `COMPLETED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// How to recompute this assignment (`zipcoord verify-epoch`); absent for epochs made before epochs were
    /// beacon-seeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<EpochProofBody>,
    /// `/epoch/{epochId}` of a `groups` epoch only: its groups; `zipcodes` is then their batches' union.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<EpochGroupsBody>,
    /// `/current` of a `groups` epoch only: the caller's groups, whose batches `zipcodes` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miner_groups: Option<MinerGroupsBody>,
}

/// `GET /epoch/{epochId}/inputs`: everything the epoch's selection reads, published before its beacon round
/// exists. Served byte for byte as published: canonical JSON (keys sorted, no whitespace, integers and ASCII
/// strings only), whose SHA-256 is the `inputsHash` of the epoch's proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochInputsDocument {
    #[schema(example = "zipcoord-integer-window-v2")]
    pub algorithm_version: String,
    pub beacon_chain_hash: String,
    /// The round whose randomness seeds the epoch: the first at or after its start.
    pub beacon_round: u64,
    /// `[zipcode, expectedListings, tier, weightMillis, lastAssignedUnix | null]` in zipcode order: the
    /// active zipcodes with a positive weight, `lastAssignedUnix` the start of the latest earlier epoch that
    /// assigned the zipcode within two cooldowns.
    #[schema(value_type = Vec<Vec<serde_json::Value>>, example = json!([["10001", 120, "PREMIUM", 1000, null]]))]
    pub candidates: Vec<serde_json::Value>,
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch_id: String,
    pub epoch_start_unix: i64,
    #[schema(example = "zipcoord-epoch-inputs-v1")]
    pub format: String,
    pub netuid: u16,
    pub policy: InputsPolicy,
}

/// The selection policy as published in an epoch's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputsPolicy {
    pub cooldown_seconds: i64,
    pub max_count: Option<u64>,
    pub max_listings: u32,
    pub min_listings: u32,
    pub target_listings: u32,
    pub tolerance_percent: u32,
}

/// `GET /epoch/{epochId}/proof`: a started epoch's selection, nonce and proof, public: with the inputs and the
/// beacon's pulse anyone can recompute them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochProofResponse {
    pub success: bool,
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch_id: String,
    #[schema(example = "9f2c4b7a1e3d5f60")]
    pub nonce: String,
    /// The selected zipcodes in the order they were picked (in `groups` mode batch after batch, so a zipcode
    /// may stand twice when a batch was refilled).
    pub zipcodes: Vec<String>,
    pub total_expected_listings: u64,
    pub proof: EpochProofBody,
    /// `groups` mode only: each group's members and how many of `zipcodes` (the next ones) are its batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<ProofGroup>>,
}

/// One group of a `groups` epoch's proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofGroup {
    pub zipcode_count: usize,
    pub members: Vec<String>,
}

/// What anyone needs to recompute an epoch: its published inputs (by hash) and the beacon pulse that seeded it.
/// `seed = sha256("zipcoord/selection/v2" || randomness || epochId)`; the nonce is the first 8 bytes of
/// `sha256("zipcoord/nonce/v1" || randomness || epochId)`, hex (`docs/beacon-epochs.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochProofBody {
    /// `beacon`: seeded by the pulse below. `fallback`: no verified pulse came within the grace period and
    /// the server secret seeded it (not recomputable; `reason` says why).
    #[schema(example = "beacon")]
    pub kind: String,
    /// The beacon chain: `quicknet` (drand) or `zipcoord-dev` (a key everyone knows; development only).
    #[schema(example = "quicknet")]
    pub beacon: String,
    #[schema(example = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971")]
    pub chain_hash: String,
    /// The first round emitted at or after the epoch's start.
    pub round: u64,
    /// The round's BLS signature (48 bytes, hex); `beacon` proofs only.
    #[serde(default)]
    pub signature: Option<String>,
    /// `sha256(signature)`, hex; `beacon` proofs only.
    #[serde(default)]
    pub randomness: Option<String>,
    /// Why the epoch fell back to the server secret; `fallback` proofs only.
    #[serde(default)]
    pub reason: Option<String>,
    /// SHA-256 of the epoch's published inputs document.
    pub inputs_hash: String,
    /// When the inputs were published; before the round's time, nobody could choose them knowing its randomness.
    pub inputs_published_at: String,
    /// Where the inputs document is served.
    #[schema(example = "/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00/inputs")]
    pub inputs_url: String,
    #[schema(example = "zipcoord-integer-window-v2")]
    pub algorithm_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignedZipcode {
    #[schema(example = "10001")]
    pub zipcode: String,
    pub expected_listings: u32,
    pub state: String,
    pub city: String,
    pub county: Option<String>,
    /// `PREMIUM`, `MAJOR`, `STANDARD` or `RURAL`.
    #[schema(example = "PREMIUM")]
    pub market_tier: String,
    pub geographic_region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentMetadata {
    pub total_expected_listings: u64,
    pub zipcode_count: usize,
    pub algorithm_version: String,
    pub selection_seed: String,
}

/// `POST /api/v1/zipcode-assignments/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    /// The miner's hotkey (required unless the request is Epistula-signed; then, if sent, the signer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub hotkey: Option<String>,
    /// Signature over `zipcode:status:{epochId}:{timestamp}` (or `miner:status:{hotkey}:{epochId}:{timestamp}`);
    /// required unless the request is Epistula-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a"
    )]
    pub signature: Option<String>,
    /// Unix seconds; within ±300 s of the server's clock. Required unless the request is Epistula-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 1759338000)]
    pub timestamp: Option<i64>,
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch_id: String,
    /// The epoch's nonce from the assignment.
    #[schema(example = "9f2c4b7a1e3d5f60")]
    pub nonce: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    #[schema(example = "IN_PROGRESS")]
    pub status: String,
    #[serde(default)]
    pub s3_upload_complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listings_scraped: Option<i64>,
    #[serde(default)]
    pub zipcodes_completed: Vec<ZipcodeCompletion>,
    /// ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2025-10-01T17:30:00.000Z")]
    pub s3_upload_timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeCompletion {
    pub zipcode: String,
    pub listings_scraped: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub success: bool,
    pub message: String,
    pub epoch_id: String,
    pub status: String,
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_uses_camel_case() {
        let body = ErrorBody {
            status_code: 401,
            message: "Invalid signature".into(),
            error: "Unauthorized".into(),
            detail: "Invalid signature".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"statusCode":401,"message":"Invalid signature","error":"Unauthorized","detail":"Invalid signature"}"#
        );
    }
}
