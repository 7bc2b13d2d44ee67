//! What every selection shares: the operator's policy and its window, the outcome and the reasons a selection
//! can fail, and the exact subset-sum search that finds a set inside the window whenever one exists along a
//! drawn order. The algorithm itself is [`crate::domain::epoch::selection_v2`].

/// Above this window the exact search would need too much memory; the greedy result stands alone.
const MAX_EXACT_SEARCH_SUM: u64 = 2_000_000;

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

/// How far the cooldown had to be relaxed to reach the window (in increasing order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    Unreachable { eligible: usize, lower: u64, upper: u64, detail: SubsetMiss },
}

/// Why the exact search found no subset (appended to [`SelectionError::Unreachable`]'s message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubsetMiss {
    /// No subset sums into the window.
    #[error("")]
    NoneInWindow,
    #[error(" (the window is too wide for an exact search)")]
    WindowTooWide,
    #[error(" with at most {max_count} zipcodes (the smallest set found has {smallest})")]
    TooMany { max_count: usize, smallest: usize },
}

/// The first subset of `order` (indices into `expected`) whose sum falls in `[lower, upper]`, with at most
/// `max_count` members.
pub(super) fn exact_subset(
    expected: &[u32],
    order: &[usize],
    lower: u64,
    upper: u64,
    max_count: usize,
) -> Result<Vec<usize>, SubsetMiss> {
    if upper > MAX_EXACT_SEARCH_SUM {
        return Err(SubsetMiss::WindowTooWide);
    }
    match subset_sum(expected, order, lower, upper) {
        Some(found) if found.len() <= max_count => Ok(found),
        Some(found) => Err(SubsetMiss::TooMany { max_count, smallest: found.len() }),
        None => Err(SubsetMiss::NoneInWindow),
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

    #[test]
    fn window_rounds_inwards() {
        assert_eq!(policy(10_000, 10).window(), (9_000, 11_000));
        assert_eq!(policy(1_001, 10).window(), (901, 1_101));
        assert_eq!(policy(100, 0).window(), (100, 100));
    }

    #[test]
    fn exact_search_takes_the_first_fitting_subset_of_the_order() {
        let expected = [600, 700, 400, 900, 500];
        assert_eq!(exact_subset(&expected, &[0, 1, 2, 3, 4], 1_000, 1_000, 10), Ok(vec![0, 2]));
        assert_eq!(exact_subset(&expected, &[4, 1, 0, 2, 3], 1_000, 1_000, 10), Ok(vec![0, 2]));
        assert_eq!(exact_subset(&expected, &[1, 3], 1_000, 1_000, 10), Err(SubsetMiss::NoneInWindow));
        assert!(exact_subset(&expected, &[0, 1, 2], 1_000, 1_000, 1).unwrap_err().to_string().contains("at most 1"));
    }
}
