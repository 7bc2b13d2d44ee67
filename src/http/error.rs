//! The one HTTP error type: every failure leaves the server as the contract's error body
//! `{statusCode, message, error, detail}`, with internal causes logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::ErrorBody;
use crate::app::AppError;
use crate::domain::access::metagraph::RoleError;

/// Longest message echoed back; parser errors can quote user input.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Set on 429s: becomes `Retry-After` and `X-RateLimit-*` headers.
    pub rate_limit: Option<RateLimitInfo>,
    /// Set on 503s that will pass: becomes `Retry-After`.
    pub retry_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u32,
    pub retry_after_seconds: u64,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
        }
        ApiError { status, message, rate_limit: None, retry_after_seconds: None }
    }

    /// A message made by the server alone (no request text in it) that must reach the client whole, such as a
    /// pulse the client is to check: not cut at [`MAX_MESSAGE_CHARS`].
    pub fn whole(status: StatusCode, message: String) -> Self {
        ApiError { status, message, rate_limit: None, retry_after_seconds: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.status.as_u16(), self.status.canonical_reason().unwrap_or("Error"), self.message.clone())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(info) = self.rate_limit {
            let headers = response.headers_mut();
            let retry = HeaderValue::from(info.retry_after_seconds);
            headers.insert(header::RETRY_AFTER, retry.clone());
            headers.insert("x-ratelimit-limit", HeaderValue::from(info.limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
            headers.insert("x-ratelimit-reset", retry);
        }
        response
    }
}

impl From<RoleError> for ApiError {
    fn from(error: RoleError) -> Self {
        match error {
            RoleError::NotRegistered => ApiError::unauthorized("Hotkey is not registered on the subnet"),
            RoleError::NoValidatorPermit => ApiError::forbidden("Validator permit required"),
            RoleError::InsufficientStake { required, .. } => {
                ApiError::forbidden(format!("Validator stake below the required {required}"))
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound(message) => ApiError::not_found(message),
            AppError::Rejected(message) => ApiError::bad_request(message),
            AppError::InvalidNonce => ApiError::bad_request("Invalid nonce for epoch"),
            AppError::Unregistered { .. } | AppError::BadSignature => ApiError::unauthorized(error.to_string()),
            AppError::Unauthenticated(message) => ApiError::unauthorized(message),
            AppError::SignatureReused => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            AppError::Role(role) => role.into(),
            AppError::MetagraphUnavailable => {
                ApiError::unavailable("Metagraph not loaded yet; registered hotkeys cannot be checked")
            }
            AppError::MetagraphStale { age_seconds, limit_seconds } => ApiError::unavailable(format!(
                "Metagraph snapshot is {age_seconds} s old (limit {limit_seconds} s): registrations cannot be \
                 checked until the chain is read again; retry later"
            )),
            AppError::Selection(error) => {
                tracing::warn!(%error, "request needed an epoch that cannot be selected");
                ApiError::unavailable("No zipcode assignment could be selected for this epoch")
            }
            AppError::BeaconPending { retry_after_seconds, reason } => {
                tracing::debug!(%reason, "request waits for the epoch's beacon pulse");
                ApiError {
                    retry_after_seconds: Some(retry_after_seconds),
                    ..ApiError::unavailable(
                        "The epoch's beacon pulse is not available yet; its assignment follows within seconds",
                    )
                }
            }
            AppError::EpochNotCreated { epoch, reason, retry_after_seconds } => {
                tracing::debug!(%epoch, %reason, "request needed an epoch that cannot be created now");
                ApiError {
                    retry_after_seconds: Some(retry_after_seconds),
                    ..ApiError::unavailable(format!(
                        "Epoch {epoch} cannot be created now; the next attempt is in {retry_after_seconds} s \
                         (/healthcheck says why)"
                    ))
                }
            }
            AppError::TooEarly { retry_after_seconds, message } => ApiError {
                retry_after_seconds: Some(retry_after_seconds),
                ..ApiError::new(StatusCode::CONFLICT, message)
            },
            AppError::Storage(error) if error.is_disk_full() => {
                tracing::error!(%error, "the database's disk is full; a request's write was refused");
                ApiError {
                    retry_after_seconds: Some(30),
                    ..ApiError::unavailable(
                        "The service's database disk is full: nothing of this request was stored; retry later",
                    )
                }
            }
            AppError::Storage(error) => {
                tracing::error!(%error, "storage failure while serving a request");
                ApiError::unavailable("Service temporarily unavailable")
            }
            AppError::S3Unavailable(message) => ApiError::unavailable(message),
            AppError::Chain(error) => {
                tracing::error!(%error, "metagraph failure while serving a request");
                ApiError::unavailable("Metagraph temporarily unavailable")
            }
        }
    }
}
