//! Recalibrating a zipcode's expected listings from what honest miners delivered, as validators published it.
//! For each zipcode with evidence, every permitted validator's report gives one estimate (a high quantile of the
//! distinct listings each honest miner delivered: an honest miner delivers what it finds, a slow one less); the
//! evidence counts only when the miners behind it belong to enough coldkeys and enough validators agree, and
//! then the expectation moves towards the agreeing validators' median by a bounded step, within the policy's
//! listing range. One validator alone moves nothing; a coalition must be a majority of the reporting validators
//! and still moves a zipcode by at most one step an epoch. Pure and deterministic, so anyone holding the same
//! published verdicts computes the same values ([`RULE_VERSION`] names this rule).

use std::collections::{BTreeMap, BTreeSet};

pub mod section;

pub use section::{calibrate, CalibrationMove, CalibrationSection, EvidenceFile, PublishedEvidence};

/// The rule's version, published with every calibration.
pub const RULE_VERSION: u32 = 1;

/// The rule's knobs (settings; published with the calibration so it can be recomputed). Fractions are integer
/// thousandths, so the rule is integer arithmetic throughout and any language recomputes it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalibrationRule {
    /// Distinct coldkeys among the honest miners behind the evidence.
    pub min_coldkeys: u32,
    /// Permitted validators whose estimates agree.
    pub min_validators: u32,
    /// How far (relative to their median, in thousandths) estimates may lie and still agree.
    pub agreement_permille: u32,
    /// The largest relative move in one epoch, in thousandths.
    pub max_step_permille: u32,
    /// Which quantile (in thousandths) of the honest miners' deliveries a validator's estimate is.
    pub quantile_permille: u32,
    /// The policy's listing range: a calibrated value stays within it.
    pub min_listings: u32,
    pub max_listings: u32,
}

impl CalibrationRule {
    /// The defaults the issue proposes: 3 coldkeys, 2 validators agreeing within 20 %, steps of at most 25 %, the
    /// 90th percentile of honest deliveries.
    pub fn standard(min_listings: u32, max_listings: u32) -> Self {
        CalibrationRule {
            min_coldkeys: 3,
            min_validators: 2,
            agreement_permille: 200,
            max_step_permille: 250,
            quantile_permille: 900,
            min_listings,
            max_listings,
        }
    }
}

/// One permitted validator's report on one zipcode: the distinct listings each honest miner delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorReport {
    pub validator: String,
    /// Honest miner's hotkey → distinct listings.
    pub by_miner: BTreeMap<String, u64>,
}

/// Why a zipcode's evidence moved nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMove {
    TooFewColdkeys { found: usize },
    TooFewAgreeing { agreeing: usize, reporting: usize },
}

/// The `permille` quantile of `values` (nearest rank, rounding up): with 900 and ten miners, the ninth best.
fn quantile(values: &mut [u64], permille: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len() as u64;
    let rank = (u64::from(permille.min(1000)) * n).div_ceil(1000).clamp(1, n);
    Some(values[rank as usize - 1])
}

/// The median of sorted estimates (the lower middle one for an even count, so it is always a reported value).
fn median(sorted: &[u64]) -> u64 {
    sorted[(sorted.len() - 1) / 2]
}

/// What the evidence on one zipcode says its expected listings are, or why it says nothing. `coldkey_of` maps a
/// miner's hotkey to its coldkey (a miner the metagraph does not know counts as a coldkey of its own).
pub fn estimate(
    rule: &CalibrationRule,
    reports: &[ValidatorReport],
    coldkey_of: &dyn Fn(&str) -> Option<String>,
) -> Result<u64, NoMove> {
    let mut estimates: Vec<(u64, &ValidatorReport)> = reports
        .iter()
        .filter_map(|report| {
            let mut counts: Vec<u64> = report.by_miner.values().copied().filter(|&n| n > 0).collect();
            quantile(&mut counts, rule.quantile_permille).map(|e| (e, report))
        })
        .collect();
    estimates.sort_by_key(|(e, report)| (*e, report.validator.clone()));
    let reporting = estimates.len();
    if reporting == 0 {
        return Err(NoMove::TooFewAgreeing { agreeing: 0, reporting });
    }
    let values: Vec<u64> = estimates.iter().map(|(e, _)| *e).collect();
    let middle = u128::from(median(&values));
    let agreeing: Vec<&(u64, &ValidatorReport)> = estimates
        .iter()
        .filter(|(e, _)| u128::from(*e).abs_diff(middle) * 1000 <= u128::from(rule.agreement_permille) * middle.max(1))
        .collect();
    if agreeing.len() < rule.min_validators as usize || agreeing.len() * 2 <= reporting {
        return Err(NoMove::TooFewAgreeing { agreeing: agreeing.len(), reporting });
    }
    let coldkeys: BTreeSet<String> = agreeing
        .iter()
        .flat_map(|(_, report)| report.by_miner.iter().filter(|(_, &n)| n > 0).map(|(hotkey, _)| hotkey))
        .map(|hotkey| coldkey_of(hotkey).unwrap_or_else(|| hotkey.clone()))
        .collect();
    if coldkeys.len() < rule.min_coldkeys as usize {
        return Err(NoMove::TooFewColdkeys { found: coldkeys.len() });
    }
    let agreed: Vec<u64> = agreeing.iter().map(|(e, _)| *e).collect();
    Ok(median(&agreed))
}

/// `current` moved towards `target` by at most the rule's step, within the listing range (and never below 1).
pub fn step_towards(rule: &CalibrationRule, current: u32, target: u64) -> u32 {
    let current = u64::from(current.max(1));
    let step = u64::from(rule.max_step_permille.min(1000));
    let lower = (current * (1000 - step)).div_ceil(1000);
    let upper = (current * (1000 + step) / 1000).max(lower);
    let (min, max) = (u64::from(rule.min_listings.max(1)), u64::from(rule.max_listings.max(1)));
    target.clamp(lower, upper).clamp(min, max.max(min)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule() -> CalibrationRule {
        CalibrationRule::standard(5, 1000)
    }

    fn report(validator: &str, counts: &[(&str, u64)]) -> ValidatorReport {
        ValidatorReport {
            validator: validator.into(),
            by_miner: counts.iter().map(|(m, n)| (m.to_string(), *n)).collect(),
        }
    }

    /// Every miner its own coldkey.
    fn own(hotkey: &str) -> Option<String> {
        Some(format!("cold-{hotkey}"))
    }

    #[test]
    fn agreeing_validators_with_enough_operators_move_the_value_by_one_bounded_step() {
        let miners = [("a", 600), ("b", 590), ("c", 610), ("d", 400)];
        let reports = [report("v1", &miners), report("v2", &miners)];
        let target = estimate(&rule(), &reports, &own).unwrap();
        assert_eq!(target, 610, "the 90th percentile of four miners is the best one");
        assert_eq!(step_towards(&rule(), 150, target), 187, "150 moves by 25 % at most");
        assert_eq!(step_towards(&rule(), 187, target), 233);
        assert_eq!(step_towards(&rule(), 600, target), 610, "close enough: all the way");
        assert_eq!(step_towards(&rule(), 150, 10), 113);
        assert_eq!(step_towards(&rule(), 6, 1), 5, "never below the policy's minimum");
        assert_eq!(step_towards(&rule(), 950, 5000), 1000, "never above its maximum");
    }

    #[test]
    fn one_validator_alone_moves_nothing_and_a_liar_among_honest_ones_is_outvoted() {
        let honest = [("a", 40), ("b", 42), ("c", 41)];
        let alone = estimate(&rule(), &[report("v1", &honest)], &own);
        assert_eq!(alone, Err(NoMove::TooFewAgreeing { agreeing: 1, reporting: 1 }));
        // An honest validator and a liar disagree: nothing moves.
        let liar = report("liar", &[("a", 5000), ("b", 5000), ("c", 5000)]);
        let pair = estimate(&rule(), &[report("v1", &honest), liar.clone()], &own);
        assert_eq!(pair, Err(NoMove::TooFewAgreeing { agreeing: 1, reporting: 2 }));
        // Two honest validators outvote it, and the value follows them.
        let three = estimate(&rule(), &[report("v1", &honest), report("v2", &honest), liar], &own);
        assert_eq!(three, Ok(42));
    }

    #[test]
    fn evidence_from_miners_of_too_few_coldkeys_moves_nothing() {
        let miners = [("a", 300), ("b", 300), ("c", 300)];
        let reports = [report("v1", &miners), report("v2", &miners)];
        // b and c are the same operator as a.
        let sybils = |hotkey: &str| Some(if hotkey == "a" { "cold-a".into() } else { "cold-bc".into() });
        assert_eq!(estimate(&rule(), &reports, &sybils), Err(NoMove::TooFewColdkeys { found: 2 }));
        assert_eq!(estimate(&rule(), &reports, &own), Ok(300));
        // Miners that delivered nothing are no evidence at all.
        let idle = [("a", 300), ("b", 0), ("c", 0)];
        let reports = [report("v1", &idle), report("v2", &idle)];
        assert_eq!(estimate(&rule(), &reports, &own), Err(NoMove::TooFewColdkeys { found: 1 }));
    }

    proptest! {
        /// Whatever the evidence, one epoch moves a value by at most the step (or into the listing range).
        #[test]
        fn a_step_is_bounded(current in 1u32..5000, target in 0u64..1_000_000) {
            let rule = CalibrationRule::standard(1, 100_000);
            let next = step_towards(&rule, current, target);
            let (c, n) = (f64::from(current), f64::from(next));
            prop_assert!(n >= (c * 0.75).floor() && n <= (c * 1.25).ceil(), "{current} -> {next} for {target}");
            // It moves towards the target, never past it.
            if target as f64 >= c { prop_assert!(n >= c && n as u64 <= target.max(current.into())); }
            else { prop_assert!(n <= c && n as u64 >= target); }
        }

        /// A minority of validators, however they lie, cannot move the estimate outside the honest ones' range.
        #[test]
        fn a_lying_minority_cannot_pull_the_estimate_outside_the_honest_range(
            honest in prop::collection::vec(100u64..120, 2..6),
            lies in prop::collection::vec(0u64..100_000, 0..4),
        ) {
            prop_assume!(lies.len() < honest.len());
            let miners = ["a", "b", "c", "d"];
            let mut reports: Vec<ValidatorReport> = honest
                .iter()
                .enumerate()
                .map(|(i, &n)| ValidatorReport {
                    validator: format!("h{i}"),
                    by_miner: miners.iter().map(|m| (m.to_string(), n)).collect(),
                })
                .collect();
            reports.extend(lies.iter().enumerate().map(|(i, &n)| ValidatorReport {
                validator: format!("l{i}"),
                by_miner: miners.iter().map(|m| (m.to_string(), n)).collect(),
            }));
            if let Ok(target) = estimate(&rule(), &reports, &own) {
                let (low, high) = (*honest.iter().min().unwrap(), *honest.iter().max().unwrap());
                prop_assert!(target >= low * 8 / 10 && target <= high * 12 / 10, "{target} outside {low}..{high}");
            }
        }
    }
}
