//! An epoch that could not be created: remembered with since when and why, retried with a back-off, and shown
//! by health, readiness, metrics and the dashboard until an epoch is created again. Waiting for a beacon pulse is
//! not a failure (it has its own state); a selection the universe cannot satisfy, a store that refuses the
//! epoch, and anything else that stops creation are.

use crate::domain::epoch::selection::SelectionError;
use crate::domain::epoch::EpochId;

use super::AppError;

/// How long a failed selection is remembered before a request may try again: it fails the same way until the
/// universe or the settings change.
const SELECTION_RETRY_MS: i64 = 30_000;
/// The first wait after any other failure, doubled on each failure after it, up to [`MAX_RETRY_MS`].
const FIRST_RETRY_MS: i64 = 1_000;
const MAX_RETRY_MS: i64 = 60_000;

/// Why creating an epoch failed.
#[derive(Debug, Clone)]
pub(super) enum CreationError {
    Selection(SelectionError),
    Other(String),
}

/// The failed attempts at one epoch.
#[derive(Debug, Clone)]
pub(super) struct FailedCreation {
    epoch: EpochId,
    since_ms: i64,
    last_ms: i64,
    attempts: u32,
    error: CreationError,
}

/// An epoch that could not be created, as health and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochCreationTrouble {
    pub epoch: EpochId,
    pub since_ms: i64,
    pub attempts: u32,
    pub reason: String,
    pub next_attempt_ms: i64,
}

impl CreationError {
    /// Sorts a failure: `None` for the beacon wait, which is not one.
    pub(super) fn of(error: &AppError) -> Option<CreationError> {
        match error {
            AppError::BeaconPending { .. } => None,
            AppError::Selection(error) => Some(CreationError::Selection(error.clone())),
            AppError::EpochNotCreated { reason, .. } => Some(CreationError::Other(reason.clone())),
            other => Some(CreationError::Other(other.to_string())),
        }
    }

    fn reason(&self) -> String {
        match self {
            CreationError::Selection(error) => format!("zipcode selection failed: {error}"),
            CreationError::Other(reason) => reason.clone(),
        }
    }
}

impl FailedCreation {
    /// The record after another failure at `epoch`, given the one before (kept if it was the same epoch's).
    pub(super) fn after(previous: Option<&FailedCreation>, epoch: EpochId, error: CreationError, now_ms: i64) -> Self {
        let (since_ms, attempts) = match previous.filter(|p| p.epoch == epoch) {
            Some(previous) => (previous.since_ms, previous.attempts.saturating_add(1)),
            None => (now_ms, 1),
        };
        FailedCreation { epoch, since_ms, last_ms: now_ms, attempts, error }
    }

    fn next_attempt_ms(&self) -> i64 {
        let wait = match self.error {
            CreationError::Selection(_) => SELECTION_RETRY_MS,
            CreationError::Other(_) => {
                FIRST_RETRY_MS.saturating_mul(1 << self.attempts.saturating_sub(1).min(16)).min(MAX_RETRY_MS)
            }
        };
        self.last_ms.saturating_add(wait)
    }

    /// The answer to a request for `epoch` while its next attempt is not due: `None` once it is (or for another
    /// epoch).
    pub(super) fn refusal(&self, epoch: EpochId, now_ms: i64) -> Option<AppError> {
        if self.epoch != epoch || now_ms >= self.next_attempt_ms() {
            return None;
        }
        Some(self.error(now_ms))
    }

    /// What a request that met this failure is answered.
    pub(super) fn error(&self, now_ms: i64) -> AppError {
        match &self.error {
            CreationError::Selection(error) => AppError::Selection(error.clone()),
            CreationError::Other(reason) => AppError::EpochNotCreated {
                epoch: self.epoch,
                reason: reason.clone(),
                retry_after_seconds: ((self.next_attempt_ms() - now_ms).max(0) as u64).div_ceil(1000).max(1),
            },
        }
    }

    pub(super) fn trouble(&self) -> EpochCreationTrouble {
        EpochCreationTrouble {
            epoch: self.epoch,
            since_ms: self.since_ms,
            attempts: self.attempts,
            reason: self.error.reason(),
            next_attempt_ms: self.next_attempt_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: &str = "2025-10-01T16-00-00";

    #[test]
    fn retries_back_off_and_the_first_failure_is_remembered() {
        let epoch: EpochId = EPOCH.parse().unwrap();
        let other = || CreationError::Other("UNIQUE constraint failed".to_string());
        let mut failed = FailedCreation::after(None, epoch, other(), 10_000);
        let mut waits = Vec::new();
        for n in 0..9 {
            waits.push(failed.next_attempt_ms() - failed.last_ms);
            assert!(failed.refusal(epoch, failed.last_ms + 1).is_some(), "attempt {n}: not due yet");
            assert!(failed.refusal(epoch, failed.next_attempt_ms()).is_none(), "attempt {n}: due");
            let at = failed.next_attempt_ms();
            failed = FailedCreation::after(Some(&failed), epoch, other(), at);
        }
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        let trouble = failed.trouble();
        assert_eq!((trouble.since_ms, trouble.attempts), (10_000, 10));
        match failed.error(failed.last_ms) {
            AppError::EpochNotCreated { retry_after_seconds, reason, .. } => {
                assert_eq!((retry_after_seconds, reason.as_str()), (60, "UNIQUE constraint failed"));
            }
            other => panic!("{other:?}"),
        }
        let next = EpochId::from_start_unix(epoch.start_unix() + 14_400);
        assert!(failed.refusal(next, failed.last_ms + 1).is_none(), "another epoch is tried at once");
        let fresh = FailedCreation::after(Some(&failed), next, other(), 500_000);
        assert_eq!((fresh.since_ms, fresh.attempts), (500_000, 1), "another epoch's failures count afresh");
    }

    #[test]
    fn the_beacon_wait_is_not_a_failure_and_a_selection_waits_thirty_seconds() {
        let pending = AppError::BeaconPending { retry_after_seconds: 1, reason: "round 5".into() };
        assert!(CreationError::of(&pending).is_none());
        let epoch: EpochId = EPOCH.parse().unwrap();
        let selection =
            CreationError::Selection(SelectionError::NoEligible { total: 0, active: 0, in_range: 0, min: 1, max: 2 });
        let failed = FailedCreation::after(None, epoch, selection, 0);
        assert_eq!(failed.next_attempt_ms(), 30_000);
        assert!(matches!(failed.error(1), AppError::Selection(_)));
        assert!(failed.trouble().reason.starts_with("zipcode selection failed: "));
    }
}
