//! The application layer: the state every request and background task shares, and the use cases over it.
//! HTTP handlers parse a request, call one use case here and render its result; tasks call the same use cases
//! on a timer. Nothing above this layer reaches the store, the metagraph or the S3 presigner directly.
//!
//! - [`clock`]: where "now" comes from; [`cache`]: the in-memory caches' two shapes.
//! - [`epochs`]: publishing epochs' inputs, creating their assignments from the beacon, reading them;
//!   [`epoch_creation`]: failed attempts and their back-off; [`seeding`]: the pulse, the wait for it, the fallback;
//!   [`status`]: miners' reports.
//! - [`access`]: who may call a signed endpoint, and the metagraph that decides it.
//! - [`grants`]: the S3 grants; [`summary`]: `/stats`, health and metrics; [`retention`]: pruning history.
//! - [`dashboard`]: what the operator dashboard shows.
//! - [`results`]: validators' verdicts read back; [`calibration`]: the evidence recalibration reads from them.

mod access;
pub mod cache;
mod calibration;
pub mod clock;
mod dashboard;
mod epoch_creation;
mod epochs;
mod error;
mod grants;
mod results;
mod retention;
mod seeding;
mod status;
mod summary;

use std::sync::Arc;

use crate::beacon::BackgroundPulses;
use crate::chain::MetagraphHandle;
use crate::domain::epoch::nonce::ServerSecret;
use crate::s3::S3Presigner;
use crate::settings::Settings;
use crate::storage::{StorageError, Store};

pub use access::{AccessDenied, Proof, SignedClaim};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dashboard::{DashboardOverview, EpochMap, EpochOutcomes, MinerProgress, UniverseMap, HISTORY_EPOCHS};
pub use epoch_creation::EpochCreationTrouble;
pub use epochs::Published;
pub use error::{AppError, AppResult};
pub use grants::{MinerFolderGrant, MinerReadGrant, MinerReadRequest, ValidatorReadGrant, ValidatorUploadGrant};
pub use retention::ReclaimRun;
pub use seeding::{BeaconStatus, PulseWait, Unselectable};
pub use status::StatusSubmission;
pub use summary::{BeaconHealth, HealthSummary, MetagraphHealth, NextEpochSummary, SystemSummary};

/// Settings key of the generated server secret.
const SECRET_KEY: &str = "server_secret";

pub struct App {
    store: Store,
    settings: Settings,
    secret: ServerSecret,
    metagraph: MetagraphHandle,
    /// Where epochs' pulses come from, fetched in the background.
    beacon: BackgroundPulses,
    s3: Result<S3Presigner, String>,
    clock: Arc<dyn Clock>,
    started_at_ms: i64,
    epochs: epochs::EpochBook,
    summaries: summary::SummaryCaches,
    /// Epistula uuids this replica accepted, until their window passes (the database holds them for all).
    used_uuids: cache::SeenUntil,
    /// Validators' verdicts read back from the bucket, per epoch.
    results: results::ResultsBook,
    dashboard: dashboard::DashboardCaches,
    /// How the latest run gave free pages back to the file system.
    last_reclaim: parking_lot::Mutex<Option<ReclaimRun>>,
}

/// Epistula uuids remembered in memory at most (~100 bytes each); beyond it only the database remembers.
const MAX_REMEMBERED_UUIDS: usize = 100_000;

impl App {
    /// Prepares the application on a migrated store: resolves the server secret, seeds the built-in zipcode
    /// universe on first start, and loads the first metagraph snapshot.
    pub async fn start(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> AppResult<Arc<App>> {
        let now_ms = clock.now_ms();
        let secret = match settings.secret.clone() {
            Some(secret) => secret,
            None => {
                let proposed = hex::encode(rand::random::<[u8; 32]>());
                let stored = store.setting_or_insert(SECRET_KEY, &proposed).await?;
                ServerSecret::from_hex(&stored)
                    .map_err(|e| StorageError::Corrupt(format!("stored server secret: {e}")))?
            }
        };
        if store.zipcode_count().await? == 0 {
            let universe = crate::universe::builtin_universe(settings.epochs.prior_listings);
            let added = store.seed_zipcodes_if_empty(&universe, crate::universe::SOURCE, now_ms).await?;
            tracing::info!(zipcodes = added, "seeded the built-in zipcode universe");
        }
        // A chain that is down at start must not keep the public endpoints down: signed endpoints answer 503
        // until the refresh task gets a snapshot.
        let metagraph = MetagraphHandle::new(settings.metagraph.open(settings.chain.netuid, settings.chain.timeout));
        match metagraph.refresh(now_ms.div_euclid(1000)).await {
            Ok(snapshot) => {
                tracing::info!(source = %metagraph.describe(), neurons = snapshot.neurons.len(), "metagraph loaded")
            }
            Err(error) => tracing::error!(source = %metagraph.describe(), %error, "metagraph not loaded; retrying"),
        }
        let beacon = BackgroundPulses::new(crate::beacon::open(&settings.beacon));
        tracing::info!(source = %beacon.describe(), chain = beacon.chain().name, "beacon");
        let s3 = settings.s3.clone().map(S3Presigner::new);
        match &s3 {
            Ok(presigner) => tracing::info!(bucket = %presigner.settings().bucket, "S3 access enabled"),
            Err(missing) => tracing::warn!("{missing}; the S3 access endpoints answer 503"),
        }
        Ok(Arc::new(App {
            store,
            settings,
            secret,
            metagraph,
            beacon,
            s3,
            clock,
            started_at_ms: now_ms,
            epochs: epochs::EpochBook::new(),
            summaries: summary::SummaryCaches::new(),
            used_uuids: cache::SeenUntil::new(MAX_REMEMBERED_UUIDS),
            results: results::ResultsBook::new(),
            dashboard: dashboard::DashboardCaches::new(),
            last_reclaim: parking_lot::Mutex::new(None),
        }))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database, for the server's own wiring (closing it at shutdown), tools and tests; request paths go
    /// through the use cases.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn now_unix(&self) -> i64 {
        self.clock.now_unix()
    }

    /// The start of the retention period (Unix seconds): history before it is pruned.
    fn retention_cutoff_unix(&self) -> i64 {
        self.now_unix().saturating_sub(whole_seconds(self.settings.retention))
    }
}

/// A duration as whole seconds in the `i64` the epoch and clock arithmetic uses.
fn whole_seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A duration as whole milliseconds, likewise.
fn whole_millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
