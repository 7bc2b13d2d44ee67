//! Who may call a signed endpoint, cheapest checks first: the timestamp window, a fresh metagraph that has
//! the hotkey registered, then the signature over one of the endpoint's commitments (the expensive step),
//! then the role. The metagraph itself: refreshed from its source, judged fresh or stale.

use std::sync::Arc;

use crate::domain::auth::{verify_hotkey_signature, Hotkey, HotkeySignature};
use crate::domain::endpoint::{Endpoint, SignedValues};
use crate::domain::metagraph::MetagraphSnapshot;

use super::{whole_seconds, App, AppError, AppResult};

/// A signed request's claim, parsed: who signs, what, and when.
pub struct SignedClaim<'a> {
    pub hotkey: &'a Hotkey,
    pub signature: &'a HotkeySignature,
    pub timestamp: i64,
    /// The endpoint's own values (epoch id, coldkey, miner hotkey) as the request carried them.
    pub values: SignedValues<'a>,
}

/// Why a signed request was refused, with the label `/metrics` counts it under.
pub struct AccessDenied {
    pub reason: &'static str,
    pub error: AppError,
}

impl App {
    /// Admits `claim` to `endpoint`, or says why not.
    pub fn admit(&self, endpoint: &Endpoint, claim: &SignedClaim<'_>) -> Result<(), AccessDenied> {
        let denied = |reason, error| AccessDenied { reason, error };
        if !endpoint.window.accepts(claim.timestamp, self.now_unix()) {
            return Err(denied("stale_timestamp", AppError::Rejected("Invalid timestamp".to_string())));
        }
        let snapshot = self.fresh_metagraph().map_err(|e| denied("metagraph_unavailable", e))?;
        if snapshot.neuron(claim.hotkey).is_none() {
            return Err(denied("unregistered", AppError::Unregistered { netuid: self.settings.chain.netuid }));
        }
        let values = SignedValues { timestamp: claim.timestamp, hotkey: claim.hotkey.as_str(), ..claim.values };
        let verified = endpoint
            .accepted_commitments(&values)
            .iter()
            .any(|message| verify_hotkey_signature(claim.hotkey, message.as_bytes(), claim.signature));
        if !verified {
            return Err(denied("bad_signature", AppError::BadSignature));
        }
        snapshot
            .authorize(claim.hotkey, endpoint.role, self.settings.validator_min_stake)
            .map(|_| ())
            .map_err(|e| denied(e.metric_label(), e.into()))
    }

    /// The metagraph snapshot signed requests are judged by; refused when missing or too old, so that honest
    /// miners are never told they are unregistered because the chain could not be read.
    pub fn fresh_metagraph(&self) -> AppResult<Arc<MetagraphSnapshot>> {
        let snapshot = self.metagraph.snapshot().ok_or(AppError::MetagraphUnavailable)?;
        let age_seconds = self.now_unix() - snapshot.fetched_at_unix;
        let limit_seconds = whole_seconds(self.settings.chain.max_age);
        if age_seconds > limit_seconds {
            return Err(AppError::MetagraphStale { age_seconds, limit_seconds });
        }
        Ok(snapshot)
    }

    /// Reloads the metagraph from its source, keeping the previous snapshot on failure.
    pub async fn refresh_metagraph(&self) -> AppResult<Arc<MetagraphSnapshot>> {
        let refreshed = self.metagraph.refresh(self.now_unix()).await;
        crate::metrics::metagraph_refresh(refreshed.is_ok());
        Ok(refreshed?)
    }

    /// Whether the last metagraph refresh failed (the refresh loop retries sooner then).
    pub fn metagraph_refresh_failed(&self) -> bool {
        self.metagraph.last_failure().is_some()
    }
}
