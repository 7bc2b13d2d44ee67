//! What the operator dashboard shows: the current epoch, the miners' progress in it, the last 30 epochs'
//! outcomes, the system's state, and the map (every zipcode of the universe, an epoch's assignment on it). All
//! of it is public and read-only: nothing here that a registered miner could not see, no secret, no signature,
//! no presigned URL. Every open dashboard polls, so the overview and the map are cached.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::domain::access::grant::GrantKind;
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::calibration::CalibrationMove;
use crate::domain::epoch::selection::SelectionPolicy;
use crate::domain::epoch::status::{MinerEpochState, MinerStatus};
use crate::domain::epoch::zipcode::{Zipcode, ZipcodeRecord};
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::domain::usmap::{self, MapPoint};
use crate::metrics::Traffic;
use crate::storage::{Backend, EpochSummary, MinerOutcome};
use crate::universe::BuiltinLocations;

use super::cache::{BoundedMap, Expiring};
use super::{App, AppResult, HealthSummary};

/// Epochs of history the dashboard charts, the current one included.
pub const HISTORY_EPOCHS: usize = 30;
/// How long an overview is served from memory: every open page asks every 30 s.
const OVERVIEW_TTL_MS: i64 = 5_000;
/// Epochs whose maps are kept (the current and the previous, with room for a few more looked at).
const EPOCH_MAPS: usize = 8;
/// The window grants are counted over.
const GRANT_WINDOW_MS: i64 = 24 * 3_600_000;

pub(super) struct DashboardCaches {
    overview: Expiring<EpochId, DashboardOverview>,
    /// Held while an overview is composed: concurrent misses wait for one composition (single flight).
    composing_overview: tokio::sync::Mutex<()>,
    /// Overviews composed since start.
    overviews_composed: AtomicU64,
    /// The universe's dots, for the zipcode table's revision.
    universe: Expiring<Option<String>, UniverseMap>,
    epoch_maps: BoundedMap<EpochId, Arc<EpochMap>>,
    locations: OnceLock<BuiltinLocations>,
}

impl DashboardCaches {
    pub(super) fn new() -> Self {
        DashboardCaches {
            overview: Expiring::new(OVERVIEW_TTL_MS),
            composing_overview: tokio::sync::Mutex::new(()),
            overviews_composed: AtomicU64::new(0),
            universe: Expiring::new(i64::MAX),
            epoch_maps: BoundedMap::new(EPOCH_MAPS),
            locations: OnceLock::new(),
        }
    }

    fn locations(&self) -> &BuiltinLocations {
        self.locations.get_or_init(BuiltinLocations::load)
    }
}

/// Everything the dashboard shows but the map.
pub struct DashboardOverview {
    pub now_ms: i64,
    pub epoch: EpochId,
    pub epoch_end_unix: i64,
    /// The current epoch's assignment, or why there is none (it waits for its pulse, or cannot be selected).
    pub current: Result<Arc<EpochAssignment>, String>,
    pub target_listings: u32,
    pub tolerance_percent: u32,
    /// The window the assignment's expected listings must fall in.
    pub window: (u64, u64),
    /// Every miner that reported in the current epoch, by hotkey.
    pub miners: Vec<MinerProgress>,
    /// Registered hotkeys without a validator's permit and stake: the miners expected to report.
    pub registered_miners: usize,
    /// Registered miners without a report in the current epoch.
    pub silent_miners: usize,
    /// Oldest first, the current epoch last.
    pub history: Vec<EpochOutcomes>,
    pub health: HealthSummary,
    pub backend: Backend,
    pub grants_last_day: Vec<(GrantKind, u64)>,
    pub traffic: Traffic,
}

/// One miner's standing in the current epoch.
pub struct MinerProgress {
    /// `None` when the hotkey has left the metagraph since it reported.
    pub uid: Option<u16>,
    pub state: MinerEpochState,
}

impl MinerProgress {
    /// The listings the miner says it found: its total when it sent one, else the sum over its zipcodes.
    pub fn listings(&self) -> u64 {
        let latest = &self.state.latest;
        latest.listings_scraped.unwrap_or_else(|| latest.zipcodes_completed.iter().map(|z| z.listings_scraped).sum())
    }
}

/// How one epoch went, from the miners' latest reports.
pub struct EpochOutcomes {
    pub summary: EpochSummary,
    pub reported_listings: u64,
    pub completed: usize,
    /// `FAILED` or `TIMEOUT`.
    pub failed: usize,
    /// Still `IN_PROGRESS` (at the end, for a past epoch).
    pub in_progress: usize,
    /// Miners registered now that sent no report for it.
    pub silent: usize,
    /// The distinct listings honest miners delivered, as validators counted them (once their verdicts were read).
    pub delivered_listings: Option<u64>,
}

/// The universe as dots: one per distinct position (at whole frame units), and how many zipcodes could not
/// be placed (no built-in coordinates, or outside the drawn regions).
pub struct UniverseMap {
    /// The zipcode table's revision it was drawn at (`None`: the table was never imported into).
    pub revision: Option<String>,
    pub zipcodes: usize,
    pub points: Vec<[u16; 2]>,
    pub unplaced: usize,
}

/// An epoch's assignment on the map.
pub struct EpochMap {
    pub assignment: Arc<EpochAssignment>,
    /// The assigned zipcodes with a position, in the assignment's order.
    pub placed: Vec<(ZipcodeRecord, MapPoint)>,
    pub unplaced: Vec<ZipcodeRecord>,
    /// The moves of the epoch's calibration, by zipcode (empty when its inputs carry none).
    pub calibration: HashMap<Zipcode, CalibrationMove>,
}

impl App {
    /// The dashboard's overview, at most a few seconds old; composed once however many pages ask at once.
    pub async fn dashboard_overview(&self) -> AppResult<Arc<DashboardOverview>> {
        let epoch = self.current_epoch_id();
        if let Some(overview) = self.dashboard.overview.get(&epoch, self.now_ms()) {
            return Ok(overview);
        }
        let _composing = self.dashboard.composing_overview.lock().await;
        let now_ms = self.now_ms();
        if let Some(overview) = self.dashboard.overview.get(&epoch, now_ms) {
            return Ok(overview);
        }
        let overview = Arc::new(self.compose_dashboard_overview().await?);
        self.dashboard.overviews_composed.fetch_add(1, Ordering::Relaxed);
        self.dashboard.overview.put(epoch, now_ms, overview.clone());
        Ok(overview)
    }

    /// How many dashboard overviews were composed since start (the rest were served from memory).
    pub fn dashboard_overviews_composed(&self) -> u64 {
        self.dashboard.overviews_composed.load(Ordering::Relaxed)
    }

    /// The dashboard's overview read afresh from the store and the metagraph (what a cache miss costs).
    pub async fn compose_dashboard_overview(&self) -> AppResult<DashboardOverview> {
        let epoch = self.current_epoch_id();
        let now_ms = self.now_ms();
        let current = self.epoch_if_created(epoch).await?.map_err(|why| why.to_string());
        // The assignment's own terms: the operator may have changed the settings since it was selected.
        let policy = match &current {
            Ok(a) => SelectionPolicy {
                target_listings: a.target_listings,
                tolerance_percent: a.tolerance_percent,
                ..self.settings.epochs.policy
            },
            Err(_) => self.settings.epochs.policy,
        };
        let snapshot = self.metagraph.snapshot();
        let min_stake = self.settings.validator_min_stake;
        let miners_now: HashSet<&Hotkey> = snapshot
            .iter()
            .flat_map(|m| m.neurons.iter())
            .filter(|(_, neuron)| !neuron.is_validator(min_stake))
            .map(|(hotkey, _)| hotkey)
            .collect();
        let uid_of = |hotkey: &Hotkey| snapshot.as_ref().and_then(|m| m.neuron(hotkey)).map(|n| n.uid);
        let miners: Vec<MinerProgress> = self
            .store
            .miner_states(epoch)
            .await?
            .into_iter()
            .map(|state| MinerProgress { uid: uid_of(&state.latest.hotkey), state })
            .collect();
        let reporters: HashSet<&Hotkey> = miners.iter().map(|m| &m.state.latest.hotkey).collect();
        let silent_miners = miners_now.iter().filter(|hotkey| !reporters.contains(*hotkey)).count();
        let recent = self.store.recent_epochs(epoch.start_unix(), HISTORY_EPOCHS as i64).await?;
        let history = match (recent.last(), recent.first()) {
            (Some(oldest), Some(newest)) => {
                let outcomes = self.store.epoch_outcomes(oldest.epoch, newest.epoch).await?;
                let mut history = epoch_outcomes(recent.iter().rev().cloned().collect(), &outcomes, &miners_now);
                for line in &mut history {
                    line.delivered_listings = self.delivered_listings(line.summary.epoch);
                }
                history
            }
            _ => Vec::new(),
        };
        Ok(DashboardOverview {
            now_ms,
            epoch,
            // The end kept with the assignment: a later change of epoch length does not move it.
            epoch_end_unix: current.as_ref().map_or(self.settings.epochs.clock.end(epoch), |a| a.end_unix),
            current,
            target_listings: policy.target_listings,
            tolerance_percent: policy.tolerance_percent,
            window: policy.window(),
            miners,
            registered_miners: miners_now.len(),
            silent_miners,
            history,
            health: self.health().await,
            backend: self.store.backend(),
            grants_last_day: self.store.grant_counts_since(now_ms - GRANT_WINDOW_MS).await?,
            traffic: crate::metrics::traffic_last_day(),
        })
    }

    /// Every zipcode of the universe as a dot, from the built-in coordinates; rebuilt when the zipcode table
    /// changes.
    pub async fn universe_map(&self) -> AppResult<Arc<UniverseMap>> {
        let revision = self.store.zipcodes_revision().await?;
        if let Some(map) = self.dashboard.universe.get(&revision, self.now_ms()) {
            return Ok(map);
        }
        let zipcodes = self.store.load_zipcodes().await?;
        let locations = self.dashboard.locations();
        let mut points = BTreeSet::new();
        let mut unplaced = 0;
        for record in &zipcodes {
            match place(locations, record) {
                Some(point) => {
                    points.insert([point.x.round() as u16, point.y.round() as u16]);
                }
                None => unplaced += 1,
            }
        }
        let points = points.into_iter().collect();
        let map = Arc::new(UniverseMap { revision: revision.clone(), zipcodes: zipcodes.len(), points, unplaced });
        self.dashboard.universe.put(revision, self.now_ms(), map.clone());
        Ok(map)
    }

    /// An epoch's assignment on the map: the current one or any earlier one still kept; never a future one.
    pub async fn epoch_map(&self, epoch: EpochId) -> AppResult<Arc<EpochMap>> {
        if let Some(map) = self.dashboard.epoch_maps.get(&epoch) {
            return Ok(map);
        }
        let assignment = self.started_epoch(epoch).await?;
        let locations = self.dashboard.locations();
        let (mut placed, mut unplaced) = (Vec::new(), Vec::new());
        for record in &assignment.zipcodes {
            match place(locations, record) {
                Some(point) => placed.push((record.clone(), point)),
                None => unplaced.push(record.clone()),
            }
        }
        let calibration = match self.published_inputs(epoch).await? {
            Some(published) => {
                published.inputs.calibration.iter().flat_map(|c| &c.moves).map(|m| (m.zipcode, *m)).collect()
            }
            None => HashMap::new(),
        };
        let map = Arc::new(EpochMap { assignment, placed, unplaced, calibration });
        self.dashboard.epoch_maps.insert(epoch, map.clone());
        Ok(map)
    }
}

fn place(locations: &BuiltinLocations, record: &ZipcodeRecord) -> Option<MapPoint> {
    let at = locations.coordinates(record.zipcode)?;
    usmap::project(at.lat, at.lon)
}

/// Each epoch of `epochs` (oldest first) with its miners' outcomes counted; `miners_now` decides who was
/// silent.
fn epoch_outcomes(
    epochs: Vec<EpochSummary>,
    outcomes: &[MinerOutcome],
    miners_now: &HashSet<&Hotkey>,
) -> Vec<EpochOutcomes> {
    let mut by_epoch: HashMap<EpochId, Vec<&MinerOutcome>> = HashMap::new();
    for outcome in outcomes {
        by_epoch.entry(outcome.epoch).or_default().push(outcome);
    }
    epochs
        .into_iter()
        .map(|summary| {
            let reports = by_epoch.remove(&summary.epoch).unwrap_or_default();
            let count = |wanted: &[MinerStatus]| reports.iter().filter(|r| wanted.contains(&r.status)).count();
            let reporters: HashSet<&Hotkey> = reports.iter().map(|r| &r.hotkey).collect();
            EpochOutcomes {
                reported_listings: reports.iter().filter_map(|r| r.listings_scraped).sum(),
                completed: count(&[MinerStatus::Completed]),
                failed: count(&[MinerStatus::Failed, MinerStatus::Timeout]),
                in_progress: count(&[MinerStatus::InProgress]),
                silent: miners_now.iter().filter(|hotkey| !reporters.contains(*hotkey)).count(),
                delivered_listings: None,
                summary,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::keys::Keypair;

    fn summary(epoch: &str) -> EpochSummary {
        EpochSummary {
            epoch: epoch.parse().unwrap(),
            end_unix: 0,
            zipcode_count: 3,
            target_listings: 100,
            total_expected: 98,
            grouped: false,
        }
    }

    #[test]
    fn outcomes_count_each_status_once_and_the_silent_among_todays_miners() {
        let keys: Vec<Hotkey> = (0..4).map(|n| Keypair::from_seed(&[n; 32]).hotkey()).collect();
        let outcome = |epoch: &str, key: usize, status, listings| MinerOutcome {
            epoch: epoch.parse().unwrap(),
            hotkey: keys[key].clone(),
            status,
            listings_scraped: listings,
        };
        let (first, second) = ("2026-12-01T00-00-00", "2026-12-01T04-00-00");
        let outcomes = [
            outcome(first, 0, MinerStatus::Completed, Some(40)),
            outcome(first, 1, MinerStatus::Timeout, Some(5)),
            outcome(first, 3, MinerStatus::Failed, None),
            outcome(second, 0, MinerStatus::InProgress, Some(7)),
        ];
        // Miner 3 has left the metagraph; miner 2 never reported.
        let miners_now: HashSet<&Hotkey> = keys[..3].iter().collect();
        let lines = epoch_outcomes(vec![summary(first), summary(second)], &outcomes, &miners_now);
        let counts: Vec<_> =
            lines.iter().map(|l| (l.reported_listings, l.completed, l.failed, l.in_progress, l.silent)).collect();
        assert_eq!(counts, [(45, 1, 2, 0, 1), (7, 0, 0, 1, 2)]);
        assert_eq!(lines[1].summary.epoch.to_string(), second);
    }
}
