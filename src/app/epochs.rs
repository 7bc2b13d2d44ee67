//! Epochs: publishing each epoch's inputs before its beacon round exists, creating its assignment from them and
//! the round's verified pulse (once, idempotently, across replicas), and reading started epochs. Assignments and
//! published inputs never change once stored, so they are kept in memory; the zipcode universe is reloaded only
//! when an import or seed changed it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::epoch::assignment::{plan_epoch, EpochAssignment, PublishedInputs};
use crate::domain::epoch::batches::AssignmentMode;
use crate::domain::epoch::groups::GroupedInputs;
use crate::domain::epoch::inputs::{EpochInputs, InputSources, MAX_ROLL_FORWARD_EPOCHS};
use crate::domain::epoch::selection::CooldownRelaxation;
use crate::domain::epoch::zipcode::{Zipcode, ZipcodeRecord};
use crate::domain::epoch::EpochId;
use crate::storage::{InputsRecord, StorageError};

use super::cache::BoundedMap;
use super::epoch_creation::{CreationError, EpochCreationTrouble, FailedCreation};
use super::seeding::BeaconStatus;
use super::{App, AppError, AppResult};

/// Assignments kept in memory; they never change once created, so this is only a size bound.
const EPOCH_CACHE_SIZE: usize = 64;
/// Decoded inputs kept in memory (about 2 MB each with 30,000 candidates): the current and next epochs'.
const INPUTS_CACHE_SIZE: usize = 4;
/// The epochs' in-memory state.
pub(super) struct EpochBook {
    assignments: BoundedMap<EpochId, Arc<EpochAssignment>>,
    inputs: BoundedMap<EpochId, Arc<Published>>,
    /// Serialises epoch creation in this process (the database serialises it across replicas) and remembers
    /// the failed attempts at the latest epoch that failed.
    creating: tokio::sync::Mutex<Option<FailedCreation>>,
    /// The same record, readable without waiting on creation (health, metrics, the dashboard).
    trouble: parking_lot::Mutex<Option<EpochCreationTrouble>>,
    universe: tokio::sync::Mutex<Option<CachedUniverse>>,
    pub(super) beacon: parking_lot::Mutex<BeaconStatus>,
}

/// An epoch's inputs as published, decoded.
pub struct Published {
    pub record: InputsRecord,
    pub inputs: EpochInputs,
}

/// The zipcode universe as loaded at one revision.
struct CachedUniverse {
    revision: Option<String>,
    records: Arc<Vec<ZipcodeRecord>>,
}

impl EpochBook {
    pub(super) fn new() -> Self {
        EpochBook {
            assignments: BoundedMap::new(EPOCH_CACHE_SIZE),
            inputs: BoundedMap::new(INPUTS_CACHE_SIZE),
            creating: tokio::sync::Mutex::new(None),
            trouble: parking_lot::Mutex::new(None),
            universe: tokio::sync::Mutex::new(None),
            beacon: parking_lot::Mutex::new(BeaconStatus::default()),
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

    /// The published inputs of `epoch`, if they were published.
    pub async fn published_inputs(&self, epoch: EpochId) -> AppResult<Option<Arc<Published>>> {
        if let Some(published) = self.epochs.inputs.get(&epoch) {
            return Ok(Some(published));
        }
        let Some(stored) = self.store.load_inputs(epoch).await? else { return Ok(None) };
        let canonical = stored.canonical_json()?;
        let corrupt = |why: String| AppError::Storage(StorageError::Corrupt(format!("inputs of {epoch} {why}")));
        if crate::domain::epoch::inputs::inputs_hash_hex(&canonical) != stored.record.hash {
            return Err(corrupt("do not match their published hash".into()));
        }
        let inputs = EpochInputs::from_canonical_json(&canonical).map_err(|e| corrupt(e.to_string()))?;
        let published = Arc::new(Published { record: stored.record, inputs });
        self.epochs.inputs.insert(epoch, published.clone());
        Ok(Some(published))
    }

    /// Publishes the inputs of `epoch` as the world stands now, unless they were published already (then the
    /// published ones stand: imports and setting changes reach only epochs whose inputs are still to come).
    pub async fn publish_inputs(&self, epoch: EpochId) -> AppResult<Arc<Published>> {
        if let Some(published) = self.published_inputs(epoch).await? {
            return Ok(published);
        }
        let universe_read_at_ms = self.now_ms();
        let inputs = match self.rolled_forward_inputs(epoch).await? {
            Some(inputs) => inputs,
            None => self.compose_inputs(epoch).await?,
        };
        let canonical = inputs.canonical_json();
        let record = InputsRecord {
            epoch,
            hash: crate::domain::epoch::inputs::inputs_hash_hex(&canonical),
            candidate_count: inputs.candidates.len() as u64,
            published_at_ms: self.now_ms(),
        };
        let moves = inputs.calibration.as_ref().map_or(&[][..], |c| &c.moves);
        let (stored, created) = self.store.publish_inputs(&record, &canonical, moves, universe_read_at_ms).await?;
        if !created {
            // Another replica published first; its document is the one.
            return self.published_inputs(epoch).await?.ok_or_else(|| {
                AppError::Storage(StorageError::Corrupt(format!("inputs of {epoch} vanished after publication")))
            });
        }
        tracing::info!(
            epoch = %epoch,
            inputs_hash = %stored.hash,
            candidates = stored.candidate_count,
            round = inputs.beacon_round,
            bytes = canonical.len(),
            recalibrated = moves.len(),
            evidence_files = inputs.calibration.as_ref().map_or(0, |c| c.evidence.len()),
            "published epoch inputs"
        );
        let published = Arc::new(Published { record: stored, inputs });
        self.epochs.inputs.insert(epoch, published.clone());
        Ok(published)
    }

    /// The inputs of `epoch` composed from the world as it stands: the universe, the settings, the stored
    /// epochs' selections and, with recalibration on, the verdicts on the latest judged epochs.
    async fn compose_inputs(&self, epoch: EpochId) -> AppResult<EpochInputs> {
        let universe = self.universe().await?;
        let rules = &self.settings.epochs;
        let window_start = epoch.start_unix() - 2 * rules.policy.cooldown_seconds;
        let last_assigned = self.store.last_assignments(window_start, epoch.start_unix()).await?;
        let chain = self.beacon.chain();
        let groups = match rules.assignment {
            AssignmentMode::Shared => None,
            AssignmentMode::Groups(plan) => {
                let roster = match self.metagraph.snapshot() {
                    Some(snapshot) => snapshot.miner_roster(self.settings.validator_min_stake),
                    None => {
                        tracing::warn!(epoch = %epoch, "no metagraph yet: the epoch's roster is empty, every miner joins late");
                        Vec::new()
                    }
                };
                Some(GroupedInputs::new(plan, &roster))
            }
        };
        let sources = InputSources {
            universe: &universe,
            last_assigned: &last_assigned,
            policy: rules.policy,
            netuid: self.settings.chain.netuid,
            beacon_chain_hash: chain.hash,
            beacon_round: chain.round_at(epoch.start_unix()),
            groups,
        };
        let inputs = EpochInputs::compose(epoch, &sources);
        let Some(recalibration) = rules.recalibration else { return Ok(inputs) };
        let evidence = self.calibration_evidence(epoch, &recalibration).await;
        if evidence.is_empty() {
            return Ok(inputs);
        }
        let evidence_from = self.store.zipcode_evidence_from().await?;
        Ok(inputs.calibrated(recalibration.rule, &evidence, &evidence_from, &self.coldkey_of()))
    }

    /// Inputs published once `epoch` has started come too late to be composed from the world: its round may be
    /// out, and the operator could choose them knowing it. They are rolled forward from the previous epoch's
    /// published inputs and selection instead, which is also what clients computed while the server was down.
    /// `None` when the epoch has not started or the previous epoch is not there to roll forward from.
    async fn rolled_forward_inputs(&self, epoch: EpochId) -> AppResult<Option<EpochInputs>> {
        if self.now_ms() < epoch.start_unix().saturating_mul(1000) {
            return Ok(None);
        }
        let previous = self.settings.epochs.clock.previous(epoch);
        let Some(published) = self.published_inputs(previous).await? else { return Ok(None) };
        let Some(assignment) = self.stored_epoch(previous).await? else { return Ok(None) };
        let picked: Vec<Zipcode> = assignment.zipcodes.iter().map(|z| z.zipcode).collect();
        let rolled = published.inputs.roll_forward(&picked, epoch);
        if rolled.is_some() {
            tracing::info!(epoch = %epoch, from = %previous, "inputs published late: rolled forward from the previous epoch");
        }
        Ok(rolled)
    }

    /// A stored epoch, from memory or the store; never creates one.
    pub(super) async fn stored_epoch(&self, epoch: EpochId) -> AppResult<Option<Arc<EpochAssignment>>> {
        if let Some(assignment) = self.epochs.assignments.get(&epoch) {
            return Ok(Some(assignment));
        }
        let Some(stored) = self.store.load_epoch(epoch).await? else { return Ok(None) };
        let stored = Arc::new(stored);
        self.epochs.assignments.insert(epoch, stored.clone());
        Ok(Some(stored))
    }

    /// Creates, oldest first, the epochs before `epoch` that the server missed while it was down: from the
    /// earliest one whose inputs were published but that was never created (found walking back to the latest
    /// stored epoch, at most [`MAX_ROLL_FORWARD_EPOCHS`]), each of the next ones from inputs rolled forward.
    /// Clients computed them meanwhile from the same inputs and pulses, and validators judge them like any other
    /// epoch.
    async fn create_missed_epochs(&self, epoch: EpochId) -> AppResult<()> {
        let clock = self.settings.epochs.clock;
        let mut first_missed = None;
        let mut probe = epoch;
        for _ in 0..MAX_ROLL_FORWARD_EPOCHS {
            probe = clock.previous(probe);
            if self.stored_epoch(probe).await?.is_some() {
                break;
            }
            if self.store.inputs_record(probe).await?.is_some() {
                first_missed = Some(probe);
            }
        }
        let Some(mut missed) = first_missed else { return Ok(()) };
        tracing::warn!(from = %missed, until = %epoch, "creating the epochs missed while the server was down");
        while missed < epoch {
            match Box::pin(self.ensure_epoch(missed)).await {
                Ok(_) | Err(AppError::Selection(_)) => {}
                // A missed epoch waits for its pulse however long it takes; the current one waits for it only
                // through the grace period after this process started, then composes its inputs from the world.
                Err(AppError::BeaconPending { reason, .. })
                    if self.now_ms() - self.started_at_ms >= super::whole_millis(self.settings.beacon.grace) =>
                {
                    tracing::error!(missed = %missed, until = %epoch, %reason, "the beacon stays silent: the epochs missed from here on are left out");
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
            missed = clock.next(missed);
        }
        Ok(())
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
        if let Some(stored) = self.stored_epoch(epoch).await? {
            return Ok(stored);
        }
        let now_ms = self.now_ms();
        if now_ms >= epoch.start_unix().saturating_mul(1000) && self.published_inputs(epoch).await?.is_none() {
            drop(last_failure);
            self.create_missed_epochs(epoch).await?;
            last_failure = self.epochs.creating.lock().await;
            if let Some(stored) = self.stored_epoch(epoch).await? {
                return Ok(stored);
            }
        }
        if let Some(refusal) = last_failure.as_ref().and_then(|failed| failed.refusal(epoch, now_ms)) {
            return Err(refusal);
        }
        match self.create_epoch(epoch, now_ms).await {
            Ok(stored) => {
                *last_failure = None;
                *self.epochs.trouble.lock() = None;
                drop(last_failure);
                self.epochs.assignments.insert(epoch, stored.clone());
                self.publish_next_inputs(epoch).await;
                Ok(stored)
            }
            Err(error) => {
                let Some(kind) = CreationError::of(&error) else { return Err(error) };
                let failed = FailedCreation::after(last_failure.as_ref(), epoch, kind, now_ms);
                let trouble = failed.trouble();
                tracing::error!(
                    epoch = %epoch, %error, attempts = trouble.attempts, since_ms = trouble.since_ms,
                    retry_in_ms = trouble.next_attempt_ms - now_ms, "cannot create the epoch"
                );
                let selection = matches!(error, AppError::Selection(_));
                crate::metrics::epoch_creation_failed(selection);
                // A full disk says so itself (an immediate 503 naming it); anything else is answered as the
                // requests until the next attempt will be, with when to come back.
                let answer = match error {
                    AppError::Storage(storage) if storage.is_disk_full() => AppError::Storage(storage),
                    _ => failed.error(now_ms),
                };
                *self.epochs.trouble.lock() = Some(trouble);
                *last_failure = Some(failed);
                drop(last_failure);
                if selection {
                    self.publish_next_inputs(epoch).await;
                }
                Err(answer)
            }
        }
    }

    /// The epoch that could not be created lately, until one is created again.
    pub fn epoch_creation_trouble(&self) -> Option<EpochCreationTrouble> {
        self.epochs.trouble.lock().clone()
    }

    /// `epoch` as the public overviews show it: `Ok(Err(why))` while it waits for its pulse or cannot be created
    /// (health says since when), an error only when something else failed.
    pub(super) async fn epoch_if_created(&self, epoch: EpochId) -> AppResult<Result<Arc<EpochAssignment>, AppError>> {
        match self.ensure_epoch(epoch).await {
            Ok(assignment) => Ok(Ok(assignment)),
            Err(why @ (AppError::BeaconPending { .. } | AppError::Selection(_) | AppError::EpochNotCreated { .. })) => {
                Ok(Err(why))
            }
            Err(why) if self.epoch_creation_trouble().is_some_and(|trouble| trouble.epoch == epoch) => Ok(Err(why)),
            Err(other) => Err(other),
        }
    }

    /// Selects and stores `epoch` (the caller holds the creation lock).
    async fn create_epoch(&self, epoch: EpochId, now_ms: i64) -> AppResult<Arc<EpochAssignment>> {
        let started = std::time::Instant::now();
        let published = self.publish_inputs(epoch).await?;
        // The pulse is fetched in the background (one fetch per round, however many requests ask).
        let source = self.seed_source(&published.inputs, now_ms).await?;
        let universe = self.universe().await?;
        let places: HashMap<Zipcode, &ZipcodeRecord> = universe.iter().map(|z| (z.zipcode, z)).collect();
        let inputs = PublishedInputs {
            inputs: &published.inputs,
            hash: &published.record.hash,
            published_at_ms: published.record.published_at_ms,
        };
        let chain_name = self.beacon.chain().name;
        let rules = &self.settings.epochs;
        let planned = plan_epoch(rules.clock, &inputs, chain_name, source, &self.secret, &places, now_ms);
        let (assignment, relaxation) = planned?;
        let (stored, created) = self.store.insert_epoch(&assignment).await?;
        if created {
            crate::metrics::epoch_created(started.elapsed());
            let proof = stored.proof.as_ref();
            tracing::info!(
                epoch = %epoch,
                zipcodes = stored.zipcodes.len(),
                expected_listings = stored.total_expected(),
                cooldown_relaxed = relaxation != CooldownRelaxation::None,
                seeded_by = proof.map_or("secret", |p| p.kind().as_str()),
                round = proof.map(|p| p.round),
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                after_start_ms = self.now_ms() - epoch.start_unix() * 1000,
                "created epoch assignment"
            );
        }
        Ok(Arc::new(stored))
    }

    /// Publishes the inputs of the epoch after `epoch` (whose selection they read for the cooldown), logging a
    /// failure: the next epoch's creation publishes them late if need be.
    async fn publish_next_inputs(&self, epoch: EpochId) {
        let next = self.settings.epochs.clock.next(epoch);
        if let Err(error) = self.publish_inputs(next).await {
            tracing::warn!(epoch = %next, %error, "could not publish the next epoch's inputs");
        }
    }

    /// The assignment of `epoch` if this process holds it in memory.
    pub(super) fn epochs_cached(&self, epoch: EpochId) -> Option<Arc<EpochAssignment>> {
        self.epochs.assignments.get(&epoch)
    }

    /// Whether the current epoch is still to be created (its pulse is awaited).
    pub fn current_assignment_pending(&self) -> bool {
        self.epochs.assignments.get(&self.current_epoch_id()).is_none()
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
        if let Some(stored) = self.stored_epoch(epoch).await? {
            return Ok(stored);
        }
        // Creating the current epoch creates those missed while the server was down.
        if let Err(error) = self.ensure_epoch(current).await {
            tracing::debug!(%error, "the current epoch is not there yet");
        }
        self.stored_epoch(epoch).await?.ok_or_else(not_found)
    }

    /// The published inputs of an epoch for the public endpoint: never of an epoch whose inputs are still to be
    /// published (they are published at the previous epoch's start).
    pub async fn inputs_document(&self, epoch: EpochId) -> AppResult<crate::storage::StoredInputs> {
        let not_found = || AppError::NotFound(format!("Inputs of epoch {epoch} not published"));
        if !self.settings.epochs.clock.is_boundary(epoch) {
            return Err(not_found());
        }
        self.store.load_inputs(epoch).await?.ok_or_else(not_found)
    }
}
