//! Who may call a signed endpoint, cheapest checks first: the timestamp window (and, for Epistula, that the
//! request is meant for this service), a fresh metagraph that has the hotkey registered, then the signature
//! (the expensive step), then the role. The metagraph itself: refreshed from its source, judged fresh or stale.

use std::sync::Arc;

use crate::domain::access::auth::{verify_hotkey_signature, HotkeySignature};
use crate::domain::access::endpoint::{Endpoint, SignedValues};
use crate::domain::access::epistula::EpistulaHeaders;
use crate::domain::access::metagraph::MetagraphSnapshot;
use crate::domain::hotkey::Hotkey;

use super::{whole_seconds, App, AppError, AppResult};

/// A signed request's claim, parsed: who signs, and the proof.
pub struct SignedClaim<'a> {
    pub hotkey: &'a Hotkey,
    pub proof: Proof<'a>,
}

/// How a request proves who sent it.
pub enum Proof<'a> {
    /// A legacy signature over one of the endpoint's commitment strings, at `timestamp` (Unix seconds).
    Commitment {
        signature: &'a HotkeySignature,
        timestamp: i64,
        /// The endpoint's own values (epoch id, coldkey, miner hotkey) as the request carried them.
        values: SignedValues<'a>,
    },
    /// Epistula v2 headers over the request's `body` (empty for a GET), or for a GET over its target
    /// ([`crate::domain::access::epistula::get_target`]).
    Epistula { headers: &'a EpistulaHeaders, body: &'a [u8], get_target: Option<&'a [u8]> },
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
        match &claim.proof {
            Proof::Commitment { timestamp, .. } => {
                if !endpoint.window.accepts(*timestamp, self.now_unix()) {
                    return Err(denied("stale_timestamp", AppError::Rejected("Invalid timestamp".to_string())));
                }
            }
            Proof::Epistula { headers, .. } => self.check_epistula_headers(headers)?,
        }
        let snapshot = self.fresh_metagraph().map_err(|e| denied("metagraph_unavailable", e))?;
        if snapshot.neuron(claim.hotkey).is_none() {
            return Err(denied("unregistered", AppError::Unregistered { netuid: self.settings.chain.netuid }));
        }
        let verified = match &claim.proof {
            Proof::Commitment { signature, timestamp, values } => {
                let values = SignedValues { timestamp: *timestamp, hotkey: claim.hotkey.as_str(), ..*values };
                endpoint
                    .accepted_commitments(&values)
                    .iter()
                    .any(|message| verify_hotkey_signature(claim.hotkey, message.as_bytes(), signature))
            }
            Proof::Epistula { headers, body, get_target } => {
                headers.verify(body) || get_target.is_some_and(|target| headers.verify(target))
            }
        };
        if !verified {
            return Err(denied("bad_signature", AppError::BadSignature));
        }
        snapshot
            .authorize(claim.hotkey, endpoint.role, self.settings.validator_min_stake)
            .map(|_| ())
            .map_err(|e| denied(e.metric_label(), e.into()))
    }

    /// An Epistula request must be signed for this service, within the Epistula window.
    fn check_epistula_headers(&self, headers: &EpistulaHeaders) -> Result<(), AccessDenied> {
        let denied = |reason, message: String| AccessDenied { reason, error: AppError::Unauthenticated(message) };
        let epistula = &self.settings.epistula;
        let Some(service) = &epistula.service_hotkey else {
            return Err(denied(
                "epistula_not_accepted",
                "This service accepts no Epistula-signed requests (its operator has not set \
                 ZIPCOORD_SERVICE_HOTKEY); sign with the legacy hotkey, signature and timestamp fields"
                    .to_string(),
            ));
        };
        if headers.signed_for != service.as_str() {
            return Err(denied(
                "epistula_wrong_service",
                format!("Epistula-Signed-For must be this service's hotkey {service}"),
            ));
        }
        let window = epistula.window;
        if !window.accepts(headers.timestamp_ms, self.now_ms()) {
            return Err(denied(
                "stale_timestamp",
                format!(
                    "Epistula-Timestamp is outside the accepted window ({} ms before to {} ms after the server's \
                     clock)",
                    window.max_age_ms, window.max_ahead_ms
                ),
            ));
        }
        Ok(())
    }

    /// Spends an admitted Epistula request's uuid: accepted once, by any replica, within its window. A uuid this
    /// replica saw is refused without asking the database, so a flood of replays costs no round trips.
    pub async fn spend_request_uuid(&self, headers: &EpistulaHeaders) -> Result<(), AccessDenied> {
        let key = headers.uuid.key();
        let expires_ms = headers.timestamp_ms.saturating_add(self.settings.epistula.window.max_age_ms);
        let fresh_here = self.used_uuids.insert(key.clone(), expires_ms, self.now_ms());
        let claimed = fresh_here
            && self
                .store
                .claim_request_uuid(&key, headers.signed_by.as_str(), headers.timestamp_ms)
                .await
                .map_err(|e| AccessDenied { reason: "storage", error: e.into() })?;
        if claimed {
            Ok(())
        } else {
            Err(AccessDenied {
                reason: "uuid_reused",
                error: AppError::Unauthenticated(
                    "Epistula-Uuid was already used: every request needs a fresh uuid".to_string(),
                ),
            })
        }
    }

    /// Forgets the uuids whose requests are past the Epistula window, here and in the database.
    pub async fn forget_used_uuids(&self) -> AppResult<u64> {
        let before_ms = self.settings.epistula.window.oldest_accepted_ms(self.now_ms());
        self.used_uuids.forget_before(self.now_ms());
        Ok(self.store.forget_request_uuids(before_ms).await?)
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
