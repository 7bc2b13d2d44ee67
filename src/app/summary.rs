//! What the service says about itself: the public overview behind `/stats`, the health of its database and
//! metagraph behind `/healthcheck` and `/readyz`, and the Prometheus text behind `/metrics`. Every miner polls
//! `/stats`, so its slow parts are cached.

use std::sync::Arc;

use crate::chain::RefreshFailure;
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::beacon::Round;
use crate::domain::epoch::proof::SeedSource;
use crate::domain::epoch::selection::SelectionPolicy;
use crate::domain::epoch::{EpochClock, EpochId};
use crate::metrics::{MetagraphGauges, StateGauges};
use crate::storage::{EpochSummary, InputsRecord, WritesFailing, ZipcodeStats};

use super::cache::Expiring;
use super::{whole_seconds, App, AppResult, BeaconStatus};

/// How long zipcode statistics are served from memory.
const STATS_TTL_MS: i64 = 60_000;
/// How long the recent epochs are: the list changes only when an epoch is created.
const RECENT_TTL_MS: i64 = 5_000;
/// Epochs listed in the overview.
const RECENT_EPOCHS: i64 = 10;

pub(super) struct SummaryCaches {
    zipcodes: Expiring<(), ZipcodeStats>,
    recent: Expiring<EpochId, Vec<EpochSummary>>,
}

impl SummaryCaches {
    pub(super) fn new() -> Self {
        SummaryCaches { zipcodes: Expiring::new(STATS_TTL_MS), recent: Expiring::new(RECENT_TTL_MS) }
    }
}

/// Everything `/stats` shows, gathered in one place.
pub struct SystemSummary {
    pub now_ms: i64,
    pub clock: EpochClock,
    pub policy: SelectionPolicy,
    pub current_epoch: EpochId,
    /// `None` when no assignment can be selected for the current epoch.
    pub current: Option<Arc<EpochAssignment>>,
    pub zipcodes: Arc<ZipcodeStats>,
    pub recent: Arc<Vec<EpochSummary>>,
    pub next: NextEpochSummary,
}

/// The epoch after the current one: its round, and its inputs once published.
pub struct NextEpochSummary {
    pub epoch: EpochId,
    pub round: Round,
    pub inputs: Option<InputsRecord>,
}

/// The beacon as health reports show it.
pub struct BeaconHealth {
    pub source: String,
    pub chain: &'static str,
    pub status: BeaconStatus,
    /// Whether the current epoch exists and was seeded from the server secret.
    pub current_fell_back: bool,
}

/// A pulse normally arrives within seconds of its round; an epoch waiting longer makes the service degraded.
const LONG_BEACON_WAIT_MS: i64 = 30_000;

/// What `/healthcheck` and the readiness probe report.
pub struct HealthSummary {
    pub now_ms: i64,
    pub database_ok: bool,
    /// Since when and why the database refuses writes; `None` while it takes them.
    pub writes_failing: Option<WritesFailing>,
    pub metagraph: MetagraphHealth,
    pub current_epoch: EpochId,
    pub uptime_ms: i64,
    pub s3_configured: bool,
    pub beacon: BeaconHealth,
    /// The epoch that could not be created lately, until one is.
    pub epoch_creation: Option<super::EpochCreationTrouble>,
}

/// The metagraph as health reports show it.
pub struct MetagraphHealth {
    pub source: String,
    pub netuid: u16,
    pub loaded: bool,
    pub block: Option<u64>,
    pub neurons: usize,
    pub validators: usize,
    pub age_seconds: Option<i64>,
    pub max_age_seconds: i64,
    /// Whether signed requests can be judged now: a snapshot exists and is within the age limit.
    pub fresh: bool,
    pub last_failure: Option<RefreshFailure>,
}

impl HealthSummary {
    /// Whether this instance can do its job (the readiness probe's answer).
    pub fn ready(&self) -> bool {
        self.database_ok && self.writes_failing.is_none() && self.metagraph.fresh
    }

    /// Whether `/healthcheck` says `ok`: ready, creating epochs, and no epoch waiting long for its pulse.
    pub fn ok(&self) -> bool {
        self.ready() && self.epoch_creation.is_none() && self.beacon_wait_ms() < LONG_BEACON_WAIT_MS
    }

    /// How long the epoch waiting for its pulse has waited (0 when none does).
    pub fn beacon_wait_ms(&self) -> i64 {
        self.beacon.status.waiting.as_ref().map_or(0, |wait| wait.waited_ms(self.now_ms))
    }
}

impl App {
    /// The public overview behind `/stats`.
    pub async fn summary(&self) -> AppResult<SystemSummary> {
        let current_epoch = self.current_epoch_id();
        // While the epoch waits for its pulse (seconds at most), it is not there yet, like one that cannot be
        // selected: every miner polls this overview, so it answers either way.
        let current = self.epoch_if_created(current_epoch).await?.ok();
        let next_epoch = self.settings.epochs.clock.next(current_epoch);
        let next = NextEpochSummary {
            epoch: next_epoch,
            round: self.beacon.chain().round_at(next_epoch.start_unix()),
            inputs: self.published_inputs(next_epoch).await?.map(|published| published.record.clone()),
        };
        Ok(SystemSummary {
            now_ms: self.now_ms(),
            clock: self.settings.epochs.clock,
            policy: self.settings.epochs.policy,
            current_epoch,
            current,
            zipcodes: self.zipcode_stats().await?,
            recent: self.recent_epochs(current_epoch).await?,
            next,
        })
    }

    async fn zipcode_stats(&self) -> AppResult<Arc<ZipcodeStats>> {
        let now_ms = self.now_ms();
        if let Some(stats) = self.summaries.zipcodes.get(&(), now_ms) {
            return Ok(stats);
        }
        let stats = Arc::new(self.store.zipcode_stats().await?);
        self.summaries.zipcodes.put((), now_ms, stats.clone());
        Ok(stats)
    }

    /// The epochs before `current`, newest first.
    async fn recent_epochs(&self, current: EpochId) -> AppResult<Arc<Vec<EpochSummary>>> {
        let now_ms = self.now_ms();
        if let Some(recent) = self.summaries.recent.get(&current, now_ms) {
            return Ok(recent);
        }
        let recent = Arc::new(self.store.recent_epochs(current.start_unix(), RECENT_EPOCHS).await?);
        self.summaries.recent.put(current, now_ms, recent.clone());
        Ok(recent)
    }

    /// Health of the database and the metagraph; asks neither S3 nor the chain.
    pub async fn health(&self) -> HealthSummary {
        HealthSummary {
            now_ms: self.now_ms(),
            database_ok: self.store.ping().await,
            writes_failing: self.store.writes_failing().await,
            metagraph: self.metagraph_health(),
            current_epoch: self.current_epoch_id(),
            uptime_ms: self.now_ms() - self.started_at_ms,
            s3_configured: self.s3.is_ok(),
            beacon: self.beacon_health(),
            epoch_creation: self.epoch_creation_trouble(),
        }
    }

    fn beacon_health(&self) -> BeaconHealth {
        let current = self.current_epoch_id();
        let current_fell_back = self.epochs_cached(current).is_some_and(|assignment| {
            assignment.proof.as_ref().is_some_and(|proof| matches!(proof.source, SeedSource::Fallback { .. }))
        });
        BeaconHealth {
            source: self.beacon.describe(),
            chain: self.beacon.chain().name,
            status: self.beacon_status(),
            current_fell_back,
        }
    }

    fn metagraph_health(&self) -> MetagraphHealth {
        let snapshot = self.metagraph.snapshot();
        let snapshot = snapshot.as_deref();
        let min_stake = self.settings.validator_min_stake;
        MetagraphHealth {
            source: self.metagraph.describe(),
            netuid: self.settings.chain.netuid,
            loaded: snapshot.is_some(),
            block: snapshot.and_then(|m| m.block),
            neurons: snapshot.map_or(0, |m| m.neurons.len()),
            validators: snapshot.map_or(0, |m| m.validator_count(min_stake)),
            age_seconds: snapshot.map(|m| (self.now_unix() - m.fetched_at_unix).max(0)),
            max_age_seconds: whole_seconds(self.settings.chain.max_age),
            fresh: self.fresh_metagraph().is_ok(),
            last_failure: self.metagraph.last_failure(),
        }
    }

    /// Every metric in the Prometheus text format, with the metagraph's state read now.
    pub fn metrics_text(&self) -> String {
        let metagraph = self.metagraph_health();
        crate::metrics::render(StateGauges {
            metagraph: MetagraphGauges {
                age_seconds: metagraph.age_seconds,
                block: metagraph.block,
                neurons: metagraph.neurons,
                fresh: metagraph.fresh,
            },
            database_writes_failing: self.store.writes_failing_as_last_seen().is_some(),
            epoch_creation_failing: self.epoch_creation_trouble().is_some(),
            beacon_waiting_seconds: self.beacon_status().waiting.map_or(0, |wait| wait.waited_ms(self.now_ms()) / 1000),
        })
    }

    /// The metagraph source, as logs and the start-up banner name it (never with credentials).
    pub fn metagraph_source(&self) -> String {
        self.metagraph.describe()
    }
}
