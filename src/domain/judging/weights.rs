//! The weight vector a validator puts on chain, bit for bit as the bittensor SDK (9.9.0, the version the subnet's
//! Python validators pin) computes it: `process_weights_for_netuid` with the subnet's `MinAllowedWeights` and
//! `MaxWeightsLimit`, then `convert_weights_and_uids_for_emit`. Validators whose vectors agree earn consensus, so
//! this follows numpy's arithmetic exactly: float32 where the SDK casts to float32 (sums by numpy's pairwise
//! algorithm, Python floats weakly typed as NumPy 2 treats them), float64 where it pads, and Python's
//! round-half-to-even. Also the subnet owner's policy in front of it: the burn and who is never weighed.

use std::collections::BTreeMap;
use std::ops::{Add, Div, Mul, Sub};

/// The subnet's hyperparameters that shape the vector, as the chain stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightLimits {
    /// `MinAllowedWeights`: fewer non-zero weights than this are padded with tiny ones.
    pub min_allowed_weights: u16,
    /// `MaxWeightsLimit`: the largest share one uid may get, over 65535.
    pub max_weights_limit: u16,
}

impl WeightLimits {
    /// No limit at all (for vectors shown when no chain is there to ask).
    pub const NONE: WeightLimits = WeightLimits { min_allowed_weights: 0, max_weights_limit: u16::MAX };

    /// The limit as the SDK reads it (`u16_normalized_float`).
    fn max_share(self) -> f64 {
        f64::from(self.max_weights_limit) / f64::from(u16::MAX)
    }
}

/// What goes into `set_weights` or a timelocked commit: uids and their max-upscaled u16 values, zeros dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmittedWeights {
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
}

impl EmittedWeights {
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.uids.iter().copied().zip(self.values.iter().copied())
    }
}

/// The vector the SDK would emit for `scores` (one per uid, `scores[uid]`, as long as the metagraph; negative or
/// non-finite scores count as zero).
pub fn sdk_weight_vector(scores: &[f64], limits: WeightLimits) -> EmittedWeights {
    match process_weights(scores, limits) {
        Processed::Single(uids, weights) => emit(&uids, &weights.iter().map(|&w| f64::from(w)).collect::<Vec<_>>()),
        Processed::Double(uids, weights) => emit(&uids, &weights),
    }
}

/// `process_weights` returns float32 weights, except where it pads (float64): the dtype reaches the emit step.
enum Processed {
    Single(Vec<u16>, Vec<f32>),
    Double(Vec<u16>, Vec<f64>),
}

/// `bittensor.utils.weight_utils.process_weights` with `exclude_quantile = 0` (the lowest quantile it would drop
/// is then the minimum itself, which it keeps).
fn process_weights(scores: &[f64], limits: WeightLimits) -> Processed {
    let n = scores.len();
    let weights: Vec<f32> = scores.iter().map(|&s| if s.is_finite() && s > 0.0 { s as f32 } else { 0.0 }).collect();
    let non_zero: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0).collect();
    let all_uids = || (0..n).map(uid).collect::<Vec<u16>>();
    let min_allowed = usize::from(limits.min_allowed_weights);
    if non_zero.is_empty() || n < min_allowed {
        // Nothing to go on: everyone alike.
        return Processed::Double(all_uids(), vec![1.0 / n as f64; n]);
    }
    if non_zero.len() < min_allowed {
        // Too few: every uid gets 1e-5 (float64) plus its weight.
        let mut padded = vec![1e-5_f64; n];
        for &i in &non_zero {
            padded[i] += f64::from(weights[i]);
        }
        return Processed::Double(all_uids(), normalize_max_weight(&padded, limits.max_share()));
    }
    let uids = non_zero.iter().map(|&i| uid(i)).collect();
    let kept: Vec<f32> = non_zero.iter().map(|&i| weights[i]).collect();
    Processed::Single(uids, normalize_max_weight(&kept, limits.max_share()))
}

fn uid(index: usize) -> u16 {
    u16::try_from(index).expect("a metagraph has at most 65536 uids")
}

/// `normalize_max_weight`: sums to one with no value above `limit`, in the array's own float type.
fn normalize_max_weight<F: Float>(x: &[F], limit: f64) -> Vec<F> {
    let epsilon = F::weak(1e-7);
    let n = x.len();
    let mut weights = x.to_vec();
    let mut values = x.to_vec();
    values.sort_by(|a, b| a.partial_cmp(b).expect("weights are finite"));
    if pairwise_sum(x) == F::ZERO || n as f64 * limit <= 1.0 {
        return vec![F::ONE / F::from_usize(n); n];
    }
    let values_sum = pairwise_sum(&values);
    let estimation: Vec<F> = values.iter().map(|&v| v / values_sum).collect();
    let limit_f = F::weak(limit);
    let max = estimation.iter().copied().fold(estimation[0], |m, v| if v > m { v } else { m });
    if max <= limit_f {
        let sum = pairwise_sum(&weights);
        return weights.iter().map(|&w| w / sum).collect();
    }
    let mut cumsum = Vec::with_capacity(n);
    let mut running = F::ZERO;
    for &e in &estimation {
        running = running + e;
        cumsum.push(running);
    }
    let n_values = (0..n)
        .filter(|&i| estimation[i] / (F::from_usize(n - i - 1) * estimation[i] + cumsum[i] + epsilon) < limit_f)
        .count();
    // Python's cumsum[n_values - 1]: the last element when n_values is 0.
    let at = if n_values == 0 { n - 1 } else { n_values - 1 };
    // `len - n_values` is a numpy int64, so the denominator is a float64 scalar (strongly typed): the cutoff is
    // computed in float64 and compared in float64, and only the clipped values are cast back.
    let denominator = 1.0 - limit * (n - n_values) as f64;
    let cutoff_scale = (limit_f * cumsum[at] - epsilon).to_f64() / denominator;
    let cutoff = cutoff_scale * values_sum.to_f64();
    for w in &mut weights {
        if w.to_f64() > cutoff {
            *w = F::weak(cutoff);
        }
    }
    let sum = pairwise_sum(&weights);
    weights.iter().map(|&w| w / sum).collect()
}

/// `convert_weights_and_uids_for_emit`: max-upscaled, `round(w * 65535)` half to even, zeros dropped, order kept.
fn emit(uids: &[u16], weights: &[f64]) -> EmittedWeights {
    if weights.iter().sum::<f64>() == 0.0 {
        return EmittedWeights::default();
    }
    let max = weights.iter().copied().fold(weights[0], |m, w| if w > m { w } else { m });
    let mut out = EmittedWeights::default();
    for (&uid, &w) in uids.iter().zip(weights) {
        let value = ((w / max) * f64::from(u16::MAX)).round_ties_even();
        if value != 0.0 {
            out.uids.push(uid);
            out.values.push(value as u16);
        }
    }
    out
}

/// numpy's `add.reduce` over a contiguous array: pairwise summation in blocks of 128, eight accumulators.
fn pairwise_sum<F: Float>(a: &[F]) -> F {
    let n = a.len();
    if n < 8 {
        a.iter().fold(F::ZERO, |sum, &v| sum + v)
    } else if n <= 128 {
        let mut r: [F; 8] = std::array::from_fn(|j| a[j]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] = r[j] + a[i + j];
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            sum = sum + v;
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// The two float types numpy computes in here.
trait Float: Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> {
    const ZERO: Self;
    const ONE: Self;
    /// A Python float or int meeting an array of this type: NumPy 2 casts it to the array's type (also the
    /// cast of a float64 value into an array of this type).
    fn weak(value: f64) -> Self;
    fn from_usize(value: usize) -> Self;
    fn to_f64(self) -> f64;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    fn weak(value: f64) -> f32 {
        value as f32
    }
    fn from_usize(value: usize) -> f32 {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn weak(value: f64) -> f64 {
        value
    }
    fn from_usize(value: usize) -> f64 {
        value as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// The subnet owner's policy over a judged split: who is never weighed, and the share that goes to the burn uid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightPolicy {
    pub burn: Option<Burn>,
}

/// The subnet owner's uid receives `share` (0..=1) of every vector; the judged split shares the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    pub uid: u16,
    pub share: f64,
}

/// Why a vector cannot be formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("uid {uid} is not in the metagraph (it has {neurons} uids)")]
    UnknownUid { uid: u16, neurons: usize },
    #[error("nothing to weigh: no judged miner has a weight and no burn is set")]
    Nothing,
}

impl WeightPolicy {
    /// The per-uid scores for a metagraph of `neurons` uids: the judged `split` (uid → weight) without the
    /// `never_weighed` uids (this validator and every other validator), scaled to what the burn leaves.
    pub fn scores(
        &self,
        split: &BTreeMap<u16, f64>,
        never_weighed: &[u16],
        neurons: usize,
    ) -> Result<Vec<f64>, PolicyError> {
        let mut scores = vec![0.0; neurons];
        let judged: Vec<(u16, f64)> = split
            .iter()
            .filter(|(uid, w)| !never_weighed.contains(uid) && w.is_finite() && **w > 0.0)
            .map(|(&uid, &w)| (uid, w))
            .collect();
        let total: f64 = judged.iter().map(|(_, w)| w).sum();
        let burned = self.burn.map_or(0.0, |b| b.share.clamp(0.0, 1.0));
        let rest = if total > 0.0 { 1.0 - burned } else { 0.0 };
        for (uid, w) in judged {
            let slot = scores.get_mut(usize::from(uid)).ok_or(PolicyError::UnknownUid { uid, neurons })?;
            *slot = rest * w / total;
        }
        if let Some(burn) = self.burn {
            let slot =
                scores.get_mut(usize::from(burn.uid)).ok_or(PolicyError::UnknownUid { uid: burn.uid, neurons })?;
            // Nobody judged: the whole vector goes to the burn.
            *slot += if total > 0.0 { burned } else { 1.0 };
        }
        if scores.iter().all(|&s| s <= 0.0) {
            return Err(PolicyError::Nothing);
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests;
