//! The judging simulator (`zipcoord simulate judging`): many epochs of a simulated subnet in `groups` mode,
//! judged by the validator's own stages ([`crate::client::validator::judging`]) with no process, bucket or
//! sleep, to measure what a judging rule does to miners' income: honest miners zeroed, liars paid, spot checks
//! spent. Seeded: the same settings give the same verdicts.
//!
//! - [`market`]: the market moving within each epoch, and the source spot checks ask.
//! - [`behaviour`]: the roster, and what each honest miner and each kind of liar uploads.
//! - [`report`]: the verdicts tallied, printed and written as JSON.

pub mod behaviour;
pub mod market;
pub mod report;

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::api::{EpochGroupsBody, GroupBody};
use crate::client::liars::{LiarKind, LiarSpec, TooFewMiners, ALL_KINDS};
use crate::client::validator::case::Miner;
use crate::client::validator::credibility::CredibilityBook;
use crate::client::validator::group_judging::ValidationMode;
use crate::client::validator::judging::{CheckOutcomes, CheckRequest, EpochJudging, JudgingRules};
use crate::domain::epoch::groups::{form_groups, GroupPlan, RosterMiner};
use crate::domain::epoch::EpochId;
use crate::domain::judging::consensus::ConsensusSettings;
use crate::domain::judging::scoring::RewardSplit;
use crate::domain::judging::validation::{EpochTerms, SpotCheck, StoredFile, Submission};
use behaviour::{roster, EpochScene, SimulatedMiner};
use market::{unit, EpochMarket, MarketZipcode};
pub use report::{Report, Tally};

/// Which miners lie: a share of the roster (dealt over every kind in turn), or named kinds as `localnet` takes
/// them.
#[derive(Debug, Clone, PartialEq)]
pub enum SimulatedLiars {
    Share(f64),
    Kinds(LiarSpec),
}

impl std::str::FromStr for SimulatedLiars {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_suffix('%') {
            Some(percent) => match percent.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(SimulatedLiars::Share(p / 100.0)),
                _ => Err(format!("'{s}' is not a share of the miners: use a percentage from 0% to 100%")),
            },
            None => s.parse().map(SimulatedLiars::Kinds),
        }
    }
}

/// Why a simulation cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    #[error("a simulation needs miners and groups of at least 2")]
    Empty,
    #[error("at most {} miners", u16::MAX)]
    TooManyMiners,
    #[error(transparent)]
    Liars(#[from] TooFewMiners),
}

impl SimulatedLiars {
    /// Every miner's role, honest miners first.
    pub fn roles(&self, miners: usize) -> Result<Vec<Option<LiarKind>>, TooFewMiners> {
        match self {
            SimulatedLiars::Kinds(spec) => spec.roles(miners),
            SimulatedLiars::Share(share) => {
                let wanted = (miners as f64 * share).round() as usize;
                let mut kinds = Vec::new();
                let mut dealt = 0;
                for kind in ALL_KINDS.iter().cycle() {
                    if dealt + kind.miners() > wanted {
                        break;
                    }
                    kinds.push(*kind);
                    dealt += kind.miners();
                }
                LiarSpec(kinds).roles(miners)
            }
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSettings {
    pub miners: usize,
    /// Operators the miners belong to.
    pub coldkeys: usize,
    pub group_size: usize,
    pub epochs: u64,
    pub liars: SimulatedLiars,
    pub validation: ValidationMode,
    pub spot_checks: usize,
    /// Expected listings of each group's batch.
    pub listings_per_batch: u32,
    pub seed: u64,
}

/// The simulated epochs' length: the default 4 hours.
const EPOCH_MS: i64 = 4 * 3_600 * 1_000;
/// The first simulated epoch starts here (2026-01-01T00:00:00Z).
const FIRST_EPOCH_UNIX: i64 = 1_767_225_600;
/// Zipcodes of the simulated universe, with 40 to 200 listings each.
const UNIVERSE: usize = 4_000;

fn universe(seed: u64) -> Vec<MarketZipcode> {
    (0..UNIVERSE)
        .map(|n| MarketZipcode {
            zipcode: format!("{:05}", 10_001 + n),
            city: "Simulated".to_string(),
            state: "CA".to_string(),
            size: 40 + (160.0 * unit(&[&"size", &seed, &n])) as u32,
        })
        .collect()
}

fn epoch_seed(seed: u64, epoch: u64) -> [u8; 32] {
    Sha256::digest(format!("simulated-epoch:{seed}:{epoch}")).into()
}

/// The simulated subnet: its miners and its universe, the same in every epoch.
struct World {
    settings: SimulationSettings,
    roster: Vec<SimulatedMiner>,
    universe: Vec<MarketZipcode>,
    by_zipcode: HashMap<String, usize>,
}

/// One epoch made ready to judge: what the validator is given, and the market its checks ask.
struct SimulatedEpoch {
    index: u64,
    terms: EpochTerms,
    body: EpochGroupsBody,
    worked: Vec<Vec<usize>>,
    files: Vec<Vec<StoredFile>>,
    market: EpochMarket,
}

impl World {
    fn new(settings: SimulationSettings) -> Result<Self, SimulationError> {
        if settings.miners == 0 || settings.group_size < 2 {
            return Err(SimulationError::Empty);
        }
        if settings.miners > usize::from(u16::MAX) {
            return Err(SimulationError::TooManyMiners);
        }
        let roles = settings.liars.roles(settings.miners)?;
        let roster = roster(&roles, settings.coldkeys.max(1), settings.seed);
        let universe = universe(settings.seed);
        let by_zipcode = universe.iter().enumerate().map(|(n, z)| (z.zipcode.clone(), n)).collect();
        Ok(World { settings, roster, universe, by_zipcode })
    }

    /// Each group's batch: zipcodes taken in a shuffled order until the batch's expected listings are reached.
    fn batches(&self, seed: [u8; 32], groups: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.universe.len()).collect();
        order.shuffle(&mut ChaCha8Rng::from_seed(seed));
        let mut next = order.into_iter().cycle();
        (0..groups)
            .map(|_| {
                let (mut batch, mut listings) = (Vec::new(), 0);
                while listings < self.settings.listings_per_batch {
                    let zipcode = next.next().expect("the cycle never ends");
                    listings += self.universe[zipcode].size;
                    batch.push(zipcode);
                }
                batch
            })
            .collect()
    }

    /// Epoch `index`: its groups and batches, its market, and every miner's uploads.
    fn epoch(&self, index: u64) -> SimulatedEpoch {
        let seed = epoch_seed(self.settings.seed, index);
        let roster: Vec<RosterMiner> =
            self.roster.iter().map(|m| RosterMiner { hotkey: m.hotkey.clone(), coldkey: m.coldkey.clone() }).collect();
        let grouping = form_groups(seed, &roster, GroupPlan { size: self.settings.group_size, overlap: 1 });
        let batches = self.batches(seed, grouping.groups.len());
        let start_unix = FIRST_EPOCH_UNIX + index as i64 * EPOCH_MS / 1_000;
        let epoch = EpochId::from_start_unix(start_unix);
        let assigned: Vec<&MarketZipcode> = batches.iter().flatten().map(|&z| &self.universe[z]).collect();
        let market = EpochMarket::new(index, start_unix * 1_000, EPOCH_MS, &assigned);
        let scene = EpochScene {
            index,
            seed: self.settings.seed,
            epoch_id: epoch.to_string(),
            nonce: hex::encode(&seed[..8]),
            start_ms: start_unix * 1_000,
            length_ms: EPOCH_MS,
            market: &market,
        };
        let body = EpochGroupsBody {
            group_size: self.settings.group_size,
            overlap: grouping.overlap,
            groups: grouping
                .groups
                .iter()
                .zip(&batches)
                .map(|(group, batch)| GroupBody {
                    id: group.index,
                    zipcodes: batch.iter().map(|&z| self.universe[z].zipcode.clone()).collect(),
                    expected_listings: batch.iter().map(|&z| u64::from(self.universe[z].size)).sum(),
                    members: group.members.iter().map(|h| h.to_string()).collect(),
                })
                .collect(),
            shared_coldkeys: Vec::new(),
            refilled_batches: 0,
            late_joiners: crate::api::LATE_JOINER_RULE.to_string(),
        };
        let worked: Vec<Vec<usize>> = self.roster.iter().map(|m| grouping.groups_of(&m.hotkey)).collect();
        let zipcodes_of = |miner: usize| -> Vec<&MarketZipcode> {
            let mut seen = std::collections::HashSet::new();
            worked[miner]
                .iter()
                .flat_map(|&g| batches[g].iter())
                .filter(|&&z| seen.insert(z))
                .map(|&z| &self.universe[z])
                .collect()
        };
        // Copiers move after everyone else, since they copy what the others uploaded.
        let mut order: Vec<usize> = (0..self.roster.len()).collect();
        order.sort_by_key(|&m| matches!(self.roster[m].role, Some(LiarKind::Copier | LiarKind::ExactCopier)));
        let mut files: Vec<Vec<StoredFile>> = vec![Vec::new(); self.roster.len()];
        for &m in &order {
            let groupmates: Vec<(&SimulatedMiner, &[StoredFile])> = (0..self.roster.len())
                .filter(|&o| o != m && worked[o].iter().any(|g| worked[m].contains(g)))
                .map(|o| (&self.roster[o], files[o].as_slice()))
                .collect();
            files[m] = scene.uploads(&self.roster[m], &zipcodes_of(m), &groupmates);
        }
        let terms = EpochTerms {
            epoch,
            nonce: scene.nonce.parse().expect("16 hex digits"),
            start_ms: scene.start_ms,
            end_ms: scene.start_ms + EPOCH_MS,
            tolerance_percent: 10,
            expected: assigned.iter().map(|z| (z.zipcode.parse().expect("5 digits"), z.size)).collect(),
        };
        SimulatedEpoch { index, terms, body, worked, files, market }
    }

    fn rules(&self) -> JudgingRules {
        JudgingRules {
            validation: self.settings.validation,
            spot_checks: self.settings.spot_checks,
            consensus: ConsensusSettings::default(),
            split: RewardSplit::default(),
        }
    }

    /// Judges `epoch` as `zipcoord validator` does, its checks answered by the epoch's market, and tallies the
    /// verdicts.
    fn judge(&self, epoch: SimulatedEpoch, credibility: &mut CredibilityBook, report: &mut Report, threads: usize) {
        let SimulatedEpoch { index, terms, body, worked, files, market } = epoch;
        let mut judging = EpochJudging::new(terms, Some(body), self.rules());
        let miners = self
            .roster
            .iter()
            .zip(worked)
            .zip(files)
            .map(|((miner, worked), files)| {
                let hotkey = miner.hotkey.to_string();
                let submission = Submission { uid: miner.uid, hotkey: hotkey.clone(), files, unread: Vec::new() };
                (Miner { uid: miner.uid, hotkey, coldkey: miner.coldkey.clone() }, worked, submission)
            })
            .collect();
        judging.admit_all(miners, threads);
        judging.follow(credibility);
        judging.compare(credibility);
        let mut checks = 0;
        for stage in 0..2 {
            let requests = if stage == 0 { judging.first_checks() } else { judging.second_checks() };
            checks += requests.iter().map(|r| r.listings.len()).sum::<usize>();
            judging.record_checks(self.outcomes(&market, requests));
        }
        let settled = judging.settle(credibility);
        report.record(index, &settled.results, checks);
    }

    /// The source's answers to `requests`.
    fn outcomes(&self, market: &EpochMarket, requests: Vec<CheckRequest>) -> Vec<CheckOutcomes> {
        requests
            .into_iter()
            .map(|request| {
                let outcomes = request
                    .listings
                    .iter()
                    .map(|(listing, _)| {
                        let outcome = match self.by_zipcode.get(&listing.zipcode) {
                            Some(&z) => market.check(&self.universe[z], listing),
                            None => SpotCheck::Refuted { reason: format!("no zipcode {}", listing.zipcode) },
                        };
                        (listing.listing_id.clone(), outcome)
                    })
                    .collect();
                CheckOutcomes { case: request.case, outcomes, why: request.why }
            })
            .collect()
    }
}

/// Runs the simulation, calling `progress` after each epoch with the epochs done. Epoch N+1's uploads are made
/// while epoch N is judged (credibility carries from one judgement to the next, so judgements go in order).
pub fn simulate(settings: SimulationSettings, progress: &mut dyn FnMut(u64)) -> Result<Report, SimulationError> {
    let world = World::new(settings.clone())?;
    let mut report = Report::new(&settings, &world.roster);
    let mut credibility = CredibilityBook::default();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    std::thread::scope(|scope| {
        let (ready, epochs) = std::sync::mpsc::sync_channel(1);
        let world = &world;
        scope.spawn(move || {
            for index in 0..settings.epochs {
                if ready.send(world.epoch(index)).is_err() {
                    return;
                }
            }
        });
        for epoch in epochs {
            let index = epoch.index;
            world.judge(epoch, &mut credibility, &mut report, threads);
            progress(index + 1);
        }
    });
    Ok(report)
}
