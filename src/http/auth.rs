//! Authenticating signed requests, cheapest checks first: parse the fields, check the timestamp window, check
//! the hotkey is registered, and only then verify the signature (the expensive step) and the role.

use crate::domain::auth::{verify_hotkey_signature, Hotkey, HotkeySignature, Role, TimestampWindow};
use crate::service::App;

use super::error::ApiError;
use super::limits::{HotkeyClass, RateLimits};

/// The raw signed fields of a request, as they arrived.
pub struct SignedFields<'a> {
    pub hotkey: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub timestamp: Option<i64>,
}

/// A caller whose signature verified and whose role was granted.
#[derive(Debug, Clone)]
pub struct Caller {
    pub hotkey: Hotkey,
}

/// A field the request must carry, non-empty: 400 "`field` is required" otherwise.
pub fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, ApiError> {
    value.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::bad_request(format!("{field} is required")))
}

pub fn parse_hotkey(raw: Option<&str>, field: &str) -> Result<Hotkey, ApiError> {
    required(raw, field)?
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid {field}: expected an SS58 address")))
}

/// Parses a query-string timestamp: Unix seconds as a decimal integer.
pub fn parse_query_timestamp(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|t| t.trim().parse::<i64>().map_err(|_| ApiError::bad_request("Invalid timestamp"))).transpose()
}

/// What a signed endpoint demands of its caller.
pub struct Requirement<'a> {
    pub window: TimestampWindow,
    pub role: Role,
    /// The hotkey's budget this request spends once its signature verified.
    pub class: HotkeyClass,
    pub limits: &'a RateLimits,
}

/// Authenticates a request whose signature must cover one of `commitments` (built for the parsed hotkey and
/// timestamp), then spends one unit of the hotkey's budget.
pub fn authenticate(
    app: &App,
    fields: SignedFields<'_>,
    requirement: Requirement<'_>,
    commitments: impl Fn(&Hotkey, i64) -> Vec<String>,
) -> Result<Caller, ApiError> {
    let refused = |reason: &'static str| {
        move |error: ApiError| {
            crate::metrics::auth_failure(reason);
            error
        }
    };
    let hotkey = parse_hotkey(fields.hotkey, "hotkey").map_err(refused("malformed"))?;
    let signature: HotkeySignature = required(fields.signature, "signature")
        .and_then(|s| {
            s.parse().map_err(|_| ApiError::bad_request("Invalid signature format: expected 64 bytes of hex"))
        })
        .map_err(refused("malformed"))?;
    let timestamp =
        fields.timestamp.ok_or_else(|| ApiError::bad_request("timestamp is required")).map_err(refused("malformed"))?;
    if !requirement.window.accepts(timestamp, app.now_unix()) {
        return Err(refused("stale_timestamp")(ApiError::bad_request("Invalid timestamp")));
    }
    let snapshot = app.fresh_metagraph().map_err(|e| refused("metagraph_unavailable")(e.into()))?;
    if snapshot.neuron(&hotkey).is_none() {
        let message = format!("Hotkey is not registered on subnet {}", app.config().netuid);
        return Err(refused("unregistered")(ApiError::unauthorized(message)));
    }
    let verified = commitments(&hotkey, timestamp)
        .iter()
        .any(|message| verify_hotkey_signature(&hotkey, message.as_bytes(), &signature));
    if !verified {
        return Err(refused("bad_signature")(ApiError::unauthorized("Invalid signature")));
    }
    snapshot
        .authorize(&hotkey, requirement.role, app.config().validator_min_stake)
        .map_err(|e| refused(e.metric_label())(e.into()))?;
    requirement.limits.check_hotkey(requirement.class, &hotkey)?;
    Ok(Caller { hotkey })
}
