//! Recomputing a published epoch from its inputs document and its proof, as anyone can: the inputs' hash, their
//! canonical form, the beacon round at the epoch's start, the pulse's signature under the chain's key, then the
//! seed, the nonce and the selection. The first difference found is the answer; `zipcoord verify-epoch` and
//! `scripts/verify_epoch.py` follow the same steps.

use crate::domain::epoch::batches::select_epoch;
use crate::domain::epoch::beacon::{known_chain, Pulse, Randomness, Round};
use crate::domain::epoch::inputs::{inputs_hash, EpochInputs};
use crate::domain::epoch::proof::{beacon_nonce, beacon_seed, Nonce, SeedKind};
use crate::domain::epoch::selection_v2::ALGORITHM_VERSION;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;

/// What a server claims about an epoch (its proof endpoint's answer, parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochClaim {
    pub epoch: EpochId,
    pub nonce: Nonce,
    /// In the order they were picked.
    pub zipcodes: Vec<Zipcode>,
    pub kind: SeedKind,
    pub reason: Option<String>,
    pub chain_hash: [u8; 32],
    pub round: Round,
    /// The pulse's signature as served (hex); read as a pulse of `round` when recomputing.
    pub signature: Option<String>,
    pub randomness: Option<[u8; 32]>,
    pub inputs_hash: [u8; 32],
    pub inputs_published_at_ms: i64,
    pub algorithm_version: String,
    /// `groups` mode: each group's batch length and member hotkeys, in group order.
    pub groups: Option<Vec<(usize, Vec<String>)>>,
}

/// A recomputation that agreed with the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub chain_name: &'static str,
    pub round: Round,
    pub round_unix: i64,
    /// The round's pulse, verified under the chain's key, and its randomness: enough to plan the epoch again.
    pub pulse: Pulse,
    pub randomness: Randomness,
    pub zipcodes: usize,
    /// `groups` mode: how many groups (each with its batch); 0 in `shared` mode.
    pub groups: usize,
    pub expected_listings: u64,
    /// Seconds between the inputs' publication and the round: positive when published before it existed.
    pub published_ahead_seconds: i64,
    /// For inputs published after the round: the epoch whose published inputs and selection they roll forward
    /// from ([`rolls_forward`]), which fixed them before the round all the same.
    pub rolled_forward_from: Option<EpochId>,
}

/// Why an epoch does not verify: the first difference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Discrepancy {
    #[error("not verifiable: the epoch was seeded from the server secret ({0})")]
    Fallback(String),
    #[error("{0}")]
    Differs(String),
}

fn differs(text: impl Into<String>) -> Discrepancy {
    Discrepancy::Differs(text.into())
}

/// Recomputes `claim` from the published inputs document `inputs_document` (its bytes as served).
pub fn recompute(claim: &EpochClaim, inputs_document: &[u8]) -> Result<Verified, Discrepancy> {
    if claim.kind != SeedKind::Beacon {
        return Err(Discrepancy::Fallback(claim.reason.clone().unwrap_or_else(|| claim.kind.to_string())));
    }
    if claim.algorithm_version != ALGORITHM_VERSION {
        return Err(differs(format!(
            "unknown algorithm {:?} (this verifier knows {ALGORITHM_VERSION})",
            claim.algorithm_version
        )));
    }
    let hash = inputs_hash(inputs_document);
    if hash != claim.inputs_hash {
        return Err(differs(format!(
            "the inputs hash to {}, the proof names {}",
            hex::encode(hash),
            hex::encode(claim.inputs_hash)
        )));
    }
    let inputs = EpochInputs::from_canonical_json(inputs_document).map_err(|e| differs(e.to_string()))?;
    if inputs.epoch != claim.epoch {
        return Err(differs(format!("the inputs are of epoch {}, not {}", inputs.epoch, claim.epoch)));
    }
    if inputs.algorithm_version != claim.algorithm_version {
        return Err(differs(format!("the inputs name algorithm {:?}", inputs.algorithm_version)));
    }
    if inputs.beacon_chain_hash != claim.chain_hash {
        return Err(differs(format!("the inputs name beacon chain {}", hex::encode(inputs.beacon_chain_hash))));
    }
    if inputs.beacon_round != claim.round {
        return Err(differs(format!("the inputs name round {}, the proof {}", inputs.beacon_round, claim.round)));
    }
    let chain = known_chain(&inputs.beacon_chain_hash)
        .ok_or_else(|| differs(format!("unknown beacon chain {}", hex::encode(claim.chain_hash))))?;
    let expected_round = chain.round_at(claim.epoch.start_unix());
    if claim.round != expected_round {
        return Err(differs(format!(
            "round {} is not the first at or after the epoch's start ({expected_round})",
            claim.round
        )));
    }
    let signature = claim.signature.as_deref().ok_or_else(|| differs("the proof carries no pulse signature"))?;
    let pulse = Pulse::from_hex(claim.round, signature).map_err(|e| differs(e.to_string()))?;
    let randomness = chain.verify(&pulse).map_err(|e| differs(e.to_string()))?;
    if claim.randomness.is_some_and(|claimed| claimed != *randomness.as_bytes()) {
        return Err(differs("the proof's randomness is not sha256 of its signature"));
    }
    let nonce = beacon_nonce(&randomness, claim.epoch);
    if nonce != claim.nonce {
        return Err(differs(format!("the nonce recomputes to {nonce}, the server says {}", claim.nonce)));
    }
    let plan = select_epoch(&inputs, beacon_seed(&randomness, claim.epoch))
        .map_err(|e| differs(format!("the selection recomputes to no set: {e}")))?;
    let recomputed: Vec<Zipcode> = plan.picks.iter().map(|&i| inputs.candidates[i].zipcode).collect();
    if let Some(at) =
        (0..recomputed.len().max(claim.zipcodes.len())).find(|&i| recomputed.get(i) != claim.zipcodes.get(i))
    {
        let shown = |z: Option<&Zipcode>| z.map_or("nothing".to_string(), |z| z.to_string());
        return Err(differs(format!(
            "zipcode {} of the selection recomputes to {}, the server says {} ({} recomputed, {} served)",
            at + 1,
            shown(recomputed.get(at)),
            shown(claim.zipcodes.get(at)),
            recomputed.len(),
            claim.zipcodes.len()
        )));
    }
    let groups: Option<Vec<(usize, Vec<String>)>> = plan.groups.as_ref().map(|groups| {
        groups.groups.iter().map(|g| (g.count, g.members.iter().map(|m| m.to_string()).collect())).collect()
    });
    if groups != claim.groups {
        let count =
            |g: &Option<Vec<(usize, Vec<String>)>>| g.as_ref().map_or("no".to_string(), |g| g.len().to_string());
        let first = groups.iter().flatten().zip(claim.groups.iter().flatten()).position(|(a, b)| a != b);
        return Err(differs(format!(
            "the groups recompute differently: {} groups recomputed, {} claimed{}",
            count(&groups),
            count(&claim.groups),
            first.map_or(String::new(), |i| format!("; group {i} is the first that differs (batch or members)"))
        )));
    }
    let round_unix = chain.round_time(claim.round);
    Ok(Verified {
        chain_name: chain.name,
        round: claim.round,
        round_unix,
        pulse,
        randomness,
        zipcodes: recomputed.len(),
        groups: groups.as_ref().map_or(0, Vec::len),
        expected_listings: plan.picks.iter().map(|&i| u64::from(inputs.candidates[i].expected_listings)).sum(),
        published_ahead_seconds: round_unix - claim.inputs_published_at_ms.div_euclid(1000),
        rolled_forward_from: None,
    })
}

/// Whether `inputs_document` (of `epoch`) is exactly the roll-forward of the previous epoch's published inputs
/// `previous_document` and the zipcodes that epoch `picked` (what a server publishes when it was down at the
/// previous epoch's start, see [`EpochInputs::roll_forward`]).
pub fn rolls_forward(previous_document: &[u8], picked: &[Zipcode], epoch: EpochId, inputs_document: &[u8]) -> bool {
    EpochInputs::from_canonical_json(previous_document)
        .ok()
        .and_then(|previous| previous.roll_forward(picked, epoch))
        .is_some_and(|rolled| rolled.canonical_json() == inputs_document)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::epoch::assignment::{plan_epoch, PublishedInputs};
    use crate::domain::epoch::beacon::DevBeacon;
    use crate::domain::epoch::groups::GroupedInputs;
    use crate::domain::epoch::groups::{GroupPlan, RosterMiner};
    use crate::domain::epoch::inputs::{inputs_hash_hex, InputSources};
    use crate::domain::epoch::nonce::ServerSecret;
    use crate::domain::epoch::proof::SeedSource;
    use crate::domain::epoch::selection::SelectionPolicy;
    use crate::domain::epoch::zipcode::{MarketTier, ZipcodeRecord};
    use crate::domain::epoch::EpochClock;
    use crate::domain::hotkey::Hotkey;

    fn published_epoch() -> (EpochClaim, Vec<u8>) {
        published_epoch_in(None)
    }

    fn published_epoch_in(groups: Option<GroupedInputs>) -> (EpochClaim, Vec<u8>) {
        let universe: Vec<ZipcodeRecord> = (0..2_000)
            .map(|n| ZipcodeRecord {
                zipcode: format!("{:05}", 1_000 + n * 7).parse().unwrap(),
                state: "TX".into(),
                city: "Austin".into(),
                county: None,
                expected_listings: 20 + (n * 7_919 % 400),
                tier: MarketTier::ALL[n as usize % 4],
                weight: 1.0,
                active: true,
            })
            .collect();
        let epoch: EpochId = "2025-12-01T04-00-00".parse().unwrap();
        let beacon = DevBeacon::new();
        let last_assigned = HashMap::from([(universe[3].zipcode, epoch.start_unix() - 4 * 3_600)]);
        let sources = InputSources {
            universe: &universe,
            last_assigned: &last_assigned,
            policy: SelectionPolicy {
                target_listings: 10_000,
                tolerance_percent: 10,
                min_listings: 10,
                max_listings: 3_000,
                cooldown_seconds: 86_400,
                max_count: None,
            },
            netuid: 46,
            beacon_chain_hash: beacon.chain().hash,
            beacon_round: beacon.chain().round_at(epoch.start_unix()),
            groups,
        };
        let inputs = EpochInputs::compose(epoch, &sources);
        let document = inputs.canonical_json();
        let hash = inputs_hash_hex(&document);
        let published =
            PublishedInputs { inputs: &inputs, hash: &hash, published_at_ms: (epoch.start_unix() - 14_400) * 1000 };
        let pulse = beacon.pulse(inputs.beacon_round);
        let randomness = beacon.chain().verify(&pulse).unwrap();
        let places = HashMap::new();
        let secret = ServerSecret::from_hex(&"cd".repeat(32)).unwrap();
        let clock = EpochClock::new(240).unwrap();
        let source = SeedSource::Beacon { pulse, randomness };
        let (assignment, _) = plan_epoch(clock, &published, "zipcoord-dev", source, &secret, &places, 0).unwrap();
        let claim = EpochClaim {
            epoch,
            nonce: assignment.nonce,
            zipcodes: assignment.zipcodes.iter().map(|z| z.zipcode).collect(),
            kind: SeedKind::Beacon,
            reason: None,
            chain_hash: beacon.chain().hash,
            round: inputs.beacon_round,
            signature: Some(pulse.signature_hex()),
            randomness: Some(*randomness.as_bytes()),
            inputs_hash: inputs_hash(&document),
            inputs_published_at_ms: published.published_at_ms,
            algorithm_version: ALGORITHM_VERSION.into(),
            groups: assignment.groups.as_ref().map(|groups| {
                groups.groups.iter().map(|g| (g.count, g.members.iter().map(|m| m.to_string()).collect())).collect()
            }),
        };
        (claim, document)
    }

    #[test]
    fn a_grouped_epoch_recomputes_with_its_groups_and_refuses_other_members() {
        let roster: Vec<RosterMiner> = (0..12u8)
            .map(|n| RosterMiner { hotkey: Hotkey::from_public([n + 1; 32]), coldkey: format!("cold{}", n % 9) })
            .collect();
        let grouped = GroupedInputs::new(GroupPlan { size: 5, overlap: 1 }, &roster);
        let (claim, document) = published_epoch_in(Some(grouped));
        let verified = recompute(&claim, &document).unwrap();
        assert_eq!(verified.groups, 3);
        assert!((27_000..=33_000).contains(&verified.expected_listings), "{}", verified.expected_listings);

        let mut swapped = claim.clone();
        let groups = swapped.groups.as_mut().unwrap();
        let moved = groups[0].1.pop().unwrap();
        groups[1].1.push(moved);
        let refused = recompute(&swapped, &document).unwrap_err().to_string();
        assert!(refused.contains("group 0 is the first that differs"), "{refused}");
        let unnamed = EpochClaim { groups: None, ..claim };
        let refused = recompute(&unnamed, &document).unwrap_err().to_string();
        assert!(refused.contains("3 groups recomputed, no claimed"), "{refused}");
    }

    #[test]
    fn a_published_epoch_recomputes() {
        let (claim, document) = published_epoch();
        let verified = recompute(&claim, &document).unwrap();
        assert_eq!(verified.zipcodes, claim.zipcodes.len());
        assert_eq!(verified.published_ahead_seconds, 14_400);
        assert!((9_000..=11_000).contains(&verified.expected_listings));
    }

    #[test]
    fn the_first_difference_is_named() {
        let (claim, document) = published_epoch();
        let refused = |claim: &EpochClaim, document: &[u8]| recompute(claim, document).unwrap_err().to_string();

        let mut swapped = claim.clone();
        swapped.zipcodes.swap(0, 1);
        assert!(
            refused(&swapped, &document).contains("zipcode 1 of the selection"),
            "{}",
            refused(&swapped, &document)
        );
        let mut nonce = claim.clone();
        nonce.nonce = "0000000000000000".parse().unwrap();
        assert!(refused(&nonce, &document).contains("the nonce recomputes"));
        let mut changed = document.clone();
        let at = changed.windows(4).position(|w| w == b",150").unwrap_or(200);
        changed[at + 1] = b'9';
        assert!(refused(&claim, &changed).contains("the inputs hash to"));
        let mut forged = claim.clone();
        let mut signature = hex::decode(claim.signature.as_ref().unwrap()).unwrap();
        signature[10] ^= 1;
        forged.signature = Some(hex::encode(signature));
        assert!(refused(&forged, &document).contains("round"), "{}", refused(&forged, &document));
        let mut later = claim.clone();
        later.round += 1;
        assert!(refused(&later, &document).contains("the inputs name round"));
        let fallback = EpochClaim { kind: SeedKind::Fallback, reason: Some("relays down".into()), ..claim };
        assert_eq!(
            refused(&fallback, &document),
            "not verifiable: the epoch was seeded from the server secret (relays down)"
        );
    }
}
