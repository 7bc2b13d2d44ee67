use super::*;

/// (scores by uid, MinAllowedWeights, MaxWeightsLimit) → what bittensor 9.9.0's `process_weights` then
/// `convert_weights_and_uids_for_emit` return, as printed by the SDK itself.
/// Scores, MinAllowedWeights, MaxWeightsLimit, and the uids and values the SDK emits.
type KnownAnswer = (&'static [f64], u16, u16, &'static [u16], &'static [u16]);

#[test]
fn known_answers_from_the_sdk() {
    let cases: [KnownAnswer; 8] = [
        // A weight too small to survive rounding is dropped; the order is the uids'.
        (&[0.5, 0.2, 0.0, 0.3, 1e-9], 0, 65535, &[0, 1, 3], &[65535, 26214, 39321]),
        // 32767.5 rounds to even.
        (&[1.0, 1.0, 1.0, 2.0], 0, 65535, &[0, 1, 2, 3], &[32768, 32768, 32768, 65535]),
        (&[1.0, 2e-5, 3e-6], 0, 65535, &[0, 1], &[65535, 1]),
        // Fewer uids than the limit can spread over: everyone alike.
        (&[0.9, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 2, 6553, &[0, 1, 2], &[65535; 3]),
        // Below MinAllowedWeights: padded with 1e-5 each, then limited.
        (&[0.9, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 5, 6553, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], &[65535; 10]),
        (
            &[0.6, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            4,
            26214,
            &[0, 1, 2, 3, 4, 5, 6, 7],
            &[65535, 65535, 5477, 5477, 5477, 5477, 5477, 5477],
        ),
        // The limit bites: the top weight is cut to the cutoff.
        (
            &[0.6, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01, 0.0],
            0,
            19660,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8],
            &[65535, 38230, 38230, 19115, 19115, 15292, 11469, 7646, 3823],
        ),
        // Nobody has a weight: all alike.
        (&[0.0, 0.0, 0.0], 1, 65535, &[0, 1, 2], &[65535; 3]),
    ];
    for (scores, min_allowed_weights, max_weights_limit, uids, values) in cases {
        let limits = WeightLimits { min_allowed_weights, max_weights_limit };
        let emitted = sdk_weight_vector(scores, limits);
        assert_eq!((emitted.uids.as_slice(), emitted.values.as_slice()), (uids, values), "{scores:?} {limits:?}");
    }
}

#[test]
fn negative_and_non_finite_scores_count_as_zero() {
    let emitted = sdk_weight_vector(&[f64::NAN, -1.0, 0.5, f64::INFINITY], WeightLimits::NONE);
    assert_eq!(emitted, EmittedWeights { uids: vec![2], values: vec![65535] });
}

#[test]
fn numpys_pairwise_sum_differs_from_a_running_sum_in_float32() {
    // The same digits summed two ways: numpy's blocks of eight accumulators round differently from a plain loop.
    let values: Vec<f32> = (1..=300).map(|i| 1.0 / i as f32).collect();
    let running = values.iter().fold(0.0f32, |s, &v| s + v);
    assert_ne!(pairwise_sum(&values), running);
    assert_eq!(pairwise_sum(&values[..5]), values[..5].iter().fold(0.0f32, |s, &v| s + v));
}

fn split(pairs: &[(u16, f64)]) -> BTreeMap<u16, f64> {
    pairs.iter().copied().collect()
}

#[test]
fn the_burn_takes_its_share_and_the_judged_split_shares_the_rest() {
    let policy = WeightPolicy { burn: Some(Burn { uid: 0, share: 0.75 }) };
    let scores = policy.scores(&split(&[(2, 0.5), (3, 0.25), (4, 0.25)]), &[1], 5).unwrap();
    assert_eq!(scores, vec![0.75, 0.0, 0.125, 0.0625, 0.0625]);
    let emitted = sdk_weight_vector(&scores, WeightLimits::NONE);
    assert_eq!(emitted.uids, vec![0, 2, 3, 4]);
    // 0.125 / 0.75 in float32 lands a hair below 10922.5: the SDK says 10922 too.
    assert_eq!(emitted.values, vec![65535, 10922, 5461, 5461]);
}

#[test]
fn validators_are_never_weighed_and_the_rest_is_renormalized() {
    let scores = WeightPolicy::default().scores(&split(&[(1, 0.5), (2, 0.25), (3, 0.25)]), &[1, 7], 4).unwrap();
    assert_eq!(scores, vec![0.0, 0.0, 0.5, 0.5]);
}

#[test]
fn a_full_burn_or_nothing_judged_leaves_only_the_owner() {
    let full = WeightPolicy { burn: Some(Burn { uid: 3, share: 1.0 }) };
    let scores = full.scores(&split(&[(1, 1.0)]), &[], 4).unwrap();
    assert_eq!(sdk_weight_vector(&scores, WeightLimits::NONE).pairs().collect::<Vec<_>>(), vec![(3, 65535)]);
    let partial = WeightPolicy { burn: Some(Burn { uid: 3, share: 0.5 }) };
    assert_eq!(partial.scores(&split(&[]), &[], 4).unwrap(), vec![0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn nothing_to_weigh_and_unknown_uids_are_refused() {
    assert_eq!(WeightPolicy::default().scores(&split(&[(1, 0.0)]), &[], 4), Err(PolicyError::Nothing));
    assert_eq!(WeightPolicy::default().scores(&split(&[(2, 1.0)]), &[2], 4), Err(PolicyError::Nothing));
    let burn = WeightPolicy { burn: Some(Burn { uid: 9, share: 0.5 }) };
    assert_eq!(burn.scores(&split(&[(1, 1.0)]), &[], 4), Err(PolicyError::UnknownUid { uid: 9, neurons: 4 }));
    assert!(matches!(WeightPolicy::default().scores(&split(&[(4, 1.0)]), &[], 4), Err(PolicyError::UnknownUid { .. })));
}
