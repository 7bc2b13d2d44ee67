//! Epochs: creating an epoch's assignment (once, idempotently, across replicas), reading started epochs, and
//! pre-creating the next one within the lead time. Assignments never change once stored, so they are kept in
//! memory; the zipcode universe is reloaded only when an import or seed changed it.

use std::sync::Arc;

use crate::domain::assignment::{plan_epoch, EpochAssignment, PlanInputs};
use crate::domain::epoch::EpochId;
use crate::domain::selection::{CooldownRelaxation, SelectionError};
use crate::domain::zipcode::ZipcodeRecord;

use super::cache::BoundedMap;
use super::{App, AppError, AppResult};

/// Assignments kept in memory; they never change once created, so this is only a size bound.
const EPOCH_CACHE_SIZE: usize = 64;
/// How long a failed selection is remembered before a request may try again.
const SELECTION_RETRY_MS: i64 = 30_000;

/// The epochs' in-memory state.
pub(super) struct EpochBook {
    assignments: BoundedMap<EpochId, Arc<EpochAssignment>>,
    /// Serialises epoch creation in this process (the database serialises it across replicas) and remembers
    /// the last failed selection.
    creating: tokio::sync::Mutex<Option<FailedSelection>>,
    universe: tokio::sync::Mutex<Option<CachedUniverse>>,
}

/// The zipcode universe as loaded at one revision.
struct CachedUniverse {
    revision: Option<String>,
    records: Arc<Vec<ZipcodeRecord>>,
}

struct FailedSelection {
    epoch: EpochId,
    at_ms: i64,
    error: SelectionError,
}

impl EpochBook {
    pub(super) fn new() -> Self {
        EpochBook {
            assignments: BoundedMap::new(EPOCH_CACHE_SIZE),
            creating: tokio::sync::Mutex::new(None),
            universe: tokio::sync::Mutex::new(None),
        }
    }
}

impl App {
    pub fn current_epoch_id(&self) -> EpochId {
        self.settings.epochs.clock.epoch_at(self.now_unix())
    }

    /// The zipcode universe, reloaded only when an import or seed changed it.
    async fn universe(&self) -> AppResult<Arc<Vec<ZipcodeRecord>>> {
        let revision = self.store.zipcodes_revision().await?;
        let mut cached = self.epochs.universe.lock().await;
        if let Some(universe) = cached.as_ref().filter(|u| u.revision == revision) {
            return Ok(universe.records.clone());
        }
        let records = Arc::new(self.store.load_zipcodes().await?);
        *cached = Some(CachedUniverse { revision, records: records.clone() });
        Ok(records)
    }

    /// The assignment of `epoch`, creating it if it does not exist yet. Idempotent: the stored row wins, so
    /// every caller, on every replica, gets the same zipcodes and nonce.
    pub async fn ensure_epoch(&self, epoch: EpochId) -> AppResult<Arc<EpochAssignment>> {
        if let Some(assignment) = self.epochs.assignments.get(&epoch) {
            return Ok(assignment);
        }
        let mut last_failure = self.epochs.creating.lock().await;
        if let Some(assignment) = self.epochs.assignments.get(&epoch) {
            return Ok(assignment);
        }
        if let Some(stored) = self.store.load_epoch(epoch).await? {
            let stored = Arc::new(stored);
            self.epochs.assignments.insert(epoch, stored.clone());
            return Ok(stored);
        }
        let now_ms = self.now_ms();
        if let Some(failed) = last_failure.as_ref() {
            if failed.epoch == epoch && now_ms - failed.at_ms < SELECTION_RETRY_MS {
                return Err(AppError::Selection(failed.error.clone()));
            }
        }
        let started = std::time::Instant::now();
        let universe = self.universe().await?;
        let rules = &self.settings.epochs;
        let window_start = epoch.start_unix() - 2 * rules.policy.cooldown_seconds;
        let last_assigned = self.store.last_assignments(window_start, epoch.start_unix()).await?;
        let inputs = PlanInputs { universe: &universe, last_assigned: &last_assigned, policy: rules.policy };
        let (assignment, relaxation) = match plan_epoch(epoch, rules.clock, &self.secret, &inputs, now_ms) {
            Ok(planned) => planned,
            Err(error) => {
                tracing::error!(epoch = %epoch, %error, "cannot select zipcodes for epoch");
                crate::metrics::selection_failed();
                *last_failure = Some(FailedSelection { epoch, at_ms: now_ms, error: error.clone() });
                return Err(error.into());
            }
        };
        let (stored, created) = self.store.insert_epoch(&assignment).await?;
        if created {
            crate::metrics::epoch_created(started.elapsed());
            tracing::info!(
                epoch = %epoch,
                zipcodes = stored.zipcodes.len(),
                expected_listings = stored.total_expected(),
                cooldown_relaxed = relaxation != CooldownRelaxation::None,
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "created epoch assignment"
            );
        }
        *last_failure = None;
        let stored = Arc::new(stored);
        self.epochs.assignments.insert(epoch, stored.clone());
        Ok(stored)
    }

    /// The current epoch's assignment for miners (created on demand, e.g. after downtime). An epoch whose
    /// zipcodes cannot be selected is not found, like any epoch that does not exist.
    pub async fn current_assignment(&self) -> AppResult<Arc<EpochAssignment>> {
        match self.ensure_epoch(self.current_epoch_id()).await {
            Err(AppError::Selection(_)) => Err(AppError::NotFound("No current epoch available".to_string())),
            other => other,
        }
    }

    /// An epoch that has started. Never reveals future epochs; creates only the current one.
    pub async fn started_epoch(&self, epoch: EpochId) -> AppResult<Arc<EpochAssignment>> {
        let not_found = || AppError::NotFound(format!("Epoch {epoch} not found"));
        let current = self.current_epoch_id();
        if !self.settings.epochs.clock.is_boundary(epoch) || epoch > current {
            return Err(not_found());
        }
        if epoch == current {
            return match self.ensure_epoch(epoch).await {
                Err(AppError::Selection(_)) => Err(not_found()),
                other => other,
            };
        }
        if let Some(assignment) = self.epochs.assignments.get(&epoch) {
            return Ok(assignment);
        }
        let stored = Arc::new(self.store.load_epoch(epoch).await?.ok_or_else(not_found)?);
        self.epochs.assignments.insert(epoch, stored.clone());
        Ok(stored)
    }

    /// Creates the next epoch's assignment once it is within the lead time of its start. Returns the epoch
    /// when it is (now) stored.
    pub async fn precreate_next_epoch(&self) -> AppResult<Option<EpochId>> {
        let next = self.settings.epochs.clock.next(self.current_epoch_id());
        let lead_seconds = self.settings.epochs.lead().as_secs() as i64;
        if next.start_unix() - self.now_unix() > lead_seconds {
            return Ok(None);
        }
        self.ensure_epoch(next).await?;
        Ok(Some(next))
    }
}
