//! The application: state shared by every request and background task, and the use cases over it (serve an
//! epoch's assignment, record a status report, summarise the system). HTTP handlers and tasks call these;
//! they never touch storage or the metagraph source directly.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::chain::{ChainError, MetagraphHandle, MetagraphSource, RefreshFailure};
use crate::domain::assignment::{plan_epoch, EpochAssignment, PlanInputs};
use crate::domain::auth::Hotkey;
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::grant::AccessGrant;
use crate::domain::metagraph::{MetagraphSnapshot, RoleError};
use crate::domain::nonce::ServerSecret;
use crate::domain::selection::{CooldownRelaxation, SelectionError, SelectionPolicy};
use crate::domain::status::{MinerStatus, StatusReport, ZipcodeProgress};
use crate::domain::zipcode::ZipcodeRecord;
use crate::s3::S3Presigner;
use crate::storage::{EpochSummary, PruneCounts, StorageError, Store, ZipcodeStats};

/// Settings key of the generated server secret.
const SECRET_KEY: &str = "server_secret";
/// Assignments kept in memory; they never change once created, so this is only a size bound.
const EPOCH_CACHE_SIZE: usize = 64;
/// How long a failed selection is remembered before a request may try again.
const SELECTION_RETRY_MS: i64 = 30_000;
/// How long zipcode statistics are served from memory.
const STATS_TTL_MS: i64 = 60_000;
const RECENT_TTL_MS: i64 = 5_000;

/// Where "now" comes from: the system clock in production, a hand-set clock in tests.
pub trait TimeSource: Send + Sync {
    fn now_ms(&self) -> i64;
}

pub struct SystemTime;

impl TimeSource for SystemTime {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to.
pub struct ManualTime(AtomicI64);

impl ManualTime {
    pub fn new(now_ms: i64) -> Self {
        ManualTime(AtomicI64::new(now_ms))
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, delta_ms: i64) {
        self.0.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl TimeSource for ManualTime {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The rules the service runs by.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub clock: EpochClock,
    pub policy: SelectionPolicy,
    /// Seconds before an epoch starts at which its assignment is created.
    pub lead_seconds: i64,
    pub netuid: u16,
    pub validator_min_stake: f64,
    pub prior_listings: u32,
    /// Beyond this age the metagraph is not trusted to judge registrations (signed endpoints answer 503).
    pub metagraph_max_age_seconds: i64,
    /// History older than this is pruned.
    pub retention_seconds: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error("zipcode selection failed: {0}")]
    Selection(#[from] SelectionError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The S3 store is not configured; the message names the missing settings.
    #[error("{0}")]
    S3Unavailable(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// A status report as the HTTP layer parsed it, before the epoch-dependent checks.
#[derive(Debug, Clone)]
pub struct StatusSubmission {
    pub hotkey: Hotkey,
    pub epoch: EpochId,
    pub nonce: String,
    pub status: MinerStatus,
    pub s3_upload_complete: bool,
    pub listings_scraped: Option<u64>,
    pub zipcodes_completed: Vec<ZipcodeProgress>,
    pub s3_upload_at_ms: Option<i64>,
}

/// Everything `/stats` shows, gathered in one place.
pub struct SystemSummary {
    pub now_ms: i64,
    pub current_epoch: EpochId,
    pub current: Option<Arc<EpochAssignment>>,
    pub zipcodes: Arc<ZipcodeStats>,
    pub recent: Arc<Vec<EpochSummary>>,
}

/// What `/healthcheck` and the readiness probe report.
pub struct HealthSummary {
    pub database_ok: bool,
    pub metagraph: Option<Arc<MetagraphSnapshot>>,
    /// Whether signed requests can be judged now: a snapshot exists and is within the age limit.
    pub metagraph_fresh: bool,
    pub metagraph_failure: Option<RefreshFailure>,
    pub current_epoch: EpochId,
    pub uptime_ms: i64,
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

/// Recent epochs for `/stats`: the current epoch they were read in, when (ms), and the list.
type RecentEpochs = (EpochId, i64, Arc<Vec<EpochSummary>>);

pub struct App {
    store: Store,
    config: ServiceConfig,
    secret: ServerSecret,
    metagraph: MetagraphHandle,
    s3: Result<S3Presigner, String>,
    time: Arc<dyn TimeSource>,
    started_at_ms: i64,
    epochs: Mutex<BTreeMap<EpochId, Arc<EpochAssignment>>>,
    /// Serialises epoch creation in this process; the database serialises it across replicas.
    creating: tokio::sync::Mutex<Option<FailedSelection>>,
    universe: tokio::sync::Mutex<Option<CachedUniverse>>,
    stats: Mutex<Option<(i64, Arc<ZipcodeStats>)>>,
    recent: Mutex<Option<RecentEpochs>>,
}

pub type AppState = Arc<App>;

impl App {
    /// Prepares the application on a migrated store: resolves the server secret, seeds the built-in zipcode
    /// universe on first start, and loads the first metagraph snapshot.
    pub async fn start(
        store: Store,
        config: ServiceConfig,
        secret: Option<ServerSecret>,
        source: Arc<dyn MetagraphSource>,
        s3: Result<S3Presigner, String>,
        time: Arc<dyn TimeSource>,
    ) -> ServiceResult<AppState> {
        let now_ms = time.now_ms();
        let secret = match secret {
            Some(secret) => secret,
            None => {
                let proposed = hex::encode(rand::random::<[u8; 32]>());
                let stored = store.setting_or_insert(SECRET_KEY, &proposed).await?;
                ServerSecret::from_hex(&stored)
                    .map_err(|e| StorageError::Corrupt(format!("stored server secret: {e}")))?
            }
        };
        if store.zipcode_count().await? == 0 {
            let universe = crate::universe::builtin_universe(config.prior_listings);
            let added = store.seed_zipcodes_if_empty(&universe, crate::universe::SOURCE, now_ms).await?;
            tracing::info!(zipcodes = added, "seeded the built-in zipcode universe");
        }
        // A chain that is down at start must not keep the public endpoints down: signed endpoints answer 503
        // until the refresh task gets a snapshot.
        let metagraph = MetagraphHandle::new(source);
        match metagraph.refresh(now_ms.div_euclid(1000)).await {
            Ok(snapshot) => {
                tracing::info!(source = %metagraph.describe(), neurons = snapshot.neurons.len(), "metagraph loaded")
            }
            Err(error) => tracing::error!(source = %metagraph.describe(), %error, "metagraph not loaded; retrying"),
        }
        match &s3 {
            Ok(presigner) => tracing::info!(bucket = %presigner.settings().bucket, "S3 access enabled"),
            Err(missing) => tracing::warn!("{missing}; the S3 access endpoints answer 503"),
        }
        Ok(Arc::new(App {
            store,
            config,
            secret,
            metagraph,
            s3,
            time,
            started_at_ms: now_ms,
            epochs: Mutex::new(BTreeMap::new()),
            creating: tokio::sync::Mutex::new(None),
            universe: tokio::sync::Mutex::new(None),
            stats: Mutex::new(None),
            recent: Mutex::new(None),
        }))
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metagraph(&self) -> &MetagraphHandle {
        &self.metagraph
    }

    /// The S3 presigner, or why there is none.
    pub fn s3(&self) -> ServiceResult<&S3Presigner> {
        self.s3.as_ref().map_err(|missing| ServiceError::S3Unavailable(missing.clone()))
    }

    /// Records an S3 grant in the audit log.
    pub async fn record_grant(&self, grant: &AccessGrant) -> ServiceResult<()> {
        self.store.record_grant(grant).await?;
        crate::metrics::s3_grant(&grant.kind.to_string());
        tracing::info!(hotkey = %grant.hotkey, kind = %grant.kind, prefix = %grant.prefix, "S3 access granted");
        Ok(())
    }

    pub fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    pub fn now_unix(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn current_epoch_id(&self) -> EpochId {
        self.config.clock.epoch_at(self.now_unix())
    }

    fn cached_epoch(&self, epoch: EpochId) -> Option<Arc<EpochAssignment>> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner()).get(&epoch).cloned()
    }

    fn cache_epoch(&self, assignment: Arc<EpochAssignment>) {
        let mut epochs = self.epochs.lock().unwrap_or_else(|e| e.into_inner());
        epochs.insert(assignment.epoch, assignment);
        while epochs.len() > EPOCH_CACHE_SIZE {
            epochs.pop_first();
        }
    }

    /// The zipcode universe, reloaded only when an import or seed changed it.
    async fn universe(&self) -> ServiceResult<Arc<Vec<ZipcodeRecord>>> {
        let revision = self.store.zipcodes_revision().await?;
        let mut cached = self.universe.lock().await;
        if let Some(universe) = cached.as_ref().filter(|u| u.revision == revision) {
            return Ok(universe.records.clone());
        }
        let records = Arc::new(self.store.load_zipcodes().await?);
        *cached = Some(CachedUniverse { revision, records: records.clone() });
        Ok(records)
    }

    /// The assignment of `epoch`, creating it if it does not exist yet. Idempotent: the stored row wins, so
    /// every caller, on every replica, gets the same zipcodes and nonce.
    pub async fn ensure_epoch(&self, epoch: EpochId) -> ServiceResult<Arc<EpochAssignment>> {
        if let Some(assignment) = self.cached_epoch(epoch) {
            return Ok(assignment);
        }
        let mut last_failure = self.creating.lock().await;
        if let Some(assignment) = self.cached_epoch(epoch) {
            return Ok(assignment);
        }
        if let Some(stored) = self.store.load_epoch(epoch).await? {
            let stored = Arc::new(stored);
            self.cache_epoch(stored.clone());
            return Ok(stored);
        }
        let now_ms = self.now_ms();
        if let Some(failed) = last_failure.as_ref() {
            if failed.epoch == epoch && now_ms - failed.at_ms < SELECTION_RETRY_MS {
                return Err(ServiceError::Selection(failed.error.clone()));
            }
        }
        let started = std::time::Instant::now();
        let universe = self.universe().await?;
        let window_start = epoch.start_unix() - 2 * self.config.policy.cooldown_seconds;
        let last_assigned = self.store.last_assignments(window_start, epoch.start_unix()).await?;
        let inputs = PlanInputs { universe: &universe, last_assigned: &last_assigned, policy: self.config.policy };
        let (assignment, relaxation) = match plan_epoch(epoch, self.config.clock, &self.secret, &inputs, now_ms) {
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
        self.cache_epoch(stored.clone());
        Ok(stored)
    }

    /// The current epoch's assignment (created on demand, e.g. after downtime).
    pub async fn current_assignment(&self) -> ServiceResult<Arc<EpochAssignment>> {
        self.ensure_epoch(self.current_epoch_id()).await
    }

    /// An epoch that has started. Never reveals future epochs; creates only the current one.
    pub async fn started_epoch(&self, epoch: EpochId) -> ServiceResult<Arc<EpochAssignment>> {
        let not_found = || ServiceError::NotFound(format!("Epoch {epoch} not found"));
        let current = self.current_epoch_id();
        if !self.config.clock.is_boundary(epoch) || epoch > current {
            return Err(not_found());
        }
        if epoch == current {
            return self.ensure_epoch(epoch).await;
        }
        if let Some(assignment) = self.cached_epoch(epoch) {
            return Ok(assignment);
        }
        let stored = Arc::new(self.store.load_epoch(epoch).await?.ok_or_else(not_found)?);
        self.cache_epoch(stored.clone());
        Ok(stored)
    }

    /// Creates the next epoch's assignment once it is within the lead time of its start. Returns the epoch
    /// when it is (now) stored.
    pub async fn precreate_next_epoch(&self) -> ServiceResult<Option<EpochId>> {
        let next = self.config.clock.next(self.current_epoch_id());
        if next.start_unix() - self.now_unix() > self.config.lead_seconds {
            return Ok(None);
        }
        self.ensure_epoch(next).await?;
        Ok(Some(next))
    }

    /// Validates and stores a miner's status report; returns when it was received (Unix ms).
    pub async fn record_status(&self, submission: StatusSubmission) -> ServiceResult<i64> {
        let epoch = submission.epoch;
        let assignment = self.started_epoch(epoch).await?;
        let now_ms = self.now_ms();
        // Late reports are accepted for one more epoch length, so a miner can still report a finished run.
        let closes_at_ms = (assignment.end_unix + self.config.clock.length_seconds()) * 1000;
        if now_ms >= closes_at_ms {
            return Err(ServiceError::Rejected(format!("Epoch {epoch} is closed for status reports")));
        }
        if submission.nonce != assignment.nonce {
            return Err(ServiceError::InvalidNonce);
        }
        if let Some(stray) = submission.zipcodes_completed.iter().find(|p| !assignment.contains(p.zipcode)) {
            return Err(ServiceError::Rejected(format!("Zipcode {} is not assigned in epoch {epoch}", stray.zipcode)));
        }
        let report = StatusReport {
            epoch,
            hotkey: submission.hotkey,
            status: submission.status,
            s3_upload_complete: submission.s3_upload_complete,
            listings_scraped: submission.listings_scraped,
            zipcodes_completed: submission.zipcodes_completed,
            s3_upload_at_ms: submission.s3_upload_at_ms,
            received_at_ms: now_ms,
        };
        self.store.record_status(&report).await?;
        crate::metrics::status_report(&report.status.to_string());
        Ok(now_ms)
    }

    async fn zipcode_stats(&self) -> ServiceResult<Arc<ZipcodeStats>> {
        let now_ms = self.now_ms();
        if let Some((at, stats)) = self.stats.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if now_ms - at < STATS_TTL_MS {
                return Ok(stats.clone());
            }
        }
        let stats = Arc::new(self.store.zipcode_stats().await?);
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = Some((now_ms, stats.clone()));
        Ok(stats)
    }

    /// The public overview behind `/stats`. A current epoch that cannot be selected shows as `None`.
    pub async fn summary(&self) -> ServiceResult<SystemSummary> {
        let current_epoch = self.current_epoch_id();
        let current = match self.ensure_epoch(current_epoch).await {
            Ok(assignment) => Some(assignment),
            Err(ServiceError::Selection(_)) => None,
            Err(other) => return Err(other),
        };
        Ok(SystemSummary {
            now_ms: self.now_ms(),
            current_epoch,
            current,
            zipcodes: self.zipcode_stats().await?,
            recent: self.recent_epochs(current_epoch).await?,
        })
    }

    /// The ten epochs before `current`, read again at most every few seconds: every miner polls `/stats`, and
    /// the list changes only when an epoch is created.
    async fn recent_epochs(&self, current: EpochId) -> ServiceResult<Arc<Vec<EpochSummary>>> {
        let now_ms = self.now_ms();
        if let Some((epoch, at, recent)) = self.recent.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *epoch == current && now_ms - at < RECENT_TTL_MS {
                return Ok(recent.clone());
            }
        }
        let recent = Arc::new(self.store.recent_epochs(current.start_unix(), 10).await?);
        *self.recent.lock().unwrap_or_else(|e| e.into_inner()) = Some((current, now_ms, recent.clone()));
        Ok(recent)
    }

    /// The metagraph snapshot signed requests are judged by; refused when missing or too old, so that honest
    /// miners are never told they are unregistered because the chain could not be read.
    pub fn fresh_metagraph(&self) -> ServiceResult<Arc<MetagraphSnapshot>> {
        let snapshot = self.metagraph.snapshot().ok_or(ServiceError::MetagraphUnavailable)?;
        let age_seconds = self.now_unix() - snapshot.fetched_at_unix;
        let limit_seconds = self.config.metagraph_max_age_seconds;
        if age_seconds > limit_seconds {
            return Err(ServiceError::MetagraphStale { age_seconds, limit_seconds });
        }
        Ok(snapshot)
    }

    pub async fn health(&self) -> HealthSummary {
        HealthSummary {
            database_ok: self.store.ping().await,
            metagraph: self.metagraph.snapshot(),
            metagraph_fresh: self.fresh_metagraph().is_ok(),
            metagraph_failure: self.metagraph.last_failure(),
            current_epoch: self.current_epoch_id(),
            uptime_ms: self.now_ms() - self.started_at_ms,
        }
    }

    /// Prunes epochs (with their assignments and reports) that ended longer ago than the retention age, and old
    /// S3 grant records.
    pub async fn prune_history(&self) -> ServiceResult<PruneCounts> {
        Ok(self.store.prune_before(self.now_unix() - self.config.retention_seconds).await?)
    }

    /// Reloads the metagraph from its source, keeping the previous snapshot on failure.
    pub async fn refresh_metagraph(&self) -> ServiceResult<Arc<MetagraphSnapshot>> {
        let refreshed = self.metagraph.refresh(self.now_unix()).await;
        crate::metrics::metagraph_refresh(refreshed.is_ok());
        Ok(refreshed?)
    }
}
