//! Where an epoch's seed comes from: the verified pulse of its beacon round, the wait for it (what health,
//! metrics and the dashboard report as `beacon.waiting`), and after the grace period the server secret.

use crate::domain::epoch::beacon::Round;
use crate::domain::epoch::inputs::EpochInputs;
use crate::domain::epoch::proof::SeedSource;
use crate::domain::epoch::EpochId;

use super::{App, AppError, AppResult};

/// How long a request waits for a pulse fetch under way: enough for a local source or a quick relay, never a
/// slow one (the fetch goes on in the background).
const PULSE_GLANCE: std::time::Duration = std::time::Duration::from_millis(100);

/// What the beacon did last, for health and metrics.
#[derive(Debug, Clone, Default)]
pub struct BeaconStatus {
    /// The latest round whose pulse verified.
    pub last_round: Option<Round>,
    /// The latest failure since then: why the pulse could not be had.
    pub last_error: Option<String>,
    /// The round whose pulse an epoch waits for now, if one does.
    pub waiting: Option<PulseWait>,
}

/// An epoch waiting for its round's pulse: since when, and when (if ever) it is seeded from the secret instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulseWait {
    pub epoch: EpochId,
    pub round: Round,
    pub since_ms: i64,
    /// When the grace period ends and the epoch is seeded from the server secret; `None` for an epoch that
    /// started while the server was down, which waits for its pulse however long that takes.
    pub fallback_at_ms: Option<i64>,
}

impl PulseWait {
    /// How long the epoch has waited at `now_ms`.
    pub fn waited_ms(&self, now_ms: i64) -> i64 {
        (now_ms - self.since_ms).max(0)
    }
}

/// A started epoch whose published inputs admit no selection, with the verified pulse that seeds it, so that
/// anyone can run the selection on the same inputs and see it fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unselectable {
    pub reason: String,
    pub chain: &'static str,
    pub round: Round,
    pub signature_hex: String,
    pub randomness_hex: String,
}

impl App {
    /// Why `epoch` (started, with published inputs, no stored assignment) has no assignment, if it is that no
    /// selection exists: recomputed from the inputs and the round's verified pulse, so it holds for a past epoch
    /// the server skipped as for the current one. `None` when the pulse is not at hand or a selection exists.
    pub async fn unselectable_epoch(&self, epoch: EpochId) -> AppResult<Option<Unselectable>> {
        if epoch > self.current_epoch_id() || !self.settings.epochs.clock.is_boundary(epoch) {
            return Ok(None);
        }
        let Some(published) = self.published_inputs(epoch).await? else { return Ok(None) };
        let inputs = &published.inputs;
        let chain = self.beacon.chain();
        if inputs.beacon_chain_hash != chain.hash {
            return Ok(None);
        }
        let Ok((pulse, randomness)) = self.beacon.glance(inputs.beacon_round, PULSE_GLANCE).await else {
            return Ok(None);
        };
        let seed = crate::domain::epoch::proof::beacon_seed(&randomness, epoch);
        Ok(crate::domain::epoch::batches::select_epoch(inputs, seed).err().map(|error| Unselectable {
            reason: error.to_string(),
            chain: chain.name,
            round: pulse.round,
            signature_hex: pulse.signature_hex(),
            randomness_hex: randomness.to_hex(),
        }))
    }

    /// Where the seed of the epoch `inputs` are for comes from: the verified pulse of its round; while that is
    /// missing and the grace period lasts, nothing (the caller answers 503); after it, the server secret.
    pub(super) async fn seed_source(&self, inputs: &EpochInputs, now_ms: i64) -> AppResult<SeedSource> {
        let chain = self.beacon.chain();
        let round = inputs.beacon_round;
        let round_ms = chain.round_time(round).saturating_mul(1000);
        if now_ms < round_ms {
            return Err(AppError::BeaconPending {
                retry_after_seconds: (round_ms - now_ms).div_euclid(1000) as u64 + 1,
                reason: format!("round {round} is not emitted yet"),
            });
        }
        let reason = if inputs.beacon_chain_hash != chain.hash {
            format!(
                "the inputs name beacon chain {}, not the configured {} ({})",
                hex::encode(inputs.beacon_chain_hash),
                chain.name,
                hex::encode(chain.hash)
            )
        } else {
            match self.beacon.glance(round, PULSE_GLANCE).await {
                Ok((pulse, randomness)) => {
                    let mut status = self.epochs.beacon.lock();
                    status.last_round = Some(round);
                    status.last_error = None;
                    status.waiting = None;
                    crate::metrics::beacon_round(round);
                    return Ok(SeedSource::Beacon { pulse, randomness });
                }
                Err(awaited) => awaited.to_string(),
            }
        };
        let repeated = self.epochs.beacon.lock().last_error.replace(reason.clone()).as_ref() == Some(&reason);
        // An epoch that started before this process did may have been computed by clients from the beacon while
        // the server was down: seeding it from the secret would tell validators other zipcodes than the miners
        // mined, so it waits for the pulse however long that takes (unless its inputs name another chain, whose
        // pulses this server cannot get at all). Other epochs wait out the grace period, counted from the round.
        let missed_start = round_ms < self.started_at_ms && inputs.beacon_chain_hash == chain.hash;
        let grace_ms = super::whole_millis(self.settings.beacon.grace);
        let waited_ms = now_ms - round_ms;
        if missed_start || waited_ms < grace_ms {
            let fallback_at_ms = (!missed_start).then_some(round_ms + grace_ms);
            let mut status = self.epochs.beacon.lock();
            if status.waiting.as_ref().is_none_or(|wait| wait.round != round) {
                status.waiting = Some(PulseWait { epoch: inputs.epoch, round, since_ms: now_ms, fallback_at_ms });
            }
            drop(status);
            if repeated {
                tracing::debug!(epoch = %inputs.epoch, round, %reason, "still waiting for the beacon");
            } else {
                tracing::warn!(epoch = %inputs.epoch, round, %reason, missed_start, "waiting for the beacon");
            }
            let left_ms = if missed_start { 5_000 } else { grace_ms - waited_ms };
            return Err(AppError::BeaconPending {
                retry_after_seconds: (left_ms.div_euclid(1000) as u64 + 1).min(5),
                reason,
            });
        }
        self.epochs.beacon.lock().waiting = None;
        tracing::error!(epoch = %inputs.epoch, round, %reason, "beacon silent past the grace period; seeding from the secret");
        crate::metrics::beacon_fallback();
        Ok(SeedSource::Fallback { reason: format!("no verified pulse within the grace period: {reason}") })
    }

    /// What the beacon did last.
    pub fn beacon_status(&self) -> BeaconStatus {
        self.epochs.beacon.lock().clone()
    }

    /// When the next epoch's round is due (Unix milliseconds): the epoch task wakes for it.
    pub fn next_round_ms(&self) -> i64 {
        let next = self.settings.epochs.clock.next(self.current_epoch_id());
        let chain = self.beacon.chain();
        chain.round_time(chain.round_at(next.start_unix())).saturating_mul(1000)
    }
}
