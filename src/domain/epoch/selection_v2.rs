//! Selection version 2: the same guarantees as version 1 (a sum inside the window whenever one exists, bigger
//! markets likelier, the cooldown relaxed in stages) with integers only and a [`DrawStream`] as the only source of
//! chance, so an implementation in another language picks the same set bit for bit from the published inputs.
//!
//! 1. Eligible: weight above 0, expected listings within `[min, max]`, above 0 and at most the window's upper
//!    bound. Candidates are taken in zipcode order.
//! 2. Stages: the full cooldown, half of it, none (the later stages only when the policy has a cooldown). A
//!    stage's pool is the eligible candidates whose last assignment is at least the stage's cooldown before
//!    the epoch's start (or that have none); a pool whose expected listings cannot reach the window's lower
//!    bound is skipped.
//! 3. Weights: `tier permille × weight millis × recovery permille`, the recovery being
//!    `clamp(elapsed × 1000 / (2 × cooldown), 50, 1000)` (integer division; 1000 without a cooldown or a last
//!    assignment), with the policy's full cooldown.
//! 4. A fresh stream from the seed per stage; candidates are drawn without replacement by weight. Each drawn
//!    candidate is taken if the sum stays at most the upper bound, until the sum reaches the target (clamped
//!    into the window) or `max_count` are taken. A sum inside the window is the plan; otherwise the rest of the
//!    pool is drawn too, and the first subset of that order (by the exact search) inside the window is.

use crate::domain::epoch::draw::{DrawStream, WeightedPool};
use crate::domain::epoch::selection::{
    exact_subset, CooldownRelaxation, SelectionError, SelectionPlan, SelectionPolicy, SubsetMiss,
};
use crate::domain::epoch::zipcode::{MarketTier, Zipcode};

/// Version tag of this algorithm, published with every epoch's proof.
pub const ALGORITHM_VERSION: &str = "zipcoord-integer-window-v2";

/// The most an operator's weight may be, in thousandths (a weight of 1,000.0): it keeps every sum of weights
/// inside a `u64`.
pub const MAX_WEIGHT_MILLIS: u32 = 1_000_000;

/// One zipcode as the published inputs list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputCandidate {
    pub zipcode: Zipcode,
    pub expected_listings: u32,
    pub tier: MarketTier,
    /// The operator's weight in thousandths (1000 = 1.0), at most [`MAX_WEIGHT_MILLIS`].
    pub weight_millis: u32,
    /// Start (Unix seconds) of the latest earlier epoch that assigned this zipcode.
    pub last_assigned_unix: Option<i64>,
}

fn tier_permille(tier: MarketTier) -> u64 {
    match tier {
        MarketTier::Premium => 2_000,
        MarketTier::Major => 1_500,
        MarketTier::Standard => 1_000,
        MarketTier::Rural => 750,
    }
}

fn recovery_permille(last_assigned: Option<i64>, cooldown_seconds: i64, epoch_start_unix: i64) -> u64 {
    match last_assigned {
        Some(last) if cooldown_seconds > 0 => {
            let elapsed = epoch_start_unix.saturating_sub(last).max(0);
            let permille = elapsed.saturating_mul(1_000) / cooldown_seconds.saturating_mul(2);
            permille.clamp(50, 1_000) as u64
        }
        _ => 1_000,
    }
}

fn draw_weight(c: &InputCandidate, cooldown_seconds: i64, epoch_start_unix: i64) -> u64 {
    tier_permille(c.tier)
        * u64::from(c.weight_millis.min(MAX_WEIGHT_MILLIS))
        * recovery_permille(c.last_assigned_unix, cooldown_seconds, epoch_start_unix)
}

/// Picks an epoch's zipcodes from its inputs. `candidates` must be sorted by zipcode (the published order).
pub fn select_v2(
    candidates: &[InputCandidate],
    policy: &SelectionPolicy,
    epoch_start_unix: i64,
    seed: [u8; 32],
) -> Result<SelectionPlan, SelectionError> {
    let (lower, upper) = policy.window();
    let in_range = |c: &InputCandidate| (policy.min_listings..=policy.max_listings).contains(&c.expected_listings);
    let eligible: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            c.weight_millis > 0 && in_range(c) && c.expected_listings > 0 && u64::from(c.expected_listings) <= upper
        })
        .collect();
    if eligible.is_empty() {
        return Err(SelectionError::NoEligible {
            total: candidates.len(),
            active: candidates.len(),
            in_range: candidates.iter().filter(|c| in_range(c)).count(),
            min: policy.min_listings,
            max: policy.max_listings,
        });
    }
    let expected: Vec<u32> = candidates.iter().map(|c| c.expected_listings).collect();
    let available: u64 = eligible.iter().map(|&i| u64::from(expected[i])).sum();
    if available < lower {
        return Err(SelectionError::TotalBelowTarget {
            available,
            lower,
            target: policy.target_listings,
            tolerance: policy.tolerance_percent,
        });
    }
    let stages = [
        (CooldownRelaxation::None, policy.cooldown_seconds),
        (CooldownRelaxation::Halved, policy.cooldown_seconds / 2),
        (CooldownRelaxation::Ignored, 0),
    ];
    let target = u64::from(policy.target_listings).clamp(lower, upper);
    let max_count = policy.max_count.unwrap_or(usize::MAX).max(1);
    let mut last_failure = SubsetMiss::NoneInWindow;
    for (relaxation, cooldown) in stages {
        if relaxation != CooldownRelaxation::None && policy.cooldown_seconds == 0 {
            break;
        }
        let pool: Vec<usize> = eligible
            .iter()
            .copied()
            .filter(|&i| match candidates[i].last_assigned_unix {
                Some(last) if cooldown > 0 => epoch_start_unix.saturating_sub(last) >= cooldown,
                _ => true,
            })
            .collect();
        if pool.iter().map(|&i| u64::from(expected[i])).sum::<u64>() < lower {
            continue;
        }
        let weights: Vec<u64> =
            pool.iter().map(|&i| draw_weight(&candidates[i], policy.cooldown_seconds, epoch_start_unix)).collect();
        let mut draws = WeightedPool::new(&weights);
        let mut stream = DrawStream::new(seed);
        let mut order = Vec::with_capacity(pool.len());
        let mut picks = Vec::new();
        let mut sum = 0u64;
        while let Some(drawn) = draws.draw(&mut stream) {
            let i = pool[drawn];
            order.push(i);
            let e = u64::from(expected[i]);
            if sum + e <= upper {
                picks.push(i);
                sum += e;
            }
            if sum >= target || picks.len() >= max_count {
                break;
            }
        }
        if (lower..=upper).contains(&sum) {
            return Ok(SelectionPlan { picks, total_expected: sum, relaxation });
        }
        while let Some(drawn) = draws.draw(&mut stream) {
            order.push(pool[drawn]);
        }
        match exact_subset(&expected, &order, lower, upper, max_count) {
            Ok(found) => {
                let total_expected = found.iter().map(|&i| u64::from(expected[i])).sum();
                return Ok(SelectionPlan { picks: found, total_expected, relaxation });
            }
            Err(reason) => last_failure = reason,
        }
    }
    Err(SelectionError::Unreachable { eligible: eligible.len(), lower, upper, detail: last_failure })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn candidate(n: usize, expected: u32) -> InputCandidate {
        InputCandidate {
            zipcode: format!("{n:05}").parse().unwrap(),
            expected_listings: expected,
            tier: MarketTier::Standard,
            weight_millis: 1_000,
            last_assigned_unix: None,
        }
    }

    fn policy(target: u32, tolerance: u32) -> SelectionPolicy {
        SelectionPolicy {
            target_listings: target,
            tolerance_percent: tolerance,
            min_listings: 1,
            max_listings: u32::MAX,
            cooldown_seconds: 0,
            max_count: None,
        }
    }

    fn seed(n: u64) -> [u8; 32] {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&n.to_be_bytes());
        s
    }

    fn brute_force_feasible(values: &[u32], lower: u64, upper: u64) -> bool {
        (1u32..(1 << values.len())).any(|mask| {
            let sum: u64 = (0..values.len()).filter(|b| mask & (1 << b) != 0).map(|b| u64::from(values[b])).sum();
            (lower..=upper).contains(&sum)
        })
    }

    #[test]
    fn hits_the_window_on_a_realistic_universe() {
        let candidates: Vec<InputCandidate> = (0..40_000).map(|n| candidate(n, 20 + (n as u32 * 7919) % 400)).collect();
        let plan = select_v2(&candidates, &policy(10_000, 10), 0, seed(7)).unwrap();
        assert!((10_000..=11_000).contains(&plan.total_expected), "{}", plan.total_expected);
        assert_eq!(plan.relaxation, CooldownRelaxation::None);
        assert_eq!(select_v2(&candidates, &policy(10_000, 10), 0, seed(7)).unwrap(), plan, "deterministic");
        assert_ne!(select_v2(&candidates, &policy(10_000, 10), 0, seed(8)).unwrap().picks, plan.picks);
    }

    #[test]
    fn explains_why_it_cannot_select() {
        let few = vec![candidate(1, 100), candidate(2, 100)];
        let err = select_v2(&few, &policy(10_000, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::TotalBelowTarget { available: 200, lower: 9_000, .. }), "{err}");
        assert!(err.to_string().contains("below the window"));

        let lumpy = vec![candidate(1, 6_000), candidate(2, 6_000)];
        let err = select_v2(&lumpy, &policy(10_000, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::Unreachable { .. }), "{err}");

        let mut weightless = candidate(1, 100);
        weightless.weight_millis = 0;
        let err = select_v2(&[weightless], &policy(100, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::NoEligible { total: 1, .. }), "{err}");
    }

    #[test]
    fn exact_search_finds_what_greedy_misses() {
        let candidates = vec![candidate(1, 600), candidate(2, 700), candidate(3, 400), candidate(4, 900)];
        for s in 0..50 {
            assert_eq!(select_v2(&candidates, &policy(1_000, 0), 0, seed(s)).unwrap().total_expected, 1_000);
        }
    }

    #[test]
    fn relaxes_the_cooldown_before_giving_up() {
        let hour = 3_600;
        let now = 100 * hour;
        let mut candidates: Vec<InputCandidate> = (0..10).map(|n| candidate(n, 100)).collect();
        for c in &mut candidates[..8] {
            c.last_assigned_unix = Some(now - 4 * hour);
        }
        let mut p = policy(500, 10);
        p.cooldown_seconds = 24 * hour;
        assert_eq!(select_v2(&candidates, &p, now, seed(3)).unwrap().relaxation, CooldownRelaxation::Ignored);
        p.target_listings = 200;
        let plan = select_v2(&candidates, &p, now, seed(3)).unwrap();
        assert_eq!(plan.relaxation, CooldownRelaxation::None);
        assert!(plan.picks.iter().all(|&i| i >= 8));
    }

    #[test]
    fn respects_max_count() {
        let candidates: Vec<InputCandidate> = (0..100).map(|n| candidate(n, 100)).collect();
        let mut p = policy(1_000, 10);
        p.max_count = Some(5);
        assert!(select_v2(&candidates, &p, 0, seed(1)).unwrap_err().to_string().contains("at most 5 zipcodes"));
        p.max_count = Some(9);
        assert_eq!(select_v2(&candidates, &p, 0, seed(1)).unwrap().total_expected, 900);
    }

    #[test]
    fn bigger_markets_and_heavier_weights_come_up_more_often() {
        let mut candidates: Vec<InputCandidate> = (0..40).map(|n| candidate(n, 100)).collect();
        for c in &mut candidates[..10] {
            c.weight_millis = 4_000;
        }
        for c in &mut candidates[10..20] {
            c.tier = MarketTier::Premium;
        }
        let (mut heavy, mut premium, mut plain) = (0, 0, 0);
        for s in 0..400 {
            for &i in &select_v2(&candidates, &policy(1_000, 0), 0, seed(s)).unwrap().picks {
                match i {
                    0..10 => heavy += 1,
                    10..20 => premium += 1,
                    _ => plain += 1,
                }
            }
        }
        // Per zipcode: ten heavy (weight 4), ten premium (tier weight 2), twenty plain.
        let (heavy, premium, plain) = (heavy / 10, premium / 10, plain / 20);
        assert!(heavy > premium && premium > plain && plain > 0, "{heavy} {premium} {plain} per zipcode");
    }

    #[test]
    fn recently_assigned_zipcodes_recover_gradually() {
        let day = 86_400;
        assert_eq!(recovery_permille(None, day, 10 * day), 1_000);
        assert_eq!(recovery_permille(Some(0), 0, 10 * day), 1_000);
        assert_eq!(recovery_permille(Some(10 * day), day, 10 * day), 50, "just assigned: 5 %");
        assert_eq!(recovery_permille(Some(9 * day), day, 10 * day), 500);
        assert_eq!(recovery_permille(Some(0), day, 10 * day), 1_000);
    }

    proptest! {
        #[test]
        fn hits_the_window_whenever_feasible(
            values in prop::collection::vec(1u32..500, 1..12),
            target in 1u32..2_000,
            tolerance in 0u32..30,
            s in any::<u64>(),
        ) {
            let candidates: Vec<InputCandidate> = values.iter().enumerate().map(|(n, &v)| candidate(n, v)).collect();
            let p = policy(target, tolerance);
            let (lower, upper) = p.window();
            let feasible = brute_force_feasible(&values, lower, upper);
            match select_v2(&candidates, &p, 0, seed(s)) {
                Ok(plan) => {
                    prop_assert!(feasible);
                    prop_assert!((lower..=upper).contains(&plan.total_expected));
                    let sum: u64 = plan.picks.iter().map(|&i| u64::from(values[i])).sum();
                    prop_assert_eq!(sum, plan.total_expected);
                    let distinct: HashSet<_> = plan.picks.iter().collect();
                    prop_assert_eq!(distinct.len(), plan.picks.len());
                }
                Err(_) => prop_assert!(!feasible),
            }
        }
    }
}
