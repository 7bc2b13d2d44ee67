//! The application layer's one error type. The HTTP edge maps each variant to a status and message in one
//! place (`http::error`); tasks and the CLI log or print them.

use crate::chain::ChainError;
use crate::domain::access::metagraph::RoleError;
use crate::domain::epoch::selection::SelectionError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Maps to 404 with this message.
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but not acceptable (400 with this message).
    #[error("{0}")]
    Rejected(String),
    #[error("Invalid nonce for epoch")]
    InvalidNonce,
    #[error("no metagraph snapshot is loaded yet")]
    MetagraphUnavailable,
    #[error("the metagraph snapshot is {age_seconds} s old (limit {limit_seconds} s)")]
    MetagraphStale { age_seconds: i64, limit_seconds: i64 },
    /// The hotkey is not in the metagraph.
    #[error("Hotkey is not registered on subnet {netuid}")]
    Unregistered { netuid: u16 },
    #[error("Invalid signature")]
    BadSignature,
    /// The request's authentication is refused for the reason given (401 with this message).
    #[error("{0}")]
    Unauthenticated(String),
    /// A signature that already carried a different request (409).
    #[error("This signature already carried a different status report; sign the new one")]
    SignatureReused,
    #[error(transparent)]
    Role(#[from] RoleError),
    /// An epoch's zipcodes cannot be selected (the operator's settings or universe rule every set out).
    #[error("zipcode selection failed: {0}")]
    Selection(#[from] SelectionError),
    /// The epoch's beacon pulse is not here yet (503 with `Retry-After`): within the grace period the server
    /// waits rather than seeding from its secret.
    #[error("the epoch's beacon pulse is not available yet: {reason}")]
    BeaconPending { retry_after_seconds: u64, reason: String },
    /// The epoch could not be created (503 with `Retry-After`: the next attempt); health says since when.
    #[error("epoch {epoch} cannot be created: {reason}")]
    EpochNotCreated { epoch: crate::domain::epoch::EpochId, reason: String, retry_after_seconds: u64 },
    /// What was asked is served later (409 with `Retry-After`), e.g. an epoch's verdicts before its judging
    /// window has passed.
    #[error("{message}")]
    TooEarly { retry_after_seconds: u64, message: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The S3 store is not configured; the message names the missing settings.
    #[error("{0}")]
    S3Unavailable(String),
}

pub type AppResult<T> = Result<T, AppError>;
