//! What a validator may put on chain now, decided from the subnet's state at one block: whether it may set
//! weights at all (registered, permitted, not rate-limited), the vector the SDK would emit for its scores under
//! the subnet's limits and the owner's burn, and which call carries it (`set_weights`, or a timelocked commit
//! when commit-reveal is on, never both). Pure: the state is read and the call signed and sent elsewhere.

use std::collections::BTreeMap;

use super::calls::{WeightCall, MAX_COMMIT_BYTES};
use super::commit::{
    encrypt_to_round, reveal_round, reveal_round_stateful, CommitError, RevealSchedule, WeightsTlockPayload,
};
use super::epoch_schedule::{EpochScheduleState, ScheduleError};
use crate::domain::judging::weights::{sdk_weight_vector, EmittedWeights, PolicyError, WeightLimits, WeightPolicy};

/// The subnet and this validator as the chain holds them at one block.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetWeightState {
    pub netuid: u16,
    pub block: u64,
    pub commit_reveal: bool,
    pub commit_reveal_version: u16,
    pub limits: WeightLimits,
    /// `WeightsVersionKey`: the chain refuses weights under a lower key.
    pub version_key: u64,
    /// `WeightsSetRateLimit`: blocks between two weight settings of one validator.
    pub rate_limit: u64,
    pub tempo: u16,
    pub reveal_period_epochs: u64,
    /// The stateful epoch schedule (`SubnetEpochIndex` and friends), on runtimes that have it: the reveal round
    /// is predicted from it instead of from `tempo` and the netuid.
    pub epoch_schedule: Option<EpochScheduleState>,
    /// `ActivityCutoff`: a validator whose `LastUpdate` is older than this many blocks loses its dividends.
    pub activity_cutoff: u16,
    /// `LastUpdate` by uid: the block each neuron last set weights at.
    pub last_update: Vec<u64>,
    /// `ValidatorPermit` by uid.
    pub permits: Vec<bool>,
    /// This validator's uid, if its hotkey is registered on the subnet.
    pub uid: Option<u16>,
}

impl SubnetWeightState {
    /// Neurons on the subnet (one `LastUpdate` each).
    pub fn neurons(&self) -> usize {
        self.last_update.len()
    }

    /// Blocks since this validator last set weights, when it is registered.
    pub fn blocks_since_update(&self) -> Option<u64> {
        let uid = usize::from(self.uid?);
        Some(self.block.saturating_sub(*self.last_update.get(uid)?))
    }

    /// The uids never weighed: every neuron with a validator permit, this one included.
    fn validators(&self) -> Vec<u16> {
        let mut never: Vec<u16> =
            (0..self.permits.len()).filter(|&uid| self.permits[uid]).map(|uid| uid as u16).collect();
        never.extend(self.uid);
        never
    }
}

/// What the validator asks to set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightRequest {
    /// The judged split: uid → weight.
    pub split: BTreeMap<u16, f64>,
    pub policy: WeightPolicy,
    /// A version key asked for; the chain's `WeightsVersionKey` when none.
    pub version_key: Option<u64>,
}

/// How a commit is encrypted: the beacon whose rounds reveal it (quicknet on a real chain) and the block time
/// the reveal round is computed with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommitTarget<'a> {
    pub beacon_public_key: &'a [u8],
    pub block_time_secs: f64,
    pub now_secs: f64,
}

/// The call to sign, with what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWeights {
    pub uid: u16,
    pub emitted: EmittedWeights,
    pub version_key: u64,
    /// The quicknet round the commit opens at, when the call is a commit.
    pub reveal_round: Option<u64>,
    pub call: WeightCall,
}

/// Why nothing is sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightRefusal {
    #[error("this hotkey is not registered on subnet {netuid}")]
    NotRegistered { netuid: u16 },
    #[error("uid {uid} has no validator permit on subnet {netuid}: the chain ignores its weights")]
    NoPermit { uid: u16, netuid: u16 },
    #[error(
        "uid {uid} set weights {since} blocks ago; subnet {netuid} allows it every {limit} blocks (next at block \
         {next})"
    )]
    RateLimited { uid: u16, netuid: u16, since: u64, limit: u64, next: u64 },
    #[error("version key {asked} is below the subnet's WeightsVersionKey {chain}: the chain would refuse it")]
    VersionKeyTooLow { asked: u64, chain: u64 },
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("the normalized vector is empty: every score rounds to zero")]
    Empty,
    #[error("the commit cannot be made: {0}")]
    Commit(#[from] CommitError),
    #[error("the commit is {0} bytes, more than the chain's {MAX_COMMIT_BYTES}")]
    CommitTooLarge(usize),
    #[error("{0}")]
    Schedule(#[from] ScheduleError),
}

/// Who may set weights now: registered, permitted and past the rate limit.
pub fn standing(state: &SubnetWeightState) -> Result<u16, WeightRefusal> {
    let netuid = state.netuid;
    let uid = state.uid.ok_or(WeightRefusal::NotRegistered { netuid })?;
    if !state.permits.get(usize::from(uid)).copied().unwrap_or(false) {
        return Err(WeightRefusal::NoPermit { uid, netuid });
    }
    let last = state.last_update.get(usize::from(uid)).copied().unwrap_or(0);
    let since = state.block.saturating_sub(last);
    // A validator that never set weights (last update 0) is not held back (the chain exempts it too).
    if last > 0 && since < state.rate_limit {
        let next = last + state.rate_limit;
        return Err(WeightRefusal::RateLimited { uid, netuid, since, limit: state.rate_limit, next });
    }
    Ok(uid)
}

/// The vector and the call for `request` under `state`, signed by `hotkey` (its 32-byte public key).
pub fn plan_weights(
    state: &SubnetWeightState,
    request: &WeightRequest,
    hotkey: [u8; 32],
    target: CommitTarget<'_>,
) -> Result<PlannedWeights, WeightRefusal> {
    let uid = standing(state)?;
    let version_key = match request.version_key {
        Some(asked) if asked < state.version_key => {
            return Err(WeightRefusal::VersionKeyTooLow { asked, chain: state.version_key })
        }
        Some(asked) => asked,
        None => state.version_key,
    };
    let scores = request.policy.scores(&request.split, &state.validators(), state.neurons())?;
    let emitted = sdk_weight_vector(&scores, state.limits);
    if emitted.is_empty() {
        return Err(WeightRefusal::Empty);
    }
    let netuid = state.netuid;
    if !state.commit_reveal {
        let call = WeightCall::SetWeights {
            netuid,
            dests: emitted.uids.clone(),
            weights: emitted.values.clone(),
            version_key,
        };
        return Ok(PlannedWeights { uid, emitted, version_key, reveal_round: None, call });
    }
    let round = match &state.epoch_schedule {
        Some(head) => reveal_round_stateful(head, state.reveal_period_epochs, target.now_secs, target.block_time_secs)?,
        None => {
            let schedule = RevealSchedule {
                block: state.block,
                netuid,
                tempo: u64::from(state.tempo),
                reveal_period_epochs: state.reveal_period_epochs,
            };
            reveal_round(schedule, target.now_secs, target.block_time_secs)
        }
    };
    let payload = WeightsTlockPayload { hotkey, weights: emitted.clone(), version_key };
    let commit = encrypt_to_round(&payload.encode(), round, target.beacon_public_key)?;
    if commit.len() > MAX_COMMIT_BYTES {
        return Err(WeightRefusal::CommitTooLarge(commit.len()));
    }
    let call = WeightCall::CommitTimelockedWeights {
        netuid,
        commit,
        reveal_round: round,
        commit_reveal_version: state.commit_reveal_version,
    };
    Ok(PlannedWeights { uid, emitted, version_key, reveal_round: Some(round), call })
}

#[cfg(test)]
mod tests;
