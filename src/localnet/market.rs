//! The market a local network's miners scrape, and how recalibration met it: with `--market varied` every
//! zipcode has a true size of its own ([`MarketSizes::Varied`]) while the coordinator starts by expecting the
//! built-in prior of all of them; a small universe with a short cooldown brings zipcodes back often enough to
//! gather evidence. At the end, [`CalibrationReport`] sets the listings validators counted, epoch by epoch,
//! against the target: before the evidence, after it, and how long the delivered total took to settle in the
//! window.

use crate::client::synthetic::{MarketSizes, VARIED_SIZES};
use crate::client::ZipcoordClient;
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::inputs::EpochInputs;
use crate::domain::epoch::zipcode::ZipcodeRecord;
use crate::domain::epoch::{EpochClock, EpochId};

/// The synthetic market and what the coordinator is set to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketOptions {
    pub sizes: MarketSizes,
    /// A universe of this many built-in zipcodes spread over the country, with a cooldown of two epochs (so
    /// that each comes back within the evidence's reach); `None`: the whole built-in universe.
    pub universe: Option<usize>,
    /// Recalibration's bounded step, in percent.
    pub recalibration_step_percent: u32,
}

impl Default for MarketOptions {
    fn default() -> Self {
        MarketOptions { sizes: MarketSizes::AsExpected, universe: None, recalibration_step_percent: 25 }
    }
}

/// Epochs a zipcode of a small universe rests after it was assigned.
pub(super) const SMALL_UNIVERSE_COOLDOWN_EPOCHS: i64 = 2;

/// `count` of the built-in zipcodes, taken at even intervals (spread over the country), each expecting
/// `prior` listings.
pub(super) fn small_universe(count: usize, prior: u32) -> Vec<ZipcodeRecord> {
    let all = crate::universe::builtin_universe(prior);
    let stride = (all.len() / count.max(1)).max(1);
    all.into_iter().step_by(stride).take(count).collect()
}

/// One judged epoch, as the network's public endpoints tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochMeasure {
    pub epoch: EpochId,
    pub target: u32,
    pub tolerance_percent: u32,
    /// The sum of the assignment's expected listings.
    pub expected: u64,
    /// The distinct listings honest miners delivered, as the validators counted them (their lower median).
    pub delivered: Option<u64>,
    /// Whether the epoch's inputs carried a calibration, and how many zipcodes it moved.
    pub calibrated: Option<usize>,
}

impl EpochMeasure {
    /// How far the delivered listings were from the target, in percent of it (signed).
    pub fn off_percent(&self) -> Option<f64> {
        let delivered = self.delivered? as f64;
        Some((delivered / f64::from(self.target.max(1)) - 1.0) * 100.0)
    }

    pub fn within_window(&self) -> bool {
        self.off_percent().is_some_and(|off| off.abs() <= f64::from(self.tolerance_percent))
    }
}

/// The epochs of a run, and what they say about recalibration.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationReport {
    pub epochs: Vec<EpochMeasure>,
}

/// A stretch of epochs: how many had counts, how many of those fell within the window, and their mean distance
/// from the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    pub counted: usize,
    pub within: usize,
    pub mean_off_percent: f64,
}

fn stretch(epochs: &[EpochMeasure]) -> Stretch {
    let offs: Vec<f64> = epochs.iter().filter_map(EpochMeasure::off_percent).map(f64::abs).collect();
    Stretch {
        counted: offs.len(),
        within: epochs.iter().filter(|e| e.within_window()).count(),
        mean_off_percent: if offs.is_empty() { 0.0 } else { offs.iter().sum::<f64>() / offs.len() as f64 },
    }
}

impl CalibrationReport {
    /// Index of the first epoch whose inputs' calibration moved a zipcode: the first with enough evidence (a
    /// section without moves read evidence that reached no quorum).
    pub fn first_calibrated(&self) -> Option<usize> {
        self.epochs.iter().position(|e| e.calibrated.is_some_and(|moves| moves > 0))
    }

    /// The epochs before any calibration.
    pub fn before(&self) -> Stretch {
        stretch(&self.epochs[..self.first_calibrated().unwrap_or(self.epochs.len())])
    }

    /// The epochs from the first calibrated one on.
    pub fn after(&self) -> Stretch {
        stretch(&self.epochs[self.first_calibrated().unwrap_or(self.epochs.len())..])
    }

    /// Epochs from the first calibrated one to the first one from which, to the end, at least nine in ten
    /// delivered within the window (that one itself within it).
    pub fn epochs_to_settle(&self) -> Option<usize> {
        let first = self.first_calibrated()?;
        (first..self.epochs.len()).find_map(|i| {
            let rest = stretch(&self.epochs[i..]);
            (self.epochs[i].within_window() && rest.within * 10 >= (self.epochs.len() - i) * 9).then_some(i - first)
        })
    }

    /// The last ten epochs: how many delivered within the window.
    pub fn last_ten(&self) -> Stretch {
        stretch(&self.epochs[self.epochs.len().saturating_sub(10)..])
    }

    /// The report as a person reads it at the end of a run.
    pub fn render(&self) -> String {
        let [small, middle, large] = VARIED_SIZES;
        let mut out = format!(
            "Recalibration against the market's true sizes (each zipcode holds {small}, {middle} or {large} \
             listings):\n  epoch                 target  expected  delivered      off  calibration\n"
        );
        for e in &self.epochs {
            let delivered = e.delivered.map_or("-".to_string(), |n| n.to_string());
            let off = e.off_percent().map_or("-".to_string(), |off| format!("{off:+.0} %"));
            let calibration = match e.calibrated {
                Some(moves) => format!("{moves} zipcodes moved"),
                None => "none".to_string(),
            };
            let mark = if e.within_window() { "" } else { "  (outside the window)" };
            out.push_str(&format!(
                "  {}  {:>6}  {:>8}  {:>9}  {:>7}  {calibration}{mark}\n",
                e.epoch, e.target, e.expected, delivered, off
            ));
        }
        let (before, after, last) = (self.before(), self.after(), self.last_ten());
        out.push_str(&format!(
            "Before calibration: {} epochs, delivered {:.0} % off the target on average, {} within ±{} %.\n",
            before.counted,
            before.mean_off_percent,
            before.within,
            self.epochs.first().map_or(10, |e| e.tolerance_percent)
        ));
        out.push_str(&format!(
            "From the first calibrated epoch: {} epochs, {:.0} % off on average, {} within the window.\n",
            after.counted, after.mean_off_percent, after.within
        ));
        match self.epochs_to_settle() {
            Some(n) => out.push_str(&format!(
                "Settled {n} epochs after the first calibrated one: from there on at least 9 in 10 epochs delivered \
                 within the window; the last {} epochs: {} within.\n",
                last.counted, last.within
            )),
            None => out.push_str("The delivered listings did not settle within the window in this run.\n"),
        }
        out
    }
}

/// Reads `first..=last` from the network's public endpoints (the assignment and the verdicts with `key`, any
/// registered hotkey; the inputs without one). An epoch that cannot be read is left out.
pub(super) async fn measure(
    client: &ZipcoordClient,
    key: &Keypair,
    clock: EpochClock,
    first: EpochId,
    last: EpochId,
) -> CalibrationReport {
    let mut epochs = Vec::new();
    let mut epoch = first;
    while epoch <= last {
        let now = chrono::Utc::now().timestamp();
        let assignment = client.epoch(key, epoch, now).await;
        let results = client.epoch_results(key, epoch, now).await;
        let inputs = client.epoch_inputs(epoch).await.ok().and_then(|d| EpochInputs::from_canonical_json(&d).ok());
        match assignment {
            Ok(assignment) => epochs.push(EpochMeasure {
                epoch,
                target: assignment.target_listings,
                tolerance_percent: assignment.tolerance_percent,
                expected: assignment.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum(),
                delivered: results.ok().and_then(|r| r.delivered_listings()),
                calibrated: inputs.and_then(|i| i.calibration).map(|c| c.moves.len()),
            }),
            Err(error) => tracing::warn!(%epoch, %error, "the report leaves out an epoch it cannot read"),
        }
        epoch = clock.next(epoch);
    }
    CalibrationReport { epochs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(n: i64, delivered: u64, calibrated: bool) -> EpochMeasure {
        EpochMeasure {
            epoch: EpochId::from_start_unix(1_764_000_000 + n * 60),
            target: 1_000,
            tolerance_percent: 10,
            expected: 1_000,
            delivered: Some(delivered),
            calibrated: calibrated.then_some(3),
        }
    }

    #[test]
    fn the_report_measures_before_after_and_when_it_settled() {
        let mut epochs = vec![measure(0, 1_600, false), measure(1, 1_400, false)];
        // Evidence read, but no quorum yet: nothing moved.
        epochs[1].calibrated = Some(0);
        epochs.extend(
            [1_300, 1_150, 1_050, 950, 1_020, 1_200, 990, 1_010, 1_000, 980, 1_030, 1_060]
                .iter()
                .enumerate()
                .map(|(n, &d)| measure(2 + n as i64, d, true)),
        );
        let report = CalibrationReport { epochs };
        let before = report.before();
        assert_eq!((before.counted, before.within), (2, 0));
        assert!((before.mean_off_percent - 50.0).abs() < 1e-9);
        assert_eq!(report.after().counted, 12);
        assert_eq!(report.after().within, 9);
        // From the third calibrated epoch (1,050) on, one in ten (1,200) is outside.
        assert_eq!(report.epochs_to_settle(), Some(2));
        assert_eq!(report.last_ten().within, 9);
        let text = report.render();
        assert!(text.contains("+60 %  none  (outside the window)"), "{text}");
        assert!(text.contains("+40 %  0 zipcodes moved  (outside the window)"), "{text}");
        assert!(text.contains("Settled 2 epochs after the first calibrated one"), "{text}");
    }

    #[test]
    fn a_run_that_never_settles_says_so() {
        let report = CalibrationReport { epochs: vec![measure(0, 1_600, false), measure(1, 1_500, true)] };
        assert_eq!(report.epochs_to_settle(), None);
        assert!(report.render().contains("did not settle"));
        let empty = CalibrationReport { epochs: vec![] };
        assert_eq!(empty.before().counted, 0);
        assert!(empty.render().contains("did not settle"));
    }

    #[test]
    fn a_small_universe_is_spread_and_expects_the_prior() {
        let universe = small_universe(24, 150);
        assert_eq!(universe.len(), 24);
        assert!(universe.iter().all(|z| z.expected_listings == 150));
        assert_eq!(VARIED_SIZES[1], crate::settings::defaults::PRIOR_LISTINGS, "the middle size is the prior");
        let states: std::collections::BTreeSet<_> = universe.iter().map(|z| z.state.clone()).collect();
        assert!(states.len() >= 10, "spread over the country: {states:?}");
    }
}
