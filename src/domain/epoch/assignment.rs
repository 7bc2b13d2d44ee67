//! An epoch's assignment: the selected zipcodes with their nonce and seed, built purely from the epoch's
//! published inputs and its seed (the beacon's randomness, or the server secret as a fallback), with the proof
//! that lets anyone recompute it. Once stored it never changes, so it can be cached and served anywhere.

use std::collections::HashMap;

use crate::domain::epoch::batches::{select_epoch, EpochGroups, EpochSelection, MinerWork};
use crate::domain::epoch::beacon::{Pulse, Randomness};
use crate::domain::epoch::inputs::EpochInputs;
use crate::domain::epoch::nonce::ServerSecret;
use crate::domain::epoch::proof::{beacon_nonce, beacon_seed, EpochProof, Nonce, Seed, SeedSource};
use crate::domain::epoch::selection::{CooldownRelaxation, SelectionError};
use crate::domain::epoch::zipcode::{Zipcode, ZipcodeRecord};
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::hotkey::Hotkey;

#[derive(Debug, Clone, PartialEq)]
pub struct EpochAssignment {
    pub epoch: EpochId,
    /// End of the epoch (Unix seconds), kept with the epoch so a later change of epoch length cannot rewrite it.
    pub end_unix: i64,
    pub nonce: Nonce,
    /// Published once the epoch has started.
    pub selection_seed: Seed,
    pub target_listings: u32,
    pub tolerance_percent: u32,
    pub algorithm_version: String,
    pub zipcodes: Vec<ZipcodeRecord>,
    pub created_at_ms: i64,
    /// How to recompute the assignment; absent for epochs made before epochs were beacon-seeded.
    pub proof: Option<EpochProof>,
    /// In the `groups` assignment mode: the groups, each working its batch of `zipcodes` (which then holds the
    /// batches one after the other).
    pub groups: Option<EpochGroups>,
}

impl EpochAssignment {
    pub fn total_expected(&self) -> u64 {
        self.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum()
    }

    pub fn contains(&self, zipcode: Zipcode) -> bool {
        self.zipcodes.iter().any(|z| z.zipcode == zipcode)
    }

    /// What `hotkey` is to work: in `shared` mode every zipcode, in `groups` mode its groups' batches. `None`
    /// for its groups in `shared` mode.
    pub fn work_of(&self, hotkey: &Hotkey) -> (Vec<&ZipcodeRecord>, Option<MinerWork<'_>>) {
        match &self.groups {
            None => (self.zipcodes.iter().collect(), None),
            Some(groups) => {
                let work = groups.work_of(self.selection_seed, hotkey, &self.zipcodes);
                (work.zipcodes.clone(), Some(work))
            }
        }
    }

    /// Each zipcode once, in the order first picked (in `groups` mode a zipcode may stand in two batches).
    pub fn distinct_zipcodes(&self) -> Vec<&ZipcodeRecord> {
        let mut seen = std::collections::HashSet::new();
        self.zipcodes.iter().filter(|z| seen.insert(z.zipcode)).collect()
    }
}

/// The published inputs an epoch is planned from, with their hash and publication time.
pub struct PublishedInputs<'a> {
    pub inputs: &'a EpochInputs,
    pub hash: &'a str,
    pub published_at_ms: i64,
}

/// Builds the assignment of the epoch the inputs are for. `places` names the selected zipcodes' state, city
/// and county (the selection itself reads only the inputs).
pub fn plan_epoch(
    clock: EpochClock,
    published: &PublishedInputs<'_>,
    chain_name: &str,
    source: SeedSource,
    secret: &ServerSecret,
    places: &HashMap<Zipcode, &ZipcodeRecord>,
    now_ms: i64,
) -> Result<(EpochAssignment, CooldownRelaxation), SelectionError> {
    let epoch = published.inputs.epoch;
    let (seed, nonce) = match &source {
        SeedSource::Beacon { randomness, .. } => (beacon_seed(randomness, epoch), beacon_nonce(randomness, epoch)),
        SeedSource::Fallback { .. } => (secret.epoch_seed(epoch), secret.epoch_nonce(epoch)),
    };
    assemble(clock, published, chain_name, source, seed, nonce, places, now_ms)
}

/// Builds the assignment of a beacon-seeded epoch, as anyone holding its inputs and verified pulse can: what a
/// client computes while the server is unreachable, and what the server serves once it is back.
pub fn plan_beacon_epoch(
    clock: EpochClock,
    published: &PublishedInputs<'_>,
    chain_name: &str,
    pulse: Pulse,
    randomness: Randomness,
    places: &HashMap<Zipcode, &ZipcodeRecord>,
    now_ms: i64,
) -> Result<(EpochAssignment, CooldownRelaxation), SelectionError> {
    let epoch = published.inputs.epoch;
    let (seed, nonce) = (beacon_seed(&randomness, epoch), beacon_nonce(&randomness, epoch));
    let source = SeedSource::Beacon { pulse, randomness };
    assemble(clock, published, chain_name, source, seed, nonce, places, now_ms)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    clock: EpochClock,
    published: &PublishedInputs<'_>,
    chain_name: &str,
    source: SeedSource,
    seed: Seed,
    nonce: Nonce,
    places: &HashMap<Zipcode, &ZipcodeRecord>,
    now_ms: i64,
) -> Result<(EpochAssignment, CooldownRelaxation), SelectionError> {
    let inputs = published.inputs;
    let epoch = inputs.epoch;
    let EpochSelection { picks, relaxation, groups } = select_epoch(inputs, seed)?;
    let zipcodes = picks
        .iter()
        .map(|&i| {
            let candidate = &inputs.candidates[i];
            let place = places.get(&candidate.zipcode);
            ZipcodeRecord {
                zipcode: candidate.zipcode,
                state: place.map(|p| p.state.clone()).unwrap_or_default(),
                city: place.map(|p| p.city.clone()).unwrap_or_default(),
                county: place.and_then(|p| p.county.clone()),
                expected_listings: candidate.expected_listings,
                tier: candidate.tier,
                weight: f64::from(candidate.weight_millis) / 1000.0,
                active: true,
            }
        })
        .collect();
    let assignment = EpochAssignment {
        epoch,
        end_unix: clock.end(epoch),
        nonce,
        selection_seed: seed,
        target_listings: inputs.policy.target_listings,
        tolerance_percent: inputs.policy.tolerance_percent,
        algorithm_version: inputs.algorithm_version.clone(),
        zipcodes,
        created_at_ms: now_ms,
        proof: Some(EpochProof {
            source,
            chain_name: chain_name.to_string(),
            chain_hash: inputs.beacon_chain_hash,
            round: inputs.beacon_round,
            inputs_hash: published.hash.to_string(),
            inputs_published_at_ms: published.published_at_ms,
            algorithm_version: inputs.algorithm_version.clone(),
        }),
        groups,
    };
    Ok((assignment, relaxation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::beacon::DevBeacon;
    use crate::domain::epoch::inputs::InputSources;
    use crate::domain::epoch::selection::SelectionPolicy;
    use crate::domain::epoch::zipcode::MarketTier;

    #[test]
    fn same_inputs_and_randomness_give_the_same_assignment() {
        let universe: Vec<ZipcodeRecord> = (0..500)
            .map(|n| ZipcodeRecord {
                zipcode: format!("{:05}", 10_000 + n).parse().unwrap(),
                state: "NY".into(),
                city: "Somewhere".into(),
                county: None,
                expected_listings: 50 + (n * 37 % 200),
                tier: MarketTier::Standard,
                weight: 1.0,
                active: true,
            })
            .collect();
        let places: HashMap<Zipcode, &ZipcodeRecord> = universe.iter().map(|z| (z.zipcode, z)).collect();
        let clock = EpochClock::new(240).unwrap();
        let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
        let beacon = DevBeacon::new();
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        let last = HashMap::new();
        let policy = SelectionPolicy {
            target_listings: 10_000,
            tolerance_percent: 10,
            min_listings: 10,
            max_listings: 3_000,
            cooldown_seconds: 86_400,
            max_count: None,
        };
        let inputs_of = |epoch: EpochId| {
            let round = beacon.chain().round_at(epoch.start_unix());
            let sources = InputSources {
                universe: &universe,
                last_assigned: &last,
                policy,
                netuid: 46,
                beacon_chain_hash: beacon.chain().hash,
                beacon_round: round,
                groups: None,
            };
            EpochInputs::compose(epoch, &sources)
        };
        let plan = |inputs: &EpochInputs, now_ms| {
            let pulse = beacon.pulse(inputs.beacon_round);
            let randomness = beacon.chain().verify(&pulse).unwrap();
            let hash = inputs.hash_hex();
            let published = PublishedInputs { inputs, hash: &hash, published_at_ms: 0 };
            let source = SeedSource::Beacon { pulse, randomness };
            plan_epoch(clock, &published, "zipcoord-dev", source, &secret, &places, now_ms).unwrap().0
        };
        let inputs = inputs_of(epoch);
        let (a, b) = (plan(&inputs, 1), plan(&inputs, 2));
        assert_eq!(a.zipcodes, b.zipcodes);
        assert_eq!(a.nonce, b.nonce);
        assert!((9_000..=11_000).contains(&a.total_expected()));
        assert_eq!(a.end_unix, epoch.start_unix() + 4 * 3600);
        assert_eq!(a.zipcodes[0].city, "Somewhere");
        assert_eq!(a.proof.as_ref().unwrap().inputs_hash, inputs.hash_hex());
        let c = plan(&inputs_of(clock.next(epoch)), 1);
        assert_ne!(a.zipcodes, c.zipcodes);
        assert_ne!(a.nonce, c.nonce);

        let published = PublishedInputs { inputs: &inputs, hash: "h", published_at_ms: 0 };
        let fallback = SeedSource::Fallback { reason: "beacon unreachable".into() };
        let (d, _) = plan_epoch(clock, &published, "zipcoord-dev", fallback, &secret, &places, 1).unwrap();
        assert_eq!(d.nonce, secret.epoch_nonce(epoch));
        assert_eq!(d.proof.unwrap().kind(), crate::domain::epoch::proof::SeedKind::Fallback);
    }
}
