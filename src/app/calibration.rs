//! Recalibration's evidence: when an epoch's inputs are composed, the verdicts permitted validators published on
//! the latest judged epochs (read as the results endpoint reads them, from the same cache), turned into the
//! domain's evidence ([`crate::api::ValidatorVerdicts::evidence`]), and the metagraph's coldkeys of the miners behind
//! it. The rule itself is the domain's ([`crate::domain::epoch::calibration`]).

use super::App;
use crate::domain::epoch::calibration::PublishedEvidence;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::settings::Recalibration;

/// Epochs between an epoch and the newest one judged when its inputs are published (at the previous epoch's
/// start, the judging window of the epoch three back has just closed).
const JUDGED_LAG: usize = 3;

impl App {
    /// The evidence for `epoch`'s inputs: every permitted validator's verdicts on each of the `evidence_epochs`
    /// latest epochs judged by then that were created. An epoch whose verdicts cannot be read (no store, the
    /// store down, no fresh metagraph) is left out with a warning: leaving evidence out only moves less.
    pub(super) async fn calibration_evidence(
        &self,
        epoch: EpochId,
        recalibration: &Recalibration,
    ) -> Vec<PublishedEvidence> {
        let Ok(presigner) = self.presigner() else { return Vec::new() };
        let clock = self.settings.epochs.clock;
        let mut judged = epoch;
        for _ in 0..JUDGED_LAG {
            judged = clock.previous(judged);
        }
        let mut evidence = Vec::new();
        for _ in 0..recalibration.evidence_epochs {
            let this = judged;
            judged = clock.previous(judged);
            if clock.judging_window_end(this) > self.now_unix() {
                continue;
            }
            match self.stored_epoch(this).await {
                Ok(Some(_)) => {}
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(epoch = %this, %error, "recalibration skips an epoch it cannot read");
                    continue;
                }
            }
            match self.judged_results(presigner, this).await {
                Ok(answer) => evidence.extend(answer.validators.iter().filter_map(|v| v.evidence(this))),
                Err(error) => tracing::warn!(epoch = %this, %error, "recalibration skips an epoch's verdicts"),
            }
        }
        evidence
    }

    /// The coldkey of a miner's hotkey, as the metagraph says now.
    pub(super) fn coldkey_of(&self) -> impl Fn(&str) -> Option<String> {
        let snapshot = self.metagraph.snapshot();
        move |hotkey: &str| {
            let hotkey: Hotkey = hotkey.parse().ok()?;
            // A coldkey that could not be published as it is counts as the miner's own.
            let coldkey = &snapshot.as_ref()?.neurons.get(&hotkey)?.coldkey;
            crate::api::plain_json_text(coldkey).then(|| coldkey.clone())
        }
    }
}
