//! The health, liveness and readiness bodies: what the server says of itself, its database, its beacon and its
//! metagraph while it starts, runs and drains.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthcheck` and `/health` (legacy, snake_case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub service: String,
    pub version: String,
    pub timestamp: String,
    /// Seconds since the process started.
    pub uptime: f64,
    pub database: String,
    pub folder_structure: String,
    pub current_epoch: Option<String>,
    pub metagraph: MetagraphHealth,
    pub s3_configured: bool,
    #[serde(default)]
    pub beacon: Option<BeaconHealth>,
    /// Whether the database takes writes (`database` says only that it answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_writes: Option<DatabaseWrites>,
    /// Whether epochs are being created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_creation: Option<EpochCreation>,
    /// Present only while the server waits for its database at start-up (every other endpoint answers 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupWait>,
}

/// A server that started while its database did not answer: it keeps trying, with a back-off, and serves only
/// its health meanwhile (snake_case, as the health body is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartupWait {
    #[schema(example = "waiting for the database")]
    pub state: String,
    pub since: String,
    pub attempts: u32,
    #[schema(example = "error communicating with database: Connection refused (os error 111)")]
    pub reason: String,
    pub next_attempt_at: String,
}

/// Whether epochs are being created, and if the latest could not be, which, since when, why and when it is tried
/// again (snake_case, as the health body is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EpochCreation {
    /// `ok`, or `failing` (the epoch is not served meanwhile: `/stats` answers `currentEpoch: null`, `/current`
    /// 503 with `Retry-After`).
    #[schema(example = "ok")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// Whether the database takes writes now, and if not since when and why (snake_case, as the health body is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseWrites {
    /// `ok`, or `failing` (requests that write answer 503 meanwhile; nothing is acknowledged unstored).
    #[schema(example = "ok")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "the database's disk is full")]
    pub reason: Option<String>,
}

/// Where epochs' randomness comes from, and how it went last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeaconHealth {
    /// `dev`, or `drand quicknet (4 relays)`.
    pub source: String,
    #[schema(example = "quicknet")]
    pub chain: String,
    /// `ok` (the last pulse verified), `waiting` (the last attempt failed; the grace period runs), `fallback`
    /// (the current epoch was seeded from the server secret), or `idle` (no pulse asked for yet).
    #[schema(example = "ok")]
    pub state: String,
    pub last_round: Option<u64>,
    /// Why the last attempt failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The epoch waiting for its pulse now, if one is: which round, since when, and how the wait ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<BeaconWait>,
}

/// An epoch waiting for its beacon pulse (it is not served meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeaconWait {
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch: String,
    pub round: u64,
    pub since: String,
    /// When the epoch is seeded from the server secret instead, unless the pulse comes first; absent for an
    /// epoch that started while the server was down, which waits however long it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_at: Option<String>,
    /// The same in words.
    pub fallback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetagraphHealth {
    pub source: String,
    pub netuid: u16,
    pub block: Option<u64>,
    pub neurons: usize,
    pub validators: usize,
    pub age_seconds: Option<i64>,
    /// Beyond this age signed endpoints answer 503.
    pub max_age_seconds: i64,
    /// A snapshot exists and is within the age limit.
    pub fresh: bool,
    /// Why the last refresh failed, when it failed (cleared by the next success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

/// `GET /livez`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LivenessResponse {
    #[schema(example = "alive")]
    pub status: String,
}

/// `GET /readyz`: whether this instance should receive traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessResponse {
    pub ready: bool,
    pub database: String,
    pub metagraph: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_writes: Option<DatabaseWrites>,
    /// Detail only: an epoch that cannot be created fails on every replica alike, so it does not take this one
    /// out of rotation (`/stats` must keep answering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_creation: Option<EpochCreation>,
    /// Present only while the server waits for its database at start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupWait>,
}
