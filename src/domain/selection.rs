//! Choosing an epoch's zipcodes: a random set, weighted towards bigger markets and away from recently mined
//! zipcodes, whose expected listings add up to the target within the tolerance.
//!
//! The order is a weighted random permutation (Efraimidis–Spirakis keys `ln(u) / w`) drawn from a seeded
//! ChaCha stream, so identical inputs give identical plans on every replica. A greedy walk along that order
//! almost always lands in the window; when it cannot (few or lumpy candidates), a subset-sum search over the same
//! order finds a set whenever one exists. A cooldown that makes the window unreachable is relaxed in stages
//! before the selection gives up with a reason an operator can act on.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::zipcode::{MarketTier, Zipcode};

/// Version tag served in `/current.metadata.algorithmVersion`; bump it when the plan for a seed changes.
pub const ALGORITHM_VERSION: &str = "zipcoord-weighted-window-v1";

/// Above this window the exact search would need too much memory; the greedy result stands alone.
const MAX_EXACT_SEARCH_SUM: u64 = 2_000_000;

/// One zipcode as the selection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub zipcode: Zipcode,
    pub expected_listings: u32,
    pub tier: MarketTier,
    pub operator_weight: f64,
    pub active: bool,
    /// Start (Unix seconds) of the latest earlier epoch that assigned this zipcode.
    pub last_assigned_unix: Option<i64>,
}

/// The operator's rules for one selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionPolicy {
    pub target_listings: u32,
    pub tolerance_percent: u32,
    pub min_listings: u32,
    pub max_listings: u32,
    pub cooldown_seconds: i64,
    pub max_count: Option<usize>,
}

impl SelectionPolicy {
    /// Inclusive bounds `[T(1-p), T(1+p)]` for the sum of expected listings, rounded inwards.
    pub fn window(&self) -> (u64, u64) {
        let target = u64::from(self.target_listings);
        let tolerance = u64::from(self.tolerance_percent.min(100));
        let lower = (target * (100 - tolerance)).div_ceil(100);
        let upper = target * (100 + tolerance) / 100;
        (lower, upper)
    }
}

/// How far the cooldown had to be relaxed to reach the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CooldownRelaxation {
    None,
    Halved,
    Ignored,
}

/// The outcome of a selection: indices into the candidate slice, in the order they were picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionPlan {
    pub picks: Vec<usize>,
    pub total_expected: u64,
    pub relaxation: CooldownRelaxation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error(
        "no eligible zipcodes: {total} known, {active} active, {in_range} with expected listings within \
         [{min}, {max}] and a positive weight; import zipcodes or widen the listing range"
    )]
    NoEligible { total: usize, active: usize, in_range: usize, min: u32, max: u32 },
    #[error(
        "eligible zipcodes expect {available} listings in total, below the window's lower bound {lower} \
         (target {target} - {tolerance}%); lower the target or import more zipcodes"
    )]
    TotalBelowTarget { available: u64, lower: u64, target: u32, tolerance: u32 },
    #[error(
        "no combination of the {eligible} eligible zipcodes sums to within [{lower}, {upper}] expected listings{detail}; \
         widen the tolerance or adjust the listing range"
    )]
    Unreachable { eligible: usize, lower: u64, upper: u64, detail: String },
}

/// Picks the zipcode set for one epoch. Pure: `now_unix` and `seed` are the only sources of time and chance.
pub fn select_zipcodes(
    candidates: &[Candidate],
    policy: &SelectionPolicy,
    now_unix: i64,
    seed: [u8; 32],
) -> Result<SelectionPlan, SelectionError> {
    let (lower, upper) = policy.window();
    let active = candidates.iter().filter(|c| c.active).count();
    // Sorting by zipcode makes the plan independent of the order the caller loaded candidates in.
    let mut eligible: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            c.active
                && c.operator_weight > 0.0
                && c.operator_weight.is_finite()
                && (policy.min_listings..=policy.max_listings).contains(&c.expected_listings)
                && u64::from(c.expected_listings) <= upper
                && c.expected_listings > 0
        })
        .collect();
    eligible.sort_by_key(|&i| candidates[i].zipcode);
    if eligible.is_empty() {
        let in_range = candidates
            .iter()
            .filter(|c| c.active && (policy.min_listings..=policy.max_listings).contains(&c.expected_listings))
            .count();
        return Err(SelectionError::NoEligible {
            total: candidates.len(),
            active,
            in_range,
            min: policy.min_listings,
            max: policy.max_listings,
        });
    }
    let available: u64 = eligible.iter().map(|&i| u64::from(candidates[i].expected_listings)).sum();
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
    let mut last_failure = String::new();
    for (relaxation, cooldown) in stages {
        if relaxation != CooldownRelaxation::None && policy.cooldown_seconds == 0 {
            break;
        }
        let pool: Vec<usize> = eligible
            .iter()
            .copied()
            .filter(|&i| match candidates[i].last_assigned_unix {
                Some(last) if cooldown > 0 => now_unix.saturating_sub(last) >= cooldown,
                _ => true,
            })
            .collect();
        let pool_total: u64 = pool.iter().map(|&i| u64::from(candidates[i].expected_listings)).sum();
        if pool_total < lower {
            continue;
        }
        let order = weighted_order(candidates, &pool, policy.cooldown_seconds, now_unix, seed);
        let target = u64::from(policy.target_listings).clamp(lower, upper);
        match fill_window(candidates, &order, (lower, target, upper), policy.max_count) {
            Ok((picks, total_expected)) => return Ok(SelectionPlan { picks, total_expected, relaxation }),
            Err(reason) => last_failure = reason,
        }
    }
    Err(SelectionError::Unreachable { eligible: eligible.len(), lower, upper, detail: last_failure })
}

/// Multiplier that brings a recently assigned zipcode back gradually instead of all at once after the cooldown.
fn cooldown_recovery(last_assigned: Option<i64>, cooldown_seconds: i64, now_unix: i64) -> f64 {
    match last_assigned {
        Some(last) if cooldown_seconds > 0 => {
            let elapsed = now_unix.saturating_sub(last).max(0) as f64;
            (elapsed / (2.0 * cooldown_seconds as f64)).clamp(0.05, 1.0)
        }
        _ => 1.0,
    }
}

fn weighted_order(
    candidates: &[Candidate],
    pool: &[usize],
    cooldown: i64,
    now_unix: i64,
    seed: [u8; 32],
) -> Vec<usize> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut keyed: Vec<(f64, usize)> = pool
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            let weight = c.tier.selection_weight()
                * c.operator_weight
                * cooldown_recovery(c.last_assigned_unix, cooldown, now_unix);
            // u in (0, 1]: ln(u) is finite, and a larger key (closer to 0) comes first.
            let u: f64 = 1.0 - rng.gen::<f64>();
            (u.ln() / weight, i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Walks `order` greedily towards the target, skipping zipcodes that would overshoot the upper bound; if that
/// misses the window, searches subsets of the same order exactly.
fn fill_window(
    candidates: &[Candidate],
    order: &[usize],
    (lower, target, upper): (u64, u64, u64),
    max_count: Option<usize>,
) -> Result<(Vec<usize>, u64), String> {
    let max_count = max_count.unwrap_or(usize::MAX).max(1);
    let mut picks = Vec::new();
    let mut sum = 0u64;
    for &i in order {
        if picks.len() >= max_count {
            break;
        }
        let e = u64::from(candidates[i].expected_listings);
        if sum + e <= upper {
            picks.push(i);
            sum += e;
            if sum >= target {
                break;
            }
        }
    }
    if (lower..=upper).contains(&sum) {
        return Ok((picks, sum));
    }
    let expected: Vec<u32> = candidates.iter().map(|c| c.expected_listings).collect();
    let found = exact_subset(&expected, order, lower, upper, max_count)?;
    let total = found.iter().map(|&i| u64::from(expected[i])).sum();
    Ok((found, total))
}

/// The first subset of `order` (indices into `expected`) whose sum falls in `[lower, upper]`, with at most
/// `max_count` members; the reason otherwise (appended to [`SelectionError::Unreachable`]'s message).
pub(super) fn exact_subset(
    expected: &[u32],
    order: &[usize],
    lower: u64,
    upper: u64,
    max_count: usize,
) -> Result<Vec<usize>, String> {
    if upper > MAX_EXACT_SEARCH_SUM {
        return Err(" (the window is too wide for an exact search)".to_string());
    }
    match subset_sum(expected, order, lower, upper) {
        Some(found) if found.len() <= max_count => Ok(found),
        Some(found) => Err(format!(" with at most {max_count} zipcodes (the smallest set found has {})", found.len())),
        None => Err(String::new()),
    }
}

/// 0/1 subset sum over `order` with parent links, stopping at the first sum inside the window.
///
/// `parent[s]` is the position in `order` of the item that first reached sum `s`. Sums are scanned downwards
/// for each item, so the chain from any sum back to 0 uses strictly earlier positions: every item at most once.
/// Only the first `upper / e` items of each size can matter, which bounds the work on lumpy inputs.
fn subset_sum(expected: &[u32], order: &[usize], lower: u64, upper: u64) -> Option<Vec<usize>> {
    const UNREACHED: u32 = u32::MAX;
    let upper_idx = upper as usize;
    let mut parent = vec![UNREACHED; upper_idx + 1];
    parent[0] = u32::MAX - 1;
    let mut used_per_size = std::collections::HashMap::<u32, u64>::new();
    for (pos, &i) in order.iter().enumerate() {
        let e = expected[i];
        let used = used_per_size.entry(e).or_insert(0);
        if *used >= upper / u64::from(e) {
            continue;
        }
        *used += 1;
        let e = e as usize;
        for s in (e..=upper_idx).rev() {
            if parent[s] == UNREACHED && parent[s - e] != UNREACHED {
                parent[s] = pos as u32;
                if s as u64 >= lower {
                    return Some(reconstruct(expected, order, &parent, s));
                }
            }
        }
    }
    None
}

fn reconstruct(expected: &[u32], order: &[usize], parent: &[u32], mut sum: usize) -> Vec<usize> {
    let mut picks = Vec::new();
    while sum > 0 {
        let i = order[parent[sum] as usize];
        picks.push(i);
        sum -= expected[i] as usize;
    }
    picks.reverse();
    picks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn candidate(n: usize, expected: u32) -> Candidate {
        Candidate {
            zipcode: format!("{:05}", n).parse().unwrap(),
            expected_listings: expected,
            tier: MarketTier::Standard,
            operator_weight: 1.0,
            active: true,
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
        s[..8].copy_from_slice(&n.to_le_bytes());
        s
    }

    fn brute_force_feasible(values: &[u32], lower: u64, upper: u64) -> bool {
        (1u32..(1 << values.len())).any(|mask| {
            let sum: u64 = (0..values.len()).filter(|b| mask & (1 << b) != 0).map(|b| u64::from(values[b])).sum();
            (lower..=upper).contains(&sum)
        })
    }

    #[test]
    fn window_rounds_inwards() {
        assert_eq!(policy(10_000, 10).window(), (9_000, 11_000));
        assert_eq!(policy(1_001, 10).window(), (901, 1_101));
        assert_eq!(policy(100, 0).window(), (100, 100));
    }

    #[test]
    fn hits_the_window_on_a_realistic_universe() {
        let candidates: Vec<Candidate> = (0..40_000).map(|n| candidate(n, 20 + (n as u32 * 7919) % 400)).collect();
        let plan = select_zipcodes(&candidates, &policy(10_000, 10), 0, seed(7)).unwrap();
        // Aims at the target, not just the window's edge.
        assert!((10_000..=11_000).contains(&plan.total_expected), "{}", plan.total_expected);
        assert_eq!(plan.relaxation, CooldownRelaxation::None);
    }

    #[test]
    fn exact_search_finds_what_greedy_misses() {
        // Greedy takes whatever comes first; with these sizes only {600, 400} or {500, 500} fit [1000, 1000].
        let candidates = vec![candidate(1, 600), candidate(2, 700), candidate(3, 400), candidate(4, 900)];
        for s in 0..50 {
            let plan = select_zipcodes(&candidates, &policy(1_000, 0), 0, seed(s)).unwrap();
            assert_eq!(plan.total_expected, 1_000);
        }
    }

    #[test]
    fn explains_why_it_cannot_select() {
        let few = vec![candidate(1, 100), candidate(2, 100)];
        let err = select_zipcodes(&few, &policy(10_000, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::TotalBelowTarget { available: 200, lower: 9_000, .. }), "{err}");
        assert!(err.to_string().contains("below the window"));

        let lumpy = vec![candidate(1, 6_000), candidate(2, 6_000)];
        let err = select_zipcodes(&lumpy, &policy(10_000, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::Unreachable { .. }), "{err}");

        let mut inactive = candidate(1, 100);
        inactive.active = false;
        let err = select_zipcodes(&[inactive], &policy(100, 10), 0, seed(1)).unwrap_err();
        assert!(matches!(err, SelectionError::NoEligible { total: 1, active: 0, .. }), "{err}");
    }

    #[test]
    fn relaxes_the_cooldown_before_giving_up() {
        let hour = 3_600;
        let now = 100 * hour;
        let mut candidates: Vec<Candidate> = (0..10).map(|n| candidate(n, 100)).collect();
        for c in &mut candidates[..8] {
            c.last_assigned_unix = Some(now - 4 * hour);
        }
        let mut p = policy(500, 10);
        p.cooldown_seconds = 24 * hour;
        let plan = select_zipcodes(&candidates, &p, now, seed(3)).unwrap();
        assert_eq!(plan.relaxation, CooldownRelaxation::Ignored);

        // With enough fresh zipcodes the cooled-down ones are not touched.
        let plan = select_zipcodes(&candidates, &policy_with(p, 200), now, seed(3)).unwrap();
        assert_eq!(plan.relaxation, CooldownRelaxation::None);
        assert!(plan.picks.iter().all(|&i| i >= 8));
    }

    fn policy_with(mut p: SelectionPolicy, target: u32) -> SelectionPolicy {
        p.target_listings = target;
        p
    }

    #[test]
    fn respects_max_count() {
        let candidates: Vec<Candidate> = (0..100).map(|n| candidate(n, 100)).collect();
        let mut p = policy(1_000, 10);
        p.max_count = Some(5);
        let err = select_zipcodes(&candidates, &p, 0, seed(1)).unwrap_err();
        assert!(err.to_string().contains("at most 5 zipcodes"), "{err}");
        p.max_count = Some(10);
        assert_eq!(select_zipcodes(&candidates, &p, 0, seed(1)).unwrap().picks.len(), 10);
        p.max_count = Some(9);
        // Nine zipcodes of 100 still reach the lower bound 900.
        assert_eq!(select_zipcodes(&candidates, &p, 0, seed(1)).unwrap().total_expected, 900);
    }

    #[test]
    fn inclusion_frequency_follows_weight() {
        let mut candidates: Vec<Candidate> = (0..40).map(|n| candidate(n, 100)).collect();
        for c in &mut candidates[..20] {
            c.operator_weight = 4.0;
        }
        let mut heavy = 0;
        let mut light = 0;
        for s in 0..300 {
            let plan = select_zipcodes(&candidates, &policy(1_000, 0), 0, seed(s)).unwrap();
            heavy += plan.picks.iter().filter(|&&i| i < 20).count();
            light += plan.picks.iter().filter(|&&i| i >= 20).count();
        }
        assert!(heavy > 2 * light, "heavy {heavy} vs light {light}");
        assert!(light > 0, "light zipcodes must still come up");
    }

    proptest! {
        #[test]
        fn hits_the_window_whenever_feasible(
            values in prop::collection::vec(1u32..500, 1..12),
            target in 1u32..2_000,
            tolerance in 0u32..30,
            s in any::<u64>(),
        ) {
            let candidates: Vec<Candidate> = values.iter().enumerate().map(|(n, &v)| candidate(n, v)).collect();
            let p = policy(target, tolerance);
            let (lower, upper) = p.window();
            let feasible = brute_force_feasible(&values, lower, upper);
            match select_zipcodes(&candidates, &p, 0, seed(s)) {
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

        #[test]
        fn respects_filters_and_is_deterministic(
            values in prop::collection::vec((1u32..400, any::<bool>(), 0u8..3), 20..200),
            s in any::<u64>(),
        ) {
            let candidates: Vec<Candidate> = values.iter().enumerate().map(|(n, &(v, active, w))| {
                let mut c = candidate(n, v);
                c.active = active;
                c.operator_weight = f64::from(w);
                c
            }).collect();
            let mut p = policy(1_000, 20);
            p.min_listings = 50;
            p.max_listings = 300;
            let first = select_zipcodes(&candidates, &p, 0, seed(s));
            let mut reversed = candidates.clone();
            reversed.reverse();
            let second = select_zipcodes(&reversed, &p, 0, seed(s));
            match (&first, &second) {
                (Ok(a), Ok(b)) => {
                    let za: Vec<_> = a.picks.iter().map(|&i| candidates[i].zipcode).collect();
                    let zb: Vec<_> = b.picks.iter().map(|&i| reversed[i].zipcode).collect();
                    prop_assert_eq!(za, zb);
                    for &i in &a.picks {
                        let c = &candidates[i];
                        prop_assert!(c.active && c.operator_weight > 0.0);
                        prop_assert!((50..=300).contains(&c.expected_listings));
                    }
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                _ => prop_assert!(false, "input order changed the outcome"),
            }
        }
    }
}
