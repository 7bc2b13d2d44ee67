//! How a validator turns its verdicts on miners into weights: the top honest miners share most of the
//! reward by rank, the other honest participants share a small remainder by a cheap heuristic, miners caught
//! lying get exactly nothing, and every honest participant stays strictly above every liar. Also the chain's
//! integer form of a weight vector.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What the validator concluded about one miner for one epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Checked and found honest. `quality` ranks honest miners (higher is better: e.g. verified listings, with
    /// earlier completion breaking ties); `heuristic` is the cheap unchecked figure used outside the top ranks.
    Honest { quality: f64, heuristic: f64 },
    /// Caught lying (invented listings, zipcodes outside the assignment, copied data, a wrong nonce...).
    Liar { reason: String },
    /// Uploaded nothing: not a participant this epoch.
    Absent,
}

impl Verdict {
    pub fn kind(&self) -> VerdictKind {
        match self {
            Verdict::Honest { .. } => VerdictKind::Honest,
            Verdict::Liar { .. } => VerdictKind::Liar,
            Verdict::Absent => VerdictKind::Absent,
        }
    }
}

/// A verdict by name, as results files, the served results and miners' histories write it: `honest`, `liar`
/// or `absent`. A results file naming anything else is not a results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    Honest,
    Liar,
    Absent,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Honest => "honest",
            VerdictKind::Liar => "liar",
            VerdictKind::Absent => "absent",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One miner's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub uid: u16,
    pub verdict: Verdict,
    /// Whether anything stood behind its work: its group's consensus agreed with it, or the source confirmed
    /// what was checked. Unconfirmed honest work shares the remainder only: never a top share on nobody's word.
    pub confirmed: bool,
}

impl Evaluation {
    /// An evaluation whose work was confirmed (every verdict outside a compared `groups` epoch).
    pub fn confirmed(uid: u16, verdict: Verdict) -> Self {
        Evaluation { uid, verdict, confirmed: true }
    }
}

/// Shares of the reward.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardSplit {
    /// Shares of the best honest miners by rank, e.g. `[0.50, 0.30, 0.15]`.
    pub top: Vec<f64>,
    /// At most this much goes to the other honest participants together.
    pub rest: f64,
}

impl Default for RewardSplit {
    fn default() -> Self {
        RewardSplit { top: vec![0.50, 0.30, 0.15], rest: 0.05 }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("reward shares must be finite and positive")]
    NotPositive,
    #[error("reward shares add up to {0}, more than 1")]
    AboveOne(f64),
    #[error("top shares must not increase with rank")]
    NotDecreasing,
}

impl RewardSplit {
    pub fn new(top: Vec<f64>, rest: f64) -> Result<Self, SplitError> {
        if top.is_empty() || top.iter().chain([&rest]).any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(SplitError::NotPositive);
        }
        if top.windows(2).any(|w| w[1] > w[0]) {
            return Err(SplitError::NotDecreasing);
        }
        let total = top.iter().sum::<f64>() + rest;
        if total > 1.0 + 1e-9 {
            return Err(SplitError::AboveOne(total));
        }
        Ok(RewardSplit { top, rest })
    }
}

/// Normalized weights by uid (summing to 1), for every evaluated miner; all zero when nobody was honest.
pub fn allocate(evaluations: &[Evaluation], split: &RewardSplit) -> Vec<(u16, f64)> {
    let mut honest: Vec<(u16, f64, f64, bool)> = evaluations
        .iter()
        .filter_map(|e| match e.verdict {
            Verdict::Honest { quality, heuristic } => {
                Some((e.uid, finite_or_zero(quality), finite_or_zero(heuristic), e.confirmed))
            }
            _ => None,
        })
        .collect();
    // Confirmed work first, then the best quality; the lower uid wins a tie, so every validator ranks
    // identically.
    honest.sort_by(|a, b| b.3.cmp(&a.3).then(b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal)).then(a.0.cmp(&b.0)));
    let mut raw: Vec<(u16, f64)> = evaluations.iter().map(|e| (e.uid, 0.0)).collect();
    let mut set = |uid: u16, weight: f64| {
        if let Some(entry) = raw.iter_mut().find(|(u, _)| *u == uid) {
            entry.1 = weight;
        }
    };
    let ranked = honest.iter().take(split.top.len()).take_while(|h| h.3).count();
    for (rank, (uid, _, _, _)) in honest.iter().take(ranked).enumerate() {
        set(*uid, split.top[rank]);
    }
    let others = &honest[ranked..];
    if !others.is_empty() {
        // Half of the remainder equally (so every honest participant stays above every liar, whatever its
        // heuristic), half by the heuristic; never more than the lowest top share.
        let pool = split.rest.min(split.top[split.top.len() - 1]);
        let heuristic_total: f64 = others.iter().map(|(_, _, h, _)| h.max(0.0)).sum();
        for (uid, _, heuristic, _) in others {
            let by_heuristic = if heuristic_total > 0.0 { heuristic.max(0.0) / heuristic_total } else { 0.0 };
            let equal = 1.0 / others.len() as f64;
            let share = if heuristic_total > 0.0 { 0.5 * equal + 0.5 * by_heuristic } else { equal };
            set(*uid, pool * share);
        }
    }
    let total: f64 = raw.iter().map(|(_, w)| w).sum();
    if total > 0.0 {
        for entry in &mut raw {
            entry.1 /= total;
        }
    }
    raw
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_written_and_read_by_their_three_names_only() {
        for (kind, name) in
            [(VerdictKind::Honest, "honest"), (VerdictKind::Liar, "liar"), (VerdictKind::Absent, "absent")]
        {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<VerdictKind>(&format!("\"{name}\"")).unwrap(), kind);
            assert_eq!(kind.to_string(), name);
        }
        assert!(serde_json::from_str::<VerdictKind>("\"Liar\"").is_err());
        assert!(serde_json::from_str::<VerdictKind>("\"paid\"").is_err());
        assert_eq!(Verdict::Liar { reason: "x".into() }.kind(), VerdictKind::Liar);
    }
    use proptest::prelude::*;

    fn honest(uid: u16, quality: f64, heuristic: f64) -> Evaluation {
        Evaluation::confirmed(uid, Verdict::Honest { quality, heuristic })
    }

    fn liar(uid: u16) -> Evaluation {
        Evaluation::confirmed(uid, Verdict::Liar { reason: "invented listings".into() })
    }

    fn weight(weights: &[(u16, f64)], uid: u16) -> f64 {
        weights.iter().find(|(u, _)| *u == uid).map(|(_, w)| *w).unwrap()
    }

    #[test]
    fn the_top_three_share_by_rank_and_the_rest_share_the_remainder() {
        let evaluations = vec![
            honest(0, 100.0, 10.0),
            honest(1, 300.0, 10.0),
            honest(2, 200.0, 10.0),
            honest(3, 50.0, 30.0),
            honest(4, 40.0, 10.0),
            liar(5),
            Evaluation::confirmed(6, Verdict::Absent),
        ];
        let weights = allocate(&evaluations, &RewardSplit::default());
        assert!((weights.iter().map(|(_, w)| w).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((weight(&weights, 1) - 0.50).abs() < 1e-12);
        assert!((weight(&weights, 2) - 0.30).abs() < 1e-12);
        assert!((weight(&weights, 0) - 0.15).abs() < 1e-12);
        let rest = weight(&weights, 3) + weight(&weights, 4);
        assert!((rest - 0.05).abs() < 1e-12);
        assert!(weight(&weights, 3) > weight(&weights, 4), "the heuristic orders the rest");
        assert_eq!(weight(&weights, 5), 0.0);
        assert_eq!(weight(&weights, 6), 0.0);
    }

    #[test]
    fn unconfirmed_work_never_takes_a_top_share() {
        // The best quality, on nobody's word, shares the remainder with the other unconfirmed miner.
        let mut unconfirmed = honest(0, 900.0, 10.0);
        unconfirmed.confirmed = false;
        let evaluations = vec![unconfirmed, honest(1, 100.0, 10.0), honest(2, 50.0, 10.0)];
        let weights = allocate(&evaluations, &RewardSplit::default());
        assert!(weight(&weights, 1) > weight(&weights, 2) && weight(&weights, 2) > weight(&weights, 0));
        assert!((weight(&weights, 0) - 0.05 / 0.85).abs() < 1e-12, "{weights:?}");
        // Nobody confirmed: nobody ranked, all share alike.
        let mut alone = honest(0, 900.0, 10.0);
        alone.confirmed = false;
        let mut other = honest(1, 10.0, 10.0);
        other.confirmed = false;
        let weights = allocate(&[alone, other], &RewardSplit::default());
        assert_eq!(weight(&weights, 0), weight(&weights, 1));
    }

    #[test]
    fn nobody_honest_means_no_weights() {
        let weights = allocate(&[liar(0), Evaluation::confirmed(1, Verdict::Absent)], &RewardSplit::default());
        assert!(weights.iter().all(|(_, w)| *w == 0.0));
    }

    #[test]
    fn splits_are_validated() {
        assert!(RewardSplit::new(vec![0.5, 0.3, 0.15], 0.05).is_ok());
        assert!(matches!(RewardSplit::new(vec![0.6, 0.3, 0.15], 0.05), Err(SplitError::AboveOne(_))));
        assert_eq!(RewardSplit::new(vec![0.3, 0.5], 0.05), Err(SplitError::NotDecreasing));
        assert_eq!(RewardSplit::new(vec![0.5, 0.0], 0.05), Err(SplitError::NotPositive));
        assert_eq!(RewardSplit::new(vec![], 0.05), Err(SplitError::NotPositive));
    }

    fn verdict() -> impl Strategy<Value = Verdict> {
        prop_oneof![
            (0.0..1e6f64, 0.0..1e6f64).prop_map(|(quality, heuristic)| Verdict::Honest { quality, heuristic }),
            Just(Verdict::Liar { reason: "lied".into() }),
            Just(Verdict::Absent),
        ]
    }

    proptest! {
        #[test]
        fn liars_get_nothing_and_every_honest_miner_stays_above_them(
            verdicts in proptest::collection::vec(verdict(), 0..60)
        ) {
            let evaluations: Vec<Evaluation> =
                verdicts.into_iter().enumerate().map(|(uid, verdict)| Evaluation::confirmed(uid as u16, verdict)).collect();
            let weights = allocate(&evaluations, &RewardSplit::default());
            let any_honest = evaluations.iter().any(|e| matches!(e.verdict, Verdict::Honest { .. }));
            let total: f64 = weights.iter().map(|(_, w)| w).sum();
            let sums_right = if any_honest { (total - 1.0).abs() < 1e-9 } else { total == 0.0 };
            prop_assert!(sums_right, "weights sum to {}", total);
            for (evaluation, (uid, w)) in evaluations.iter().zip(&weights) {
                prop_assert_eq!(evaluation.uid, *uid);
                match evaluation.verdict {
                    Verdict::Honest { .. } => prop_assert!(*w > 0.0),
                    _ => prop_assert_eq!(*w, 0.0),
                }
            }
            // A better-ranked honest miner never gets less than a worse-ranked one.
            let mut honest: Vec<(f64, u16, f64)> = evaluations.iter().zip(&weights).filter_map(|(e, (_, w))| match e.verdict {
                Verdict::Honest { quality, .. } => Some((quality, e.uid, *w)),
                _ => None,
            }).collect();
            honest.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
            for pair in honest.windows(2).take(3) {
                prop_assert!(pair[0].2 >= pair[1].2);
            }
        }
    }
}
