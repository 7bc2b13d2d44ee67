use super::*;
use crate::chain::subtensor::commit::decrypt_with_signature;
use crate::domain::epoch::beacon::DevBeacon;
use crate::domain::judging::weights::Burn;

/// Subnet 46 at block 10,000: uid 0 is this validator, uid 1 another validator, uids 2..=5 miners.
fn state() -> SubnetWeightState {
    SubnetWeightState {
        netuid: 46,
        block: 10_000,
        commit_reveal: false,
        commit_reveal_version: 4,
        limits: WeightLimits::NONE,
        version_key: 1038,
        rate_limit: 100,
        tempo: 360,
        reveal_period_epochs: 1,
        epoch_schedule: None,
        activity_cutoff: 5000,
        last_update: vec![9_000, 9_990, 0, 0, 0, 0],
        permits: vec![true, true, false, false, false, false],
        uid: Some(0),
    }
}

fn request() -> WeightRequest {
    WeightRequest { split: BTreeMap::from([(0, 0.1), (1, 0.1), (2, 0.5), (3, 0.3)]), ..WeightRequest::default() }
}

fn target(beacon: &DevBeacon) -> CommitTarget<'_> {
    CommitTarget { beacon_public_key: &beacon.chain().public_key, block_time_secs: 12.0, now_secs: 1_760_000_000.0 }
}

#[test]
fn with_commit_reveal_off_the_vector_goes_out_as_set_weights_without_validators() {
    let beacon = DevBeacon::new();
    let planned = plan_weights(&state(), &request(), [9; 32], target(&beacon)).unwrap();
    assert_eq!(planned.uid, 0);
    assert_eq!(planned.emitted.uids, vec![2, 3], "neither this validator nor the other is weighed");
    assert_eq!(planned.emitted.values, vec![65535, 39321]);
    assert_eq!(planned.reveal_round, None);
    assert_eq!(
        planned.call,
        WeightCall::SetWeights { netuid: 46, dests: vec![2, 3], weights: vec![65535, 39321], version_key: 1038 }
    );
}

#[test]
fn with_commit_reveal_on_only_a_commit_goes_out_and_it_opens_to_the_vector() {
    let beacon = DevBeacon::new();
    let on = SubnetWeightState { commit_reveal: true, ..state() };
    let planned = plan_weights(&on, &request(), [9; 32], target(&beacon)).unwrap();
    let WeightCall::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } = &planned.call
    else {
        panic!("commit-reveal on sends no set_weights: {:?}", planned.call)
    };
    assert_eq!((*netuid, *commit_reveal_version, Some(*reveal_round)), (46, 4, planned.reveal_round));
    let opened = decrypt_with_signature(commit, &beacon.pulse(*reveal_round).signature).unwrap();
    let payload = WeightsTlockPayload::decode(&opened).unwrap();
    assert_eq!(payload, WeightsTlockPayload { hotkey: [9; 32], weights: planned.emitted.clone(), version_key: 1038 });
    assert!(decrypt_with_signature(commit, &beacon.pulse(*reveal_round - 1).signature).is_err());
}

#[test]
fn a_runtime_with_the_stateful_epoch_counter_picks_the_round_from_its_schedule() {
    use crate::chain::subtensor::commit::{reveal_round, RevealSchedule};
    let beacon = DevBeacon::new();
    // The last epoch fired at 9,900 with tempo 360: the next fires at 10,260, where the commit is revealed.
    let schedule = EpochScheduleState {
        last_epoch_block: 9_900,
        pending_epoch_at: 0,
        subnet_epoch_index: 27,
        tempo: 360,
        blocks_since_last_step: 100,
        current_block: 10_000,
    };
    let stateful = SubnetWeightState { commit_reveal: true, epoch_schedule: Some(schedule), ..state() };
    let planned = plan_weights(&stateful, &request(), [9; 32], target(&beacon)).unwrap();
    let now = target(&beacon).now_secs;
    let expected = ((now + f64::from(10_260 + 3 - 10_000) * 12.0 - 1_692_803_367.0) / 3.0).floor() as u64;
    assert_eq!(planned.reveal_round, Some(expected));
    // The older formula, from tempo and netuid alone, aims elsewhere.
    let legacy = RevealSchedule { block: 10_000, netuid: 46, tempo: 360, reveal_period_epochs: 1 };
    assert_ne!(planned.reveal_round, Some(reveal_round(legacy, now, 12.0)));
    // A subnet without epochs is refused before anything is encrypted.
    let halted = SubnetWeightState {
        epoch_schedule: Some(EpochScheduleState { tempo: 0, ..schedule }),
        tempo: 0,
        ..stateful.clone()
    };
    let refused = plan_weights(&halted, &request(), [9; 32], target(&beacon)).unwrap_err();
    assert!(matches!(refused, WeightRefusal::Schedule(ScheduleError::TempoZero)), "{refused}");
}

#[test]
fn the_burn_takes_its_share_and_the_split_the_rest() {
    let beacon = DevBeacon::new();
    let burned = WeightRequest { policy: WeightPolicy { burn: Some(Burn { uid: 1, share: 0.75 }) }, ..request() };
    let planned = plan_weights(&state(), &burned, [9; 32], target(&beacon)).unwrap();
    // 0.75 to the owner (a validator itself, weighed as the burn), 0.25 * 5/8 and 0.25 * 3/8 to the miners.
    assert_eq!(planned.emitted.uids, vec![1, 2, 3]);
    assert_eq!(planned.emitted.values, vec![65535, 13653, 8192]);
}

#[test]
fn not_registered_unpermitted_rate_limited_and_a_low_version_key_send_nothing() {
    let beacon = DevBeacon::new();
    let plan =
        |state: SubnetWeightState, request: WeightRequest| plan_weights(&state, &request, [9; 32], target(&beacon));
    assert_eq!(
        plan(SubnetWeightState { uid: None, ..state() }, request()),
        Err(WeightRefusal::NotRegistered { netuid: 46 })
    );
    assert_eq!(
        plan(SubnetWeightState { uid: Some(2), ..state() }, request()),
        Err(WeightRefusal::NoPermit { uid: 2, netuid: 46 })
    );
    let limited = SubnetWeightState { uid: Some(1), ..state() };
    let refusal = plan(limited, request()).unwrap_err();
    assert_eq!(refusal, WeightRefusal::RateLimited { uid: 1, netuid: 46, since: 10, limit: 100, next: 10_090 });
    assert!(refusal.to_string().contains("next at block 10090"), "{refusal}");
    let low = WeightRequest { version_key: Some(1000), ..request() };
    assert_eq!(plan(state(), low), Err(WeightRefusal::VersionKeyTooLow { asked: 1000, chain: 1038 }));
    let higher = WeightRequest { version_key: Some(2000), ..request() };
    assert_eq!(plan(state(), higher).unwrap().version_key, 2000);
    let only_validators = WeightRequest { split: BTreeMap::from([(0, 1.0), (1, 1.0)]), ..request() };
    assert_eq!(plan(state(), only_validators), Err(WeightRefusal::Policy(PolicyError::Nothing)));
}

#[test]
fn the_subnets_limits_shape_the_vector_as_the_sdk_would() {
    let beacon = DevBeacon::new();
    let limited =
        SubnetWeightState { limits: WeightLimits { min_allowed_weights: 3, max_weights_limit: 32768 }, ..state() };
    let planned = plan_weights(&limited, &request(), [9; 32], target(&beacon)).unwrap();
    let scores = WeightPolicy::default().scores(&BTreeMap::from([(2, 0.5), (3, 0.3)]), &[], 6).unwrap();
    assert_eq!(planned.emitted, sdk_weight_vector(&scores, limited.limits));
    assert!(planned.emitted.uids.len() >= 3, "padded to the subnet's minimum: {:?}", planned.emitted);
}

#[test]
fn a_validator_that_never_set_weights_is_not_rate_limited() {
    let fresh = SubnetWeightState { last_update: vec![0, 9_990, 0, 0, 0, 0], ..state() };
    assert_eq!(standing(&fresh), Ok(0));
    assert_eq!(fresh.blocks_since_update(), Some(10_000));
}
