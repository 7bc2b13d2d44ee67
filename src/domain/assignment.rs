//! An epoch's assignment: the selected zipcodes with their nonce and seed, built purely from the candidates,
//! the policy and the server secret. Once stored it never changes, so it can be cached and served anywhere.

use std::collections::HashMap;

use super::epoch::{EpochClock, EpochId};
use super::nonce::ServerSecret;
use super::selection::{self, Candidate, CooldownRelaxation, SelectionError, SelectionPolicy, ALGORITHM_VERSION};
use super::zipcode::{Zipcode, ZipcodeRecord};

#[derive(Debug, Clone, PartialEq)]
pub struct EpochAssignment {
    pub epoch: EpochId,
    /// End of the epoch (Unix seconds), kept with the epoch so a later change of epoch length cannot rewrite it.
    pub end_unix: i64,
    pub nonce: String,
    /// Hex of the selection seed, published once the epoch has started.
    pub selection_seed: String,
    pub target_listings: u32,
    pub tolerance_percent: u32,
    pub algorithm_version: String,
    pub zipcodes: Vec<ZipcodeRecord>,
    pub created_at_ms: i64,
}

impl EpochAssignment {
    pub fn total_expected(&self) -> u64 {
        self.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum()
    }

    pub fn contains(&self, zipcode: Zipcode) -> bool {
        self.zipcodes.iter().any(|z| z.zipcode == zipcode)
    }
}

/// What a plan needs to know about the world, gathered by the caller.
pub struct PlanInputs<'a> {
    pub universe: &'a [ZipcodeRecord],
    /// Start of the latest earlier epoch that assigned each zipcode.
    pub last_assigned: &'a HashMap<Zipcode, i64>,
    pub policy: SelectionPolicy,
}

/// Builds the assignment of `epoch`: selection seeded from the secret, nonce from the secret.
pub fn plan_epoch(
    epoch: EpochId,
    clock: EpochClock,
    secret: &ServerSecret,
    inputs: &PlanInputs<'_>,
    now_ms: i64,
) -> Result<(EpochAssignment, CooldownRelaxation), SelectionError> {
    let candidates: Vec<Candidate> = inputs
        .universe
        .iter()
        .map(|z| Candidate {
            zipcode: z.zipcode,
            expected_listings: z.expected_listings,
            tier: z.tier,
            operator_weight: z.weight,
            active: z.active,
            last_assigned_unix: inputs.last_assigned.get(&z.zipcode).copied(),
        })
        .collect();
    let seed = secret.epoch_seed(epoch);
    let plan = selection::select_zipcodes(&candidates, &inputs.policy, epoch.start_unix(), seed)?;
    let assignment = EpochAssignment {
        epoch,
        end_unix: clock.end(epoch),
        nonce: secret.epoch_nonce(epoch),
        selection_seed: hex::encode(seed),
        target_listings: inputs.policy.target_listings,
        tolerance_percent: inputs.policy.tolerance_percent,
        algorithm_version: ALGORITHM_VERSION.to_string(),
        zipcodes: plan.picks.iter().map(|&i| inputs.universe[i].clone()).collect(),
        created_at_ms: now_ms,
    };
    Ok((assignment, plan.relaxation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::zipcode::MarketTier;

    #[test]
    fn same_secret_and_epoch_give_the_same_assignment() {
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
        let clock = EpochClock::new(240).unwrap();
        let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        let last = HashMap::new();
        let inputs = PlanInputs {
            universe: &universe,
            last_assigned: &last,
            policy: SelectionPolicy {
                target_listings: 10_000,
                tolerance_percent: 10,
                min_listings: 10,
                max_listings: 3_000,
                cooldown_seconds: 86_400,
                max_count: None,
            },
        };
        let (a, _) = plan_epoch(epoch, clock, &secret, &inputs, 1).unwrap();
        let (b, _) = plan_epoch(epoch, clock, &secret, &inputs, 2).unwrap();
        assert_eq!(a.zipcodes, b.zipcodes);
        assert_eq!(a.nonce, b.nonce);
        assert!((9_000..=11_000).contains(&a.total_expected()));
        assert_eq!(a.end_unix, epoch.start_unix() + 4 * 3600);
        let (c, _) = plan_epoch(clock.next(epoch), clock, &secret, &inputs, 1).unwrap();
        assert_ne!(a.zipcodes, c.zipcodes);
    }
}
